import { describe, expect, it } from 'vitest';
import { CODEC_VERSION, decodeMessage, encodeMessage } from '../../src/codec/codec.js';
import { MAX_CTX_BYTES, MAX_ENTRIES, MAX_ID_BYTES, MAX_MESSAGE_TAG, MESSAGE_TAGS } from '../../src/codec/format.js';
import { DecodeError, RaftError } from '../../src/errors.js';
import type { AppendEntries, Entry, EntryType, RaftMessage } from '../../src/messages.js';
import { MESSAGE_TYPES } from '../../src/messages.js';
import { expectEncodeRefusal, installSnapshot } from './examples.js';

const MAX = Number.MAX_SAFE_INTEGER;
const V = CODEC_VERSION;
const UNUSED_TAG = MAX_MESSAGE_TAG + 1;
const bytes = (...values: number[]) => Uint8Array.from(values);
const concat = (...parts: ArrayLike<number>[]) => Uint8Array.from(parts.flatMap((part) => Array.from(part)));
const utf8 = (text: string) => new TextEncoder().encode(text);

function entries(prevLogIndex: number, specs: readonly [term: number, type: EntryType, data: Uint8Array][]): Entry[] {
  return specs.map(([term, type, data], i) => ({ index: prevLogIndex + 1 + i, term, type, data }));
}

function appendEntries(overrides: Partial<AppendEntries> = {}): AppendEntries {
  return {
    type: 'AppendEntries',
    from: 'a',
    to: 'b',
    term: 3,
    prevLogIndex: 10,
    prevLogTerm: 2,
    entries: entries(10, [
      [3, 'noop', new Uint8Array(0)],
      [3, 'normal', utf8('set x 1')],
      [3, 'config', bytes(0, 1, 2, 255)],
    ]),
    leaderCommit: 9,
    ...overrides,
  };
}

/** Messages of every type, at the edges of every field. */
const EDGE_MESSAGES: readonly (readonly [string, RaftMessage])[] = [
  [
    'RequestVote at zero',
    {
      type: 'RequestVote',
      from: 'a',
      to: 'b',
      term: 0,
      lastLogIndex: 0,
      lastLogTerm: 0,
      preVote: false,
      transfer: false,
    },
  ],
  [
    'RequestVote at the safe-integer limit',
    {
      type: 'RequestVote',
      from: 'a',
      to: 'b',
      term: MAX,
      lastLogIndex: MAX,
      lastLogTerm: MAX,
      preVote: true,
      transfer: true,
    },
  ],
  [
    'PreVote probe',
    {
      type: 'RequestVote',
      from: 'n1',
      to: 'n2',
      term: 128,
      lastLogIndex: 16_384,
      lastLogTerm: 127,
      preVote: true,
      transfer: false,
    },
  ],
  [
    'RequestVoteResponse granted',
    { type: 'RequestVoteResponse', from: 'b', to: 'a', term: 2 ** 32, granted: true, preVote: false },
  ],
  [
    'RequestVoteResponse refused pre-vote',
    { type: 'RequestVoteResponse', from: 'b', to: 'a', term: 0, granted: false, preVote: true },
  ],
  ['AppendEntries heartbeat-like (no entries)', appendEntries({ entries: [] })],
  [
    'AppendEntries from the start of the log',
    appendEntries({
      prevLogIndex: 0,
      prevLogTerm: 0,
      leaderCommit: 0,
      entries: entries(0, [[1, 'noop', new Uint8Array(0)]]),
    }),
  ],
  ['AppendEntries with all entry types', appendEntries()],
  [
    'AppendEntries ending at the largest index',
    appendEntries({
      term: MAX,
      prevLogIndex: MAX - 2,
      prevLogTerm: MAX,
      leaderCommit: MAX,
      entries: entries(MAX - 2, [
        [MAX, 'normal', bytes(1)],
        [MAX, 'normal', bytes(2)],
      ]),
    }),
  ],
  [
    'AppendEntries with a 128 KiB entry (three-byte length)',
    appendEntries({ entries: entries(10, [[3, 'normal', new Uint8Array((1 << 17) + 1).fill(0xab)]]) }),
  ],
  [
    'AppendEntriesResponse success',
    {
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 5,
      success: true,
      matchIndex: 2 ** 40,
      rejectedIndex: 0,
      hintIndex: 0,
      hintTerm: 0,
    },
  ],
  [
    'AppendEntriesResponse rejection with hint',
    {
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: MAX,
      success: false,
      matchIndex: 0,
      rejectedIndex: MAX,
      hintIndex: MAX - 1,
      hintTerm: MAX,
    },
  ],
  ['Heartbeat', { type: 'Heartbeat', from: 'a', to: 'b', term: 300, commit: 2 ** 31, readSeq: MAX }],
  ['HeartbeatResponse', { type: 'HeartbeatResponse', from: 'b', to: 'a', term: 1, readSeq: 0 }],
  ['ReadIndex with empty ctx', { type: 'ReadIndex', from: 'c', to: 'a', term: 9, ctx: '' }],
  [
    'ReadIndex with the longest ctx',
    { type: 'ReadIndex', from: 'c', to: 'a', term: 9, ctx: 'r'.repeat(MAX_CTX_BYTES) },
  ],
  [
    'ReadIndexResponse ok with unicode ctx',
    { type: 'ReadIndexResponse', from: 'a', to: 'c', term: 9, ctx: 'lecture ✓ 読み 🦊', index: 2 ** 53 - 2, ok: true },
  ],
  [
    'ReadIndexResponse failed',
    { type: 'ReadIndexResponse', from: 'a', to: 'c', term: 9, ctx: 'r-1', index: 0, ok: false },
  ],
  ['InstallSnapshot, first chunk', installSnapshot({ offset: 0, totalBytes: 10, data: bytes(0, 1, 2, 255) })],
  [
    'InstallSnapshot of an empty snapshot (a node with no state machine)',
    installSnapshot({
      snapshot: { index: 1, term: 1, voters: ['a'], learners: [] },
      offset: 0,
      totalBytes: 0,
      data: bytes(),
    }),
  ],
  [
    'InstallSnapshot, last chunk ending at the largest size',
    installSnapshot({
      term: MAX,
      snapshot: { index: MAX, term: MAX, voters: ['a', 'b', 'c'], learners: [] },
      offset: MAX - 3,
      totalBytes: MAX,
      data: bytes(7, 8, 9),
    }),
  ],
  [
    'InstallSnapshot with member ids at the byte limit and no voters',
    installSnapshot({
      snapshot: { index: 2 ** 31, term: 128, voters: [], learners: ['x'.repeat(MAX_ID_BYTES), '🦊', '€'.repeat(85)] },
    }),
  ],
  [
    'InstallSnapshotResponse, bytes received so far',
    {
      type: 'InstallSnapshotResponse',
      from: 'b',
      to: 'a',
      term: 4,
      snapshotIndex: 1000,
      received: 1 << 20,
      done: false,
    },
  ],
  [
    'InstallSnapshotResponse, done',
    { type: 'InstallSnapshotResponse', from: 'b', to: 'a', term: MAX, snapshotIndex: MAX, received: MAX, done: true },
  ],
  ['TimeoutNow', { type: 'TimeoutNow', from: 'a', to: 'b', term: 77 }],
  ['unicode node ids', { type: 'TimeoutNow', from: 'ñodo-節点', to: '🦊\u0000\ufeff', term: 1 }],
  [
    'ids at the byte limit',
    { type: 'TimeoutNow', from: 'x'.repeat(MAX_ID_BYTES), to: '€'.repeat(MAX_ID_BYTES / 3), term: 1 },
  ],
];

function decodeErrorOf(input: unknown): DecodeError {
  try {
    decodeMessage(input as Uint8Array);
  } catch (error) {
    expect(DecodeError.isInstance(error)).toBe(true);
    return error as DecodeError;
  }
  return expect.fail(`decoding ${String(input)} should have thrown`);
}

/** A valid frame header for `type`, from 'a' to 'b' at term 1, followed by `body`. */
function frame(type: keyof typeof MESSAGE_TAGS, ...body: number[]): Uint8Array {
  return bytes(CODEC_VERSION, MESSAGE_TAGS[type], 1, 0x61, 1, 0x62, 1, ...body);
}

describe('encodeMessage / decodeMessage round trip', () => {
  it.each(EDGE_MESSAGES)('%s decodes to an equal message', (_name, message) => {
    const decoded = decodeMessage(encodeMessage(message));
    expect(decoded).toEqual(message);
    expect(Object.keys(decoded).sort()).toEqual(Object.keys(message).sort());
  });

  it('covers every message type in MESSAGE_TYPES', () => {
    const covered = new Set(EDGE_MESSAGES.map(([, message]) => message.type));
    expect([...covered].sort()).toEqual([...MESSAGE_TYPES].sort());
  });

  it('starts every frame with the format version then the message type tag', () => {
    // 2 since InstallSnapshot and InstallSnapshotResponse (see format.ts).
    expect(CODEC_VERSION).toBe(2);
    for (const [, message] of EDGE_MESSAGES) {
      const encoded = encodeMessage(message);
      expect(encoded[0]).toBe(CODEC_VERSION);
      expect(encoded[1]).toBe(MESSAGE_TAGS[message.type]);
    }
  });

  it('lays out a Heartbeat as version, tag, length-prefixed ids and LEB128 varints', () => {
    const encoded = encodeMessage({ type: 'Heartbeat', from: 'a', to: 'bc', term: 300, commit: 5, readSeq: 0 });
    expect(Array.from(encoded)).toEqual([2, 5, 1, 0x61, 2, 0x62, 0x63, 0xac, 0x02, 5, 0]);
  });

  it('encodes 2^53 - 1 as the eight-byte varint ff ff ff ff ff ff ff 0f', () => {
    const encoded = encodeMessage({ type: 'HeartbeatResponse', from: 'a', to: 'b', term: 0, readSeq: MAX });
    expect(Array.from(encoded.subarray(-8))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
  });

  it('sends entry data as raw bytes and no per-entry index (three bytes of overhead per small entry)', () => {
    const many = entries(
      1_000,
      Array.from(
        { length: 1_000 },
        () => [7, 'normal', new Uint8Array(16).fill(0x5a)] as [number, EntryType, Uint8Array],
      ),
    );
    const encoded = encodeMessage(appendEntries({ term: 7, prevLogIndex: 1_000, entries: many }));
    // header 2 + ids 4 + term 1 + prevLogIndex 2 + prevLogTerm 1 + leaderCommit 1 + count 2, then 1,000 × (term 1 + type 1 + length 1 + 16)
    expect(encoded.length).toBe(13 + 1_000 * 19);
    expect(decodeMessage(encoded)).toEqual(appendEntries({ term: 7, prevLogIndex: 1_000, entries: many }));
  });

  it('decodes entry indexes as prevLogIndex + 1 + i', () => {
    const decoded = decodeMessage(
      encodeMessage(
        appendEntries({
          prevLogIndex: 41,
          entries: entries(41, [
            [1, 'normal', bytes(1)],
            [1, 'normal', bytes(2)],
          ]),
        }),
      ),
    );
    expect((decoded as AppendEntries).entries.map((entry) => entry.index)).toEqual([42, 43]);
  });

  it('returns entry data that does not share memory with the input, so the caller may reuse its buffer', () => {
    const input = encodeMessage(appendEntries());
    const decoded = decodeMessage(input) as AppendEntries;
    input.fill(0);
    expect(decoded.entries[1]!.data).toEqual(utf8('set x 1'));
    expect(decoded.entries[2]!.data).toEqual(bytes(0, 1, 2, 255));
    expect(decoded.entries[1]!.data.buffer).not.toBe(input.buffer);
  });

  it('decodes from a Buffer and from a view with a non-zero byteOffset', () => {
    const message: RaftMessage = { type: 'ReadIndex', from: 'a', to: 'b', term: 4, ctx: 'ü' };
    const encoded = encodeMessage(message);
    const padded = new Uint8Array(encoded.length + 10);
    padded.set(encoded, 5);
    expect(decodeMessage(padded.subarray(5, 5 + encoded.length))).toEqual(message);
    expect(decodeMessage(Buffer.from(encoded))).toEqual(message);
  });

  it('encodes a message to the same bytes every time (the format is canonical)', () => {
    for (const [, message] of EDGE_MESSAGES) {
      const encoded = encodeMessage(message);
      expect(encodeMessage(decodeMessage(encoded))).toEqual(encoded);
    }
  });
});

describe('encodeMessage refuses messages the format cannot carry', () => {
  const heartbeat = { type: 'Heartbeat', from: 'a', to: 'b', term: 1, commit: 0, readSeq: 0 } as const;
  const cases: [string, unknown, RegExp][] = [
    ['a negative term', { ...heartbeat, term: -1 }, /term must be a non-negative safe integer/],
    ['a fractional index', { ...heartbeat, commit: 1.5 }, /commit must be a non-negative safe integer/],
    ['a term above 2^53 - 1', { ...heartbeat, term: 2 ** 53 }, /term must be a non-negative safe integer/],
    ['a NaN readSeq', { ...heartbeat, readSeq: Number.NaN }, /readSeq must be a non-negative safe integer/],
    ['a term given as a string', { ...heartbeat, term: '1' }, /term must be a number/],
    ['an empty id', { ...heartbeat, from: '' }, /from must not be empty/],
    [
      'an id over 255 bytes',
      { ...heartbeat, to: 'é'.repeat(128) },
      /to is 256 UTF-8 bytes, more than the limit of 255/,
    ],
    ['an id with a lone surrogate', { ...heartbeat, from: 'a\ud800' }, /lone surrogate/],
    [
      'a ctx over 1 KiB',
      { type: 'ReadIndex', from: 'a', to: 'b', term: 1, ctx: 'c'.repeat(1025) },
      /ctx is 1025 UTF-8 bytes/,
    ],
    [
      'a non-boolean flag',
      { type: 'RequestVoteResponse', from: 'a', to: 'b', term: 1, granted: 1, preVote: false },
      /granted must be a boolean/,
    ],
    ['an unknown message type', { ...heartbeat, type: 'Gossip' }, /unknown message type Gossip/],
    ['a non-object', null, /message must be an object/],
    [
      'entries with a gap',
      appendEntries({
        entries: [
          { index: 11, term: 3, type: 'normal', data: bytes() },
          { index: 13, term: 3, type: 'normal', data: bytes() },
        ],
      }),
      /entries\[1\]\.index must be 12/,
    ],
    [
      'entries not following prevLogIndex',
      appendEntries({ prevLogIndex: 10, entries: entries(11, [[3, 'normal', bytes()]]) }),
      /entries\[0\]\.index must be 11/,
    ],
    [
      'an unknown entry type',
      appendEntries({ entries: [{ index: 11, term: 3, type: 'toString' as EntryType, data: bytes() }] }),
      /entries\[0\]\.type must be normal, noop or config/,
    ],
    [
      'entry data that is not bytes',
      appendEntries({ entries: [{ index: 11, term: 3, type: 'normal', data: 'x' as unknown as Uint8Array }] }),
      /entries\[0\]\.data must be a Uint8Array/,
    ],
    [
      'a negative entry term',
      appendEntries({ entries: entries(10, [[-3, 'normal', bytes()]]) }),
      /entry term must be a non-negative safe integer/,
    ],
  ];

  it.each(cases)('rejects %s with a TypeError or RangeError naming the field', (_name, message, reason) => {
    expectEncodeRefusal(message, reason);
  });
});

describe('decodeMessage rejects malformed input with a DecodeError and a reason', () => {
  it('gives a DecodeError that is a RaftError with code DECODE and a readable message', () => {
    // A frame of the version before snapshots: refused, not guessed at.
    const error = decodeErrorOf(bytes(1, 1));
    expect(RaftError.isInstance(error)).toBe(true);
    expect(error.code).toBe('DECODE');
    expect(error.reason).toBe('unsupported format version 1 (this codec reads version 2) (at byte offset 0)');
    expect(error.message).toContain(error.reason);
  });

  const cases: [string, Uint8Array, RegExp][] = [
    ['empty input', bytes(), /truncated input: version needs 1 more byte/],
    ['a version of 0', bytes(0, 1), /unsupported format version 0/],
    ['a missing type tag', bytes(V), /truncated input: message type needs 1 more byte/],
    ['type tag 0', bytes(V, 0, 1, 0x61, 1, 0x62, 1), /unknown message type tag 0/],
    [
      'the first unused type tag',
      bytes(V, UNUSED_TAG, 1, 0x61, 1, 0x62, 1),
      new RegExp(`unknown message type tag ${UNUSED_TAG}`),
    ],
    ['type tag 255', bytes(V, 255), /unknown message type tag 255/],
    ['an id cut short', bytes(V, 9, 5, 0x61, 0x62), /truncated input: from needs 3 more bytes/],
    ['an empty id', bytes(V, 9, 0, 1, 0x62, 1), /from must not be empty/],
    [
      'an id length of 4 GB',
      bytes(V, 9, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61),
      /from is 4294967295 bytes long, more than the limit of 255/,
    ],
    [
      'an id of 256 bytes',
      concat([V, 9, 0x80, 0x02], new Uint8Array(256).fill(0x61), [1, 0x62, 1]),
      /from is 256 bytes long/,
    ],
    ['invalid UTF-8 in an id', bytes(V, 9, 2, 0xc3, 0x28, 1, 0x62, 1), /from is not valid UTF-8/],
    ['an overlong UTF-8 NUL in an id', bytes(V, 9, 1, 0x61, 2, 0xc0, 0x80, 1), /to is not valid UTF-8/],
    ['a UTF-8-encoded surrogate in an id', bytes(V, 9, 3, 0xed, 0xa0, 0x80, 1, 0x62, 1), /from is not valid UTF-8/],
    ['a truncated UTF-8 sequence in ctx', frame('ReadIndex', 2, 0x61, 0xe2), /ctx is not valid UTF-8/],
    [
      'a ctx over 1 KiB',
      concat(frame('ReadIndex', 0x81, 0x08), new Uint8Array(1025).fill(0x63)),
      /ctx is 1025 bytes long, more than the limit of 1024/,
    ],
    ['a missing term', bytes(V, 9, 1, 0x61, 1, 0x62), /truncated input: term needs 1 more byte/],
    ['a varint cut off mid-way', bytes(V, 9, 1, 0x61, 1, 0x62, 0x80, 0x80), /truncated input: varint term is cut off/],
    [
      'a varint of nine bytes',
      bytes(V, 9, 1, 0x61, 1, 0x62, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
      /varint term is longer than 8 bytes/,
    ],
    [
      'a varint of 2^53',
      bytes(V, 9, 1, 0x61, 1, 0x62, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10),
      /varint term exceeds the largest safe integer/,
    ],
    ['a padded varint', bytes(V, 9, 1, 0x61, 1, 0x62, 0x81, 0x00), /varint term is not in its shortest form/],
    [
      'a padded zero varint',
      frame('HeartbeatResponse', 0x80, 0x80, 0x00),
      /varint readSeq is not in its shortest form/,
    ],
    ['a boolean byte of 2', frame('RequestVoteResponse', 2, 0), /granted must be a boolean byte 0 or 1, got 2/],
    ['a boolean byte of 0xff', frame('RequestVote', 0, 0, 1, 0xff), /transfer must be a boolean byte 0 or 1, got 255/],
    ['a missing boolean', frame('ReadIndexResponse', 0, 5), /truncated input: ok needs 1 more byte/],
    ['one trailing byte', concat(frame('TimeoutNow'), [0]), /1 unexpected trailing byte/],
    ['trailing bytes after a Heartbeat', frame('Heartbeat', 1, 2, 3, 4), /2 unexpected trailing bytes/],
    [
      'trailing bytes after the last entry',
      frame('AppendEntries', 0, 0, 0, 1, 1, 0, 0, 9),
      /1 unexpected trailing byte/,
    ],
    ['an unknown entry type', frame('AppendEntries', 0, 0, 0, 1, 1, 3, 0), /unknown entry type tag 3/],
    [
      'entry data with a 4 GB length',
      frame('AppendEntries', 0, 0, 0, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2),
      /truncated input: entry data needs 4294967293 more bytes/,
    ],
    [
      'entry data with a 2^53 - 1 length',
      frame('AppendEntries', 0, 0, 0, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f),
      /truncated input: entry data needs/,
    ],
    [
      'an entry count larger than the bytes could hold',
      frame('AppendEntries', 0, 0, 0, 0xe8, 0x07, 1, 0, 0),
      /truncated input: 1000 entries need at least 3000 bytes, 3 remain/,
    ],
    [
      `an entry count over ${MAX_ENTRIES}`,
      frame('AppendEntries', 0, 0, 0, 0x81, 0x80, 0x40),
      /entry count 1048577 is more than the limit of 1048576/,
    ],
    [
      'entries whose indexes pass 2^53 - 1',
      frame('AppendEntries', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 1, 1, 0, 0),
      /entry indexes would exceed the largest safe integer/,
    ],
  ];

  it.each(cases)('rejects %s', (_name, input, reason) => {
    expect(decodeErrorOf(input).reason).toMatch(reason);
  });

  it('reports a truncation for every proper prefix of every valid frame', () => {
    for (const [name, message] of EDGE_MESSAGES) {
      const encoded = encodeMessage(message);
      // Every prefix of small frames; a sample of the 128 KiB one.
      const step = encoded.length > 10_000 ? 4_099 : 1;
      for (let length = 0; length < encoded.length; length += step) {
        const reason = decodeErrorOf(encoded.subarray(0, length)).reason;
        if (!/truncated input/.test(reason)) expect.fail(`${name}, prefix ${length}: ${reason}`);
      }
    }
  });

  it('rejects a 4 GB length field without allocating anything near that size', () => {
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 100; i++) {
      decodeErrorOf(frame('AppendEntries', 0, 0, 0, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f));
      decodeErrorOf(frame('ReadIndex', 0xff, 0xff, 0xff, 0xff, 0x0f));
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 << 20);
  });

  it.each([
    ['null', null, /expected a Uint8Array, got null/],
    ['undefined', undefined, /expected a Uint8Array, got undefined/],
    ['a string', '\u0001\u0009', /expected a Uint8Array, got string/],
    ['a plain array', [1, 9, 1, 0x61, 1, 0x62, 1], /expected a Uint8Array, got Array/],
    ['an ArrayBuffer', new ArrayBuffer(4), /expected a Uint8Array, got ArrayBuffer/],
    ['a DataView', new DataView(new ArrayBuffer(4)), /expected a Uint8Array, got DataView/],
    ['a Uint16Array', new Uint16Array(4), /expected a Uint8Array, got Uint16Array/],
    ['an object without a prototype', Object.create(null), /expected a Uint8Array, got object/],
  ])('rejects %s given in place of bytes', (_name, input, reason) => {
    expect(decodeErrorOf(input).reason).toMatch(reason);
  });

  it('turns an unexpected internal exception into a DecodeError that keeps the cause', () => {
    const boom = new Error('boom');
    const hostile = new Proxy(new Uint8Array(8), {
      get() {
        throw boom;
      },
    });
    const error = decodeErrorOf(hostile);
    expect(error.reason).toBe('internal error while decoding: boom');
    expect(error.cause).toBe(boom);
  });
});
