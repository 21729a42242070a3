/**
 * Properties of the wire codec, checked by fast-check on generated messages
 * and frames (test/codec/arbitrary.ts). On a failure fast-check shrinks the
 * input to a small counterexample and prints the seed and path that replay
 * it (pass them to `fc.assert` as `{ seed, path }`).
 *
 * "Never hangs" has no property of its own: decodeMessage is synchronous and
 * each of its loops consumes input, so a hang would stall the run of these
 * properties rather than fail one case.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CODEC_VERSION, decodeMessage, encodeMessage } from '../../src/codec/codec.js';
import { DecodeError } from '../../src/errors.js';
import { MESSAGE_TYPES } from '../../src/messages.js';
import {
  checkFrame,
  messageArb,
  messageArbitraries,
  MUTATIONS,
  mutateFrame,
  mutationArb,
  runFuzz,
  tagArb,
  toHex,
} from './arbitrary.js';

/** Enough cases to explore every message type and mutation, few enough for a few seconds in `npm test`. */
const RUNS = { numRuns: 500 };

/** The outcome of decoding `frame`: fine if it decoded and round-tripped, or threw a DecodeError; anything else fails. */
function expectDecodedOrDecodeError(frame: Uint8Array): void {
  const check = checkFrame(frame);
  expect(['decoded', 'decodeError'], `${check.outcome}: ${check.detail} (frame ${toHex(frame)})`).toContain(
    check.outcome,
  );
}

describe('codec properties (fast-check)', () => {
  it('has an arbitrary for every message type', () => {
    expect(Object.keys(messageArbitraries).sort()).toEqual([...MESSAGE_TYPES].sort());
  });

  it('decode(encode(m)) deep-equals m, for every message', () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        expect(decodeMessage(encodeMessage(message))).toStrictEqual(message);
      }),
      RUNS,
    );
  });

  it('encode(decode(encode(m))) is byte-identical to encode(m): the format is canonical', () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        const frame = encodeMessage(message);
        // As hex: a readable diff, and far cheaper than comparing bytes one by one through expect.
        expect(toHex(encodeMessage(decodeMessage(frame)))).toBe(toHex(frame));
      }),
      RUNS,
    );
  });

  it('arbitrary bytes, bare or behind a valid version and type tag, decode or throw DecodeError, nothing else', () => {
    const bare = fc.uint8Array({ maxLength: 64 });
    const headed = fc
      .tuple(tagArb, fc.uint8Array({ maxLength: 64 }))
      .map(([tag, body]) => Uint8Array.of(CODEC_VERSION, tag, ...body));
    fc.assert(fc.property(fc.oneof(bare, headed), expectDecodedOrDecodeError), { numRuns: 2_000 });
  });

  it('mutated valid frames decode (and round-trip) or throw DecodeError, nothing else', () => {
    fc.assert(
      fc.property(messageArb, mutationArb, messageArb, (message, mutation, other) => {
        const frame = mutateFrame(encodeMessage(message), mutation, encodeMessage(other));
        expectDecodedOrDecodeError(frame);
      }),
      { numRuns: 1_000 },
    );
  });

  it('every proper prefix of a valid frame throws a DecodeError saying the input is truncated', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(), (message, cut) => {
        const frame = encodeMessage(message);
        const prefix = frame.subarray(0, cut % frame.length);
        let thrown: unknown;
        try {
          decodeMessage(prefix);
        } catch (error) {
          thrown = error;
        }
        expect(DecodeError.isInstance(thrown), `prefix of ${prefix.length} bytes: ${String(thrown)}`).toBe(true);
        expect((thrown as DecodeError).reason).toMatch(/^truncated input/);
      }),
      RUNS,
    );
  });
});

describe('the seeded fuzz stream (bench/fuzz-codec.ts, the TCP fuzzer)', () => {
  it('20,000 frames: each decodes and round-trips or throws DecodeError, both happen, every mutation is used', () => {
    const summary = runFuzz(20240611, 20_000);
    expect(summary.failures).toEqual([]);
    expect(summary.counts.otherError + summary.counts.roundTripMismatch).toBe(0);
    expect(summary.counts.decoded + summary.counts.decodeError).toBe(20_000);
    // Both branches must really be exercised, or the run proves nothing.
    expect(summary.counts.decoded).toBeGreaterThan(1_000);
    expect(summary.counts.decodeError).toBeGreaterThan(10_000);
    for (const mutation of MUTATIONS) expect(summary.byMutation[mutation], mutation).toBeGreaterThan(500);
  });

  it('the same seed gives the same frames, so a failing run replays exactly; another seed gives others', () => {
    const first = runFuzz(99, 2_000);
    expect(runFuzz(99, 2_000)).toEqual(first);
    expect(runFuzz(100, 2_000).counts).not.toEqual(first.counts);
  });
});
