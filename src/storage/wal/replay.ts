import { CorruptionError } from '../../errors.js';
import type { Entry, HardState } from '../../messages.js';
import { decodeReset, decodeSave, decodeStart } from './payload.js';
import { RECORD_RESET, RECORD_SAVE, RECORD_START } from './record.js';
import { scanSegment, type TornTail } from './segment.js';

export interface SegmentFile {
  readonly seq: number;
  readonly name: string;
  /** The file's full path, for error messages. */
  readonly path: string;
  readonly bytes: Uint8Array;
}

export interface ReplayedSegment {
  readonly seq: number;
  readonly name: string;
  /** The last log index before the segment's first record. */
  readonly startIndex: number;
}

/** The log as the segments describe it. */
export interface ReplayedLog {
  readonly hardState: HardState;
  /** The index before the first entry held (0, or where compaction or a reset left the log). */
  readonly base: number;
  /**
   * The term of the entry at `base` (0 when base is 0), or -1 when it is
   * unknown: a save reached back before the start of the oldest segment
   * kept, and the entry before that save was in a segment compacted away.
   */
  readonly baseTerm: number;
  /** The last index of the log, and its term (`base` and `baseTerm` when it holds no entry). */
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** The entries after max(base, keepAfter) through lastIndex, in order (see replaySegments). */
  readonly entries: Entry[];
  /** The term of the entry at `keepAfter` when the log holds it (or it is `base`), else -1. */
  readonly keepAfterTerm: number;
  /** The segments that hold records, in order; the last one is where writing continues. */
  readonly segments: ReplayedSegment[];
  /** Offset just past the last valid record of the last segment. */
  readonly end: number;
  /** Offset just past the START record of the last segment. */
  readonly startRecordEnd: number;
  /** A torn record at the end of the last segment, to be zeroed. */
  readonly torn: TornTail | null;
  /** A last segment that holds no complete record (a crash while it was being started), to be removed. */
  readonly emptyLastSegment: string | null;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * Rebuilds the log from its segments, oldest first. Every segment opens
 * with a START record that repeats the state at its start (hard state, last
 * index and term), so old segments can be deleted without losing the hard
 * state, and each segment is checked to continue exactly where the previous
 * one ended. A save record replaces the stored suffix from its first index,
 * exactly as `Storage.save` does, so a conflicting suffix is truncated on
 * replay by the very record that replaced it: a crash cannot separate the
 * truncation from the new entries. Returns null for a log with no records.
 *
 * Compaction deletes a segment once the next one starts at or before the
 * snapshot, but a save in a kept segment may have replaced entries from an
 * index before that start (a conflicting suffix reaching back across a
 * rotation). Such a save sets where the log begins: every entry from its
 * first index on is in the records read, and the snapshot covers the rest.
 * Only a base from the oldest START record may move so; a save reaching
 * before a RESET's base is corruption.
 *
 * Entries at or below `keepAfter` (the snapshot's index) are checked but
 * not built: compaction deletes only whole segments, so the oldest one can
 * hold a segment's worth of entries the snapshot already holds. Only their
 * count and the term at `keepAfter` are kept, which is all the log after the
 * snapshot is checked against. Every record is still read and checksummed:
 * any of them may hold the current hard state.
 */
export function replaySegments(files: readonly SegmentFile[], keepAfter = 0): ReplayedLog | null {
  let hardState: HardState | null = null;
  let base = 0;
  let baseTerm = 0;
  /** `base` came from the oldest START record (entries before it were compacted away), not from a RESET. */
  let baseFromStart = false;
  let lastIndex = 0;
  let lastTerm = 0;
  /** The entries after `kept()`: entries[k] is at index kept() + 1 + k. */
  let entries: Entry[] = [];
  /** The term of the entry at keepAfter, while base < keepAfter <= lastIndex. */
  let keepAfterTerm = -1;
  const segments: ReplayedSegment[] = [];
  let end = 0;
  let startRecordEnd = 0;
  let torn: TornTail | null = null;
  let emptyLastSegment: string | null = null;

  const kept = () => Math.max(base, keepAfter);
  /** Drops every entry from `index` on (§5.3: a save replaces the stored suffix from its first index). */
  const truncateFrom = (index: number) => {
    lastIndex = index - 1;
    entries.length = Math.max(0, lastIndex - kept());
  };

  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    const isLast = i === files.length - 1;
    const scan = scanSegment(file.bytes, file.path, isLast);
    const records = scan.records;
    if (records.length === 0 && isLast) {
      // Renamed into place, but the crash came before its first record was durable.
      if (hardState === null && file.seq !== 1) {
        throw new CorruptionError('The only write-ahead log segment is empty, but earlier ones are missing', {
          file: file.path,
          offset: 0,
        });
      }
      emptyLastSegment = file.name;
      break;
    }
    const first = records[0];
    if (first === undefined || first.type !== RECORD_START) {
      throw new CorruptionError('Write-ahead log segment does not begin with a start record', {
        file: file.path,
        offset: 0,
      });
    }
    const start = decodeStart(file.bytes, first.payloadStart, first.payloadEnd);
    if (typeof start === 'string') throw new CorruptionError(start, { file: file.path, offset: first.offset });
    if (start.seq !== file.seq) {
      throw new CorruptionError(`Segment start record says sequence ${start.seq}, the file name ${file.seq}`, {
        file: file.path,
        offset: first.offset,
      });
    }
    if (hardState === null) {
      hardState = start.hardState;
      base = lastIndex = start.startIndex;
      baseTerm = lastTerm = start.startTerm;
      baseFromStart = true;
    } else if (
      start.startIndex !== lastIndex ||
      start.startTerm !== lastTerm ||
      !sameHardState(start.hardState, hardState)
    ) {
      throw new CorruptionError(
        `Segment does not continue the previous one (it starts after index ${start.startIndex} term ${start.startTerm}; ` +
          `the log so far ends at index ${lastIndex} term ${lastTerm})`,
        { file: file.path, offset: first.offset },
      );
    }
    segments.push({ seq: file.seq, name: file.name, startIndex: start.startIndex });

    for (let r = 1; r < records.length; r++) {
      const record = records[r];
      const fail = (reason: string): never => {
        throw new CorruptionError(reason, { file: file.path, offset: record.offset });
      };
      if (record.type === RECORD_SAVE) {
        const save = decodeSave(file.bytes, record.payloadStart, record.payloadEnd, keepAfter);
        if (typeof save === 'string') return fail(save);
        if (save.count > 0) {
          const firstIndex = save.firstIndex;
          if (firstIndex <= base && baseFromStart) {
            // The save replaced entries from before the oldest kept segment: the log now begins with it.
            base = firstIndex - 1;
            baseTerm = base === 0 ? 0 : -1;
            entries = [];
          } else if (firstIndex <= base || firstIndex > lastIndex + 1) {
            fail(`Saved entries start at index ${firstIndex}, outside the log's ${base + 1}..${lastIndex + 1}`);
          }
          truncateFrom(firstIndex);
          for (const entry of save.entries) entries.push(entry);
          lastIndex = firstIndex + save.count - 1;
          lastTerm = save.lastTerm;
          if (firstIndex <= keepAfter && keepAfter <= lastIndex) keepAfterTerm = save.keepAfterTerm;
        }
        if (save.hardState !== null) hardState = save.hardState;
      } else if (record.type === RECORD_RESET) {
        const reset = decodeReset(file.bytes, record.payloadStart, record.payloadEnd);
        if (typeof reset === 'string') return fail(reset);
        entries = [];
        base = lastIndex = reset.index;
        baseTerm = lastTerm = reset.term;
        baseFromStart = false;
      } else if (record.type === RECORD_START) {
        fail('A segment start record in the middle of a segment');
      } else {
        fail(`Unknown write-ahead log record type ${record.type}`);
      }
    }
    // Writing continues after the last segment that holds records.
    end = scan.end;
    startRecordEnd = first.payloadEnd;
    torn = scan.torn;
  }
  if (hardState === null) return null;
  const termAtKeepAfter =
    keepAfter === base ? baseTerm : base < keepAfter && keepAfter <= lastIndex ? keepAfterTerm : -1;
  return {
    hardState,
    base,
    baseTerm,
    lastIndex,
    lastTerm,
    entries,
    keepAfterTerm: termAtKeepAfter,
    segments,
    end,
    startRecordEnd,
    torn,
    emptyLastSegment,
  };
}
