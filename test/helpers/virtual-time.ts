import { EventQueue } from '../../src/testing/sim/event-queue.js';
import { NodeClock } from '../../src/testing/sim/node-clock.js';

/** Virtual time for shell tests: timers fire only when the test advances the clock. */
export class VirtualTime {
  readonly queue = new EventQueue();

  clock(rate = 1): NodeClock {
    return new NodeClock(this.queue, rate);
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
}

export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
