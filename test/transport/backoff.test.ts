import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/transport/tcp/backoff.js';

const policy = { minDelayMs: 25, maxDelayMs: 1000 };

describe('backoffDelay', () => {
  it('doubles with each failed attempt until the cap (no jitter drawn: random() = 0.9999)', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6, 10, 40, 1000].map((a) => backoffDelay(a, policy, () => 0.9999));
    expect(delays).toEqual([25, 50, 100, 200, 400, 800, 1000, 1000, 1000, 1000]);
  });

  it('takes away up to half of the delay at random (equal jitter), never more', () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(100);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(150);
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(i % 12, policy, Math.random);
      const cap = Math.min(1000, 25 * 2 ** (i % 12));
      expect(d).toBeGreaterThanOrEqual(cap / 2);
      expect(d).toBeLessThanOrEqual(cap);
    }
  });

  it('spreads the retries of many nodes that failed together', () => {
    const delays = new Set(Array.from({ length: 100 }, () => backoffDelay(5, policy, Math.random)));
    expect(delays.size).toBeGreaterThan(50);
  });
});
