import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createRandom } from '../../src/core/random.js';
import { FrameDecoder, frameOf } from '../../src/transport/tcp/framing.js';

function collect(decoder: FrameDecoder, chunks: readonly Uint8Array[]): { frames: number[][]; problem: string | null } {
  const frames: number[][] = [];
  let problem: string | null = null;
  for (const chunk of chunks) {
    problem = decoder.push(chunk, (frame) => {
      frames.push([...frame]);
      return true;
    });
    if (problem !== null) break;
  }
  return { frames, problem };
}

/** A full garbage collection, so that what is measured afterwards is only what is still referenced. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/** Heap and ArrayBuffer bytes in use right now, after a full collection. */
function retainedBytes(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

describe('FrameDecoder', () => {
  it('recovers every frame whatever the chunk boundaries (random splits of a 200-frame stream)', () => {
    const random = createRandom(99);
    const payloads = Array.from({ length: 200 }, (_, i) =>
      Uint8Array.from({ length: 1 + Math.floor(random() * (i % 10 === 0 ? 5000 : 40)) }, () =>
        Math.floor(random() * 256),
      ),
    );
    const stream = concat(payloads.map((p) => frameOf(p)));
    for (let trial = 0; trial < 50; trial++) {
      const chunks: Uint8Array[] = [];
      let at = 0;
      while (at < stream.length) {
        // Mostly tiny pieces (split headers), sometimes big ones.
        const size = random() < 0.7 ? 1 + Math.floor(random() * 6) : 1 + Math.floor(random() * 3000);
        chunks.push(stream.subarray(at, at + size));
        at += size;
      }
      const { frames, problem } = collect(new FrameDecoder(1 << 20), chunks);
      expect(problem).toBeNull();
      expect(frames).toEqual(payloads.map((p) => [...p]));
    }
  });

  it('hands out frames as plain Uint8Arrays, not Buffers, even when reading from Buffers', () => {
    const decoder = new FrameDecoder(100);
    const seen: Uint8Array[] = [];
    decoder.push(frameOf(Uint8Array.of(1, 2, 3)), (frame) => {
      seen.push(frame);
      return true;
    });
    expect(seen).toHaveLength(1);
    expect(Buffer.isBuffer(seen[0])).toBe(false);
    expect([...seen[0]!]).toEqual([1, 2, 3]);
  });

  it('refuses a length above maxFrameBytes from the header alone, before any payload arrives', () => {
    const decoder = new FrameDecoder(1024);
    const header = Uint8Array.of(0x7f, 0xff, 0xff, 0xff);
    expect(decoder.push(header, () => true)).toBe('frame of 2147483647 bytes is over the limit of 1024');
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('refuses a zero-length frame', () => {
    expect(new FrameDecoder(1024).push(Uint8Array.of(0, 0, 0, 0), () => true)).toBe('empty frame (length 0)');
  });

  it('holds only the bytes received for a frame that claims to be large', () => {
    const decoder = new FrameDecoder(16 << 20);
    const header = Uint8Array.of(0x00, 0xf0, 0x00, 0x00); // 15 MiB announced
    expect(decoder.push(header, () => true)).toBeNull();
    expect(decoder.push(new Uint8Array(100), () => true)).toBeNull();
    expect(decoder.bufferedBytes).toBe(100);
    expect(decoder.midFrame).toBe(true);
  });

  it('stops reading when the handler says so, ignoring the rest of the chunk and later chunks', () => {
    const decoder = new FrameDecoder(100);
    const stream = concat([frameOf(Uint8Array.of(1)), frameOf(Uint8Array.of(2)), frameOf(Uint8Array.of(3))]);
    const seen: number[] = [];
    decoder.push(stream, (frame) => {
      seen.push(frame[0]!);
      return frame[0] !== 2;
    });
    decoder.push(frameOf(Uint8Array.of(4)), (frame) => {
      seen.push(frame[0]!);
      return true;
    });
    expect(seen).toEqual([1, 2]);
  });

  it('applies a raised limit to frames that follow (the handshake cap, then maxFrameBytes)', () => {
    const decoder = new FrameDecoder(8);
    const big = frameOf(new Uint8Array(20));
    const frames: number[] = [];
    decoder.push(frameOf(new Uint8Array(8)), (f) => {
      frames.push(f.length);
      decoder.maxFrameBytes = 64;
      return true;
    });
    expect(decoder.push(big, (f) => frames.push(f.length) > 0)).toBeNull();
    expect(frames).toEqual([8, 20]);
  });

  it('keeps memory proportional to the bytes received when a frame trickles in one byte per chunk', () => {
    // Each socket read is its own small Buffer. A decoder that kept every
    // piece would hold ~200 bytes of objects per byte received: a peer
    // trickling one frame a byte at a time could make it hold hundreds of
    // times what it sent.
    const decoder = new FrameDecoder(16 << 20);
    const total = 400_000;
    const before = retainedBytes();
    expect(decoder.push(Uint8Array.of(0x00, 0x10, 0x00, 0x00), () => true)).toBeNull(); // 1 MiB announced
    let problems = 0;
    for (let i = 0; i < total; i++) {
      const chunk = new Uint8Array(1);
      chunk[0] = i & 0xff;
      if (decoder.push(chunk, () => true) !== null) problems++;
    }
    expect(problems).toBe(0);
    expect(decoder.bufferedBytes).toBe(total);
    expect(retainedBytes() - before).toBeLessThan(4 * total);
    // And the frame still comes out whole and right.
    const rest = Uint8Array.from({ length: (1 << 20) - total }, (_, i) => (total + i) & 0xff);
    let frame: Uint8Array | null = null;
    decoder.push(rest, (f) => {
      frame = Uint8Array.from(f);
      return true;
    });
    expect(frame).not.toBeNull();
    expect(frame!.length).toBe(1 << 20);
    expect(frame!.every((byte, i) => byte === (i & 0xff))).toBe(true);
    expect(decoder.bufferedBytes).toBe(0);
  });
});
