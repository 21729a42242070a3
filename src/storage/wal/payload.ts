import { ENTRY_TYPE_CODES, ENTRY_TYPES_BY_CODE } from '../../codec/entry-types.js';
import { utf8ByteLength } from '../../codec/utf8.js';
import { StorageError } from '../../errors.js';
import type { Entry, HardState } from '../../messages.js';
import {
  MAX_PAYLOAD_BYTES,
  RECORD_HEADER_BYTES,
  RECORD_RESET,
  RECORD_SAVE,
  RECORD_START,
  readU32,
  readU64,
  sealRecord,
  writeU32,
  writeU64,
} from './record.js';

/**
 * The payloads of the three record types, all little-endian:
 *
 *   hard state   term u64, commit u64, vote length u16 (0xFFFF: no vote), vote UTF-8
 *   START        format version u32, segment sequence u64, last index before
 *                the segment u64, its term u64, hard state at the segment start
 *   SAVE         flags u8 (1: hard state follows, 2: entries follow),
 *                [hard state], [first index u64, count u32, then per entry:
 *                term u64, type u8 (codec/entry-types.ts), data length u32, data]
 *   RESET        index u64, term u64
 *
 * Entry indexes are implied by the first index, so an entry costs 13 bytes
 * of framing. Every save is one record: its entries and hard state are
 * written, checksummed and recovered together, never half of them.
 */
export const WAL_FORMAT_VERSION = 1;

const NO_VOTE = 0xffff;
const FLAG_HARD_STATE = 1;
const FLAG_ENTRIES = 2;
const ENTRY_FRAMING_BYTES = 13;

const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------- encoding

/** Bytes the hard state takes; throws StorageError for a vote that cannot be stored. */
function hardStateBytes(hardState: HardState): number {
  if (hardState.vote === null) return 18;
  const length = utf8ByteLength(hardState.vote);
  if (length < 0 || length >= NO_VOTE) {
    throw new StorageError('Cannot store the vote: it must be a well-formed string shorter than 65535 UTF-8 bytes');
  }
  return 18 + length;
}

function writeHardState(buffer: Buffer, offset: number, hardState: HardState): number {
  writeU64(buffer, offset, hardState.term);
  writeU64(buffer, offset + 8, hardState.commit);
  if (hardState.vote === null) {
    buffer[offset + 16] = 0xff;
    buffer[offset + 17] = 0xff;
    return offset + 18;
  }
  const length = buffer.write(hardState.vote, offset + 18, 'utf8');
  buffer[offset + 16] = length & 0xff;
  buffer[offset + 17] = length >>> 8;
  return offset + 18 + length;
}

/**
 * One SAVE record, framed and checksummed, in a single buffer: the batch is
 * written to disk with one write call. Entries must already be validated
 * (contiguous, safe-integer terms).
 */
export function encodeSaveRecord(hardState: HardState | null, entries: readonly Entry[]): Buffer {
  let size = RECORD_HEADER_BYTES + 1;
  if (hardState !== null) size += hardStateBytes(hardState);
  const count = entries.length;
  if (count > 0) {
    size += 12 + count * ENTRY_FRAMING_BYTES;
    for (let i = 0; i < count; i++) size += entries[i].data.length;
  }
  if (size - RECORD_HEADER_BYTES > MAX_PAYLOAD_BYTES) {
    throw new StorageError(`Cannot save ${count} entries at once: the batch exceeds 4 GiB; save it in parts`);
  }
  const buffer = Buffer.allocUnsafe(size);
  let at = RECORD_HEADER_BYTES;
  buffer[at++] = (hardState !== null ? FLAG_HARD_STATE : 0) | (count > 0 ? FLAG_ENTRIES : 0);
  if (hardState !== null) at = writeHardState(buffer, at, hardState);
  if (count > 0) {
    writeU64(buffer, at, entries[0].index);
    writeU32(buffer, at + 8, count);
    at += 12;
    for (let i = 0; i < count; i++) {
      const entry = entries[i];
      const data = entry.data;
      writeU64(buffer, at, entry.term);
      buffer[at + 8] = ENTRY_TYPE_CODES[entry.type];
      writeU32(buffer, at + 9, data.length);
      at += ENTRY_FRAMING_BYTES;
      buffer.set(data, at);
      at += data.length;
    }
  }
  sealRecord(buffer, 0, RECORD_SAVE, size - RECORD_HEADER_BYTES);
  return buffer;
}

export interface SegmentStart {
  readonly seq: number;
  /** The index of the last log entry written before this segment (0 for none). */
  readonly startIndex: number;
  /** Its term (0 for none). */
  readonly startTerm: number;
  readonly hardState: HardState;
}

export function encodeStartRecord(start: SegmentStart): Buffer {
  const payload = 4 + 24 + hardStateBytes(start.hardState);
  const buffer = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload);
  const at = RECORD_HEADER_BYTES;
  writeU32(buffer, at, WAL_FORMAT_VERSION);
  writeU64(buffer, at + 4, start.seq);
  writeU64(buffer, at + 12, start.startIndex);
  writeU64(buffer, at + 20, start.startTerm);
  writeHardState(buffer, at + 28, start.hardState);
  sealRecord(buffer, 0, RECORD_START, payload);
  return buffer;
}

export function encodeResetRecord(index: number, term: number): Buffer {
  const buffer = Buffer.allocUnsafe(RECORD_HEADER_BYTES + 16);
  writeU64(buffer, RECORD_HEADER_BYTES, index);
  writeU64(buffer, RECORD_HEADER_BYTES + 8, term);
  sealRecord(buffer, 0, RECORD_RESET, 16);
  return buffer;
}

// ---------------------------------------------------------------- decoding

/**
 * Decoders take a payload whose checksum already matched. They still check
 * every length and number against the payload's bounds: a valid checksum
 * over a malformed payload means a bug or a foreign file, and it must be
 * reported, not read past. They return a string saying what is wrong
 * instead of throwing, so the caller can name the file and offset.
 */
type Decoded<T> = T | string;

function readHardState(buffer: Uint8Array, at: number, end: number): Decoded<{ hardState: HardState; next: number }> {
  if (at + 18 > end) return 'hard state is cut short';
  const term = readU64(buffer, at);
  const commit = readU64(buffer, at + 8);
  if (term < 0 || commit < 0) return 'hard state holds a number beyond 2^53';
  const voteLength = buffer[at + 16] | (buffer[at + 17] << 8);
  if (voteLength === NO_VOTE) return { hardState: { term, vote: null, commit }, next: at + 18 };
  if (at + 18 + voteLength > end) return 'vote is cut short';
  const vote = Buffer.from(buffer.buffer, buffer.byteOffset + at + 18, voteLength).toString('utf8');
  return { hardState: { term, vote, commit }, next: at + 18 + voteLength };
}

export function decodeStart(buffer: Uint8Array, start: number, end: number): Decoded<SegmentStart> {
  if (start + 28 > end) return 'segment start record is cut short';
  const version = readU32(buffer, start);
  if (version !== WAL_FORMAT_VERSION) return `unknown WAL format version ${version}`;
  const seq = readU64(buffer, start + 4);
  const startIndex = readU64(buffer, start + 12);
  const startTerm = readU64(buffer, start + 20);
  if (seq < 0 || startIndex < 0 || startTerm < 0) return 'segment start holds a number beyond 2^53';
  const hs = readHardState(buffer, start + 28, end);
  if (typeof hs === 'string') return hs;
  if (hs.next !== end) return 'segment start record has trailing bytes';
  return { seq, startIndex, startTerm, hardState: hs.hardState };
}

export interface DecodedSave {
  readonly hardState: HardState | null;
  /** 0 when the record holds no entries. */
  readonly firstIndex: number;
  /** How many entries the record holds, kept or not. */
  readonly count: number;
  /** The entries after `keepAfter` (see decodeSave), in order. */
  readonly entries: Entry[];
  /** The term of the record's last entry (0 when it holds none). */
  readonly lastTerm: number;
  /** The term of the entry at `keepAfter`, when the record holds it; else -1. */
  readonly keepAfterTerm: number;
}

/**
 * Decodes a SAVE record. Entries at or below `keepAfter` are checked like
 * the others (framing, term, type, length) but not built: a snapshot holds
 * them, and on open they can be most of a segment (compaction deletes only
 * whole segments), so building and then discarding them was most of the
 * time a restart took.
 */
export function decodeSave(buffer: Uint8Array, start: number, end: number, keepAfter = 0): Decoded<DecodedSave> {
  if (start + 1 > end) return 'save record is empty';
  const flags = buffer[start];
  if ((flags & ~(FLAG_HARD_STATE | FLAG_ENTRIES)) !== 0 || flags === 0) return `unknown save flags ${flags}`;
  let at = start + 1;
  let hardState: HardState | null = null;
  if (flags & FLAG_HARD_STATE) {
    const hs = readHardState(buffer, at, end);
    if (typeof hs === 'string') return hs;
    hardState = hs.hardState;
    at = hs.next;
  }
  const entries: Entry[] = [];
  let firstIndex = 0;
  let count = 0;
  let lastTerm = 0;
  let keepAfterTerm = -1;
  if (flags & FLAG_ENTRIES) {
    if (at + 12 > end) return 'entry batch header is cut short';
    firstIndex = readU64(buffer, at);
    count = readU32(buffer, at + 8);
    at += 12;
    if (firstIndex < 1 || count === 0) return 'entry batch has no valid first index or no entries';
    // The entries the snapshot holds: checked like the others, but only the
    // terms that are needed are read, and nothing is built.
    const dead = Math.min(count, Math.max(0, keepAfter - firstIndex + 1));
    let lastDead = -1;
    for (let i = 0; i < dead; i++) {
      if (at + ENTRY_FRAMING_BYTES > end) return `entry ${firstIndex + i} is cut short`;
      // The term's high word: above 0x1fffff, the term is beyond 2^53 (as readU64 says with -1).
      if (readU32(buffer, at + 4) > 0x1f_ffff) return `entry ${firstIndex + i} has a term beyond 2^53`;
      if (ENTRY_TYPES_BY_CODE[buffer[at + 8]] === undefined) {
        return `entry ${firstIndex + i} has unknown type ${buffer[at + 8]}`;
      }
      const length = readU32(buffer, at + 9);
      lastDead = at;
      at += ENTRY_FRAMING_BYTES + length;
      if (at > end) return `entry ${firstIndex + i} data is cut short`;
    }
    if (dead > 0) {
      lastTerm = readU64(buffer, lastDead);
      if (firstIndex + dead - 1 === keepAfter) keepAfterTerm = lastTerm;
    }
    // One copy of the kept entries' bytes per record; entry data are views
    // into it, so the segment buffer read from disk is not kept alive by the log.
    const copy = new Uint8Array(end - at);
    copy.set(buffer.subarray(at, end));
    const base = at;
    for (let i = dead; i < count; i++) {
      const index = firstIndex + i;
      if (at + ENTRY_FRAMING_BYTES > end) return `entry ${index} is cut short`;
      const term = readU64(buffer, at);
      const type = ENTRY_TYPES_BY_CODE[buffer[at + 8]];
      const length = readU32(buffer, at + 9);
      if (term < 0) return `entry ${index} has a term beyond 2^53`;
      if (type === undefined) return `entry ${index} has unknown type ${buffer[at + 8]}`;
      at += ENTRY_FRAMING_BYTES;
      if (at + length > end) return `entry ${index} data is cut short`;
      const data = length === 0 ? EMPTY : copy.subarray(at - base, at - base + length);
      entries.push({ index, term, type, data });
      lastTerm = term;
      at += length;
    }
  }
  if (at !== end) return 'save record has trailing bytes';
  return { hardState, firstIndex, count, entries, lastTerm, keepAfterTerm };
}

export function decodeReset(buffer: Uint8Array, start: number, end: number): Decoded<{ index: number; term: number }> {
  if (end - start !== 16) return 'reset record has the wrong size';
  const index = readU64(buffer, start);
  const term = readU64(buffer, start + 8);
  if (index < 0 || term < 0) return 'reset record holds a number beyond 2^53';
  return { index, term };
}
