/**
 * UTF-8 helpers for the wire codec: measuring a string before writing it (so
 * the encoder can size its one output buffer up front) and decoding strictly.
 */

/**
 * The number of bytes `text` takes in UTF-8, or -1 when it holds a lone
 * surrogate. A lone surrogate has no UTF-8 form: TextEncoder would silently
 * write U+FFFD instead, and the receiver would see a different id than the
 * sender meant, so the encoder refuses such strings rather than corrupt them.
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) {
      bytes += 1;
    } else if (code < 0x800) {
      bytes += 2;
    } else if (code < 0xd800 || code > 0xdfff) {
      bytes += 3;
    } else if (code <= 0xdbff && i + 1 < length) {
      const next = text.charCodeAt(i + 1);
      if (next < 0xdc00 || next > 0xdfff) return -1;
      bytes += 4;
      i++;
    } else {
      return -1;
    }
  }
  return bytes;
}

const encoder = new TextEncoder();

/**
 * Writes `text` (already measured as `byteLength` bytes by utf8ByteLength)
 * into `target` at `offset`. Plain ASCII, the common case for node ids, is
 * copied byte by byte, which beats a TextEncoder call for short strings.
 */
export function writeUtf8(text: string, byteLength: number, target: Uint8Array, offset: number): void {
  if (byteLength === text.length) {
    for (let i = 0; i < byteLength; i++) target[offset + i] = text.charCodeAt(i);
    return;
  }
  encoder.encodeInto(text, target.subarray(offset, offset + byteLength));
}

// `fatal: true` makes malformed input (overlong forms, encoded surrogates,
// truncated sequences) throw instead of decoding to U+FFFD, so every accepted
// string has exactly one byte form and a frame round-trips byte for byte.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes `bytes[start, end)` as UTF-8, throwing a TypeError on malformed
 * input (the caller turns that into a DecodeError). `ignoreBOM` keeps a
 * leading U+FEFF as part of the string rather than silently dropping it,
 * which would break the round trip.
 */
export function readUtf8(bytes: Uint8Array, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    // Every ASCII byte is its own code unit; the spread is bounded by the
    // codec's string caps (at most a few KiB), far below any argument limit.
    return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  return decoder.decode(bytes.subarray(start, end));
}
