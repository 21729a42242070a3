/**
 * The checks a storage makes on what it is asked to store, before anything
 * is written (entries and hard state: FileStorage; snapshots and compaction
 * points: FileStorage and MemoryStorage): a refused call throws
 * StorageError and changes nothing stored (the Storage contract), and a gap
 * or an overwritten snapshot never reaches the disk.
 */
import { isEntryType } from '../codec/entry-types.js';
import { StorageError } from '../errors.js';
import type { Entry, HardState } from '../messages.js';
import type { LogTerms } from './log-terms.js';
import type { Snapshot } from './storage.js';

/** Entries must be contiguous, start inside the log or just after it, and be well formed. */
export function validateEntries(entries: readonly Entry[], log: LogTerms): void {
  const first = entries[0]?.index;
  const { base, lastIndex } = log;
  if (!Number.isSafeInteger(first) || first <= base || first > lastIndex + 1) {
    throw new StorageError(
      `FileStorage.save: entries start at index ${first}, but the log ends at ${lastIndex}; ` +
        `the first entry must be in ${base + 1}..${lastIndex + 1} ` +
        (first <= base && first >= 1 ? '(entries up to the snapshot cannot be replaced)' : '(a gap would lose data)'),
    );
  }
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    if (entry.index !== first + i) {
      throw new StorageError(
        `FileStorage.save: entries are not contiguous (index ${entry.index} follows ${first + i - 1})`,
      );
    }
    if (
      !Number.isSafeInteger(entry.term) ||
      entry.term < 0 ||
      !(entry.data instanceof Uint8Array) ||
      !isEntryType(entry.type)
    ) {
      throw new StorageError(`FileStorage.save: entry ${entry.index} has an invalid term, type or data`);
    }
  }
}

export function validateHardState(hardState: HardState): void {
  const { term, vote, commit } = hardState;
  if (!Number.isSafeInteger(term) || term < 0 || !Number.isSafeInteger(commit) || commit < 0) {
    throw new StorageError('FileStorage.save: hard state term and commit must be non-negative integers');
  }
  if (vote !== null && typeof vote !== 'string') {
    throw new StorageError('FileStorage.save: hard state vote must be a node id or null');
  }
}

/**
 * A snapshot must be well formed before it is stored: an index >= 1 (index
 * 0 is the empty log), a term, member ids and data. `who` names the method
 * in the error ("FileStorage", "MemoryStorage").
 */
export function validateSnapshot(snapshot: Snapshot, who: string, storedIndex: number): void {
  const ok =
    snapshot !== null &&
    typeof snapshot === 'object' &&
    Number.isSafeInteger(snapshot.index) &&
    snapshot.index >= 1 &&
    Number.isSafeInteger(snapshot.term) &&
    snapshot.term >= 0 &&
    isIdList(snapshot.voters) &&
    isIdList(snapshot.learners) &&
    snapshot.data instanceof Uint8Array;
  if (!ok) {
    throw new StorageError(
      `${who}.saveSnapshot: a snapshot needs an index >= 1, a term, voters and learners (arrays of ids) and data (a Uint8Array)`,
    );
  }
  // A snapshot older than the stored one would take the state back and lose the entries between.
  if (snapshot.index < storedIndex) {
    throw new StorageError(
      `${who}.saveSnapshot: snapshot at index ${snapshot.index} is older than the stored one at ${storedIndex}`,
    );
  }
}

function isIdList(ids: unknown): boolean {
  return Array.isArray(ids) && ids.every((id) => typeof id === 'string');
}

/**
 * Compaction drops entries through `throughIndex`: only entries a snapshot
 * holds may go (§7), so it must be an index no higher than the newest
 * snapshot's.
 */
export function validateCompaction(throughIndex: number, who: string, snapshotIndex: number): void {
  if (!Number.isSafeInteger(throughIndex) || throughIndex < 0) {
    throw new StorageError(`${who}.compact: ${String(throughIndex)} is not an index`);
  }
  if (throughIndex > snapshotIndex) {
    throw new StorageError(
      `${who}.compact: cannot drop entries through ${throughIndex}; the newest snapshot covers only ${snapshotIndex}`,
    );
  }
}
