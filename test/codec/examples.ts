/**
 * Hand-written messages and checks that more than one codec test file uses
 * (the generated ones are in arbitrary.ts). Not a test file itself.
 */
import { expect } from 'vitest';
import { encodeMessage } from '../../src/codec/codec.js';
import type { InstallSnapshot, RaftMessage } from '../../src/messages.js';

/** A valid InstallSnapshot (the second chunk of 4 bytes of a 12-byte snapshot), to vary one field at a time. */
export function installSnapshot(overrides: Partial<InstallSnapshot> = {}): InstallSnapshot {
  return {
    type: 'InstallSnapshot',
    from: 'a',
    to: 'b',
    term: 4,
    snapshot: { index: 1000, term: 3, voters: ['a', 'b', 'c'], learners: ['d'] },
    offset: 4,
    totalBytes: 12,
    data: Uint8Array.of(1, 2, 3, 4),
    ...overrides,
  };
}

/** Checks that encodeMessage refuses `message` with a TypeError or RangeError whose message matches `reason`. */
export function expectEncodeRefusal(message: unknown, reason: RegExp): void {
  let thrown: unknown;
  try {
    encodeMessage(message as RaftMessage);
  } catch (error) {
    thrown = error;
  }
  expect(thrown instanceof TypeError || thrown instanceof RangeError, `thrown: ${String(thrown)}`).toBe(true);
  expect((thrown as Error).message).toMatch(reason);
}
