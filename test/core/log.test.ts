/** RaftLog on its own: what it accepts from storage. */
import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/core/log.js';
import { entry, logOfTerms } from './harness.js';

describe('RaftLog built from a stored log', () => {
  it('refuses a stored log with a gap between two entries (the index of an entry is its position: Log Matching, §5.3)', () => {
    expect(() => new RaftLog([entry(1, 1), entry(2, 1), entry(4, 1)], 0)).toThrow(
      /not contiguous after index 0 at position 2/,
    );
  });

  it('refuses a stored log that does not start at index 1', () => {
    expect(() => new RaftLog([entry(2, 1), entry(3, 1)], 0)).toThrow(/not contiguous after index 0 at position 0/);
  });

  it('accepts a contiguous stored log, durable up to its end', () => {
    const log = new RaftLog(logOfTerms([1, 1, 2]), 2);
    expect(log.lastIndex()).toBe(3);
    expect(log.stable).toBe(3);
    expect(log.committed).toBe(2);
  });
});

describe("RaftLog.lastIndexOfTerm (the leader's conflict-hint lookup, §5.3 optimisation)", () => {
  const log = new RaftLog(logOfTerms([1, 1, 2, 2, 2, 4, 5, 5]), 0);

  it('finds the last index of each term present, wherever it sits in the log', () => {
    expect(log.lastIndexOfTerm(1)).toBe(2);
    expect(log.lastIndexOfTerm(2)).toBe(5);
    expect(log.lastIndexOfTerm(4)).toBe(6);
    expect(log.lastIndexOfTerm(5)).toBe(8);
    expect(new RaftLog(logOfTerms([3, 4]), 0).lastIndexOfTerm(3)).toBe(1);
  });

  it('answers 0 for a term the log does not hold: between two terms, below the first, above the last', () => {
    expect(log.lastIndexOfTerm(3)).toBe(0);
    expect(log.lastIndexOfTerm(0)).toBe(0);
    expect(log.lastIndexOfTerm(6)).toBe(0);
    expect(new RaftLog([], 0).lastIndexOfTerm(1)).toBe(0);
  });
});

describe('RaftLog on the follower side', () => {
  it('refuses to truncate a committed entry even if a message asks it to (§5.4 Leader Completeness)', () => {
    const log = new RaftLog(logOfTerms([1, 1, 1]), 2);
    expect(() => log.appendFromLeader([entry(2, 2)], false)).toThrow(/refusing to truncate committed entry 2/);
    expect(log.lastIndex()).toBe(3);
  });

  it('a conflict that truncates durable entries makes the replacements unstable from the conflict on, so they are persisted before any acknowledgement', () => {
    const log = new RaftLog(logOfTerms([1, 1, 1]), 1);
    expect(log.stable).toBe(3);
    expect(log.appendFromLeader([entry(2, 2), entry(3, 2)], false)).toBe(2);
    expect(log.stable).toBe(1);
    expect(log.unstableEntries().map((e) => [e.index, e.term])).toEqual([
      [2, 2],
      [3, 2],
    ]);
  });
});
