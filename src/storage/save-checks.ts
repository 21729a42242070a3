/**
 * The checks FileStorage makes on what it is asked to save, before anything
 * is written: a refused call throws StorageError and changes nothing stored
 * (the Storage contract), and a gap or an overwritten snapshot never reaches
 * the disk.
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

export function validateSnapshot(snapshot: Snapshot): void {
  const ok =
    snapshot !== null &&
    typeof snapshot === 'object' &&
    Number.isSafeInteger(snapshot.index) &&
    snapshot.index >= 1 &&
    Number.isSafeInteger(snapshot.term) &&
    snapshot.term >= 0 &&
    Array.isArray(snapshot.voters) &&
    Array.isArray(snapshot.learners) &&
    snapshot.data instanceof Uint8Array;
  if (!ok) {
    throw new StorageError(
      'FileStorage.saveSnapshot: a snapshot needs an index >= 1, a term, voters, learners and data',
    );
  }
}
