/**
 * Reads a follower forwarded to its leader and that are not answered yet
 * (thesis §6.4.1). Each is failed as soon as its answer cannot come — a new
 * leader or term, or an election timeout without an answer (lost on the
 * way) — so the caller can retry at once instead of waiting for its own
 * timeout.
 */
export class ForwardedReads {
  /** ctx → the term and tick the read left at. */
  private readonly reads = new Map<string, { term: number; at: number }>();
  /** Ticks since start; only for expiring reads. */
  private ticks = 0;

  /**
   * `fail` reports a read that will not be answered; `expiryTicks` is how
   * long an answer may take (the minimum election timeout).
   */
  constructor(
    private readonly fail: (ctx: string) => void,
    private readonly expiryTicks: number,
  ) {}

  add(ctx: string, term: number): void {
    this.reads.set(ctx, { term, at: this.ticks });
  }

  /** The leader answered; returns false when the read is unknown (already failed, or not ours). */
  answer(ctx: string): boolean {
    return this.reads.delete(ctx);
  }

  tick(): void {
    this.ticks++;
    this.failWhere((read) => this.ticks - read.at >= this.expiryTicks);
  }

  /** The leader changed: every read sent to another leader, or in an earlier term, is lost. */
  leaderChanged(term: number, sameLeader: boolean): void {
    this.failWhere((read) => !sameLeader || read.term !== term);
  }

  private failWhere(match: (read: { term: number; at: number }) => boolean): void {
    if (this.reads.size === 0) return;
    for (const [ctx, read] of this.reads) {
      if (!match(read)) continue;
      this.reads.delete(ctx);
      this.fail(ctx);
    }
  }
}
