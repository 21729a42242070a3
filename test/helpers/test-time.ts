import type { Clock } from '../../src/shell/clock.js';
import { waitUntil } from './wait.js';

/**
 * The time a cluster test runs in, so one suite runs on real timers (over
 * sockets) and in virtual time (in memory). A suite awaits through it: in
 * virtual time nothing moves unless the test lets time pass, so a bare
 * `await node.propose(…)` would wait forever.
 */
export interface TestTime {
  /** The clock to give node `id` (undefined: the system clock). */
  clockFor(id: string): Clock | undefined;
  /** Resolves as `promise` does, letting time pass meanwhile; fails once `timeoutMs` has passed. */
  wait<T>(promise: Promise<T>, what: string, timeoutMs?: number): Promise<T>;
  /** Resolves once `predicate` holds, letting time pass meanwhile; fails once `timeoutMs` has passed. */
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
}

/** How long a wait may take before it counts as a failure, in the time of the test. */
export const DEFAULT_WAIT_MS = 20_000;

/** Real timers: awaiting is just awaiting, and conditions are polled. */
export const realTime: TestTime = {
  clockFor: () => undefined,
  // The test's own timeout bounds a real-time wait.
  wait: (promise) => promise,
  until: (predicate, what, timeoutMs = DEFAULT_WAIT_MS) => waitUntil(predicate, timeoutMs, what),
};
