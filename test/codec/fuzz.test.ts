import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../src/codec/codec.js';
import { createRandom } from '../../src/core/random.js';
import { MUTATIONS, arbitraryMessage, checkFrame, mutateFrame, runFuzz, toHex } from './arbitrary.js';

describe('codec fuzzing (seeded)', () => {
  it('every random valid message survives encode then decode unchanged', () => {
    const random = createRandom(0xc0dec);
    for (let i = 0; i < 5_000; i++) {
      const message = arbitraryMessage(random);
      const frame = encodeMessage(message);
      const decoded = decodeMessage(frame);
      if (JSON.stringify(Object.keys(decoded).sort()) !== JSON.stringify(Object.keys(message).sort())) {
        expect.fail(`decoded keys differ for ${message.type}`);
      }
      // Checked with expect only on a mismatch: 5,000 deep comparisons
      // through vitest's equality would dominate the test's run time.
      const check = checkFrame(frame);
      if (check.outcome !== 'decoded') expect.fail(`${message.type} failed: ${check.detail} (${toHex(frame)})`);
    }
  });

  it('50,000 random and mutated frames either round-trip or throw DecodeError, nothing else', () => {
    const summary = runFuzz(createRandom(20240611), 50_000);
    expect(summary.failures).toEqual([]);
    expect(summary.counts.otherError).toBe(0);
    expect(summary.counts.roundTripMismatch).toBe(0);
    expect(summary.counts.decoded + summary.counts.decodeError).toBe(50_000);
    // Both branches must really be exercised, or the test proves nothing.
    expect(summary.counts.decoded).toBeGreaterThan(2_000);
    expect(summary.counts.decodeError).toBeGreaterThan(20_000);
    for (const mutation of MUTATIONS) expect(summary.byMutation[mutation]).toBeGreaterThan(2_000);
  });

  it('each mutation kind, applied to every message type, yields only decodes or DecodeErrors', () => {
    const random = createRandom(7);
    const frames = Array.from({ length: 200 }, () => encodeMessage(arbitraryMessage(random)));
    let decodeErrors = 0;
    for (const mutation of MUTATIONS) {
      for (let i = 0; i < frames.length; i++) {
        const frame = mutateFrame(random, frames[i]!, mutation, frames[(i + 1) % frames.length]!);
        const check = checkFrame(frame);
        if (check.outcome === 'otherError' || check.outcome === 'roundTripMismatch') {
          expect.fail(`${mutation}: ${check.outcome} ${check.detail} (${toHex(frame)})`);
        }
        if (mutation === 'none') expect(check.outcome).toBe('decoded');
        if (check.outcome === 'decodeError') decodeErrors++;
      }
    }
    expect(decodeErrors).toBeGreaterThan(1_000);
  });

  it('the same seed produces the same fuzz run, so a failing seed replays exactly', () => {
    const first = runFuzz(createRandom(99), 2_000);
    const second = runFuzz(createRandom(99), 2_000);
    expect(second.counts).toEqual(first.counts);
    expect(second.byMutation).toEqual(first.byMutation);
  });
});
