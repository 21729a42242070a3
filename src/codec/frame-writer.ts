/**
 * The encoder's side of a frame: the checks that size each field before
 * anything is written, and the start of every frame (version, tag,
 * envelope), shared by the layouts in codec.ts and install-snapshot.ts.
 *
 * A message that cannot be encoded is a programming error in the caller (the
 * core never makes one), so these throw a TypeError or RangeError, as Node's
 * own APIs do for bad arguments, naming the field. They never let through a
 * value that decodeMessage would refuse.
 */
import type { RaftMessage } from '../messages.js';
import { CODEC_VERSION, MAX_ID_BYTES } from './format.js';
import { utf8ByteLength } from './utf8.js';
import { ByteWriter, varintSize } from './writer.js';

/** Validates a term, index or count and returns its varint size. */
export function uintSize(value: unknown, field: string): number {
  if (typeof value !== 'number') throw new TypeError(`encodeMessage: ${field} must be a number, got ${typeof value}`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`encodeMessage: ${field} must be a non-negative safe integer, got ${value}`);
  }
  return varintSize(value);
}

export function checkBool(value: unknown, field: string): void {
  if (typeof value !== 'boolean') throw new TypeError(`encodeMessage: ${field} must be a boolean, got ${typeof value}`);
}

/** Validates a string field and returns its UTF-8 byte length. */
export function stringLength(value: unknown, field: string, maxBytes: number, allowEmpty: boolean): number {
  if (typeof value !== 'string') throw new TypeError(`encodeMessage: ${field} must be a string, got ${typeof value}`);
  const length = utf8ByteLength(value);
  if (length < 0) throw new TypeError(`encodeMessage: ${field} contains a lone surrogate and has no UTF-8 form`);
  if (length > maxBytes) {
    throw new RangeError(`encodeMessage: ${field} is ${length} UTF-8 bytes, more than the limit of ${maxBytes}`);
  }
  if (length === 0 && !allowEmpty) throw new RangeError(`encodeMessage: ${field} must not be empty`);
  return length;
}

/**
 * Validates the envelope, allocates the whole frame (envelope plus
 * `bodySize`) and writes the envelope; the caller writes the body.
 */
export function startFrame(message: RaftMessage, tag: number, bodySize: number): ByteWriter {
  const fromLength = stringLength(message.from, 'from', MAX_ID_BYTES, false);
  const toLength = stringLength(message.to, 'to', MAX_ID_BYTES, false);
  const size =
    2 +
    varintSize(fromLength) +
    fromLength +
    varintSize(toLength) +
    toLength +
    uintSize(message.term, 'term') +
    bodySize;
  const writer = new ByteWriter(size);
  writer.byte(CODEC_VERSION);
  writer.byte(tag);
  writer.string(message.from, fromLength);
  writer.string(message.to, toLength);
  writer.varint(message.term);
  return writer;
}
