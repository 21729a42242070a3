import type { Entry } from '../messages.js';
import { checks, createHarness, entry, plain, range, type StorageUnderTest } from './storage-conformance-kit.js';
import type { FaultHook } from './storage-conformance-damage.js';
import { defineSnapshotCases } from './storage-conformance-snapshots.js';
import { type VitestApi, vitestApi } from './vitest-api.js';

export type { StorageUnderTest } from './storage-conformance-kit.js';
export type { FaultHook } from './storage-conformance-damage.js';

export interface StorageConformanceOptions {
  /** Names the suite in test output. */
  readonly name: string;
  /** Called once per test. */
  create(): StorageUnderTest | Promise<StorageUnderTest>;
  /**
   * Whether the storage implements `saveSnapshot` and `compact`. `true`:
   * their cases run and fail for a storage without them; `false`: one
   * skipped case says the storage has none. Default: each case runs when
   * the storage has both, and is skipped with that reason otherwise.
   */
  readonly snapshots?: boolean;
  /**
   * The fault hooks `create` gives (`StorageUnderTest.crashDuringSnapshot`,
   * `damageNewestSnapshot`): the cases played with each are registered for
   * these only, and fail if `create` does not give a hook declared here.
   * Default: none.
   */
  readonly faults?: readonly FaultHook[];
  /** vitest's functions, if they cannot be found on their own (see vitestApi). */
  readonly vitest?: Partial<VitestApi>;
}

/**
 * Registers the vitest tests that any `Storage` must pass: what `open`
 * returns, that `save` replaces a conflicting suffix and refuses gaps, that
 * everything survives close and reopen (by the same object and by a new one
 * over the same data), that a storage cannot be opened twice, and large
 * batches; and, for a storage with `saveSnapshot` and `compact`, snapshots
 * and compaction (storage-conformance-snapshots.ts). A storage that can
 * play a crash in the middle of `saveSnapshot`, or damage its newest
 * snapshot, gives the optional `StorageUnderTest` hooks
 * `crashDuringSnapshot` and `damageNewestSnapshot` and declares them in
 * `faults`; the cases played with them are in storage-conformance-damage.ts.
 *
 * ```ts
 * testStorageConformance({
 *   name: 'MyStorage',
 *   faults: ['damageNewestSnapshot'],
 *   create: () => {
 *     const dir = mkdtempSync(join(tmpdir(), 'my-'));
 *     return {
 *       storage: new MyStorage(dir),
 *       reopen: () => new MyStorage(dir),
 *       cleanup: () => rmSync(dir, { recursive: true }),
 *       damageNewestSnapshot: () => flipAByteOfTheNewestSnapshot(dir),
 *     };
 *   },
 * });
 * ```
 */
export function testStorageConformance(options: StorageConformanceOptions): void {
  const api = vitestApi(options.vitest);
  const { describe, it, expect } = api;
  describe(`Storage conformance: ${options.name}`, () => {
    const harness = createHarness(options.create, api.afterEach);
    const { fresh, open, openFresh, restart } = harness;
    const check = checks(expect);

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
        { index: 3, term: 1, type: 'config', data: new TextEncoder().encode('{"voters":["a","b","c"]}') },
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
      await harness.close(storage);
      const state = await open(storage);
      expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 1 });
      expect(plain(state.entries)).toEqual(plain(range(1, 3, 1)));
      await storage.save(null, range(4, 4, 1));
      await harness.close(storage);
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
      check.sameLog(state.entries, [...range(1, 40, 1), ...range(41, 46, 2)]);
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
      await check.storageError(() => storage.save(null, range(4, 5, 1)), 'a gap');
      await check.storageError(() => storage.save(null, [entry(0, 1)]), 'index 0');
      const { state } = await restart(subject, storage);
      expect(state.entries.map((e) => e.index)).toEqual([1, 2]);
    });

    it('refuses a gap on an empty log', async () => {
      const { storage } = await openFresh();
      await check.storageError(() => storage.save(null, range(2, 3, 1)), 'a gap on an empty log');
    });

    it('refuses a non-contiguous batch without changing anything, hard state included', async () => {
      const { subject, storage } = await openFresh();
      await storage.save({ term: 1, vote: null, commit: 0 }, range(1, 3, 1));
      await check.storageError(
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
      await check.storageError(() => storage.save(null, range(9, 9, 1)), 'a gap');
      await storage.save({ term: 1, vote: 'c', commit: 3 }, range(3, 4, 1));
      const { state } = await restart(subject, storage);
      expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
      expect(state.hardState).toEqual({ term: 1, vote: 'c', commit: 3 });
    });

    it('refuses save before open and after close with StorageError', async () => {
      const subject = await fresh();
      await check.storageError(() => subject.storage.save({ term: 1, vote: null, commit: 0 }, []), 'save before open');
      await open(subject.storage);
      await harness.close(subject.storage);
      await check.storageError(() => subject.storage.save(null, range(1, 1, 1)), 'save after close');
    });

    it('refuses a second open of the same object while it is open', async () => {
      const { storage } = await openFresh();
      await check.storageError(() => storage.open(), 'a second open');
    });

    it('refuses to open the same data through a second object while the first is open, and allows it after close', async () => {
      const { subject, storage } = await openFresh();
      await storage.save({ term: 1, vote: 'a', commit: 0 }, range(1, 2, 1));
      const second = await subject.reopen();
      await check.storageError(() => second.open(), 'open while another holds it');
      await harness.close(storage);
      const state = await open(second);
      expect(state.entries.map((e) => e.index)).toEqual([1, 2]);
    });

    it('close is idempotent, and closing a storage that was never opened is harmless', async () => {
      const { storage } = await openFresh();
      await harness.close(storage);
      await expect(storage.close()).resolves.toBeUndefined();
      const other = await harness.current().reopen();
      if (other !== storage) await expect(other.close()).resolves.toBeUndefined();
    });

    it('stores a batch of 100,000 entries in one save', async () => {
      const { subject, storage } = await openFresh();
      const entries = range(1, 100_000, 1);
      await storage.save({ term: 1, vote: 'a', commit: 100_000 }, entries);
      const { state } = await restart(subject, storage);
      check.sameLog(state.entries, entries);
      expect(state.hardState.commit).toBe(100_000);
    });

    it('stores 2,000 single-entry saves in order, each with its hard state', async () => {
      const { subject, storage } = await openFresh();
      const entries = range(1, 2_000, 1);
      for (const e of entries) await storage.save({ term: 1, vote: 'a', commit: e.index - 1 }, [e]);
      const { state } = await restart(subject, storage);
      check.sameLog(state.entries, entries);
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

    const faults = new Set(options.faults ?? []);
    defineSnapshotCases({ name: options.name, mode: options.snapshots, faults, api, harness });
  });
}
