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

/** First buffer for assembling a frame split across chunks; it doubles as bytes arrive. */
const MIN_ASSEMBLY_BYTES = 4096;

/**
 * Splits a byte stream into frames, whatever the chunking.
 *
 * A frame that lies whole inside one chunk is passed on as a view, without
 * copying; only a frame split across chunks is assembled, by copying its
 * pieces into one buffer that doubles as they arrive (never beyond the
 * frame's length). So memory grows with the bytes actually received, never
 * with what a header merely claims (a stranger announcing 2 GB and then
 * sending nothing costs at most MIN_ASSEMBLY_BYTES), and never with the
 * number of chunks: every socket read is its own small Buffer, and keeping
 * the pieces themselves would hold a couple of hundred bytes of objects for
 * each byte of a frame trickled in one byte at a time.
 */
export class FrameDecoder {
  /** Largest payload accepted; raised once a connection is authenticated. */
  maxFrameBytes: number;
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFill = 0;
  /** Payload length of the frame being read, or -1 while reading a header. */
  private expected = -1;
  /** The split frame being assembled (its first `assembled` bytes are filled), or null. */
  private assembly: Uint8Array | null = null;
  private assembled = 0;
  private stopped = false;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held for an incomplete frame (header or payload). */
  get bufferedBytes(): number {
    return this.headerFill + this.assembled;
  }

  /** True while in the middle of a frame: the stream ending now would cut it. */
  get midFrame(): boolean {
    return this.headerFill > 0 || this.expected >= 0;
  }

  /** Ignore all further input and let go of buffered bytes. */
  stop(): void {
    this.stopped = true;
    this.assembly = null;
    this.assembled = 0;
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
          length =
            ((chunk[offset]! << 24) | (chunk[offset + 1]! << 16) | (chunk[offset + 2]! << 8) | chunk[offset + 3]!) >>>
            0;
          offset += FRAME_HEADER_BYTES;
        } else {
          while (this.headerFill < FRAME_HEADER_BYTES && offset < end)
            this.header[this.headerFill++] = chunk[offset++]!;
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
      if (available === 0) break; // the chunk ended right after a header
      if (this.assembled === 0 && available >= this.expected) {
        // A plain Uint8Array view even when the chunk is a Buffer: decoded
        // entry data are views into a copy of what they are given, and users
        // get Uint8Arrays (Buffer's slice() shares memory, Uint8Array's copies).
        const payload = new Uint8Array(chunk.buffer, chunk.byteOffset + offset, this.expected);
        offset += this.expected;
        this.expected = -1;
        if (!onFrame(payload)) this.stop();
        continue;
      }
      const take = Math.min(available, this.expected - this.assembled);
      this.append(chunk, offset, take);
      offset += take;
      if (this.assembled === this.expected) {
        // The buffer never grows past the frame's length, so it is exactly the frame.
        const payload = this.assembly!;
        this.assembly = null;
        this.assembled = 0;
        this.expected = -1;
        if (!onFrame(payload)) this.stop();
      }
    }
    return null;
  }

  /** Copies `take` bytes of `chunk` from `offset` onto the frame being assembled, growing its buffer by doubling. */
  private append(chunk: Uint8Array, offset: number, take: number): void {
    const needed = this.assembled + take;
    let buffer = this.assembly;
    if (buffer === null || buffer.length < needed) {
      const grown = new Uint8Array(Math.min(this.expected, Math.max(2 * needed, MIN_ASSEMBLY_BYTES)));
      if (buffer !== null) grown.set(buffer.subarray(0, this.assembled));
      this.assembly = buffer = grown;
    }
    buffer.set(chunk.subarray(offset, offset + take), this.assembled);
    this.assembled = needed;
  }
}
