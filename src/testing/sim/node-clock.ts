import type { Clock } from '../../shell/clock.js';
import type { EventQueue } from './event-queue.js';

/**
 * One simulated process's clock. `rate` models drift: with rate 1.1 the
 * node's timers fire 10% late in global virtual time. `crash()` cancels
 * every timer the process owns, as a killed process loses them.
 */
export class NodeClock implements Clock {
  private readonly cancels = new Set<() => void>();

  constructor(
    private readonly queue: EventQueue,
    private readonly rate: number,
  ) {}

  now(): number {
    return this.queue.now / this.rate;
  }

  after(ms: number, callback: () => void): () => void {
    const cancel = this.queue.schedule(ms * this.rate, () => {
      this.cancels.delete(cancel);
      callback();
    });
    this.cancels.add(cancel);
    return () => {
      cancel();
      this.cancels.delete(cancel);
    };
  }

  every(ms: number, callback: () => void): () => void {
    let stopped = false;
    let cancelCurrent: () => void = () => undefined;
    const arm = (): void => {
      cancelCurrent = this.after(ms, () => {
        if (stopped) return;
        arm();
        callback();
      });
    };
    arm();
    return () => {
      stopped = true;
      cancelCurrent();
    };
  }

  crash(): void {
    for (const cancel of this.cancels) cancel();
    this.cancels.clear();
  }
}
