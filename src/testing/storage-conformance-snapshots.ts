import type * as Vitest from 'vitest';
import type { Entry } from '../messages.js';
import type { Snapshot, Storage } from '../storage/storage.js';
import { defineDamageCases, type FaultHook } from './storage-conformance-damage.js';
import {
  checks,
  entry,
  type Harness,
  plain,
  positions,
  range,
  snapshot,
  type SnapshotMethods,
} from './storage-conformance-kit.js';
import type { VitestApi } from './vitest-api.js';

export interface SnapshotCasesOptions {
  /** The storage's name, for messages. */
  readonly name: string;
  /** `StorageConformanceOptions.snapshots`. */
  readonly mode: boolean | undefined;
  /** `StorageConformanceOptions.faults`. */
  readonly faults: ReadonlySet<FaultHook>;
  readonly api: VitestApi;
  readonly harness: Harness;
}

/**
 * The conformance cases of `saveSnapshot` and `compact` (see the Storage
 * contract): Figure 13's keep-or-discard rule, where saves may start after
 * a snapshot, compaction bounded by the newest snapshot, and what a restart
 * returns after snapshots and compactions; and, for a storage that can play
 * them, a crash in the middle of a snapshot and a damaged snapshot
 * (storage-conformance-damage.ts).
 */
export function defineSnapshotCases({ name, mode, faults, api, harness }: SnapshotCasesOptions): void {
  const { describe, it, expect } = api;
  const { open, openFresh, restart } = harness;
  const check = checks(expect);

  if (mode === false) {
    it.skip(`snapshots and compaction: skipped, ${name} has no saveSnapshot (snapshots: false)`, () => undefined);
    return;
  }

  /** The storage's snapshot methods; without them the case fails (mode true) or is skipped, saying why. */
  function snapshotsOf(storage: Storage, context: Vitest.TestContext): SnapshotMethods {
    const { saveSnapshot, compact } = storage;
    if (typeof saveSnapshot === 'function' && typeof compact === 'function') {
      return { saveSnapshot: saveSnapshot.bind(storage), compact: compact.bind(storage) };
    }
    if (mode === true) {
      throw new Error(`${name} does not implement saveSnapshot and compact; pass snapshots: false`);
    }
    return context.skip(`${name} has no saveSnapshot and compact`);
  }

  /** A fresh storage, opened, with its snapshot methods. */
  async function openWithSnapshots(context: Vitest.TestContext) {
    const opened = await openFresh();
    return { ...opened, s: snapshotsOf(opened.storage, context) };
  }

  const title =
    mode === true
      ? 'snapshots and compaction'
      : 'snapshots and compaction (skipped if the storage has no saveSnapshot)';
  describe(title, () => {
    it('returns the newest snapshot after a restart, and only the entries after it', async (context) => {
      const { subject, storage, s } = await openWithSnapshots(context);
      await storage.save({ term: 1, vote: 'a', commit: 8 }, range(1, 10, 1));
      await s.saveSnapshot(snapshot(6, 1));
      const { state } = await restart(subject, storage);
      check.sameSnapshot(state.snapshot, snapshot(6, 1));
      expect(state.entries.map((e) => e.index)).toEqual([7, 8, 9, 10]);
      expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 8 });
    });

    it('keeps the entries after a snapshot whose index and term match the log (Figure 13, step 6)', async (context) => {
      const { subject, storage, s } = await openWithSnapshots(context);
      await storage.save(null, [...range(1, 4, 1), ...range(5, 8, 2)]);
      await s.saveSnapshot(snapshot(5, 2));
      await storage.save(null, range(9, 9, 2));
      const { state } = await restart(subject, storage);
      expect(positions(state.entries)).toEqual([
        [6, 2],
        [7, 2],
        [8, 2],
        [9, 2],
      ]);
    });

    it('discards the whole log for a snapshot past its end, and goes on after the snapshot (Figure 13, step 7)', async (context) => {
      const { subject, storage, s } = await openWithSnapshots(context);
      await storage.save({ term: 2, vote: null, commit: 3 }, range(1, 5, 1));
      await s.saveSnapshot(snapshot(8, 2));
      await check.storageError(() => storage.save(null, range(6, 6, 2)), 'a gap after the snapshot');
      await storage.save(null, range(9, 10, 2));
      const { state } = await restart(subject, storage);
      check.sameSnapshot(state.snapshot, snapshot(8, 2));
      expect(positions(state.entries)).toEqual([
        [9, 2],
        [10, 2],
      ]);
      expect(state.hardState).toEqual({ term: 2, vote: null, commit: 3 });
    });

    it('discards the whole log, the entries after its index too, for a snapshot whose term differs from the entry at its index (Figure 13, step 7)', async (context) => {
      const { subject, storage, s } = await openWithSnapshots(context);
      await storage.save({ term: 3, vote: 'b', commit: 4 }, [...range(1, 4, 1), ...range(5, 10, 2)]);
      await s.saveSnapshot(snapshot(7, 3));
      let restarted = await restart(subject, storage);
      check.sameSnapshot(restarted.state.snapshot, snapshot(7, 3));
      expect(restarted.state.entries).toEqual([]);
      await restarted.storage.save(null, range(8, 9, 3));
      restarted = await restart(subject, restarted.storage);
      expect(positions(restarted.state.entries)).toEqual([
        [8, 3],
        [9, 3],
      ]);
    });

    it('after a snapshot, a save must start inside the log after it or right after its end: a gap, or an entry the snapshot holds, is refused and changes nothing', async (context) => {
      const { subject, storage, s } = await openWithSnapshots(context);
      await storage.save({ term: 1, vote: 'a', commit: 5 }, range(1, 8, 1));
      await s.saveSnapshot(snapshot(5, 1));
      await check.storageError(() => storage.save(null, range(10, 10, 1)), 'a gap after the log');
      await check.storageError(() => storage.save(null, range(5, 6, 2)), 'the entry at the snapshot index');
      await check.storageError(() => storage.save(null, range(3, 9, 2)), 'entries the snapshot holds');
      // Replacing a suffix after the snapshot is a save like any other (§5.3).
      await storage.save(null, range(7, 7, 2));
      let restarted = await restart(subject, storage);
      expect(positions(restarted.state.entries)).toEqual([
        [6, 1],
        [7, 2],
      ]);
      // After a snapshot that discarded the log, the next entry is the one right after the snapshot.
      const again = snapshotsOf(restarted.storage, context);
      await again.saveSnapshot(snapshot(20, 2));
      await check.storageError(
        () => restarted.storage.save(null, range(22, 22, 2)),
        'a gap after a discarding snapshot',
      );
      await check.storageError(() => restarted.storage.save(null, range(20, 21, 2)), 'the discarding snapshot’s index');
      await restarted.storage.save(null, range(21, 21, 2));
      restarted = await restart(subject, restarted.storage);
      check.sameSnapshot(restarted.state.snapshot, snapshot(20, 2));
      expect(positions(restarted.state.entries)).toEqual([[21, 2]]);
      expect(restarted.state.hardState).toEqual({ term: 1, vote: 'a', commit: 5 });
    });

    it('saving the stored snapshot again keeps the log after it', async (context) => {
      const { subject, storage, s } = await openWithSnapshots(context);
      await storage.save(null, range(1, 8, 1));
      await s.saveSnapshot(snapshot(5, 1));
      await s.saveSnapshot(snapshot(5, 1));
      expect(positions((await restart(subject, storage)).state.entries)).toEqual([
        [6, 1],
        [7, 1],
        [8, 1],
      ]);
    });

    it('refuses a snapshot older than the stored one, and a malformed one, keeping the stored snapshot and log', async (context) => {
      const { subject, storage, s } = await openWithSnapshots(context);
      await storage.save(null, range(1, 10, 1));
      await s.saveSnapshot(snapshot(6, 1));
      await check.storageError(() => s.saveSnapshot(snapshot(4, 1)), 'an older snapshot');
      const bad: [string, unknown][] = [
        ['index 0', snapshot(0, 1)],
        ['a fractional index', snapshot(7.5, 1)],
        ['a negative term', snapshot(8, -1)],
        ['data that is not bytes', { ...snapshot(8, 1), data: 'state' }],
        ['voters that are not ids', { ...snapshot(8, 1), voters: [1, 2] }],
        ['no learners', { ...snapshot(8, 1), learners: undefined }],
        ['no snapshot at all', null],
      ];
      for (const [what, value] of bad) await check.storageError(() => s.saveSnapshot(value as Snapshot), what);
      const { state } = await restart(subject, storage);
      check.sameSnapshot(state.snapshot, snapshot(6, 1));
      expect(state.entries.map((e) => e.index)).toEqual([7, 8, 9, 10]);
    });

    it('refuses to compact past the newest snapshot, or at a point that is not an index, and changes nothing', async (context) => {
      const { subject, storage, s } = await openWithSnapshots(context);
      await storage.save({ term: 1, vote: 'c', commit: 9 }, range(1, 10, 1));
      await check.storageError(() => s.compact(1), 'compacting without a snapshot');
      await s.saveSnapshot(snapshot(5, 1));
      await check.storageError(() => s.compact(6), 'compacting past the snapshot');
      for (const point of [-1, 2.5, Number.NaN]) await check.storageError(() => s.compact(point), `compact(${point})`);
      let restarted = await restart(subject, storage);
      check.sameSnapshot(restarted.state.snapshot, snapshot(5, 1));
      check.sameLog(restarted.state.entries, range(6, 10, 1));
      await snapshotsOf(restarted.storage, context).compact(5);
      restarted = await restart(subject, restarted.storage);
      check.sameLog(restarted.state.entries, range(6, 10, 1));
      expect(restarted.state.hardState).toEqual({ term: 1, vote: 'c', commit: 9 });
    });

    it('compacting below the snapshot (keeping trailing entries), and again, keeps every entry after the snapshot', async (context) => {
      const { subject, storage, s } = await openWithSnapshots(context);
      for (let i = 1; i <= 100; i += 10) await storage.save({ term: 2, vote: 'a', commit: i }, range(i, i + 9, 2));
      await s.saveSnapshot(snapshot(80, 2));
      await s.compact(60);
      await s.compact(60);
      await s.compact(0);
      const { state } = await restart(subject, storage);
      check.sameSnapshot(state.snapshot, snapshot(80, 2));
      check.sameLog(state.entries, range(81, 100, 2));
      expect(state.hardState).toEqual({ term: 2, vote: 'a', commit: 91 });
    });

    it('after compaction up to a snapshot, a restart returns the snapshot, the hard state and every later entry', async (context) => {
      const { subject, storage, s } = await openWithSnapshots(context);
      const entries = range(1, 5_000, 1);
      for (let i = 0; i < entries.length; i += 50) {
        await storage.save({ term: 1, vote: 'b', commit: i }, entries.slice(i, i + 50));
      }
      await s.saveSnapshot(snapshot(4_000, 1));
      await s.compact(4_000);
      await storage.save({ term: 2, vote: 'c', commit: 4_500 }, range(4_801, 4_900, 2));
      const { state } = await restart(subject, storage);
      check.sameSnapshot(state.snapshot, snapshot(4_000, 1));
      check.sameLog(state.entries, [...range(4_001, 4_800, 1), ...range(4_801, 4_900, 2)]);
      expect(state.hardState).toEqual({ term: 2, vote: 'c', commit: 4_500 });
    });

    it('a later snapshot replaces an earlier one', async (context) => {
      const { subject, storage, s } = await openWithSnapshots(context);
      await storage.save(null, range(1, 20, 1));
      await s.saveSnapshot(snapshot(5, 1, 'five'));
      await s.saveSnapshot(snapshot(15, 1, 'fifteen'));
      const { state } = await restart(subject, storage);
      check.sameSnapshot(state.snapshot, snapshot(15, 1, 'fifteen'));
      expect(state.entries.map((e) => e.index)).toEqual([16, 17, 18, 19, 20]);
    });

    it('stores snapshot data and members exactly: empty data, 1 MiB of data, no learners, non-ASCII ids', async (context) => {
      const { subject, storage, s } = await openWithSnapshots(context);
      await storage.save(null, range(1, 3, 1));
      const empty: Snapshot = { index: 2, term: 1, voters: ['ñødé-α'], learners: [], data: new Uint8Array(0) };
      await s.saveSnapshot(empty);
      let restarted = await restart(subject, storage);
      check.sameSnapshot(restarted.state.snapshot, empty);
      const big = new Uint8Array(1 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 131 + 17) & 0xff;
      const large: Snapshot = { index: 3, term: 1, voters: ['a', 'b'], learners: ['c', 'd', 'e'], data: big };
      await snapshotsOf(restarted.storage, context).saveSnapshot(large);
      restarted = await restart(subject, restarted.storage);
      check.sameSnapshot(restarted.state.snapshot, large);
    });

    it('refuses saveSnapshot and compact before open and after close', async (context) => {
      const subject = await harness.fresh();
      const s = snapshotsOf(subject.storage, context);
      await check.storageError(() => s.saveSnapshot(snapshot(1, 1)), 'saveSnapshot before open');
      await check.storageError(() => s.compact(0), 'compact before open');
      await open(subject.storage);
      await harness.close(subject.storage);
      await check.storageError(() => s.saveSnapshot(snapshot(1, 1)), 'saveSnapshot after close');
      await check.storageError(() => s.compact(0), 'compact after close');
    });

    it('reopens after many snapshots, compactions and installed snapshots with the newest snapshot, the hard state and the log after it', async (context) => {
      const BATCH = 25;
      const UNAPPLIED = 7;
      const TRAILING = 20;
      const opened = await openWithSnapshots(context);
      const subject = opened.subject;
      let { storage, s } = opened;
      /** What the storage must hold: the newest snapshot and the log after it. */
      let newest: Snapshot | null = null;
      let log: Entry[] = [];
      let term = 1;
      let next = 1;
      for (let round = 1; round <= 100; round++) {
        if (round % 30 === 0) term++;
        const batch = Array.from({ length: BATCH }, (_, k) => entry(next + k, term, `r${round}:${next + k}`));
        next += BATCH;
        const hardState = { term, vote: 'a', commit: next - 1 - UNAPPLIED };
        await storage.save(hardState, batch);
        log.push(...batch);
        if (round % 40 === 0) {
          // A leader's snapshot, past this log's end: the whole log goes (Figure 13, step 7).
          term++;
          newest = snapshot(next + 50, term, `installed@${round}`);
          await s.saveSnapshot(newest);
          next = newest.index + 1;
          log = [];
          continue;
        }
        const applied = log[log.length - 1 - UNAPPLIED];
        newest = snapshot(applied.index, applied.term, `taken@${round}`);
        await s.saveSnapshot(newest);
        await s.compact(Math.max(0, applied.index - TRAILING));
        log = log.slice(log.length - UNAPPLIED);
        if (round % 25 === 0) {
          const restarted = await restart(subject, storage);
          check.sameSnapshot(restarted.state.snapshot, newest);
          check.sameLog(restarted.state.entries, log);
          expect(restarted.state.hardState).toEqual(hardState);
          storage = restarted.storage;
          s = snapshotsOf(storage, context);
        }
      }
      await storage.save(null, range(next, next, term));
      log.push(entry(next, term));
      const { state } = await restart(subject, storage);
      check.sameSnapshot(state.snapshot, newest!);
      check.sameLog(state.entries, log);
      expect(plain(state.entries.slice(-1))).toEqual(plain([entry(next, term)]));
    });

    defineDamageCases({ faults, api, harness, snapshotsOf, openWithSnapshots });
  });
}
