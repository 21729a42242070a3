import type { Entry, HardState, Snapshot } from '../messages.js';

export type { Snapshot } from '../messages.js';

/** What a node resumes from: its hard state, its newest snapshot and the log after it. */
export interface PersistedState {
  readonly hardState: HardState;
  /**
   * The stored log, contiguous. It starts at index 1 when there is no
   * snapshot (empty for a new node), and at `snapshot.index + 1` otherwise.
   */
  readonly entries: readonly Entry[];
  /**
   * The newest valid snapshot, or null (or absent, for storages that do not
   * keep snapshots) when there is none.
   */
  readonly snapshot?: Snapshot | null;
}

/**
 * Where a node keeps what must survive a crash: term, vote and commit
 * (Figure 2, "Persistent state on all servers"), the log and snapshots. A
 * restarted node is a new RaftNode given the same Storage (the same object,
 * or for a file storage the same directory).
 *
 * Failure contract: if any method throws or rejects, the node stops at once
 * and emits `error` with that error; it never goes on with state that may be
 * half written. Implementations should throw `StorageError` (or
 * `CorruptionError` for damaged data) so users can tell storage faults apart.
 * After a failed write a storage need not accept further writes; closing it
 * and opening it again must return a state in which every save that
 * resolved is present (and the failed one wholly or not at all).
 *
 * The node calls the methods in this order only: `open`, then any number of
 * `save` (and `saveSnapshot`, `compact`) calls one after another, never
 * concurrently, then `close`; a restarted node may start over with `open` on
 * the same object.
 *
 * `testStorageConformance` (bellwether/testing) checks a storage against
 * this contract.
 */
export interface Storage {
  /**
   * Load what was persisted. Called once per node lifetime, before anything
   * else. A storage that has never been saved to returns term 0, vote null,
   * commit 0 and no entries. Opening a storage that another live node holds
   * open must fail with `StorageError`: two nodes on one log would corrupt
   * it. Damaged data must fail with `CorruptionError`, never be skipped or
   * returned altered; only a torn last write (a crash in the middle of a
   * save that had not resolved) may be dropped. A damaged snapshot may be
   * passed over for an older valid one only when the log still holds every
   * entry after that older one, so that nothing saved is lost.
   */
  open(): Promise<PersistedState>;

  /**
   * Durably persist `entries`, replacing every stored entry whose index is
   * >= entries[0].index (an empty array changes no entry), then `hardState`
   * if it is non-null. When the call returns (or its promise resolves), both
   * are durable: the node sends votes and append acknowledgements only after
   * that (§5.2, §5.3 — a vote or an acknowledgement must not outrun the disk).
   * A crash in the middle of a save leaves the stored state as it was before
   * the save or as it is after it, never a mix in which the hard state is
   * newer than the entries it was saved with.
   *
   * One exception, as in etcd: a save that changes nothing but `commit`
   * (no entries; term and vote as last saved) may become durable only with
   * the next save or `close`, so a crash may take `commit` back to an
   * earlier value. That is safe: commitIndex is volatile state in Figure 2,
   * a restarted node learns it again from the leader, and a stored commit
   * never points past a durable entry because every save with entries is
   * durable when it resolves. It saves the commit path a disk sync.
   *
   * `entries` are contiguous and entries[0].index is at most the last stored
   * index + 1, and above the newest snapshot's index; an implementation must
   * refuse anything else with `StorageError`, without changing what is
   * stored, rather than store a gap, because a gap is silent data loss.
   *
   * Calls are never concurrent: the node awaits one before making the next,
   * so each call sees the result of the previous one. A synchronous storage
   * returns undefined; it may also throw synchronously instead of rejecting.
   * Entries are immutable and may be kept by reference; the `entries` array
   * itself belongs to the caller and must not be kept.
   */
  save(hardState: HardState | null, entries: readonly Entry[]): void | Promise<void>;

  /**
   * Durably store `snapshot`; once it resolves, `open` returns it (or a newer
   * one). If the log holds an entry at `snapshot.index` with
   * `snapshot.term`, the entries after it are kept; otherwise the whole log
   * is discarded and the next save starts at `snapshot.index + 1` (Figure 13,
   * InstallSnapshot steps 6 and 7). Entries up to `snapshot.index` are no
   * longer returned by `open`, and a save may not replace them. Saving the
   * stored snapshot again changes nothing; a snapshot older than the stored
   * one, or a malformed one (index below 1, no data), is refused with
   * `StorageError` and changes nothing. Optional: a storage without it
   * cannot hold snapshots.
   */
  saveSnapshot?(snapshot: Snapshot): Promise<void>;

  /**
   * Allow the storage to drop entries up to and including `throughIndex`,
   * an index (a non-negative integer) that must not exceed the newest
   * snapshot's index (`StorageError` otherwise, changing nothing: the
   * entries would be lost). A storage may keep more than that (a file
   * storage drops whole segments only), but what `open` returns is the same
   * either way: the newest snapshot and the entries after it. Optional, like
   * `saveSnapshot`.
   */
  compact?(throughIndex: number): Promise<void>;

  /**
   * Release resources. Called once after the last `save` has settled. The
   * same object may be opened again later (a restarted node), and then
   * returns everything saved before.
   */
  close(): Promise<void>;
}
