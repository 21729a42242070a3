import type { NodeId, ReadIndexResponse } from '../messages.js';

/** A read waiting for a quorum to confirm that we were still leader after it arrived. */
export interface ConfirmingRead {
  readonly ctx: string;
  /** The commit index when the read arrived: what it must see (thesis §6.4 step 1). */
  readonly index: number;
  /** Confirmed once a quorum acknowledged a heartbeat round >= seq. */
  readonly seq: number;
  /** Who asked: this node's id for a local read, else the follower to answer. */
  readonly from: NodeId;
}

/**
 * The leader's ReadIndex bookkeeping (thesis §6.4). Reads are confirmed in
 * arrival order: heartbeat rounds are numbered, each read takes the number
 * of the next round to go out, and a follower's answer to round k confirms
 * every read numbered <= k. Reads that arrive together share one round.
 */
export class ReadOnlyQueue {
  /** Reads on a leader whose first entry of its term is not committed yet. */
  private waiting: { ctx: string; from: NodeId }[] = [];
  private pending: ConfirmingRead[] = [];
  private sent = 0;
  private needed = false;

  /** The last round sent. */
  get sentSeq(): number {
    return this.sent;
  }

  /** A read was queued that needs a round not yet sent. */
  get roundNeeded(): boolean {
    return this.needed;
  }

  /** Parks a read until the leader's first entry of its term commits (thesis §6.4 step 1). */
  wait(ctx: string, from: NodeId): void {
    this.waiting.push({ ctx, from });
  }

  /** Takes the parked reads, to be started now that the leader knows the commit index. */
  takeWaiting(): { ctx: string; from: NodeId }[] {
    const waiting = this.waiting;
    this.waiting = [];
    return waiting;
  }

  enqueue(ctx: string, from: NodeId, index: number): void {
    this.pending.push({ ctx, index, seq: this.sent + 1, from });
    this.needed = true;
  }

  /** Starts the next round; returns its number. */
  startRound(): number {
    this.needed = false;
    return ++this.sent;
  }

  /** Removes and returns the reads confirmed by `isConfirmed(seq)`, in order. */
  release(isConfirmed: (seq: number) => boolean): ConfirmingRead[] {
    let n = 0;
    while (n < this.pending.length && isConfirmed(this.pending[n].seq)) n++;
    return n === 0 ? [] : this.pending.splice(0, n);
  }

  /** Empties the queue (leadership lost); returns every read that was waiting. */
  drain(): { ctx: string; from: NodeId }[] {
    const all = [...this.waiting, ...this.pending];
    this.waiting = [];
    this.pending = [];
    this.needed = false;
    return all;
  }
}

/** The answer that tells `to` its read cannot be served here (not the leader, or an older term). */
export function readRefusal(from: NodeId, to: NodeId, term: number, ctx: string): ReadIndexResponse {
  return { type: 'ReadIndexResponse', from, to, term, ctx, index: 0, ok: false };
}
