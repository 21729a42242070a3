import { CorruptionError } from '../../errors.js';
import { crc32c } from '../crc32c.js';
import { RECORD_HEADER_BYTES, readRecordHeader } from './record.js';

/**
 * A segment is one file of the write-ahead log, `wal-<sequence>.log`, with
 * a 16-digit sequence number so that names sort in log order. Its records
 * are followed by zeros (the preallocated rest of the file) or by its end.
 */
const SEGMENT_PATTERN = /^wal-(\d{16})\.log$/;

export function segmentName(seq: number): string {
  return `wal-${String(seq).padStart(16, '0')}.log`;
}

/** The sequence number of a segment file name, or null for any other file. */
export function parseSegmentName(name: string): number | null {
  const match = SEGMENT_PATTERN.exec(name);
  return match === null ? null : Number(match[1]);
}

/** Where the next segment is prepared (zero-filled) before it is renamed into place. */
export const NEXT_SEGMENT_NAME = 'wal-next.tmp';

export interface ScannedRecord {
  readonly type: number;
  /** Offset of the record's header in the file. */
  readonly offset: number;
  readonly payloadStart: number;
  readonly payloadEnd: number;
}

export interface TornTail {
  /** Where the torn record starts: the new end of the segment. */
  readonly offset: number;
  /** One past the last non-zero byte of the torn data, which must be zeroed. */
  readonly garbageEnd: number;
  readonly reason: string;
}

export interface SegmentScan {
  readonly records: ScannedRecord[];
  /** The offset just past the last valid record. */
  readonly end: number;
  readonly torn: TornTail | null;
}

/**
 * Splits a segment's bytes into checksummed records.
 *
 * The only damage allowed is a torn write at the tail of the last segment:
 * a crash in the middle of a save leaves a prefix of its record followed by
 * zeros (or the end of the file), and that save had not returned, so no one
 * was told it was durable. A bad record is taken for a torn one only when
 * it is in the last segment and nothing but zeros follows it. Damage
 * anywhere else — an earlier segment, or a bad record with data after it —
 * is a CorruptionError naming the file and offset: it cannot be a torn
 * write, so it is a damaged disk or a bug, and skipping it would silently
 * lose or alter acknowledged data.
 */
export function scanSegment(bytes: Uint8Array, file: string, isLast: boolean): SegmentScan {
  const size = bytes.length;
  const records: ScannedRecord[] = [];
  let at = 0;
  for (;;) {
    if (at === size) return { records, end: at, torn: null };
    if (size - at < RECORD_HEADER_BYTES) {
      if (isAllZero(bytes, at, size)) return { records, end: at, torn: null };
      return { records, end: at, torn: damaged(bytes, file, isLast, at, size, 'incomplete record header') };
    }
    // Sixteen zeros where a header would be: the end of the records, if only zeros follow.
    if (isZeroHeader(bytes, at) && isAllZero(bytes, at, size)) {
      return { records, end: at, torn: null };
    }
    const header = readRecordHeader(bytes, at);
    if (header === null) {
      return {
        records,
        end: at,
        torn: damaged(bytes, file, isLast, at, at + RECORD_HEADER_BYTES, 'record header checksum mismatch'),
      };
    }
    const payloadStart = at + RECORD_HEADER_BYTES;
    const payloadEnd = payloadStart + header.length;
    if (payloadEnd > size) {
      return { records, end: at, torn: damaged(bytes, file, isLast, at, size, 'record runs past the end of the file') };
    }
    if (crc32c(bytes, payloadStart, payloadEnd) !== header.payloadCrc) {
      return { records, end: at, torn: damaged(bytes, file, isLast, at, payloadEnd, 'record checksum mismatch') };
    }
    records.push({ type: header.type, offset: at, payloadStart, payloadEnd });
    at = payloadEnd;
  }
}

/**
 * A bad record at `offset`: a torn tail if the segment is the last and only
 * zeros follow `after`, a CorruptionError otherwise.
 */
function damaged(
  bytes: Uint8Array,
  file: string,
  isLast: boolean,
  offset: number,
  after: number,
  reason: string,
): TornTail {
  if (!isLast) {
    throw new CorruptionError(`Damaged write-ahead log record in a completed segment: ${reason}`, { file, offset });
  }
  if (!isAllZero(bytes, after, bytes.length)) {
    throw new CorruptionError(`Damaged write-ahead log record followed by more data (so not a torn write): ${reason}`, {
      file,
      offset,
    });
  }
  return { offset, garbageEnd: lastNonZero(bytes, offset, bytes.length) + 1, reason };
}

function isZeroHeader(bytes: Uint8Array, at: number): boolean {
  for (let i = at; i < at + RECORD_HEADER_BYTES; i++) if (bytes[i] !== 0) return false;
  return true;
}

const ZERO_CHUNK = new Uint8Array(64 * 1024);

/** True when bytes[start, end) are all zero; compares 64 KiB at a time natively. */
export function isAllZero(bytes: Uint8Array, start: number, end: number): boolean {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let at = start; at < end; at += ZERO_CHUNK.length) {
    const stop = Math.min(end, at + ZERO_CHUNK.length);
    if (Buffer.compare(view.subarray(at, stop), ZERO_CHUNK.subarray(0, stop - at)) !== 0) return false;
  }
  return true;
}

/** The index of the last non-zero byte in [start, end), or start - 1 when there is none. */
function lastNonZero(bytes: Uint8Array, start: number, end: number): number {
  let stop = end;
  while (stop > start) {
    const from = Math.max(start, stop - ZERO_CHUNK.length);
    if (!isAllZero(bytes, from, stop)) {
      for (let i = stop - 1; i >= from; i--) if (bytes[i] !== 0) return i;
    }
    stop = from;
  }
  return start - 1;
}
