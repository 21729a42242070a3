/**
 * Reads a frame with every step bounds-checked. Each read names the field it
 * is for, so that a DecodeError says what was wrong and where ("truncated
 * input: 'term' needs 1 more byte at offset 7"), and no read ever trusts a
 * length before comparing it with the bytes that are really there.
 */
import { DecodeError } from '../errors.js';
import { MAX_VARINT_BYTES } from './format.js';
import { readUtf8 } from './utf8.js';

export class ByteReader {
  private position: number;
  private readonly end: number;

  /**
   * @param bytes the frame (or part of it) to read
   * @param start where to begin in `bytes`
   * @param reportBase added to positions in error reasons, so that a reader
   *   over a copied tail of the frame still reports offsets in the frame
   */
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    private readonly reportBase = 0,
  ) {
    this.position = start;
    this.end = bytes.length;
  }

  get offset(): number {
    return this.position;
  }

  get remaining(): number {
    return this.end - this.position;
  }

  /** Throws a DecodeError naming `at` (by default the current position) as a frame offset. */
  fail(reason: string, at = this.position): never {
    throw new DecodeError(`${reason} (at byte offset ${this.reportBase + at})`);
  }

  private truncated(field: string, needed: number): never {
    const missing = needed - this.remaining;
    this.fail(`truncated input: ${field} needs ${missing} more byte${missing === 1 ? '' : 's'}`);
  }

  byte(field: string): number {
    if (this.position >= this.end) this.truncated(field, 1);
    return this.bytes[this.position++]!;
  }

  /** Exactly 0 or 1; any other byte would give one boolean two encodings. */
  bool(field: string): boolean {
    const value = this.byte(field);
    if (value > 1) this.fail(`${field} must be a boolean byte 0 or 1, got ${value}`, this.position - 1);
    return value === 1;
  }

  /**
   * An unsigned LEB128 varint holding a non-negative safe integer. Refused:
   * more than MAX_VARINT_BYTES bytes, a value above 2^53 - 1 (it would lose
   * precision as a JavaScript number), and padded forms that end in a zero
   * group (so each number has exactly one encoding).
   */
  varint(field: string): number {
    const start = this.position;
    if (start >= this.end) this.truncated(field, 1);
    const bytes = this.bytes;
    let b = bytes[start]!;
    if (b < 0x80) {
      this.position = start + 1;
      return b;
    }
    let value = b & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < MAX_VARINT_BYTES; i++) {
      const position = start + i;
      if (position >= this.end) {
        this.position = position;
        this.fail(`truncated input: varint ${field} is cut off`);
      }
      b = bytes[position]!;
      if (i === MAX_VARINT_BYTES - 1 && b > 0x0f) {
        // The 8th byte holds bits 49..55; only 49..52 fit under 2^53.
        this.position = start;
        this.fail(
          b >= 0x80
            ? `varint ${field} is longer than ${MAX_VARINT_BYTES} bytes`
            : `varint ${field} exceeds the largest safe integer 2^53 - 1`,
        );
      }
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0) {
          this.position = start;
          this.fail(`varint ${field} is not in its shortest form`);
        }
        this.position = position + 1;
        return value;
      }
      scale *= 0x80;
    }
    // Unreachable: the last iteration either returns or fails above.
    this.position = start;
    this.fail(`varint ${field} is malformed`);
  }

  /** A length (checked against `maxBytes` and the remaining input) then UTF-8, decoded strictly. */
  string(field: string, maxBytes: number, allowEmpty: boolean): string {
    const length = this.varint(`${field} length`);
    if (length > maxBytes) this.fail(`${field} is ${length} bytes long, more than the limit of ${maxBytes}`);
    if (length === 0 && !allowEmpty) this.fail(`${field} must not be empty`);
    if (length > this.remaining) this.truncated(field, length);
    const start = this.position;
    let text: string;
    try {
      text = readUtf8(this.bytes, start, start + length);
    } catch {
      this.fail(`${field} is not valid UTF-8`);
    }
    this.position = start + length;
    return text;
  }

  /**
   * A length then that many bytes, returned as a view into this reader's
   * buffer (no copy). The length is compared with the remaining input
   * before anything is allocated, so a forged 4 GB length costs nothing.
   */
  lengthPrefixed(field: string): Uint8Array {
    const length = this.varint(`${field} length`);
    if (length > this.remaining) this.truncated(field, length);
    const start = this.position;
    this.position = start + length;
    return this.bytes.subarray(start, start + length);
  }

  /** Marks everything as read (used once a copy of the rest has been read by another reader). */
  skipToEnd(): void {
    this.position = this.end;
  }

  /** Trailing bytes are an error: they mean the sender and receiver disagree on the layout. */
  expectEnd(): void {
    const extra = this.remaining;
    if (extra !== 0) this.fail(`${extra} unexpected trailing byte${extra === 1 ? '' : 's'}`);
  }
}
