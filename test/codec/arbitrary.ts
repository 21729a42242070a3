/**
 * The one source of message shapes for every codec test and fuzzer: fast-check
 * arbitraries for each RaftMessage type, for the ways a frame can be mangled,
 * and the check that a frame either decodes to a message that round-trips or
 * throws DecodeError.
 *
 * The property tests (fuzz.test.ts) hand these to `fc.assert`, which shrinks
 * a failure to a small counterexample. The long fuzz runs (bench/fuzz-codec.ts,
 * the TCP fuzzer) draw millions of frames from the same arbitraries through
 * `FuzzFrames`, a seeded stream on `fc.sample`, so a seed replays exactly.
 *
 * Not a test file itself (vitest only runs *.test.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { decodeMessage, encodeMessage } from '../../src/codec/codec.js';
import { CODEC_VERSION, MAX_CTX_BYTES, MAX_ID_BYTES, MAX_MESSAGE_TAG } from '../../src/codec/format.js';
import { utf8ByteLength } from '../../src/codec/utf8.js';
import { DecodeError } from '../../src/errors.js';
import type { Entry, EntryType, InstallSnapshot, MessageType, NodeId, RaftMessage } from '../../src/messages.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/** fc.record, always with Object.prototype: a message is a plain object, as the decoder makes it. */
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

/** Values at the edges of each varint width and of the safe-integer range. */
const EDGE_UINTS = [
  0,
  1,
  127,
  128,
  255,
  16_383,
  16_384,
  2 ** 21 - 1,
  2 ** 21,
  2 ** 28 - 1,
  2 ** 28,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 35,
  2 ** 42,
  2 ** 49 - 1,
  2 ** 49,
  MAX_SAFE - 1,
  MAX_SAFE,
];

/** A term or index: a non-negative safe integer, biased towards small values and varint width edges. */
export const uintArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 35, arbitrary: fc.nat(127) },
  { weight: 25, arbitrary: fc.constantFrom(...EDGE_UINTS) },
  { weight: 20, arbitrary: fc.nat(2 ** 31 - 1) },
  { weight: 20, arbitrary: fc.maxSafeNat() },
);

/** Ids that stress the string encoding: multi-byte, astral, NUL, BOM, and exactly the byte limit. */
export const SAMPLE_IDS: readonly NodeId[] = [
  'a',
  'b',
  'node-1',
  '10.0.0.7:7001',
  'ñodo',
  '节点-二',
  '🦊 fox',
  '\u0000',
  '\ufeffbom',
  'x'.repeat(MAX_ID_BYTES),
  '€'.repeat(MAX_ID_BYTES / 3), // 255 bytes of 3-byte characters
];

/** Any Unicode text (whole code points) of at most `maxBytes` UTF-8 bytes. */
function textArb(minLength: number, maxCodePoints: number, maxBytes: number): fc.Arbitrary<string> {
  return fc.string({ unit: 'binary', minLength, maxLength: maxCodePoints }).filter((text) => {
    const bytes = utf8ByteLength(text);
    return bytes >= 0 && bytes <= maxBytes;
  });
}

export const idArb: fc.Arbitrary<NodeId> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SAMPLE_IDS) },
  // At most 4 bytes per code point: 63 of them always fit in 255 bytes.
  { weight: 1, arbitrary: textArb(1, 63, MAX_ID_BYTES) },
);

const ctxArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', 'r1', 'read-000042', 'c'.repeat(MAX_CTX_BYTES), '€'.repeat(Math.floor(MAX_CTX_BYTES / 3))),
  textArb(0, MAX_CTX_BYTES / 4, MAX_CTX_BYTES),
);

const dataArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 9, arbitrary: fc.uint8Array({ maxLength: 32 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 33, maxLength: 2_000 }) },
);

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'noop', 'config'];

/** An entry without its index, which only its place in an AppendEntries gives it. */
const entryBodyArb = record({ term: uintArb, type: fc.constantFrom(...ENTRY_TYPES), data: dataArb });

const entryBodiesArb = fc.oneof(
  { weight: 9, arbitrary: fc.array(entryBodyArb, { maxLength: 8 }) },
  { weight: 1, arbitrary: fc.array(entryBodyArb, { minLength: 9, maxLength: 64 }) },
);

/** A snapshot's configuration: distinct voters, and distinct learners that are not voters. */
const membersArb = fc
  .record({
    voters: fc.uniqueArray(idArb, { maxLength: 7 }),
    learners: fc.uniqueArray(idArb, { maxLength: 4 }),
  })
  .map(({ voters, learners }) => ({ voters, learners: learners.filter((id) => !voters.includes(id)) }));

/**
 * Where a chunk sits in its snapshot: offset + data.length <= totalBytes,
 * often exactly (the last chunk), often at offset 0 (the first), sometimes
 * near 2^53 - 1.
 */
const chunkArb = record({
  data: dataArb,
  offset: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: uintArb }),
  after: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: uintArb }),
}).map(({ data, offset: rawOffset, after }) => {
  const offset = Math.min(rawOffset, MAX_SAFE - data.length);
  const totalBytes = offset + data.length + Math.min(after, MAX_SAFE - offset - data.length);
  return { offset, totalBytes, data };
});

/** The envelope every message starts with. */
const envelope = { from: idArb, to: idArb, term: uintArb };

/** One arbitrary per message type: every RaftMessage the codec must carry. */
export const messageArbitraries: { readonly [T in MessageType]: fc.Arbitrary<Extract<RaftMessage, { type: T }>> } = {
  RequestVote: record({
    type: fc.constant('RequestVote'),
    ...envelope,
    lastLogIndex: uintArb,
    lastLogTerm: uintArb,
    preVote: fc.boolean(),
    transfer: fc.boolean(),
  }),
  RequestVoteResponse: record({
    type: fc.constant('RequestVoteResponse'),
    ...envelope,
    granted: fc.boolean(),
    preVote: fc.boolean(),
  }),
  AppendEntries: record({
    ...envelope,
    prevLogIndex: uintArb,
    prevLogTerm: uintArb,
    bodies: entryBodiesArb,
    leaderCommit: uintArb,
  }).map(({ bodies, ...m }) => {
    // Entry i sits at prevLogIndex + 1 + i (§5.3), and no index may pass 2^53 - 1.
    const entries: Entry[] = bodies
      .slice(0, MAX_SAFE - m.prevLogIndex)
      .map((b, i) => ({ index: m.prevLogIndex + 1 + i, ...b }));
    return { type: 'AppendEntries' as const, ...m, entries };
  }),
  AppendEntriesResponse: record({
    type: fc.constant('AppendEntriesResponse'),
    ...envelope,
    success: fc.boolean(),
    matchIndex: uintArb,
    rejectedIndex: uintArb,
    hintIndex: uintArb,
    hintTerm: uintArb,
  }),
  Heartbeat: record({ type: fc.constant('Heartbeat'), ...envelope, commit: uintArb, readSeq: uintArb }),
  HeartbeatResponse: record({ type: fc.constant('HeartbeatResponse'), ...envelope, readSeq: uintArb }),
  ReadIndex: record({ type: fc.constant('ReadIndex'), ...envelope, ctx: ctxArb }),
  ReadIndexResponse: record({
    type: fc.constant('ReadIndexResponse'),
    ...envelope,
    ctx: ctxArb,
    index: uintArb,
    ok: fc.boolean(),
  }),
  InstallSnapshot: record({
    ...envelope,
    index: uintArb,
    snapshotTerm: uintArb,
    members: membersArb,
    chunk: chunkArb,
  }).map(({ from, to, term, index, snapshotTerm, members, chunk }): InstallSnapshot => ({
    type: 'InstallSnapshot',
    from,
    to,
    term,
    snapshot: { index, term: snapshotTerm, ...members },
    ...chunk,
  })),
  InstallSnapshotResponse: record({
    type: fc.constant('InstallSnapshotResponse'),
    ...envelope,
    snapshotIndex: uintArb,
    received: uintArb,
    done: fc.boolean(),
  }),
  TimeoutNow: record({ type: fc.constant('TimeoutNow'), ...envelope }),
};

/** A message type tag in use (MESSAGE_TAGS), for frames that pass the tag check and reach a body decoder. */
export const tagArb: fc.Arbitrary<number> = fc.integer({ min: 1, max: MAX_MESSAGE_TAG });

/** A valid message of any type. */
export const messageArb: fc.Arbitrary<RaftMessage> = fc.oneof(...Object.values(messageArbitraries));

// ---------------------------------------------------------------------------
// Mangled frames
// ---------------------------------------------------------------------------

/** Length fields that claim far more than any frame holds, and varints of every illegal shape. */
const HOSTILE_VARINTS: readonly (readonly number[])[] = [
  [0xff, 0xff, 0xff, 0xff, 0x0f], // 2^32 - 1: a "4 GB" length
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10], // 2^53: one past the safe range
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f], // 2^53 - 1: legal, but huge as a length
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // nine bytes
  [0x80, 0x00], // padded zero
  [0x80, 0x80, 0x40], // 2^20 as an entry count
];

/**
 * One way to mangle a frame, as data (so fast-check can print and shrink
 * it). Positions are naturals taken modulo the frame's length, so one
 * mutation applies to any frame.
 */
export type FrameMutation =
  | { readonly kind: 'none' }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'bitflip'; readonly flips: readonly { readonly at: number; readonly bit: number }[] }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly count: number }
  | { readonly kind: 'overwrite'; readonly at: number; readonly value: number }
  | {
      readonly kind: 'hostileVarint';
      readonly at: number;
      readonly varint: readonly number[];
      readonly overlay: boolean;
    }
  | { readonly kind: 'typeTag'; readonly value: number }
  | { readonly kind: 'version'; readonly value: number }
  | { readonly kind: 'trailing'; readonly bytes: Uint8Array }
  | { readonly kind: 'random'; readonly bytes: Uint8Array }
  | { readonly kind: 'randomWithHeader'; readonly tag: number; readonly bytes: Uint8Array }
  | { readonly kind: 'crossover'; readonly at: number; readonly from: number };

export type Mutation = FrameMutation['kind'];

const byte = fc.nat(255);
const at = fc.nat();

const mutationArbitraries: { readonly [K in Mutation]: fc.Arbitrary<Extract<FrameMutation, { kind: K }>> } = {
  none: fc.constant({ kind: 'none' }),
  truncate: record({ kind: fc.constant('truncate'), at }),
  bitflip: record({
    kind: fc.constant('bitflip'),
    flips: fc.array(record({ at, bit: fc.nat(7) }), { minLength: 1, maxLength: 3 }),
  }),
  insert: record({ kind: fc.constant('insert'), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  delete: record({ kind: fc.constant('delete'), at, count: fc.integer({ min: 1, max: 4 }) }),
  overwrite: record({
    kind: fc.constant('overwrite'),
    at,
    value: fc.oneof(fc.constantFrom(0x00, 0x01, 0x02, 0x7f, 0x80, 0xff), byte),
  }),
  hostileVarint: record({
    kind: fc.constant('hostileVarint'),
    at,
    varint: fc.constantFrom(...HOSTILE_VARINTS),
    overlay: fc.boolean(),
  }),
  typeTag: record({ kind: fc.constant('typeTag'), value: fc.oneof(byte, tagArb) }),
  version: record({ kind: fc.constant('version'), value: byte }),
  trailing: record({ kind: fc.constant('trailing'), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  random: record({ kind: fc.constant('random'), bytes: fc.uint8Array({ maxLength: 47 }) }),
  randomWithHeader: record({
    kind: fc.constant('randomWithHeader'),
    tag: tagArb,
    bytes: fc.uint8Array({ maxLength: 46 }),
  }),
  crossover: record({ kind: fc.constant('crossover'), at, from: at }),
};

export const MUTATIONS = Object.keys(mutationArbitraries) as readonly Mutation[];

/** Any mutation, every kind equally likely. */
export const mutationArb: fc.Arbitrary<FrameMutation> = fc.oneof(...Object.values(mutationArbitraries));

function splice(frame: Uint8Array, at: number, deleteCount: number, insert: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(frame.length - deleteCount + insert.length);
  out.set(frame.subarray(0, at), 0);
  out.set(insert, at);
  out.set(frame.subarray(at + deleteCount), at + insert.length);
  return out;
}

/** Applies `mutation` to a copy of `frame` (never changes `frame`); `other` is a second frame for crossovers. */
export function mutateFrame(frame: Uint8Array, mutation: FrameMutation, other: Uint8Array): Uint8Array {
  /** A position in `frame`, or up to `extra` past its end. */
  const place = (n: number, extra = 0) => n % (frame.length + extra || 1);
  switch (mutation.kind) {
    case 'none':
      return frame.slice();
    case 'truncate':
      return frame.slice(0, place(mutation.at));
    case 'bitflip': {
      const out = frame.slice();
      for (const { at, bit } of mutation.flips) if (out.length > 0) out[place(at)]! ^= 1 << bit;
      return out;
    }
    case 'insert':
      return splice(frame, place(mutation.at, 1), 0, mutation.bytes);
    case 'delete': {
      const start = place(mutation.at);
      return splice(frame, start, Math.min(mutation.count, frame.length - start), []);
    }
    case 'overwrite': {
      const out = frame.slice();
      if (out.length > 0) out[place(mutation.at)] = mutation.value;
      return out;
    }
    case 'hostileVarint': {
      const start = place(mutation.at);
      // Either drop the varint over existing bytes or put it in place of one byte.
      const replaced = mutation.overlay ? mutation.varint.length : 1;
      return splice(frame, start, Math.min(replaced, frame.length - start), mutation.varint);
    }
    case 'typeTag': {
      const out = frame.slice();
      if (out.length > 1) out[1] = mutation.value;
      return out;
    }
    case 'version': {
      const out = frame.slice();
      if (out.length > 0) out[0] = mutation.value;
      return out;
    }
    case 'trailing':
      return splice(frame, frame.length, 0, mutation.bytes);
    case 'random':
      return mutation.bytes.slice();
    case 'randomWithHeader':
      return Uint8Array.of(CODEC_VERSION, mutation.tag, ...mutation.bytes);
    case 'crossover': {
      const head = frame.subarray(0, place(mutation.at, 1));
      return splice(head, head.length, 0, other.subarray(mutation.from % (other.length + 1)));
    }
  }
}

// ---------------------------------------------------------------------------
// Judging a frame
// ---------------------------------------------------------------------------

export type Outcome = 'decoded' | 'decodeError' | 'otherError' | 'roundTripMismatch';

export interface FrameCheck {
  readonly outcome: Outcome;
  /** Why the frame failed the check, for 'otherError' and 'roundTripMismatch'. */
  readonly detail?: string;
}

/**
 * Feeds one frame to decodeMessage. A throw must be a DecodeError with a
 * reason; a success must re-encode to the very same bytes (the format is
 * canonical) and decode again to a deep-equal message.
 */
export function checkFrame(frame: Uint8Array): FrameCheck {
  let message: RaftMessage;
  try {
    message = decodeMessage(frame);
  } catch (error) {
    if (DecodeError.isInstance(error) && error.code === 'DECODE' && error.reason.length > 0)
      return { outcome: 'decodeError' };
    return { outcome: 'otherError', detail: String(error) };
  }
  try {
    const again = encodeMessage(message);
    if (!isDeepStrictEqual(again, frame)) {
      return { outcome: 'roundTripMismatch', detail: 're-encoding gave different bytes' };
    }
    if (!isDeepStrictEqual(decodeMessage(again), message)) {
      return { outcome: 'roundTripMismatch', detail: 'decoding the re-encoded frame gave a different message' };
    }
  } catch (error) {
    return { outcome: 'roundTripMismatch', detail: `re-encoding threw: ${String(error)}` };
  }
  return { outcome: 'decoded' };
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

// ---------------------------------------------------------------------------
// Seeded streams, for the long fuzz runs
// ---------------------------------------------------------------------------

/** An endless stream of values of `arb`, the same for the same seed, drawn `batch` at a time. */
export function seededStream<T>(arb: fc.Arbitrary<T>, seed: number, batch = 1024): () => T {
  let round = 0;
  let buffer: T[] = [];
  let next = 0;
  return () => {
    if (next === buffer.length) {
      // A new 32-bit seed per batch, derived from the stream's seed.
      buffer = fc.sample(arb, { seed: (seed + Math.imul(round++, 0x9e3779b9)) | 0, numRuns: batch });
      next = 0;
    }
    return buffer[next++]!;
  };
}

const POOL_SIZE = 64;

/**
 * What one fuzz frame is made of besides its base message: a mutation, and
 * a number whose bits pick the pooled encodings to use (one draw instead of
 * three keeps a million-frame run fast; the stream never shrinks anyway).
 */
const fuzzStepArb = fc.tuple(mutationArb, fc.noBias(fc.nat()));

/**
 * A seeded stream of fuzz frames: valid messages, encoded, then mutated.
 * One frame in 8 derives from a fresh message; the others mutate a pool of
 * recent encodings, so the cost of generating large messages does not
 * dominate a million-frame run.
 */
export class FuzzFrames {
  private readonly messages: () => RaftMessage;
  private readonly steps: () => [FrameMutation, number];
  private readonly pool: Uint8Array[] = [];

  constructor(seed: number) {
    this.messages = seededStream(messageArb, seed);
    this.steps = seededStream(fuzzStepArb, seed ^ 0x5bd1e995);
  }

  /** A valid message of any type. */
  message(): RaftMessage {
    return this.messages();
  }

  next(): { frame: Uint8Array; mutation: Mutation } {
    const [mutation, picks] = this.steps();
    const basePick = picks % POOL_SIZE;
    const otherPick = (picks >>> 6) % POOL_SIZE;
    const fresh = (picks >>> 12) % 8 === 0;
    let base: Uint8Array;
    if (this.pool.length < POOL_SIZE || fresh) {
      base = encodeMessage(this.messages());
      if (this.pool.length < POOL_SIZE) this.pool.push(base);
      else this.pool[basePick] = base;
    } else {
      base = this.pool[basePick]!;
    }
    const other = this.pool[otherPick % this.pool.length]!;
    return { frame: mutateFrame(base, mutation, other), mutation: mutation.kind };
  }
}

export interface FuzzSummary {
  readonly frames: number;
  readonly counts: Record<Outcome, number>;
  readonly byMutation: Record<Mutation, number>;
  /** The first few failures (otherError or roundTripMismatch), with their frames in hex. */
  readonly failures: { mutation: Mutation; outcome: Outcome; detail: string; frameHex: string }[];
}

/**
 * Checks `frames` fuzz frames from the stream of `seed`. `onProgress` is
 * called every `progressEvery` frames (the bench samples memory there).
 */
export function runFuzz(
  seed: number,
  frames: number,
  onProgress?: (done: number) => void,
  progressEvery = 10_000,
): FuzzSummary {
  const counts: Record<Outcome, number> = { decoded: 0, decodeError: 0, otherError: 0, roundTripMismatch: 0 };
  const byMutation = Object.fromEntries(MUTATIONS.map((m) => [m, 0])) as Record<Mutation, number>;
  const failures: FuzzSummary['failures'] = [];
  const source = new FuzzFrames(seed);
  for (let i = 0; i < frames; i++) {
    const { frame, mutation } = source.next();
    const check = checkFrame(frame);
    counts[check.outcome]++;
    byMutation[mutation]++;
    if ((check.outcome === 'otherError' || check.outcome === 'roundTripMismatch') && failures.length < 5) {
      failures.push({ mutation, outcome: check.outcome, detail: check.detail ?? '', frameHex: toHex(frame) });
    }
    if (onProgress !== undefined && (i + 1) % progressEvery === 0) onProgress(i + 1);
  }
  return { frames, counts, byMutation, failures };
}
