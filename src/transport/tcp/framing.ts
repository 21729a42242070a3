/**
 * Length-prefixed framing: every frame on a connection is a 4-byte
 * big-endian payload length followed by the payload (a handshake frame, or
 * one message as encodeMessage makes it).
 */

export const FRAME_HEADER_BYTES = 4;

/** Writes a frame header for a payload of `length` bytes at `offset`. */
export function writeFrameHeader(target: Uint8Array, offset: number, length: number): void {
  target[offset] = length >>> 24;
  target[offset + 1] = (length >>> 16) & 0xff;
  target[offset + 2] = (length >>> 8) & 0xff;
  target[offset + 3] = length & 0xff;
}

/** One whole frame (header and payload) in a new buffer; for the rare, unpooled writes (handshakes). */
export function frameOf(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(frame, 0, payload.length);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Called with each complete payload. The view is valid only during the
 * call (it may point into a socket's read buffer). Return false to stop
 * reading: the rest of the input is ignored from then on.
 */
export type FrameHandler = (payload: Uint8Array) => boolean;

/**
 * Splits a byte stream into frames, whatever the chunking.
 *
 * A frame that lies whole inside one chunk is passed on as a view, without
 * copying; only a frame split across chunks is assembled, and its pieces
 * are kept as they arrive, so memory grows with the bytes actually
 * received, never with what a header merely claims (a stranger announcing
 * 2 GB and then sending nothing costs nothing).
 */
export class FrameDecoder {
  /** Largest payload accepted; raised once a connection is authenticated. */
  maxFrameBytes: number;
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFill = 0;
  /** Payload length of the frame being read, or -1 while reading a header. */
  private expected = -1;
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  private stopped = false;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held for an incomplete frame (header or payload). */
  get bufferedBytes(): number {
    return this.headerFill + this.partsBytes;
  }

  /** True while in the middle of a frame: the stream ending now would cut it. */
  get midFrame(): boolean {
    return this.headerFill > 0 || this.expected >= 0;
  }

  /** Ignore all further input and let go of buffered bytes. */
  stop(): void {
    this.stopped = true;
    this.parts = [];
    this.partsBytes = 0;
  }

  /**
   * Feeds one chunk. Returns null, or the reason the stream is invalid (a
   * length of zero or above maxFrameBytes); after a reason, or after the
   * handler returned false, the decoder stops.
   */
  push(chunk: Uint8Array, onFrame: FrameHandler): string | null {
    let offset = 0;
    const end = chunk.length;
    while (offset < end && !this.stopped) {
      if (this.expected < 0) {
        let length: number;
        if (this.headerFill === 0 && end - offset >= FRAME_HEADER_BYTES) {
          length = ((chunk[offset]! << 24) | (chunk[offset + 1]! << 16) | (chunk[offset + 2]! << 8) | chunk[offset + 3]!) >>> 0;
          offset += FRAME_HEADER_BYTES;
        } else {
          while (this.headerFill < FRAME_HEADER_BYTES && offset < end) this.header[this.headerFill++] = chunk[offset++]!;
          if (this.headerFill < FRAME_HEADER_BYTES) return null;
          const h = this.header;
          length = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
          this.headerFill = 0;
        }
        if (length === 0) {
          this.stop();
          return 'empty frame (length 0)';
        }
        if (length > this.maxFrameBytes) {
          this.stop();
          return `frame of ${length} bytes is over the limit of ${this.maxFrameBytes}`;
        }
        this.expected = length;
      }
      const available = end - offset;
      if (this.partsBytes === 0 && available >= this.expected) {
        // A plain Uint8Array view even when the chunk is a Buffer: decoded
        // entry data are views into a copy of what they are given, and users
        // get Uint8Arrays (Buffer's slice() shares memory, Uint8Array's copies).
        const payload = new Uint8Array(chunk.buffer, chunk.byteOffset + offset, this.expected);
        offset += this.expected;
        this.expected = -1;
        if (!onFrame(payload)) this.stop();
        continue;
      }
      const take = Math.min(available, this.expected - this.partsBytes);
      this.parts.push(chunk.subarray(offset, offset + take));
      this.partsBytes += take;
      offset += take;
      if (this.partsBytes === this.expected) {
        const payload = concat(this.parts, this.partsBytes);
        this.parts = [];
        this.partsBytes = 0;
        this.expected = -1;
        if (!onFrame(payload)) this.stop();
      }
    }
    return null;
  }
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return new Uint8Array(parts[0]!.buffer, parts[0]!.byteOffset, total);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
