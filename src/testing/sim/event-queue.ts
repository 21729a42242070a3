/**
 * Virtual time for the simulator: a priority queue of callbacks ordered by
 * (time, insertion order), so equal times run in the order they were
 * scheduled and a seed always yields the same sequence.
 */
interface Scheduled {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
  cancelled: boolean;
}

export class EventQueue {
  private heap: Scheduled[] = [];
  private seq = 0;
  /** The current virtual time in milliseconds. */
  now = 0;

  /** Schedules `run` at `now + delayMs`; returns a cancel function. */
  schedule(delayMs: number, run: () => void): () => void {
    const item: Scheduled = { at: this.now + Math.max(0, delayMs), seq: this.seq++, run, cancelled: false };
    this.push(item);
    return () => {
      item.cancelled = true;
    };
  }

  get size(): number {
    return this.heap.length;
  }

  /** The time of the earliest live event, or null when none is scheduled. */
  nextTime(): number | null {
    while (this.heap.length > 0 && this.heap[0].cancelled) this.pop();
    return this.heap.length === 0 ? null : this.heap[0].at;
  }

  /** Removes the earliest live event, advances time to it and returns its callback. */
  next(): (() => void) | null {
    while (this.heap.length > 0) {
      const item = this.pop();
      if (item.cancelled) continue;
      this.now = item.at;
      return item.run;
    }
    return null;
  }

  private less(a: Scheduled, b: Scheduled): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(item: Scheduled): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private pop(): Scheduled {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
