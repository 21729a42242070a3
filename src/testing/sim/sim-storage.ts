import { StorageError } from '../../errors.js';
import type { Entry, HardState } from '../../messages.js';
import { validateCompaction, validateSnapshot } from '../../storage/save-checks.js';
import type { PersistedState, Snapshot, Storage } from '../../storage/storage.js';
import type { EventQueue } from './event-queue.js';

/** What a write in flight is, as the fault injector sees it when the write starts. */
export type SimWrite =
  | { readonly kind: 'log'; readonly recordsVote: boolean }
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot }
  | { readonly kind: 'compaction'; readonly throughIndex: number };

interface InFlight {
  readonly write: SimWrite;
  /** The whole write reaches the disk. */
  readonly land: () => void;
  /** A crash in the middle of it: what reaches the disk then (the whole write, part of it, or nothing). */
  readonly tear: () => void;
  readonly resolve: () => void;
}

/**
 * A disk with the failure modes the Storage contract allows: a write is
 * durable only when its simulated fsync completes, some virtual time later.
 * A crash before that keeps nothing, a torn prefix of a log batch (entries
 * first, hard state last, as a write-ahead log writes them), or all of it; a
 * snapshot is written aside and renamed into place (as FileStorage does), so
 * a crash keeps the older snapshot and its log, or the new one whole.
 * Compaction changes nothing a restarted node reads (the log after the
 * newest snapshot), so a crash may keep it or not.
 */
export class SimStorage implements Storage {
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  private snapshot: Snapshot | null = null;
  /** entries[i] holds index base + 1 + i: the log after the snapshot. */
  private entries: Entry[] = [];
  private base = 0;
  private inFlight: InFlight | null = null;
  /** A commit-only hard state not yet written with a record. */
  private lazyCommit: HardState | null = null;
  private open_ = false;
  /** Writes completed, and log batches torn or lost by crashes: reported by the simulator. */
  syncs = 0;
  lostOnCrash = 0;
  tornOnCrash = 0;
  /** Compactions that became durable. */
  compactions = 0;

  /** Called on every write with the virtual time its sync will take; the simulator may crash the node within it. */
  onWrite: ((syncMs: number, write: SimWrite) => void) | null = null;

  constructor(
    private readonly queue: EventQueue,
    private readonly random: () => number,
    private readonly maxSyncMs: number,
    /**
     * The term of the committed entry at an index, as far as the simulator
     * knows it (-1 if not known): what the snapshot stands for at the
     * indexes it covers. The simulator checks, whenever a snapshot is taken
     * or installed, that it covers only committed entries.
     */
    private readonly committedTermAt: (index: number) => number,
  ) {}

  async open(): Promise<PersistedState> {
    if (this.open_) throw new StorageError('SimStorage is already open');
    this.open_ = true;
    return { hardState: this.hardState, entries: this.entries.slice(), snapshot: this.snapshot };
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
    this.checkIdle('save');
    const last = this.durableLastIndex();
    if (entries.length > 0 && (entries[0].index > last + 1 || entries[0].index <= this.base)) {
      throw new StorageError(
        `SimStorage.save: entries start at ${entries[0].index}; the log holds ${this.base + 1}..${last}`,
      );
    }
    // A gap would be silent data loss: refused before anything is written.
    if (entries.some((e, i) => e.index !== entries[0].index + i)) {
      throw new StorageError('SimStorage.save: entries are not contiguous');
    }
    // A pending commit-only change is written with this record.
    const recorded = hardState ?? this.lazyCommit;
    this.lazyCommit = null;
    const batch = entries.slice();
    const recordsVote =
      recorded !== null &&
      recorded.vote !== null &&
      (recorded.vote !== this.hardState.vote || recorded.term !== this.hardState.term);
    return this.write(
      { kind: 'log', recordsVote },
      () => this.store(recorded, batch),
      () => this.tearLog(recorded, batch),
    );
  }

  /** Figure 13, steps 6 and 7: the log after the snapshot's last entry stays if that entry matches, else all of it goes. */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    if (!this.open_) throw new StorageError('SimStorage is closed');
    this.checkIdle('saveSnapshot');
    validateSnapshot(snapshot, 'SimStorage', this.base);
    // Saving the stored snapshot again changes nothing.
    if (snapshot.index === this.base) return;
    const land = (): void => {
      const matches = this.durableTermAt(snapshot.index) === snapshot.term;
      this.entries = matches ? this.entries.slice(snapshot.index - this.base) : [];
      this.base = snapshot.index;
      this.snapshot = snapshot;
    };
    // Written aside, then renamed: a crash keeps the older snapshot or the new one, never a mix.
    return this.write({ kind: 'snapshot', snapshot }, land, () => (this.random() < 0.5 ? land() : undefined));
  }

  async compact(throughIndex: number): Promise<void> {
    if (!this.open_) throw new StorageError('SimStorage is closed');
    this.checkIdle('compact');
    validateCompaction(throughIndex, 'SimStorage', this.base);
    // The snapshot already stands for the entries through its index: nothing a restart reads changes.
    const land = (): void => {
      this.compactions++;
    };
    return this.write({ kind: 'compaction', throughIndex }, land, () => (this.random() < 0.5 ? land() : undefined));
  }

  async close(): Promise<void> {
    if (this.lazyCommit !== null) this.hardState = this.lazyCommit;
    this.lazyCommit = null;
    this.open_ = false;
  }

  /** The process died: the unsynced write survives whole, torn, or not at all. */
  crash(): void {
    this.open_ = false;
    this.lazyCommit = null;
    const flight = this.inFlight;
    this.inFlight = null;
    flight?.tear();
  }

  hasUnsyncedWrite(): boolean {
    return this.inFlight !== null;
  }

  /** The write in flight (not yet durable), or null. */
  unsyncedWrite(): SimWrite | null {
    return this.inFlight?.write ?? null;
  }

  /**
   * What a restarted node would read: the term of its entry at `index`, or
   * -1 if it has none there. At an index its snapshot covers, the term of
   * the committed entry there: the snapshot holds that entry's effect.
   */
  durableTermAt(index: number): number {
    if (index < 1) return -1;
    if (index === this.base) return this.snapshot?.term ?? -1;
    if (index < this.base) return this.committedTermAt(index);
    return index <= this.durableLastIndex() ? this.entries[index - this.base - 1].term : -1;
  }

  /** The last index a restarted node would read (the snapshot's, if the log after it is empty). */
  durableLastIndex(): number {
    return this.base + this.entries.length;
  }

  /** The term, vote and commit a restarted node would read (a commit-only change may not be there yet). */
  durableHardState(): HardState {
    return this.hardState;
  }

  /** The snapshot a restarted node would read, or null. */
  durableSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  /** The node awaits each call before the next (the Storage contract): a second write in flight is a shell bug. */
  private checkIdle(method: string): void {
    if (this.inFlight !== null) throw new StorageError(`concurrent ${method}: the node must await each storage call`);
  }

  private write(write: SimWrite, land: () => void, tear: () => void): Promise<void> {
    const syncMs = this.random() * this.maxSyncMs;
    return new Promise<void>((resolve) => {
      const flight: InFlight = { write, land, tear, resolve };
      this.inFlight = flight;
      this.onWrite?.(syncMs, write);
      this.queue.schedule(syncMs, () => {
        if (this.inFlight !== flight) return; // lost in a crash
        this.inFlight = null;
        flight.land();
        this.syncs++;
        resolve();
      });
    });
  }

  /** A log batch cut by a crash: nothing, a prefix of the records (the hard state, written last, lost), or all of it. */
  private tearLog(hardState: HardState | null, entries: readonly Entry[]): void {
    const r = this.random();
    if (r < 1 / 3) {
      this.lostOnCrash++;
    } else if (r < 2 / 3 && entries.length > 0) {
      this.tornOnCrash++;
      const keep = Math.floor(this.random() * entries.length);
      this.store(null, entries.slice(0, keep));
    } else {
      this.store(hardState, entries);
    }
  }

  private store(hardState: HardState | null, entries: readonly Entry[]): void {
    if (entries.length > 0) {
      this.entries.length = entries[0].index - 1 - this.base;
      for (const e of entries) this.entries.push(e);
    }
    if (hardState !== null) this.hardState = hardState;
  }
}
