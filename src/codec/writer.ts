/**
 * Writes a frame into one preallocated Uint8Array. The encoder measures the
 * whole message first (varintSize, utf8ByteLength), allocates once and then
 * fills the buffer front to back: no intermediate arrays, no copying.
 */
import { writeUtf8 } from './utf8.js';

/**
 * Bytes an unsigned LEB128 varint of `value` takes (7 bits per byte).
 * `value` must already be a non-negative safe integer.
 */
export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  if (value < 0x1000_0000) return 4;
  if (value < 0x8_0000_0000) return 5;
  if (value < 0x400_0000_0000) return 6;
  if (value < 0x2_0000_0000_0000) return 7;
  return 8;
}

export class ByteWriter {
  readonly bytes: Uint8Array;
  private position = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }

  /** Where the next byte goes; equals the buffer's length once the frame is complete. */
  get offset(): number {
    return this.position;
  }

  byte(value: number): void {
    this.bytes[this.position++] = value;
  }

  bool(value: boolean): void {
    this.bytes[this.position++] = value ? 1 : 0;
  }

  /** Unsigned LEB128, least significant group first; canonical (no padding groups). */
  varint(value: number): void {
    const bytes = this.bytes;
    let position = this.position;
    // Bitwise operators work on 32 bits, so large values are split with
    // arithmetic until the rest fits.
    while (value >= 0x8000_0000) {
      bytes[position++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    while (value >= 0x80) {
      bytes[position++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    bytes[position++] = value;
    this.position = position;
  }

  /** A varint byte length followed by the UTF-8 of `text`, which must be `byteLength` bytes long. */
  string(text: string, byteLength: number): void {
    this.varint(byteLength);
    writeUtf8(text, byteLength, this.bytes, this.position);
    this.position += byteLength;
  }

  /** A varint length followed by the bytes themselves. */
  lengthPrefixed(data: Uint8Array): void {
    this.varint(data.length);
    this.bytes.set(data, this.position);
    this.position += data.length;
  }
}
