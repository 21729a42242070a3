import { describe, expect, it } from 'vitest';
import type { Entry, HardState, Snapshot } from '../../src/messages.js';
import type { Storage } from '../../src/storage/storage.js';
import { EventQueue } from '../../src/testing/sim/event-queue.js';
import { SimStorage, type SimWrite } from '../../src/testing/sim/sim-storage.js';
import { testStorageConformance } from '../../src/testing/storage-conformance.js';

/** Runs virtual time until nothing is scheduled: every write in flight becomes durable. */
function drain(queue: EventQueue): void {
  for (let run = queue.next(); run !== null; run = queue.next()) run();
}

/** A SimStorage whose writes complete before each call returns, as the conformance suite awaits them. */
function synced(storage: SimStorage, queue: EventQueue): Storage {
  const settle = <T>(result: T): T => {
    drain(queue);
    return result;
  };
  return {
    open: () => storage.open(),
    save: (hardState, entries) => settle(storage.save(hardState, entries)),
    saveSnapshot: (snapshot) => settle(storage.saveSnapshot(snapshot)),
    compact: (throughIndex) => settle(storage.compact(throughIndex)),
    close: () => storage.close(),
  };
}

/** A disk whose random draws come from `draws` in turn (each write draws its sync time first, a crash what survives). */
function disk(draws: number[] = [], committedTermAt: (i: number) => number = () => -1) {
  const queue = new EventQueue();
  let next = 0;
  const random = (): number => draws[next++ % Math.max(1, draws.length)] ?? 0.5;
  const storage = new SimStorage(queue, random, 10, committedTermAt);
  const writes: SimWrite[] = [];
  storage.onWrite = (_syncMs, write) => writes.push(write);
  return { queue, storage, writes };
}

const hs = (term: number, commit = 0): HardState => ({ term, vote: 'a', commit });
const entries = (from: number, to: number, term: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    index: from + i,
    term,
    type: 'normal' as const,
    data: Uint8Array.of(from + i),
  }));
const snap = (index: number, term: number): Snapshot => ({
  index,
  term,
  voters: ['a', 'b', 'c'],
  learners: [],
  data: Uint8Array.of(index),
});

testStorageConformance({
  name: 'SimStorage (every write synced before the call returns)',
  snapshots: true,
  create: () => {
    const queue = new EventQueue();
    // The disk outlives its processes: a restart opens the same object.
    const storage = synced(
      new SimStorage(
        queue,
        () => 0.5,
        5,
        () => -1,
      ),
      queue,
    );
    return { storage, reopen: () => storage };
  },
});

describe('SimStorage: snapshots under the durability model of save', () => {
  it('a crash before a snapshot is synced keeps the older snapshot and its log, or the new snapshot whole', async () => {
    const outcomes = [];
    // Draws: the log's sync time, the snapshot's sync time, then what the crash keeps (< 0.5: the renamed snapshot).
    for (const keep of [0.9, 0.1]) {
      const { queue, storage } = disk([0.5, 0.5, keep]);
      await storage.open();
      const saved = storage.save(hs(1, 3), entries(1, 8, 1));
      drain(queue);
      await saved;
      void storage.saveSnapshot(snap(5, 1));
      expect(storage.unsyncedWrite()).toMatchObject({ kind: 'snapshot' });
      storage.crash();
      drain(queue);
      const state = await storage.open();
      outcomes.push({
        snapshot: state.snapshot?.index ?? null,
        log: state.entries.map((e) => e.index),
        hardState: state.hardState,
      });
    }
    expect(outcomes).toEqual([
      { snapshot: null, log: [1, 2, 3, 4, 5, 6, 7, 8], hardState: hs(1, 3) },
      { snapshot: 5, log: [6, 7, 8], hardState: hs(1, 3) },
    ]);
  });

  it('a synced snapshot keeps the log after it when the log holds its last entry, and drops the whole log when that entry conflicts (Figure 13)', async () => {
    const matching = disk();
    const s1 = synced(matching.storage, matching.queue);
    await s1.open();
    await s1.save(hs(2), [...entries(1, 4, 1), ...entries(5, 7, 2)]);
    await s1.saveSnapshot!(snap(5, 2));
    await s1.close();
    const kept = await s1.open();
    expect(kept.snapshot?.index).toBe(5);
    expect(kept.entries.map((e) => [e.index, e.term])).toEqual([
      [6, 2],
      [7, 2],
    ]);

    const conflicting = disk();
    const s2 = synced(conflicting.storage, conflicting.queue);
    await s2.open();
    await s2.save(hs(2), entries(1, 7, 1));
    await s2.saveSnapshot!(snap(5, 2));
    await s2.close();
    const dropped = await s2.open();
    expect(dropped.snapshot?.index).toBe(5);
    expect(dropped.entries).toEqual([]);
    expect(conflicting.storage.durableLastIndex()).toBe(5);
  });

  it('a crash during a compaction changes nothing a restarted node reads, whichever way it goes', async () => {
    const reads = [];
    for (const keep of [0.9, 0.1]) {
      // Draws: the log's sync, the snapshot's sync, the compaction's sync, then what the crash keeps.
      const { queue, storage } = disk([0.5, 0.5, 0.5, keep]);
      const s = synced(storage, queue);
      await s.open();
      await s.save(hs(1, 6), entries(1, 8, 1));
      await s.saveSnapshot!(snap(6, 1));
      void storage.compact(4);
      storage.crash();
      drain(queue);
      const state = await storage.open();
      reads.push({
        snapshot: state.snapshot?.index,
        log: state.entries.map((e) => e.index),
        compactions: storage.compactions,
      });
    }
    expect(reads).toEqual([
      { snapshot: 6, log: [7, 8], compactions: 0 },
      { snapshot: 6, log: [7, 8], compactions: 1 },
    ]);
  });

  it('the durable view stands for the committed entries at the indexes a snapshot covers', async () => {
    const committed = [0, 1, 1, 2, 2, 2];
    const { queue, storage } = disk([], (i) => committed[i] ?? -1);
    const s = synced(storage, queue);
    await s.open();
    await s.save(hs(2), [...entries(1, 2, 1), ...entries(3, 6, 2)]);
    await s.saveSnapshot!(snap(4, 2));
    expect([1, 2, 3, 4, 5, 6, 7].map((i) => storage.durableTermAt(i))).toEqual([1, 1, 2, 2, 2, 2, -1]);
    expect(storage.durableSnapshot()?.index).toBe(4);
    expect(storage.durableLastIndex()).toBe(6);
  });

  it('tells the fault injector what each write is, and refuses a second write while one is in flight', async () => {
    const { queue, storage, writes } = disk();
    await storage.open();
    const first = storage.save({ term: 1, vote: 'b', commit: 0 }, entries(1, 2, 1));
    expect(() => storage.save(hs(1), entries(3, 3, 1))).toThrow(/concurrent save/);
    drain(queue);
    await first;
    const second = storage.save({ term: 1, vote: 'b', commit: 0 }, entries(3, 3, 1));
    drain(queue);
    await second;
    const snapshot = storage.saveSnapshot(snap(2, 1));
    drain(queue);
    await snapshot;
    const compaction = storage.compact(1);
    drain(queue);
    await compaction;
    expect(writes).toEqual([
      { kind: 'log', recordsVote: true },
      { kind: 'log', recordsVote: false },
      { kind: 'snapshot', snapshot: snap(2, 1) },
      { kind: 'compaction', throughIndex: 1 },
    ]);
  });
});
