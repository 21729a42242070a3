import { join } from 'node:path';
import { CorruptionError } from '../errors.js';
import type { Entry, HardState } from '../messages.js';
import type { StorageFileSystem } from './fs.js';
import { decodeSnapshotFile, snapshotFiles, snapshotName } from './snapshot-file.js';
import type { Snapshot } from './storage.js';
import { type ReplayedLog, type ReplayedSegment, replaySegments, type SegmentFile } from './wal/replay.js';
import { NEXT_SEGMENT_NAME, parseSegmentName, segmentName, type TornTail } from './wal/segment.js';

/** Where writing goes on in an existing log. */
export interface LogTail {
  readonly segments: ReplayedSegment[];
  /** Offset just past the last valid record of the last segment. */
  readonly end: number;
  readonly startRecordEnd: number;
  /** A torn record at `end`, to be zeroed. */
  readonly torn: TornTail | null;
}

/** What a storage directory holds, and the repairs that opening it needs. */
export interface Recovered {
  readonly hardState: HardState;
  /** The index before `entries[0]`: the snapshot's index, or 0. */
  readonly base: number;
  readonly baseTerm: number;
  readonly entries: Entry[];
  readonly snapshot: Snapshot | null;
  /** Damaged snapshot files passed over (full paths). */
  readonly skippedSnapshots: string[];
  /** null when there is no log yet: a new one is to be started. */
  readonly tail: LogTail | null;
  /** Temporary files of interrupted writes, never part of the state: to delete. */
  readonly leftovers: string[];
  /** A newest segment with no complete record (a crash while it was started): to delete. */
  readonly emptySegment: string | null;
  /** The log does not hold the snapshot's last entry: it is discarded, and a RESET record must say so. */
  readonly resetToSnapshot: boolean;
  /**
   * The segments hold every entry after this index (once a reset is
   * recorded): an older snapshot below it is no use as a fallback.
   */
  readonly logFloor: number;
  /**
   * The last index and term of the log as its records give it, before any
   * discard for the snapshot: where a segment started for that RESET record
   * must say the log so far ends.
   */
  readonly logEnd: { readonly index: number; readonly term: number };
}

/**
 * Reads a storage directory and decides what `open` returns, without
 * changing anything: a directory found corrupt is left exactly as found.
 * Damage is a CorruptionError naming the file (and offset, for a record).
 */
export async function recover(fs: StorageFileSystem, dir: string): Promise<Recovered> {
  const names = await fs.readdir(dir);
  const leftovers = names.filter(
    (name) => name === NEXT_SEGMENT_NAME || (name.startsWith('snapshot-') && name.endsWith('.tmp')),
  );
  const seqs = names
    .map(parseSegmentName)
    .filter((seq): seq is number => seq !== null)
    .sort((a, b) => a - b);
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== seqs[i - 1] + 1) {
      const missing = segmentName(seqs[i - 1] + 1);
      throw new CorruptionError(`Write-ahead log segment ${missing} is missing`, { file: join(dir, missing) });
    }
  }
  const files: SegmentFile[] = [];
  for (const seq of seqs) {
    const name = segmentName(seq);
    const path = join(dir, name);
    files.push({ seq, name, path, bytes: await fs.readFile(path) });
  }
  const { snapshot, skipped, newestSkipped } = await newestSnapshot(fs, dir, names);
  // The entries the snapshot holds are checked but not built (see replaySegments).
  const replay = replaySegments(files, snapshot?.index ?? 0);

  if (replay === null) {
    if (snapshot !== null || skipped.length > 0) {
      throw new CorruptionError('Snapshot files exist but the write-ahead log is missing', { file: dir });
    }
    return {
      hardState: { term: 0, vote: null, commit: 0 },
      base: 0,
      baseTerm: 0,
      entries: [],
      snapshot: null,
      skippedSnapshots: skipped,
      tail: null,
      leftovers,
      emptySegment: files.length > 0 ? files[0].name : null,
      resetToSnapshot: false,
      logEnd: { index: 0, term: 0 },
      logFloor: 0,
    };
  }

  const logEnd = { index: replay.lastIndex, term: replay.lastTerm };
  // A fallback snapshot must end where the log can be checked against it: at its base, if the
  // base's term is known (a save that reached back past compaction leaves it unknown), or after.
  const logFloor = replay.baseTerm < 0 ? replay.base + 1 : replay.base;
  if (snapshot === null) {
    if (newestSkipped !== null) {
      throw new CorruptionError('Every snapshot file is damaged: the state they hold cannot be restored', {
        file: newestSkipped.path,
      });
    }
    if (replay.base !== 0) {
      throw new CorruptionError(
        `The log starts after index ${replay.base}, but no snapshot covers the entries before it`,
        { file: join(dir, replay.segments[0].name) },
      );
    }
  }
  const fitted = snapshot === null ? null : fitLog(snapshot, replay, logEnd.index, newestSkipped, dir);
  const base = snapshot?.index ?? replay.base;
  return {
    hardState: replay.hardState,
    base,
    baseTerm: snapshot?.term ?? replay.baseTerm,
    entries: fitted === null ? replay.entries : fitted.entries,
    snapshot,
    skippedSnapshots: skipped,
    tail: { segments: replay.segments, end: replay.end, startRecordEnd: replay.startRecordEnd, torn: replay.torn },
    leftovers,
    emptySegment: replay.emptyLastSegment,
    resetToSnapshot: fitted?.reset ?? false,
    logEnd,
    logFloor: fitted?.reset === true ? base : logFloor,
  };
}

/**
 * The log after `snapshot`, as saveSnapshot leaves it (Figure 13, steps
 * 6-7): the entries after a matching entry, or none, the log being reset.
 * A mismatch means a crash came between saving the snapshot and recording
 * the discard; but it cannot be that when `snapshot` is an older one used
 * because a newer one is damaged (its save had completed), and then the
 * log must hold every entry from `snapshot` to the damaged one, or those
 * entries would be lost without a word.
 */
function fitLog(
  snapshot: Snapshot,
  replay: ReplayedLog,
  logEnd: number,
  newestSkipped: SkippedSnapshot | null,
  dir: string,
): { entries: Entry[]; reset: boolean } {
  const file = join(dir, snapshotName(snapshot.index, snapshot.term));
  if (snapshot.index < replay.base) {
    throw new CorruptionError(
      `The newest valid snapshot ends at index ${snapshot.index}, but the log starts after ${replay.base}: ` +
        'the entries between are lost',
      { file: newestSkipped?.path ?? file },
    );
  }
  if (snapshot.index === replay.base && replay.baseTerm < 0) {
    // The log begins with a save that reached back before its oldest kept
    // segment, and the term of the entry before that save was compacted
    // away. Only an older snapshot (the newer one being damaged) can end
    // there; discarding the log for it would silently drop stored entries.
    throw new CorruptionError(
      `The newest valid snapshot ends at index ${snapshot.index}, whose term the compacted log no longer holds, ` +
        'so the log after it cannot be checked against it',
      { file: newestSkipped?.path ?? file },
    );
  }
  // The replay kept only the entries after the snapshot's index, and the term at it.
  const termThere = replay.keepAfterTerm;
  if (newestSkipped !== null && (termThere !== snapshot.term || logEnd < newestSkipped.index)) {
    throw new CorruptionError(
      `The newest snapshot is damaged, and the log does not hold every entry from the older valid snapshot ` +
        `(index ${snapshot.index}, term ${snapshot.term}) up to the damaged one's index ${newestSkipped.index}`,
      { file: newestSkipped.path },
    );
  }
  return termThere === snapshot.term ? { entries: replay.entries, reset: false } : { entries: [], reset: true };
}

interface SkippedSnapshot {
  readonly path: string;
  readonly index: number;
}

/** The newest snapshot whose file is valid, the newer ones that were not, and the newest of those. */
async function newestSnapshot(
  fs: StorageFileSystem,
  dir: string,
  names: readonly string[],
): Promise<{ snapshot: Snapshot | null; skipped: string[]; newestSkipped: SkippedSnapshot | null }> {
  const skipped: string[] = [];
  let newestSkipped: SkippedSnapshot | null = null;
  for (const { name, index, term } of snapshotFiles(names)) {
    const path = join(dir, name);
    const decoded = decodeSnapshotFile(await fs.readFile(path));
    if (typeof decoded !== 'string' && decoded.index === index && decoded.term === term) {
      return { snapshot: decoded, skipped, newestSkipped };
    }
    skipped.push(path);
    newestSkipped ??= { path, index };
  }
  return { snapshot: null, skipped, newestSkipped };
}
