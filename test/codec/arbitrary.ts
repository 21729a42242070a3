/**
 * Seeded generators for the codec's fuzz test and fuzz bench: random valid
 * messages, frames mutated from their encodings, and the check that every
 * frame either decodes to a message that round-trips or throws DecodeError.
 *
 * Not a test file itself (vitest only runs *.test.ts); bench/fuzz-codec.ts
 * imports it too, so the bench and the test exercise the same inputs.
 */
import { isDeepStrictEqual } from 'node:util';
import { decodeMessage, encodeMessage } from '../../src/codec/codec.js';
import { randomInt } from '../../src/core/random.js';
import { DecodeError } from '../../src/errors.js';
import type { Entry, EntryType, NodeId, RaftMessage } from '../../src/messages.js';

type Random = () => number;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Values at the edges of each varint width and of the safe-integer range. */
const EDGE_UINTS = [
  0, 1, 127, 128, 255, 16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1,
  2 ** 32, 2 ** 35, 2 ** 42, 2 ** 49 - 1, 2 ** 49, MAX_SAFE - 1, MAX_SAFE,
];

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
  'x'.repeat(255),
  '€'.repeat(85), // 255 bytes of 3-byte characters
];

const SAMPLE_CTX = ['', 'r1', 'read-000042', 'ctx ✓ ü 🦊', 'c'.repeat(1024), '€'.repeat(341)];

function pick<T>(random: Random, items: readonly T[]): T {
  return items[randomInt(random, 0, items.length)]!;
}

/** A non-negative safe integer, biased towards small values and width edges. */
export function arbitraryUint(random: Random): number {
  const roll = random();
  if (roll < 0.35) return randomInt(random, 0, 128);
  if (roll < 0.6) return pick(random, EDGE_UINTS);
  if (roll < 0.8) return randomInt(random, 0, 2 ** 31);
  // 53 random bits from two draws (each draw carries 32 bits).
  return Math.floor(random() * 2 ** 21) * 2 ** 32 + Math.floor(random() * 2 ** 32);
}

function arbitraryId(random: Random): NodeId {
  return random() < 0.8 ? pick(random, SAMPLE_IDS.slice(0, 7)) : pick(random, SAMPLE_IDS);
}

function arbitraryData(random: Random): Uint8Array {
  const roll = random();
  const length = roll < 0.2 ? 0 : roll < 0.9 ? randomInt(random, 1, 33) : randomInt(random, 33, 2_000);
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i++) data[i] = randomInt(random, 0, 256);
  return data;
}

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'noop', 'config'];

function arbitraryEntries(random: Random, prevLogIndex: number): Entry[] {
  const roll = random();
  let count = roll < 0.25 ? 0 : roll < 0.9 ? randomInt(random, 1, 8) : randomInt(random, 8, 64);
  count = Math.min(count, MAX_SAFE - prevLogIndex);
  let term = arbitraryUint(random);
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    if (random() < 0.1) term = arbitraryUint(random);
    entries.push({ index: prevLogIndex + 1 + i, term, type: pick(random, ENTRY_TYPES), data: arbitraryData(random) });
  }
  return entries;
}

/** A random, valid message of any type. */
export function arbitraryMessage(random: Random): RaftMessage {
  const from = arbitraryId(random);
  const to = arbitraryId(random);
  const term = arbitraryUint(random);
  const bool = () => random() < 0.5;
  switch (randomInt(random, 0, 9)) {
    case 0:
      return {
        type: 'RequestVote',
        from,
        to,
        term,
        lastLogIndex: arbitraryUint(random),
        lastLogTerm: arbitraryUint(random),
        preVote: bool(),
        transfer: bool(),
      };
    case 1:
      return { type: 'RequestVoteResponse', from, to, term, granted: bool(), preVote: bool() };
    case 2: {
      const prevLogIndex = arbitraryUint(random);
      return {
        type: 'AppendEntries',
        from,
        to,
        term,
        prevLogIndex,
        prevLogTerm: arbitraryUint(random),
        entries: arbitraryEntries(random, prevLogIndex),
        leaderCommit: arbitraryUint(random),
      };
    }
    case 3:
      return {
        type: 'AppendEntriesResponse',
        from,
        to,
        term,
        success: bool(),
        matchIndex: arbitraryUint(random),
        rejectedIndex: arbitraryUint(random),
        hintIndex: arbitraryUint(random),
        hintTerm: arbitraryUint(random),
      };
    case 4:
      return { type: 'Heartbeat', from, to, term, commit: arbitraryUint(random), readSeq: arbitraryUint(random) };
    case 5:
      return { type: 'HeartbeatResponse', from, to, term, readSeq: arbitraryUint(random) };
    case 6:
      return { type: 'ReadIndex', from, to, term, ctx: pick(random, SAMPLE_CTX) };
    case 7:
      return {
        type: 'ReadIndexResponse',
        from,
        to,
        term,
        ctx: pick(random, SAMPLE_CTX),
        index: arbitraryUint(random),
        ok: bool(),
      };
    default:
      return { type: 'TimeoutNow', from, to, term };
  }
}

function randomBytes(random: Random, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = randomInt(random, 0, 256);
  return bytes;
}

function splice(frame: Uint8Array, at: number, deleteCount: number, insert: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(frame.length - deleteCount + insert.length);
  out.set(frame.subarray(0, at), 0);
  out.set(insert, at);
  out.set(frame.subarray(at + deleteCount), at + insert.length);
  return out;
}

/** Length fields that claim far more than any frame holds, and varints of every illegal shape. */
const HOSTILE_VARINTS: readonly (readonly number[])[] = [
  [0xff, 0xff, 0xff, 0xff, 0x0f], // 2^32 - 1: a "4 GB" length
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10], // 2^53: one past the safe range
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f], // 2^53 - 1: legal, but huge as a length
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // nine bytes
  [0x80, 0x00], // padded zero
  [0x80, 0x80, 0x40], // 2^20 as an entry count
];

export const MUTATIONS = [
  'none',
  'truncate',
  'bitflip',
  'insert',
  'delete',
  'overwrite',
  'hostileVarint',
  'typeTag',
  'version',
  'trailing',
  'random',
  'randomWithHeader',
  'crossover',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

/** Applies `mutation` to a copy of `frame` (never changes `frame`). */
export function mutateFrame(random: Random, frame: Uint8Array, mutation: Mutation, other: Uint8Array): Uint8Array {
  const at = (extra = 0) => randomInt(random, 0, frame.length + extra);
  switch (mutation) {
    case 'none':
      return frame.slice();
    case 'truncate':
      return frame.slice(0, at());
    case 'bitflip': {
      const out = frame.slice();
      const flips = randomInt(random, 1, 4);
      for (let i = 0; i < flips && out.length > 0; i++) out[randomInt(random, 0, out.length)]! ^= 1 << randomInt(random, 0, 8);
      return out;
    }
    case 'insert':
      return splice(frame, at(1), 0, randomBytes(random, randomInt(random, 1, 5)));
    case 'delete': {
      const start = at();
      return splice(frame, start, Math.min(randomInt(random, 1, 5), frame.length - start), []);
    }
    case 'overwrite': {
      const out = frame.slice();
      if (out.length > 0) out[randomInt(random, 0, out.length)] = pick(random, [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, randomInt(random, 0, 256)]);
      return out;
    }
    case 'hostileVarint': {
      const varint = pick(random, HOSTILE_VARINTS);
      const start = at();
      // Either replace a byte with the varint or drop it over existing bytes.
      return random() < 0.5
        ? splice(frame, start, Math.min(1, frame.length - start), varint)
        : splice(frame, start, Math.min(varint.length, frame.length - start), varint);
    }
    case 'typeTag': {
      const out = frame.slice();
      if (out.length > 1) out[1] = random() < 0.5 ? randomInt(random, 0, 256) : randomInt(random, 1, 10);
      return out;
    }
    case 'version': {
      const out = frame.slice();
      if (out.length > 0) out[0] = randomInt(random, 0, 256);
      return out;
    }
    case 'trailing':
      return splice(frame, frame.length, 0, randomBytes(random, randomInt(random, 1, 9)));
    case 'random':
      return randomBytes(random, randomInt(random, 0, 48));
    case 'randomWithHeader': {
      const out = randomBytes(random, randomInt(random, 2, 48));
      out[0] = 1;
      out[1] = randomInt(random, 1, 10);
      return out;
    }
    case 'crossover': {
      const head = frame.subarray(0, at(1));
      const tail = other.subarray(randomInt(random, 0, other.length + 1));
      return splice(head, head.length, 0, tail);
    }
  }
}

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
    if (DecodeError.isInstance(error) && error.code === 'DECODE' && error.reason.length > 0) return { outcome: 'decodeError' };
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

export interface FuzzSummary {
  readonly frames: number;
  readonly counts: Record<Outcome, number>;
  readonly byMutation: Record<Mutation, number>;
  /** The first few failures (otherError or roundTripMismatch), with their frames in hex. */
  readonly failures: { mutation: Mutation; outcome: Outcome; detail: string; frameHex: string }[];
}

/**
 * Runs `frames` fuzz frames from `random`. Every 8th frame derives from a
 * fresh random message; the others mutate a pool of recent encodings, so
 * the cost of generating large messages does not dominate. `onProgress` is
 * called every `progressEvery` frames (the bench samples memory there).
 */
export function runFuzz(
  random: Random,
  frames: number,
  onProgress?: (done: number) => void,
  progressEvery = 10_000,
): FuzzSummary {
  const counts: Record<Outcome, number> = { decoded: 0, decodeError: 0, otherError: 0, roundTripMismatch: 0 };
  const byMutation = Object.fromEntries(MUTATIONS.map((m) => [m, 0])) as Record<Mutation, number>;
  const failures: FuzzSummary['failures'] = [];
  const pool: Uint8Array[] = [];
  const POOL_SIZE = 64;
  for (let i = 0; i < frames; i++) {
    let base: Uint8Array;
    if (pool.length < POOL_SIZE || i % 8 === 0) {
      base = encodeMessage(arbitraryMessage(random));
      if (pool.length < POOL_SIZE) pool.push(base);
      else pool[randomInt(random, 0, POOL_SIZE)] = base;
    } else {
      base = pool[randomInt(random, 0, pool.length)]!;
    }
    const mutation = pick(random, MUTATIONS);
    const frame = mutateFrame(random, base, mutation, pool[randomInt(random, 0, pool.length)]!);
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
