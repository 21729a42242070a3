import { StorageError } from '../errors.js';
import type { Entry, HardState } from '../messages.js';
import { validateCompaction, validateSnapshot } from './save-checks.js';
import type { PersistedState, Snapshot, Storage } from './storage.js';

const INITIAL_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });

/**
 * A Storage in process memory: durable for as long as the object lives, so
 * a node restarted with the same MemoryStorage resumes where it left off
 * (a process crash, of course, loses everything).
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = INITIAL_HARD_STATE;
  private snapshot: Snapshot | null = null;
  /** entries[i] holds index base + 1 + i: the log is contiguous after `base`. */
  private entries: Entry[] = [];
  /** The index just before the first stored entry: the snapshot's index, or 0. */
  private base = 0;
  private isOpen = false;

  async open(): Promise<PersistedState> {
    if (this.isOpen) {
      throw new StorageError('MemoryStorage is already open: two live nodes cannot share one storage');
    }
    this.isOpen = true;
    // A copy of the array, so the caller's view does not change under later saves;
    // the entries themselves are immutable and shared.
    return { hardState: this.hardState, entries: this.entries.slice(), snapshot: this.snapshot };
  }

  save(hardState: HardState | null, entries: readonly Entry[]): void {
    if (!this.isOpen) throw new StorageError('MemoryStorage.save called while the storage is not open');
    const count = entries.length;
    if (count > 0) {
      const first = entries[0].index;
      const last = this.base + this.entries.length;
      if (!Number.isInteger(first) || first <= this.base || first > last + 1) {
        throw new StorageError(
          `MemoryStorage.save: entries start at index ${first}, but the log ends at ${last}; ` +
            `the first entry must be in ${this.base + 1}..${last + 1} (a gap would lose data)`,
        );
      }
      // Validate the whole batch before changing anything, so a refused save
      // leaves the stored log exactly as it was.
      for (let i = 1; i < count; i++) {
        if (entries[i].index !== first + i) {
          throw new StorageError(
            `MemoryStorage.save: entries are not contiguous (index ${entries[i].index} follows ${first + i - 1})`,
          );
        }
      }
      // Replace the suffix from `first` (§5.3: a conflicting entry and all that follow it go).
      this.entries.length = first - 1 - this.base;
      for (let i = 0; i < count; i++) this.entries.push(entries[i]);
    }
    if (hardState !== null) this.hardState = hardState;
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    if (!this.isOpen) throw new StorageError('MemoryStorage.saveSnapshot called while the storage is not open');
    validateSnapshot(snapshot, 'MemoryStorage', this.snapshot?.index ?? 0);
    // Figure 13, steps 6-7: keep the entries that follow a matching entry; otherwise the whole log goes.
    // Either way the entries the snapshot holds go now, which is what keeps memory bounded.
    const matches = this.termAt(snapshot.index) === snapshot.term;
    this.entries = matches ? this.entries.slice(snapshot.index - this.base) : [];
    this.base = snapshot.index;
    this.snapshot = { ...snapshot, voters: [...snapshot.voters], learners: [...snapshot.learners] };
  }

  /** The term of the entry at `index`, the snapshot's term at its index, or -1 when the log has neither. */
  private termAt(index: number): number {
    if (index === this.base) return this.snapshot?.term ?? 0;
    const at = index - this.base - 1;
    return at >= 0 && at < this.entries.length ? this.entries[at].term : -1;
  }

  async compact(throughIndex: number): Promise<void> {
    if (!this.isOpen) throw new StorageError('MemoryStorage.compact called while the storage is not open');
    validateCompaction(throughIndex, 'MemoryStorage', this.snapshot?.index ?? 0);
    // saveSnapshot already dropped everything up to the snapshot's index.
  }

  async close(): Promise<void> {
    this.isOpen = false;
  }
}
