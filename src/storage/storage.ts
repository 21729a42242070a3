import type { Entry, HardState } from '../messages.js';

/** What a node resumes from: its hard state and its whole log. */
export interface PersistedState {
  readonly hardState: HardState;
  /** The stored log, contiguous, starting at index 1 (empty for a new node). */
  readonly entries: readonly Entry[];
}

/**
 * Where a node keeps what must survive a crash: term, vote and commit
 * (Figure 2, "Persistent state on all servers") and the log. A restarted node
 * is a new RaftNode given the same Storage.
 *
 * Failure contract: if any method throws or rejects, the node stops at once
 * and emits `error` with that error; it never goes on with state that may be
 * half written. Implementations should throw `StorageError` (or
 * `CorruptionError` for damaged data) so users can tell storage faults apart.
 *
 * The node calls the methods in this order only: `open`, then any number of
 * `save` calls one after another, then `close`; a restarted node may start
 * over with `open` on the same object.
 */
export interface Storage {
  /**
   * Load what was persisted. Called once per node lifetime, before anything
   * else. A storage that has never been saved to returns term 0, vote null,
   * commit 0 and no entries. Opening a storage that another live node holds
   * open must fail: two nodes on one log would corrupt it.
   */
  open(): Promise<PersistedState>;

  /**
   * Durably persist `entries`, replacing every stored entry whose index is
   * >= entries[0].index (an empty array changes no entry), then `hardState`
   * if it is non-null. When the call returns (or its promise resolves), both
   * are durable: the node sends votes and append acknowledgements only after
   * that (§5.2, §5.3 — a vote or an acknowledgement must not outrun the disk).
   *
   * `entries` are contiguous and entries[0].index is at most the last stored
   * index + 1; an implementation must refuse a gap rather than store one,
   * because a gap is silent data loss.
   *
   * Calls are never concurrent: the node awaits one before making the next,
   * so each call sees the result of the previous one. A synchronous storage
   * returns undefined; it may also throw synchronously instead of rejecting.
   * Entries are immutable and may be kept by reference; the `entries` array
   * itself belongs to the caller and must not be kept.
   */
  save(hardState: HardState | null, entries: readonly Entry[]): void | Promise<void>;

  /**
   * Release resources. Called once after the last `save` has settled. The
   * same object may be opened again later (a restarted node), and then
   * returns everything saved before.
   */
  close(): Promise<void>;
}
