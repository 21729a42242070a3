import type * as Vitest from 'vitest';
import { StorageError } from '../errors.js';
import type { Entry, EntryType } from '../messages.js';
import type { PersistedState, Snapshot, Storage } from '../storage/storage.js';
import { type VitestApi, vitestApi } from './vitest-api.js';

// Bound when the suite is registered: vitest may not be imported at load time (see vitest-api.ts).
let describe: typeof Vitest.describe;
let it: typeof Vitest.it;
let expect: typeof Vitest.expect;
let afterEach: typeof Vitest.afterEach;

/** One storage to test, fresh and empty, and how to reach its data again. */
export interface StorageUnderTest {
  /** A new, empty, not yet opened storage. */
  readonly storage: Storage;
  /**
   * A storage over the same underlying data, as a restarted process would
   * make it: a new object on the same directory for a file storage, or the
   * same object for an in-memory one. Not opened.
   */
  reopen(): Storage | Promise<Storage>;
  /** Removes what `create` made (temporary directories). */
  cleanup?(): void | Promise<void>;
}

export interface StorageConformanceOptions {
  /** Names the suite in test output. */
  readonly name: string;
  /** Called once per test. */
  create(): StorageUnderTest | Promise<StorageUnderTest>;
  /** Also test `saveSnapshot` and `compact` (the storage must implement them). Default false. */
  readonly snapshots?: boolean;
  /** vitest's functions, if they cannot be found on their own (see vitestApi). */
  readonly vitest?: Partial<VitestApi>;
}

const encoder = new TextEncoder();

function entry(index: number, term: number, text = `e${index}`, type: EntryType = 'normal'): Entry {
  return { index, term, type, data: encoder.encode(text) };
}

function range(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

/** Entries as plain comparable values: the data's bytes, not its class (Buffer vs Uint8Array). */
function plain(entries: readonly Entry[]): { index: number; term: number; type: EntryType; data: number[] }[] {
  return entries.map((e) => ({ index: e.index, term: e.term, type: e.type, data: Array.from(e.data) }));
}

/** Compares long logs entry by entry, failing on the first difference with a readable message. */
function expectSameLog(actual: readonly Entry[], expected: readonly Entry[]): void {
  expect(actual.length, 'log length').toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const same =
      a.index === e.index &&
      a.term === e.term &&
      a.type === e.type &&
      a.data.length === e.data.length &&
      a.data.every((byte, k) => byte === e.data[k]);
    if (!same) expect(plain([a]), `entry at position ${i}`).toEqual(plain([e]));
  }
}

async function expectStorageError(action: () => unknown, what: string): Promise<void> {
  let error: unknown;
  try {
    await action();
  } catch (caught) {
    error = caught;
  }
  expect(StorageError.isInstance(error), `${what}: expected a StorageError, got ${String(error)}`).toBe(true);
}

function snapshot(index: number, term: number, text = `state@${index}`): Snapshot {
  return { index, term, voters: ['a', 'b', 'c'], learners: ['d'], data: encoder.encode(text) };
}

/**
 * Registers the vitest tests that any `Storage` must pass: what `open`
 * returns, that `save` replaces a conflicting suffix and refuses gaps, that
 * everything survives close and reopen (by the same object and by a new one
 * over the same data), that a storage cannot be opened twice, and large
 * batches. With `snapshots: true` also snapshots and compaction.
 *
 * ```ts
 * testStorageConformance({
 *   name: 'MyStorage',
 *   create: () => {
 *     const dir = mkdtempSync(join(tmpdir(), 'my-'));
 *     return { storage: new MyStorage(dir), reopen: () => new MyStorage(dir), cleanup: () => rmSync(dir, { recursive: true }) };
 *   },
 * });
 * ```
 */
export function testStorageConformance(options: StorageConformanceOptions): void {
  ({ describe, it, expect, afterEach } = vitestApi(options.vitest));
  describe(`Storage conformance: ${options.name}`, () => {
    let current: StorageUnderTest | null = null;
    const opened = new Set<Storage>();

    afterEach(async () => {
      for (const storage of opened) await Promise.resolve(storage.close()).catch(() => undefined);
      opened.clear();
      await current?.cleanup?.();
      current = null;
    });

    async function fresh(): Promise<StorageUnderTest> {
      current = await options.create();
      return current;
    }

    async function open(storage: Storage): Promise<PersistedState> {
      const state = await storage.open();
      opened.add(storage);
      return state;
    }

    /** A fresh storage, opened. */
    async function openFresh(): Promise<{ subject: StorageUnderTest; storage: Storage }> {
      const subject = await fresh();
      await open(subject.storage);
      return { subject, storage: subject.storage };
    }

    /** Closes `storage` and opens the same data through a new object: a restarted process. */
    async function restart(
      subject: StorageUnderTest,
      storage: Storage,
    ): Promise<{ storage: Storage; state: PersistedState }> {
      await storage.close();
      opened.delete(storage);
      const again = await subject.reopen();
      const state = await open(again);
      return { storage: again, state };
    }

    it('a new storage opens with term 0, no vote, commit 0, an empty log and no snapshot', async () => {
      const subject = await fresh();
      const state = await open(subject.storage);
      expect(state.hardState).toEqual({ term: 0, vote: null, commit: 0 });
      expect(state.entries).toEqual([]);
      expect(state.snapshot ?? null).toBeNull();
    });

    it('returns the saved hard state and entries, of every type and size, after a restart', async () => {
      const { subject, storage } = await openFresh();
      const big = new Uint8Array(100_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
      const entries: Entry[] = [
        { index: 1, term: 1, type: 'noop', data: new Uint8Array(0) },
        { index: 2, term: 1, type: 'normal', data: Uint8Array.of(0) },
        { index: 3, term: 1, type: 'config', data: encoder.encode('{"voters":["a","b","c"]}') },
        { index: 4, term: 2, type: 'normal', data: big },
        { index: 5, term: 2, type: 'normal', data: Uint8Array.of(0, 255, 1, 254) },
      ];
      await storage.save({ term: 2, vote: 'b', commit: 3 }, entries);
      const { state } = await restart(subject, storage);
      expect(state.hardState).toEqual({ term: 2, vote: 'b', commit: 3 });
      expect(plain(state.entries)).toEqual(plain(entries));
    });

    it('the same object can be opened again after close and returns everything saved before', async () => {
      const { storage } = await openFresh();
      await storage.save({ term: 1, vote: 'a', commit: 1 }, range(1, 3, 1));
      await storage.close();
      opened.delete(storage);
      const state = await open(storage);
      expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 1 });
      expect(plain(state.entries)).toEqual(plain(range(1, 3, 1)));
      await storage.save(null, range(4, 4, 1));
      await storage.close();
      opened.delete(storage);
      const again = await open(storage);
      expect(again.entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    });

    it('stores a hard state alone, and a null hard state keeps the previous one', async () => {
      const { subject, storage } = await openFresh();
      await storage.save({ term: 3, vote: 'a', commit: 0 }, []);
      await storage.save(null, range(1, 2, 3));
      const { state } = await restart(subject, storage);
      expect(state.hardState).toEqual({ term: 3, vote: 'a', commit: 0 });
      expect(state.entries.map((e) => e.index)).toEqual([1, 2]);
    });

    it('keeps the last of many hard states, including a cleared vote and a non-ASCII node id', async () => {
      const { subject, storage } = await openFresh();
      await storage.save({ term: 1, vote: 'ñødé-α', commit: 0 }, []);
      let restarted = await restart(subject, storage);
      expect(restarted.state.hardState).toEqual({ term: 1, vote: 'ñødé-α', commit: 0 });
      const s = restarted.storage;
      for (let term = 2; term <= 50; term++) await s.save({ term, vote: term % 2 === 0 ? 'b' : null, commit: 0 }, []);
      await s.save({ term: 51, vote: null, commit: 0 }, []);
      restarted = await restart(subject, s);
      expect(restarted.state.hardState).toEqual({ term: 51, vote: null, commit: 0 });
    });

    it('keeps a save that changes only commit through close and reopen', async () => {
      const { subject, storage } = await openFresh();
      await storage.save({ term: 1, vote: 'a', commit: 0 }, range(1, 5, 1));
      await storage.save({ term: 1, vote: 'a', commit: 3 }, []);
      await storage.save({ term: 1, vote: 'a', commit: 5 }, []);
      const { state } = await restart(subject, storage);
      expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 5 });
    });

    it('a save with no entries and no hard state changes nothing', async () => {
      const { subject, storage } = await openFresh();
      await storage.save({ term: 1, vote: 'a', commit: 0 }, range(1, 2, 1));
      await storage.save(null, []);
      const { state } = await restart(subject, storage);
      expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
      expect(state.entries.map((e) => e.index)).toEqual([1, 2]);
    });

    it('replaces every stored entry at or after the first saved index (§5.3), and only those', async () => {
      const { subject, storage } = await openFresh();
      await storage.save(null, range(1, 5, 1));
      await storage.save(null, [entry(3, 2, 'new3'), entry(4, 2, 'new4')]);
      const { state } = await restart(subject, storage);
      expect(plain(state.entries)).toEqual(plain([entry(1, 1), entry(2, 1), entry(3, 2, 'new3'), entry(4, 2, 'new4')]));
    });

    it('may replace the whole log from index 1', async () => {
      const { subject, storage } = await openFresh();
      await storage.save(null, range(1, 3, 1));
      await storage.save(null, range(1, 2, 4));
      const { state } = await restart(subject, storage);
      expect(state.entries.map((e) => [e.index, e.term])).toEqual([
        [1, 4],
        [2, 4],
      ]);
    });

    it('replaces a suffix that spans many earlier saves, keeping the entries before it', async () => {
      const { subject, storage } = await openFresh();
      for (let i = 1; i <= 100; i++) await storage.save(null, [entry(i, 1)]);
      await storage.save(null, range(41, 45, 2));
      await storage.save(null, [entry(46, 2)]);
      const { state } = await restart(subject, storage);
      expectSameLog(state.entries, [...range(1, 40, 1), ...range(41, 46, 2)]);
    });

    it('an index saved again and again ends with the last entry saved for it', async () => {
      const { subject, storage } = await openFresh();
      for (let term = 1; term <= 30; term++)
        await storage.save({ term, vote: 'a', commit: 0 }, [entry(1, term, `t${term}`)]);
      const { state } = await restart(subject, storage);
      expect(plain(state.entries)).toEqual(plain([entry(1, 30, 't30')]));
      expect(state.hardState.term).toBe(30);
    });

    it('refuses a batch that would leave a gap, or that starts at index 0, and keeps the log unchanged', async () => {
      const { subject, storage } = await openFresh();
      await storage.save(null, range(1, 2, 1));
      await expectStorageError(() => storage.save(null, range(4, 5, 1)), 'a gap');
      await expectStorageError(() => storage.save(null, [entry(0, 1)]), 'index 0');
      const { state } = await restart(subject, storage);
      expect(state.entries.map((e) => e.index)).toEqual([1, 2]);
    });

    it('refuses a gap on an empty log', async () => {
      const { storage } = await openFresh();
      await expectStorageError(() => storage.save(null, range(2, 3, 1)), 'a gap on an empty log');
    });

    it('refuses a non-contiguous batch without changing anything, hard state included', async () => {
      const { subject, storage } = await openFresh();
      await storage.save({ term: 1, vote: null, commit: 0 }, range(1, 3, 1));
      await expectStorageError(
        () => storage.save({ term: 9, vote: 'x', commit: 0 }, [entry(2, 2), entry(4, 2)]),
        'a non-contiguous batch',
      );
      const { state } = await restart(subject, storage);
      expect(state.hardState).toEqual({ term: 1, vote: null, commit: 0 });
      expect(state.entries.map((e) => [e.index, e.term])).toEqual([
        [1, 1],
        [2, 1],
        [3, 1],
      ]);
    });

    it('accepts valid saves after refusing an invalid one', async () => {
      const { subject, storage } = await openFresh();
      await storage.save(null, range(1, 2, 1));
      await expectStorageError(() => storage.save(null, range(9, 9, 1)), 'a gap');
      await storage.save({ term: 1, vote: 'c', commit: 3 }, range(3, 4, 1));
      const { state } = await restart(subject, storage);
      expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
      expect(state.hardState).toEqual({ term: 1, vote: 'c', commit: 3 });
    });

    it('refuses save before open and after close with StorageError', async () => {
      const subject = await fresh();
      await expectStorageError(() => subject.storage.save({ term: 1, vote: null, commit: 0 }, []), 'save before open');
      await open(subject.storage);
      await subject.storage.close();
      opened.delete(subject.storage);
      await expectStorageError(() => subject.storage.save(null, range(1, 1, 1)), 'save after close');
    });

    it('refuses a second open of the same object while it is open', async () => {
      const { storage } = await openFresh();
      await expectStorageError(() => storage.open(), 'a second open');
    });

    it('refuses to open the same data through a second object while the first is open, and allows it after close', async () => {
      const { subject, storage } = await openFresh();
      await storage.save({ term: 1, vote: 'a', commit: 0 }, range(1, 2, 1));
      const second = await subject.reopen();
      await expectStorageError(() => second.open(), 'open while another holds it');
      await storage.close();
      opened.delete(storage);
      const state = await open(second);
      expect(state.entries.map((e) => e.index)).toEqual([1, 2]);
    });

    it('close is idempotent, and closing a storage that was never opened is harmless', async () => {
      const { storage } = await openFresh();
      await storage.close();
      await expect(storage.close()).resolves.toBeUndefined();
      opened.delete(storage);
      const other = await current!.reopen();
      if (other !== storage) await expect(other.close()).resolves.toBeUndefined();
    });

    it('stores a batch of 100,000 entries in one save', async () => {
      const { subject, storage } = await openFresh();
      const entries = range(1, 100_000, 1);
      await storage.save({ term: 1, vote: 'a', commit: 100_000 }, entries);
      const { state } = await restart(subject, storage);
      expectSameLog(state.entries, entries);
      expect(state.hardState.commit).toBe(100_000);
    });

    it('stores 2,000 single-entry saves in order, each with its hard state', async () => {
      const { subject, storage } = await openFresh();
      const entries = range(1, 2_000, 1);
      for (const e of entries) await storage.save({ term: 1, vote: 'a', commit: e.index - 1 }, [e]);
      const { state } = await restart(subject, storage);
      expectSameLog(state.entries, entries);
      expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 1_999 });
    });

    it('open returns a log that later saves do not change', async () => {
      const subject = await fresh();
      const state = await open(subject.storage);
      await subject.storage.save(null, range(1, 2, 1));
      expect(state.entries).toEqual([]);
    });

    it("does not keep the caller's entries array", async () => {
      const { subject, storage } = await openFresh();
      const batch = range(1, 2, 1);
      await storage.save(null, batch);
      batch.push(entry(3, 1));
      batch.length = 0;
      const { state } = await restart(subject, storage);
      expect(state.entries.map((e) => e.index)).toEqual([1, 2]);
    });

    if (options.snapshots === true) {
      defineSnapshotTests();
    }

    function defineSnapshotTests(): void {
      function withSnapshots(storage: Storage): Required<Pick<Storage, 'saveSnapshot' | 'compact'>> {
        const { saveSnapshot, compact } = storage;
        if (typeof saveSnapshot !== 'function' || typeof compact !== 'function') {
          throw new Error(`${options.name} does not implement saveSnapshot and compact; pass snapshots: false`);
        }
        return { saveSnapshot: saveSnapshot.bind(storage), compact: compact.bind(storage) };
      }

      function expectSnapshot(actual: Snapshot | null | undefined, expected: Snapshot): void {
        expect(actual).not.toBeNull();
        expect(actual).toBeDefined();
        expect({ ...actual!, data: Array.from(actual!.data) }).toEqual({
          ...expected,
          data: Array.from(expected.data),
        });
      }

      it('returns the newest snapshot after a restart, and only the entries after it', async () => {
        const { subject, storage } = await openFresh();
        await storage.save({ term: 1, vote: 'a', commit: 8 }, range(1, 10, 1));
        await withSnapshots(storage).saveSnapshot(snapshot(6, 1));
        const { state } = await restart(subject, storage);
        expectSnapshot(state.snapshot, snapshot(6, 1));
        expect(state.entries.map((e) => e.index)).toEqual([7, 8, 9, 10]);
        expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 8 });
      });

      it('keeps the entries after a snapshot whose index and term match the log (Figure 13, step 6)', async () => {
        const { subject, storage } = await openFresh();
        await storage.save(null, [...range(1, 4, 1), ...range(5, 8, 2)]);
        await withSnapshots(storage).saveSnapshot(snapshot(5, 2));
        await storage.save(null, range(9, 9, 2));
        const { state } = await restart(subject, storage);
        expect(state.entries.map((e) => [e.index, e.term])).toEqual([
          [6, 2],
          [7, 2],
          [8, 2],
          [9, 2],
        ]);
      });

      it('discards the whole log for a snapshot that does not match it, and goes on after the snapshot (step 7)', async () => {
        const { subject, storage } = await openFresh();
        await storage.save({ term: 2, vote: null, commit: 3 }, range(1, 5, 1));
        await withSnapshots(storage).saveSnapshot(snapshot(8, 2));
        await expectStorageError(() => storage.save(null, range(6, 6, 2)), 'a gap after the snapshot');
        await storage.save(null, range(9, 10, 2));
        const { state, storage: again } = await restart(subject, storage);
        expectSnapshot(state.snapshot, snapshot(8, 2));
        expect(state.entries.map((e) => [e.index, e.term])).toEqual([
          [9, 2],
          [10, 2],
        ]);
        // A snapshot at an existing index but with another term also discards the log.
        await withSnapshots(again).saveSnapshot(snapshot(10, 3));
        const last = await restart(subject, again);
        expect(last.state.entries).toEqual([]);
        expectSnapshot(last.state.snapshot, snapshot(10, 3));
      });

      it('refuses to replace entries that a snapshot covers, and a snapshot older than the stored one', async () => {
        const { storage } = await openFresh();
        await storage.save(null, range(1, 10, 1));
        const s = withSnapshots(storage);
        await s.saveSnapshot(snapshot(6, 1));
        await expectStorageError(() => storage.save(null, range(6, 7, 2)), 'replacing a snapshotted entry');
        await expectStorageError(() => s.saveSnapshot(snapshot(4, 1)), 'an older snapshot');
        await storage.save(null, range(7, 7, 2));
      });

      it('refuses to compact past the newest snapshot', async () => {
        const { storage } = await openFresh();
        await storage.save(null, range(1, 10, 1));
        const s = withSnapshots(storage);
        await expectStorageError(() => s.compact(1), 'compacting without a snapshot');
        await s.saveSnapshot(snapshot(5, 1));
        await expectStorageError(() => s.compact(6), 'compacting past the snapshot');
        await s.compact(5);
      });

      it('after compaction up to a snapshot, a restart returns the snapshot, the hard state and every later entry', async () => {
        const { subject, storage } = await openFresh();
        const s = withSnapshots(storage);
        const entries = range(1, 5_000, 1);
        for (let i = 0; i < entries.length; i += 50) {
          await storage.save({ term: 1, vote: 'b', commit: i }, entries.slice(i, i + 50));
        }
        await s.saveSnapshot(snapshot(4_000, 1));
        await s.compact(4_000);
        await storage.save({ term: 2, vote: 'c', commit: 4_500 }, range(4_801, 4_900, 2));
        const { state } = await restart(subject, storage);
        expectSnapshot(state.snapshot, snapshot(4_000, 1));
        expectSameLog(state.entries, [...range(4_001, 4_800, 1), ...range(4_801, 4_900, 2)]);
        expect(state.hardState).toEqual({ term: 2, vote: 'c', commit: 4_500 });
      });

      it('a later snapshot replaces an earlier one', async () => {
        const { subject, storage } = await openFresh();
        await storage.save(null, range(1, 20, 1));
        const s = withSnapshots(storage);
        await s.saveSnapshot(snapshot(5, 1, 'five'));
        await s.saveSnapshot(snapshot(15, 1, 'fifteen'));
        const { state } = await restart(subject, storage);
        expectSnapshot(state.snapshot, snapshot(15, 1, 'fifteen'));
        expect(state.entries.map((e) => e.index)).toEqual([16, 17, 18, 19, 20]);
      });
    }
  });
}
