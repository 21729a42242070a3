/** RaftLog on its own: what it accepts from storage. */
import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/core/log.js';
import { entry, logOfTerms } from './harness.js';

describe('RaftLog built from a stored log', () => {
  it('refuses a stored log with a gap between two entries (the index of an entry is its position: Log Matching, §5.3)', () => {
    expect(() => new RaftLog([entry(1, 1), entry(2, 1), entry(4, 1)], 0)).toThrow(/not contiguous at position 2/);
  });

  it('refuses a stored log that does not start at index 1', () => {
    expect(() => new RaftLog([entry(2, 1), entry(3, 1)], 0)).toThrow(/not contiguous at position 0/);
  });

  it('accepts a contiguous stored log, durable up to its end', () => {
    const log = new RaftLog(logOfTerms([1, 1, 2]), 2);
    expect(log.lastIndex()).toBe(3);
    expect(log.stable).toBe(3);
    expect(log.committed).toBe(2);
  });
});
