import type { NodeId } from '../messages.js';

/** A read waiting for a quorum to confirm that we were still leader after it arrived. */
export interface PendingRead {
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
  waiting: { ctx: string; from: NodeId }[] = [];
  pending: PendingRead[] = [];
  /** The last round sent. */
  sentSeq = 0;
  /** A read was queued that needs a round not yet sent. */
  roundNeeded = false;

  enqueue(ctx: string, from: NodeId, index: number): void {
    this.pending.push({ ctx, index, seq: this.sentSeq + 1, from });
    this.roundNeeded = true;
  }

  /** Starts the next round; returns its number. */
  startRound(): number {
    this.roundNeeded = false;
    return ++this.sentSeq;
  }

  /** Removes and returns the reads confirmed by `isConfirmed(seq)`, in order. */
  release(isConfirmed: (seq: number) => boolean): PendingRead[] {
    let n = 0;
    while (n < this.pending.length && isConfirmed(this.pending[n].seq)) n++;
    return n === 0 ? [] : this.pending.splice(0, n);
  }

  /** Empties the queue (leadership lost); returns every read that was waiting. */
  drain(): { ctx: string; from: NodeId }[] {
    const all = [...this.waiting, ...this.pending];
    this.waiting = [];
    this.pending = [];
    this.roundNeeded = false;
    return all;
  }
}
