import type * as Vitest from 'vitest';
import { CorruptionError, StorageError } from '../errors.js';
import type { Entry, EntryType } from '../messages.js';
import type { PersistedState, Snapshot, Storage } from '../storage/storage.js';

/**
 * What the storage conformance cases share: the storages under test, opened
 * and restarted the way a node does it, and the values and comparisons the
 * cases are written with.
 */

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
  /**
   * Plays a process killed in the middle of `storage.saveSnapshot(snapshot)`:
   * after the new snapshot was written where the storage keeps it, and
   * before the storage made it the snapshot `open` returns (for a file
   * storage: the temporary file written and synced, not yet renamed into
   * place).
   *
   * Called with `storage` open, every earlier call on it resolved, and
   * `snapshot` one that `saveSnapshot` would accept. When the promise
   * resolves, the data is as that crash would leave it, and `storage` is
   * closed or has released what it holds (a killed process holds no lock);
   * the suite does not use `storage` again. It then opens `reopen()` and
   * expects everything that resolved before the call (snapshot, log, hard
   * state) exactly, nothing of `snapshot`, and that `snapshot` can then be
   * saved again.
   *
   * Without this hook the crash cases are reported as skipped, saying so.
   */
  crashDuringSnapshot?(storage: Storage, snapshot: Snapshot): Promise<void>;
  /**
   * Damages the stored bytes of the newest snapshot, as a bad disk would
   * (for a file storage: flips a bit of its file), so that the storage's
   * own check (a checksum) finds it invalid on the next `open`. Changes
   * nothing else: older snapshots, the log and the hard state stay as they
   * are.
   *
   * Called only while no storage object over the data is open, after at
   * least one snapshot was saved. The suite then opens `reopen()` and
   * expects the newest older valid snapshot, with the log after it, when
   * the log still holds every entry after that snapshot; otherwise a
   * `CorruptionError`, on that open and every later one. So a storage
   * given this hook must keep an older snapshot while its log holds every
   * entry after it, and fall back to it (as `Storage.open` allows).
   *
   * Without this hook the damage cases are reported as skipped, saying so.
   */
  damageNewestSnapshot?(): void | Promise<void>;
}

/** A storage's optional snapshot methods, once found. */
export type SnapshotMethods = Required<Pick<Storage, 'saveSnapshot' | 'compact'>>;

/** The storages of one test; whatever it opened is closed, and its data removed, after it. */
export interface Harness {
  /** A new storage, not opened. */
  fresh(): Promise<StorageUnderTest>;
  open(storage: Storage): Promise<PersistedState>;
  /** A fresh storage, opened. */
  openFresh(): Promise<{ subject: StorageUnderTest; storage: Storage }>;
  /** Closes `storage` and opens the same data through a new object: a restarted process. */
  restart(subject: StorageUnderTest, storage: Storage): Promise<{ storage: Storage; state: PersistedState }>;
  /** Opens the same data through a new object, closing nothing first: after a crash, or with none open. */
  reopen(subject: StorageUnderTest): Promise<{ storage: Storage; state: PersistedState }>;
  /** Closes `storage` without opening it again. */
  close(storage: Storage): Promise<void>;
  /** The storage the running test created last. */
  current(): StorageUnderTest;
}

export function createHarness(
  create: () => StorageUnderTest | Promise<StorageUnderTest>,
  afterEach: typeof Vitest.afterEach,
): Harness {
  let current: StorageUnderTest | null = null;
  const opened = new Set<Storage>();

  afterEach(async () => {
    for (const storage of opened) await Promise.resolve(storage.close()).catch(() => undefined);
    opened.clear();
    await current?.cleanup?.();
    current = null;
  });

  const harness: Harness = {
    async fresh() {
      current = await create();
      return current;
    },
    async open(storage) {
      const state = await storage.open();
      opened.add(storage);
      return state;
    },
    async openFresh() {
      const subject = await harness.fresh();
      await harness.open(subject.storage);
      return { subject, storage: subject.storage };
    },
    async restart(subject, storage) {
      await harness.close(storage);
      return harness.reopen(subject);
    },
    async reopen(subject) {
      const again = await subject.reopen();
      const state = await harness.open(again);
      return { storage: again, state };
    },
    async close(storage) {
      await storage.close();
      opened.delete(storage);
    },
    current() {
      if (current === null) throw new Error('no storage was created in this test');
      return current;
    },
  };
  return harness;
}

const encoder = new TextEncoder();

export function entry(index: number, term: number, text = `e${index}`, type: EntryType = 'normal'): Entry {
  return { index, term, type, data: encoder.encode(text) };
}

export function range(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

export function snapshot(index: number, term: number, text = `state@${index}`): Snapshot {
  return { index, term, voters: ['a', 'b', 'c'], learners: ['d'], data: encoder.encode(text) };
}

/** Entries as plain comparable values: the data's bytes, not its class (Buffer vs Uint8Array). */
export function plain(entries: readonly Entry[]): { index: number; term: number; type: EntryType; data: number[] }[] {
  return entries.map((e) => ({ index: e.index, term: e.term, type: e.type, data: Array.from(e.data) }));
}

/** Index and term of each entry, for short readable comparisons. */
export function positions(entries: readonly Entry[]): [number, number][] {
  return entries.map((e) => [e.index, e.term]);
}

/** Assertions over logs, snapshots and errors, on the `expect` of the running vitest. */
export interface Checks {
  /** Compares long logs entry by entry, failing on the first difference with a readable message. */
  sameLog(actual: readonly Entry[], expected: readonly Entry[]): void;
  /** The snapshot is there and equal to `expected`, data byte for byte. */
  sameSnapshot(actual: Snapshot | null | undefined, expected: Snapshot): void;
  /** `action` throws or rejects with a StorageError. */
  storageError(action: () => unknown, what: string): Promise<void>;
  /** `action` throws or rejects with a CorruptionError (code `CORRUPTION`). */
  corruptionError(action: () => unknown, what: string): Promise<void>;
}

/** What `action` throws or rejects with; undefined when it returns. */
async function thrown(action: () => unknown): Promise<unknown> {
  try {
    await action();
  } catch (caught) {
    return caught;
  }
  return undefined;
}

export function checks(expect: typeof Vitest.expect): Checks {
  return {
    sameLog(actual, expected) {
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
    },
    sameSnapshot(actual, expected) {
      expect(actual ?? null, 'a snapshot').not.toBeNull();
      expect({ ...actual!, data: Array.from(actual!.data) }).toEqual({ ...expected, data: Array.from(expected.data) });
    },
    async storageError(action, what) {
      const error = await thrown(action);
      expect(StorageError.isInstance(error), `${what}: expected a StorageError, got ${String(error)}`).toBe(true);
    },
    async corruptionError(action, what) {
      const error = await thrown(action);
      expect(CorruptionError.isInstance(error), `${what}: expected a CorruptionError, got ${String(error)}`).toBe(true);
      expect((error as CorruptionError).code, what).toBe('CORRUPTION');
    },
  };
}
