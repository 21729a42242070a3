import { crc32c } from '../crc32c.js';

/**
 * How one record is framed in a WAL segment:
 *
 *   offset  size  field
 *        0     4  payload length (u32 LE)
 *        4     1  record type
 *        5     3  zero (reserved)
 *        8     4  CRC-32C of the payload
 *       12     4  CRC-32C of bytes 0..11 (the header itself)
 *       16     n  payload
 *
 * The header has its own checksum so that a damaged length is caught before
 * it is trusted: a flipped length would otherwise make the reader skip or
 * swallow the records after it. A header of sixteen zero bytes is never
 * valid (its checksum would have to be zero), which is how the reader tells
 * the zero-filled, preallocated rest of a segment from a record.
 */
export const RECORD_HEADER_BYTES = 16;

/** The first record of every segment: format version, sequence number and the state at its start. */
export const RECORD_START = 1;
/** One `save` call: its entries and its hard state, atomic together. */
export const RECORD_SAVE = 2;
/** The log was discarded for a snapshot: the next entry follows the snapshot's index. */
export const RECORD_RESET = 3;

export type RecordType = typeof RECORD_START | typeof RECORD_SAVE | typeof RECORD_RESET;

/** Longest payload a record may carry (a u32 length, minus room for the header). */
export const MAX_PAYLOAD_BYTES = 0xffff_ffff - RECORD_HEADER_BYTES;

/**
 * Fills the header at `buffer[offset]` for a payload of `length` bytes
 * already written right after it. The encoder writes the payload in place
 * first, so a whole batch is framed without copying it.
 */
export function sealRecord(buffer: Uint8Array, offset: number, type: RecordType, length: number): void {
  const payloadStart = offset + RECORD_HEADER_BYTES;
  writeU32(buffer, offset, length);
  buffer[offset + 4] = type;
  buffer[offset + 5] = 0;
  buffer[offset + 6] = 0;
  buffer[offset + 7] = 0;
  writeU32(buffer, offset + 8, crc32c(buffer, payloadStart, payloadStart + length));
  writeU32(buffer, offset + 12, crc32c(buffer, offset, offset + 12));
}

export interface RecordHeader {
  readonly length: number;
  readonly type: number;
  readonly payloadCrc: number;
}

/** The header at `offset`, or null when its checksum (or reserved bytes) are wrong. */
export function readRecordHeader(buffer: Uint8Array, offset: number): RecordHeader | null {
  if (readU32(buffer, offset + 12) !== crc32c(buffer, offset, offset + 12)) return null;
  if (buffer[offset + 5] !== 0 || buffer[offset + 6] !== 0 || buffer[offset + 7] !== 0) return null;
  return { length: readU32(buffer, offset), type: buffer[offset + 4], payloadCrc: readU32(buffer, offset + 8) };
}

export function writeU32(buffer: Uint8Array, offset: number, value: number): void {
  buffer[offset] = value;
  buffer[offset + 1] = value >>> 8;
  buffer[offset + 2] = value >>> 16;
  buffer[offset + 3] = value >>> 24;
}

export function readU32(buffer: Uint8Array, offset: number): number {
  return (buffer[offset] | (buffer[offset + 1] << 8) | (buffer[offset + 2] << 16) | (buffer[offset + 3] << 24)) >>> 0;
}

const TWO_32 = 0x1_0000_0000;

/** Writes a non-negative safe integer as a u64 LE (low word first). */
export function writeU64(buffer: Uint8Array, offset: number, value: number): void {
  writeU32(buffer, offset, value >>> 0);
  writeU32(buffer, offset + 4, Math.floor(value / TWO_32));
}

/** Reads a u64 LE; -1 when it does not fit in a safe integer (only damaged or foreign data). */
export function readU64(buffer: Uint8Array, offset: number): number {
  const high = readU32(buffer, offset + 4);
  if (high > 0x1f_ffff) return -1;
  return high * TWO_32 + readU32(buffer, offset);
}
