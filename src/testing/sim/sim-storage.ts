import { StorageError } from '../../errors.js';
import type { Entry, HardState } from '../../messages.js';
import type { PersistedState, Storage } from '../../storage/storage.js';
import type { EventQueue } from './event-queue.js';

interface InFlight {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly resolve: () => void;
}

/**
 * A disk with the failure modes the Storage contract allows: a `save` is
 * written at once but durable only when its simulated fsync completes, some
 * virtual time later. A crash before that keeps nothing, a torn prefix of
 * the batch (entries first, hard state last, as a write-ahead log writes
 * them), or all of it.
 */
export class SimStorage implements Storage {
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  private entries: Entry[] = [];
  private inFlight: InFlight | null = null;
  /** A commit-only hard state not yet written with a record. */
  private lazyCommit: HardState | null = null;
  private open_ = false;
  /** Saves completed, and batches torn or lost by crashes: reported by the simulator. */
  syncs = 0;
  lostOnCrash = 0;
  tornOnCrash = 0;

  /** Called on every save with the virtual time its sync will take; the simulator may crash the node within it. */
  onSave: ((syncMs: number, recordsVote: boolean) => void) | null = null;

  constructor(
    private readonly queue: EventQueue,
    private readonly random: () => number,
    private readonly maxSyncMs: number,
  ) {}

  async open(): Promise<PersistedState> {
    if (this.open_) throw new StorageError('SimStorage is already open');
    this.open_ = true;
    return { hardState: this.hardState, entries: this.entries.slice() };
  }

  save(hardState: HardState | null, entries: readonly Entry[]): void | Promise<void> {
    if (!this.open_) throw new StorageError('SimStorage is closed');
    const base = this.lazyCommit ?? this.hardState;
    if (entries.length === 0 && hardState !== null && hardState.term === base.term && hardState.vote === base.vote) {
      // As FileStorage (and etcd) may: a save that only moves commit is not
      // synced; it rides on the next record and a crash can take it back.
      this.lazyCommit = hardState;
      return undefined;
    }
    if (this.inFlight !== null) throw new StorageError('concurrent save: the node must await each save');
    const last = this.entries.length;
    if (entries.length > 0 && entries[0].index > last + 1) {
      throw new StorageError(`gap: entry ${entries[0].index} after ${last}`);
    }
    const syncMs = this.random() * this.maxSyncMs;
    // A pending commit-only change is written with this record.
    const recorded = hardState ?? this.lazyCommit;
    this.lazyCommit = null;
    return new Promise<void>((resolve) => {
      this.inFlight = { hardState: recorded, entries: entries.slice(), resolve };
      const recordsVote =
        recorded !== null &&
        recorded.vote !== null &&
        (recorded.vote !== this.hardState.vote || recorded.term !== this.hardState.term);
      this.onSave?.(syncMs, recordsVote);
      this.queue.schedule(syncMs, () => {
        const flight = this.inFlight;
        if (flight === null || flight.resolve !== resolve) return; // lost in a crash
        this.inFlight = null;
        this.store(flight.hardState, flight.entries);
        this.syncs++;
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (this.lazyCommit !== null) this.hardState = this.lazyCommit;
    this.lazyCommit = null;
    this.open_ = false;
  }

  /** The process died: the unsynced batch survives whole, torn, or not at all. */
  crash(): void {
    this.open_ = false;
    this.lazyCommit = null;
    const flight = this.inFlight;
    this.inFlight = null;
    if (flight === null) return;
    const r = this.random();
    if (r < 1 / 3) {
      this.lostOnCrash++;
    } else if (r < 2 / 3 && flight.entries.length > 0) {
      // A torn write: a prefix of the records reached the disk; the hard state, written last, did not.
      this.tornOnCrash++;
      const keep = Math.floor(this.random() * flight.entries.length);
      this.store(null, flight.entries.slice(0, keep));
    } else {
      this.store(flight.hardState, flight.entries);
    }
  }

  hasUnsyncedWrite(): boolean {
    return this.inFlight !== null;
  }

  /** What a restarted node would read: the term of its entry at `index`, or -1 if it has none there. */
  durableTermAt(index: number): number {
    return index >= 1 && index <= this.entries.length ? this.entries[index - 1].term : -1;
  }

  /** The last index a restarted node would read. */
  durableLastIndex(): number {
    return this.entries.length;
  }

  /** The term, vote and commit a restarted node would read (a commit-only change may not be there yet). */
  durableHardState(): HardState {
    return this.hardState;
  }

  private store(hardState: HardState | null, entries: readonly Entry[]): void {
    if (entries.length > 0) {
      this.entries.length = entries[0].index - 1;
      for (const e of entries) this.entries.push(e);
    }
    if (hardState !== null) this.hardState = hardState;
  }
}
