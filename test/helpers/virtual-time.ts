import type { Clock } from '../../src/shell/clock.js';
import { EventQueue } from '../../src/testing/sim/event-queue.js';
import { NodeClock } from '../../src/testing/sim/node-clock.js';
import { DEFAULT_WAIT_MS, type TestTime } from './test-time.js';

/**
 * Virtual time for shell tests: timers fire only when the test lets time
 * pass, one event at a time, with every promise settled in between. A
 * loaded machine makes such a test slower, never different: no timer can
 * fire "late" relative to another.
 */
export class VirtualTime implements TestTime {
  readonly queue = new EventQueue();

  clock(rate = 1): NodeClock {
    return new NodeClock(this.queue, rate);
  }

  clockFor(): Clock {
    return this.clock();
  }

  get now(): number {
    return this.queue.now;
  }

  /** Runs every timer due within `ms`, letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const until = this.queue.now + ms;
    for (;;) {
      await settle();
      const peek = this.queue.nextTime();
      if (peek === null || peek > until) break;
      this.queue.next()!();
    }
    this.queue.now = until;
    await settle();
  }

  /**
   * Runs events one by one until `done()` holds after one of them; fails
   * when `timeoutMs` of virtual time pass first, or when nothing is left to
   * run (the condition can then never come true).
   */
  async until(done: () => boolean, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    const deadline = this.queue.now + timeoutMs;
    for (;;) {
      await settle();
      if (done()) return;
      const peek = this.queue.nextTime();
      if (peek === null) throw new Error(`waiting for ${what}: nothing left to run at ${this.queue.now} ms (virtual)`);
      if (peek > deadline) throw new Error(`timed out after ${timeoutMs} ms (virtual) waiting for ${what}`);
      this.queue.next()!();
    }
  }

  /** Runs events until `promise` settles, then resolves or rejects as it did. */
  async wait<T>(promise: Promise<T>, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    let settled = false;
    const mark = (): void => {
      settled = true;
    };
    promise.then(mark, mark);
    await this.until(() => settled, what, timeoutMs);
    return promise;
  }
}

export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
