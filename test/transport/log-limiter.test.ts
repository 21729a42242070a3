import { describe, expect, it } from 'vitest';
import { LogLimiter } from '../../src/transport/tcp/log-limiter.js';

describe('LogLimiter', () => {
  it('lets a few events of a kind through per window, then reports how many it held back', () => {
    let now = 0;
    const limiter = new LogLimiter(3, 1000, () => now);
    const verdicts = Array.from({ length: 10 }, () => limiter.allow('refused').log);
    expect(verdicts).toEqual([true, true, true, false, false, false, false, false, false, false]);
    now = 1000;
    expect(limiter.allow('refused')).toEqual({ log: true, suppressed: 7 });
    expect(limiter.allow('refused')).toEqual({ log: true, suppressed: 0 });
  });

  it('counts each kind separately, so a flood of one does not hide another', () => {
    const limiter = new LogLimiter(1, 1000, () => 0);
    expect(limiter.allow('decode').log).toBe(true);
    expect(limiter.allow('decode').log).toBe(false);
    expect(limiter.allow('refused').log).toBe(true);
  });
});
