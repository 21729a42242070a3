/**
 * InstallSnapshot and InstallSnapshotResponse on the wire (src/codec/install-snapshot.ts):
 * their layout, the checks beyond structure (a chunk that fits its
 * snapshot, a configuration without repeated ids), each refused with a
 * DecodeError when decoding and a RangeError when encoding, and a large
 * chunk that crosses with one copy each way. Round trips, canonical
 * encoding, truncation and fuzzing of these messages are covered with every
 * other type in codec.test.ts and fuzz.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { CODEC_VERSION, decodeMessage, encodeMessage } from '../../src/codec/codec.js';
import { MESSAGE_TAGS } from '../../src/codec/format.js';
import { DecodeError } from '../../src/errors.js';
import type { InstallSnapshot, RaftMessage } from '../../src/messages.js';
import { expectEncodeRefusal, installSnapshot } from './examples.js';

const bytes = (...values: number[]) => Uint8Array.from(values);
const MAX = Number.MAX_SAFE_INTEGER;
const MiB = 1 << 20;

/** An InstallSnapshot frame from 'a' to 'b' at term 1, followed by `body`. */
const snapshotFrame = (...body: number[]) =>
  bytes(CODEC_VERSION, MESSAGE_TAGS.InstallSnapshot, 1, 0x61, 1, 0x62, 1, ...body);

/** The body of a snapshot at index 5, term 1, up to its voters and learners (given as one-letter ids). */
const meta = (voters: string, learners: string) => [
  5,
  1,
  voters.length,
  ...[...voters].flatMap((id) => [1, id.charCodeAt(0)]),
  learners.length,
  ...[...learners].flatMap((id) => [1, id.charCodeAt(0)]),
];

function decodeReason(frame: Uint8Array): string {
  try {
    decodeMessage(frame);
  } catch (error) {
    expect(DecodeError.isInstance(error)).toBe(true);
    return (error as DecodeError).reason;
  }
  return expect.fail('the frame should not have decoded');
}

describe('InstallSnapshot layout', () => {
  it('writes the snapshot index and term, the voters, the learners, offset, totalBytes, then the chunk with its length', () => {
    const frame = encodeMessage(installSnapshot());
    expect(Array.from(frame)).toEqual([
      CODEC_VERSION,
      10, // tag
      1,
      0x61, // from "a"
      1,
      0x62, // to "b"
      4, // term
      0xe8,
      0x07, // snapshot index 1000
      3, // snapshot term
      3,
      1,
      0x61,
      1,
      0x62,
      1,
      0x63, // voters a, b, c
      1,
      1,
      0x64, // learners d
      4, // offset
      12, // totalBytes
      4,
      1,
      2,
      3,
      4, // the chunk, length-prefixed
    ]);
    expect(decodeMessage(frame)).toEqual(installSnapshot());
  });

  it('lays out an InstallSnapshotResponse as snapshotIndex, received and a done byte', () => {
    const response: RaftMessage = {
      type: 'InstallSnapshotResponse',
      from: 'b',
      to: 'a',
      term: 4,
      snapshotIndex: 1000,
      received: 300,
      done: true,
    };
    const frame = encodeMessage(response);
    expect(Array.from(frame)).toEqual([CODEC_VERSION, 11, 1, 0x62, 1, 0x61, 4, 0xe8, 0x07, 0xac, 0x02, 1]);
    expect(decodeMessage(frame)).toEqual(response);
  });
});

describe('decodeMessage refuses an InstallSnapshot that cannot be, with a DecodeError', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    [
      'a chunk that runs past totalBytes',
      snapshotFrame(...meta('abc', ''), 8, 10, 3, 1, 2, 3),
      /^a chunk of 3 bytes at offset 8 runs past the snapshot's 10 bytes \(at byte offset 19\)$/,
    ],
    [
      'an offset past totalBytes, with an empty chunk',
      snapshotFrame(...meta('abc', ''), 11, 10, 0),
      /a chunk of 0 bytes at offset 11 runs past the snapshot's 10 bytes/,
    ],
    [
      'a chunk past totalBytes near 2^53 - 1 (offset + length is not a safe integer)',
      snapshotFrame(
        ...meta('a', ''),
        ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
        ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
        2,
        1,
        2,
      ),
      new RegExp(`a chunk of 2 bytes at offset ${MAX} runs past the snapshot's ${MAX} bytes`),
    ],
    [
      'a voter listed twice',
      snapshotFrame(...meta('aba', ''), 0, 0, 0),
      /^snapshot configuration: voter "a" is listed twice/,
    ],
    [
      'a learner listed twice',
      snapshotFrame(...meta('ab', 'dd'), 0, 0, 0),
      /^snapshot configuration: learner "d" is listed twice/,
    ],
    [
      'a voter that is also a learner',
      snapshotFrame(...meta('abc', 'db'), 0, 0, 0),
      /^snapshot configuration: "b" is both a voter and a learner \(at byte offset 9\)$/,
    ],
    ['an empty member id', snapshotFrame(5, 1, 1, 0, 0, 0, 0, 0), /voters\[0\] must not be empty/],
    [
      'a member id over 255 bytes',
      snapshotFrame(5, 1, 1, 0x80, 0x02, ...new Uint8Array(256).fill(0x61)),
      /voters\[0\] is 256 bytes long, more than the limit of 255/,
    ],
    [
      'a member id that is not UTF-8',
      snapshotFrame(5, 1, 0, 1, 2, 0xc3, 0x28, 0, 0, 0),
      /learners\[0\] is not valid UTF-8/,
    ],
    [
      'a member count larger than the bytes could hold',
      snapshotFrame(5, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 0x61),
      /^truncated input: 4294967295 voters need at least 8589934590 bytes, 2 remain/,
    ],
    [
      'chunk data with a 4 GB length',
      snapshotFrame(...meta('a', ''), 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2),
      /^truncated input: chunk data needs 4294967293 more bytes/,
    ],
    ['a byte after the chunk', snapshotFrame(...meta('a', ''), 0, 1, 1, 9, 9), /^1 unexpected trailing byte/],
    [
      'an InstallSnapshotResponse whose done byte is 2',
      bytes(CODEC_VERSION, MESSAGE_TAGS.InstallSnapshotResponse, 1, 0x62, 1, 0x61, 1, 5, 0, 2),
      /done must be a boolean byte 0 or 1, got 2/,
    ],
  ];

  it.each(cases)('refuses %s', (_name, frame, reason) => {
    expect(decodeReason(frame)).toMatch(reason);
  });

  it('accepts the same frames once they are put right (so each case fails for its own reason)', () => {
    expect(decodeMessage(snapshotFrame(...meta('abc', ''), 7, 10, 3, 1, 2, 3))).toMatchObject({ offset: 7 });
    expect(decodeMessage(snapshotFrame(...meta('abc', 'de'), 0, 0, 0))).toMatchObject({
      snapshot: { voters: ['a', 'b', 'c'], learners: ['d', 'e'] },
    });
  });
});

describe('encodeMessage refuses an InstallSnapshot the decoder would refuse', () => {
  const cases: [string, unknown, RegExp][] = [
    [
      'a chunk past totalBytes',
      installSnapshot({ offset: 10 }),
      /a chunk of 4 bytes at offset 10 runs past the snapshot's 12 bytes/,
    ],
    [
      'a voter listed twice',
      installSnapshot({ snapshot: { index: 1, term: 1, voters: ['a', 'a'], learners: [] } }),
      /snapshot voter "a" is listed twice/,
    ],
    [
      'a voter that is also a learner',
      installSnapshot({ snapshot: { index: 1, term: 1, voters: ['a'], learners: ['a'] } }),
      /snapshot "a" is both a voter and a learner/,
    ],
    [
      'an empty member id',
      installSnapshot({ snapshot: { index: 1, term: 1, voters: ['a'], learners: [''] } }),
      /snapshot\.learners\[0\] must not be empty/,
    ],
    [
      'voters that are not an array',
      installSnapshot({ snapshot: { index: 1, term: 1, voters: 'abc' as unknown as string[], learners: [] } }),
      /snapshot\.voters must be an array/,
    ],
    ['no snapshot metadata', installSnapshot({ snapshot: undefined }), /snapshot must be an object/],
    ['data that is not bytes', installSnapshot({ data: [1, 2] as unknown as Uint8Array }), /data must be a Uint8Array/],
    ['a negative offset', installSnapshot({ offset: -1 }), /offset must be a non-negative safe integer/],
    [
      'a snapshot index above 2^53 - 1',
      installSnapshot({ snapshot: { index: 2 ** 53, term: 1, voters: [], learners: [] } }),
      /snapshot\.index must be a non-negative safe integer/,
    ],
  ];

  it.each(cases)('refuses %s with a TypeError or RangeError naming the field', (_name, message, reason) => {
    expectEncodeRefusal(message, reason);
  });
});

describe('a 4 MiB chunk', () => {
  const data = Uint8Array.from({ length: 4 * MiB }, (_, i) => (i * 31 + 7) & 0xff);
  const message = installSnapshot({ offset: 8 * MiB, totalBytes: 64 * MiB, data });

  it('round-trips intact, and the decoded chunk is an exact copy that shares no memory with the frame', () => {
    const frame = encodeMessage(message);
    const decoded = decodeMessage(frame) as InstallSnapshot;
    expect(Buffer.compare(Buffer.from(decoded.data), Buffer.from(data))).toBe(0);
    expect({ ...decoded, data: null }).toEqual({ ...message, data: null });
    // One allocation of exactly the chunk: not a view into the frame (which
    // the transport reuses), not a copy of the whole frame.
    expect(decoded.data.byteOffset).toBe(0);
    expect(decoded.data.buffer.byteLength).toBe(data.length);
    expect(decoded.data.buffer).not.toBe(frame.buffer);
    frame.fill(0);
    expect(decoded.data[1]).toBe(data[1]);
  });

  it('costs one copy of the chunk to encode (the frame) and one to decode, no intermediate ones', () => {
    // The chunk's 4 MiB dominate both frames, so any further copy would add
    // 4 MiB to the process's array buffers, which are counted as they are
    // allocated. A collection can only lower the figures, never raise them,
    // so the largest growth over a few rounds bounds what one round allocates.
    const slack = 256 * 1024;
    let encodeGrowth = 0;
    let decodeGrowth = 0;
    for (let round = 0; round < 3; round++) {
      const before = process.memoryUsage().arrayBuffers;
      const frame = encodeMessage(message);
      const encoded = process.memoryUsage().arrayBuffers;
      const decoded = decodeMessage(frame);
      const after = process.memoryUsage().arrayBuffers;
      encodeGrowth = Math.max(encodeGrowth, encoded - before);
      decodeGrowth = Math.max(decodeGrowth, after - encoded);
      expect(frame.length).toBeLessThan(data.length + 64);
      expect(decoded.type).toBe('InstallSnapshot');
    }
    expect(encodeGrowth).toBeGreaterThanOrEqual(data.length);
    expect(encodeGrowth).toBeLessThan(data.length + slack);
    expect(decodeGrowth).toBeLessThan(data.length + slack);
  });
});
