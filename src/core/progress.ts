import type { Snapshot } from '../messages.js';

/**
 * What a leader knows about one follower's log, and how it paces replication
 * to it.
 *
 * - `probe`: the leader does not know where the follower's log matches its
 *   own; it sends one AppendEntries at a time and waits for the answer
 *   (§5.3: "the leader decrements nextIndex and retries").
 * - `replicate`: the follower matched; appends are pipelined optimistically,
 *   at most `capacity` messages unacknowledged (a bounded in-flight window:
 *   deep pipelines hurt latency, hashicorp/raft PR #541).
 * - `snapshot`: the entries the follower needs are compacted away (§7); the
 *   leader sends its snapshot in chunks, one chunk in flight, and goes back
 *   to probing from the snapshot's index once the follower has it.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to be replicated on the follower (§5.3 matchIndex). */
  match = 0;
  /** Index of the next entry to send (§5.3 nextIndex). */
  next: number;
  state: ProgressState = 'probe';
  /** In probe: an append is out and unanswered. */
  probeSent = false;
  /** Heard from since the last CheckQuorum round (§6.2 of the thesis); a new leader starts it true, as a grace. */
  recentActive = false;
  /** Heard from in this CheckQuorum round, and in the one before: without the grace. */
  private heardThisRound = false;
  private heardLastRound = false;
  /** Highest ReadIndex round this follower acknowledged. */
  readAck = 0;
  /** The commit index this follower was last told. */
  sentCommit = 0;
  /** match at the previous heartbeat answer, to notice a stalled pipeline. */
  matchAtLastHeartbeat = 0;
  /** Heartbeat intervals in a row with appends outstanding and no progress. */
  stalledRounds = 0;
  /** In snapshot: the snapshot being sent, and its index. */
  sending: Snapshot | null = null;
  snapshotIndex = 0;
  /** In snapshot: the bytes the follower has confirmed (where the next chunk starts). */
  snapshotAcked = 0;
  /** In snapshot: a chunk is out and unanswered. */
  chunkSent = false;

  /** Last index carried by each unacknowledged append, oldest first (a ring). */
  private readonly inflight: number[];
  private inflightStart = 0;
  private inflightCount = 0;

  constructor(
    next: number,
    private readonly capacity: number,
  ) {
    this.next = next;
    this.inflight = new Array<number>(capacity).fill(0);
  }

  /** Any answer from the follower. */
  heard(): void {
    this.recentActive = true;
    this.heardThisRound = true;
  }

  /** A CheckQuorum round (an election timeout) ends. */
  endRound(): void {
    this.heardLastRound = this.heardThisRound;
    this.heardThisRound = false;
    this.recentActive = false;
  }

  /** Heard from in this term within the last one or two election timeouts. */
  get isLive(): boolean {
    return this.heardThisRound || this.heardLastRound;
  }

  isPaused(): boolean {
    if (this.state === 'snapshot') return this.chunkSent;
    return this.state === 'probe' ? this.probeSent : this.inflightCount >= this.capacity;
  }

  hasInflight(): boolean {
    return this.inflightCount > 0;
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.sending = null;
    this.stalledRounds = 0;
    this.next = this.match + 1;
    this.probeSent = false;
    this.clearInflight();
  }

  /** Starts sending `snapshot`: appends wait until the follower has it. */
  becomeSnapshot(snapshot: Snapshot): void {
    this.state = 'snapshot';
    this.sending = snapshot;
    this.snapshotIndex = snapshot.index;
    this.snapshotAcked = 0;
    this.chunkSent = false;
    this.stalledRounds = 0;
    this.clearInflight();
  }

  /**
   * The follower holds everything up to `index` (it installed the snapshot,
   * or already had it): probe from there.
   */
  snapshotDone(index: number): void {
    if (index > this.match) this.match = index;
    this.becomeProbe();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.sending = null;
    this.next = this.match + 1;
    this.clearInflight();
  }

  /** Records an append whose last entry is `lastIndex` as sent. */
  sent(lastIndex: number): void {
    if (this.state === 'replicate') {
      this.next = lastIndex + 1;
      this.inflight[(this.inflightStart + this.inflightCount) % this.capacity] = lastIndex;
      this.inflightCount++;
    } else {
      this.probeSent = true;
    }
  }

  /** A success answer; returns false when it told nothing new (duplicate or stale). */
  maybeUpdate(matchIndex: number): boolean {
    if (matchIndex <= this.match) return false;
    this.match = matchIndex;
    if (this.next < matchIndex + 1) this.next = matchIndex + 1;
    this.probeSent = false;
    this.freeUpTo(matchIndex);
    return true;
  }

  /**
   * A rejection of the append whose prevLogIndex was `rejected`; `hinted` is
   * where the follower's hint says to retry. Returns false when the answer is
   * stale (it refers to an append we have already moved past).
   */
  maybeBackUp(rejected: number, hinted: number): boolean {
    // A late answer to an append from before the snapshot: the snapshot decides where to go on.
    if (this.state === 'snapshot') return false;
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.becomeProbe();
      this.next = Math.max(this.match + 1, Math.min(hinted, rejected));
      return true;
    }
    if (rejected !== this.next - 1) return false;
    this.next = Math.max(this.match + 1, Math.min(hinted, rejected));
    this.probeSent = false;
    return true;
  }

  private freeUpTo(index: number): void {
    while (this.inflightCount > 0 && this.inflight[this.inflightStart] <= index) {
      this.inflightStart = (this.inflightStart + 1) % this.capacity;
      this.inflightCount--;
    }
  }

  private clearInflight(): void {
    this.inflightStart = 0;
    this.inflightCount = 0;
  }
}

/**
 * §7: the highest index a leader's log can be compacted through and still
 * hold what live followers need from it: the entries after each one's
 * match, or after the snapshot it is being sent, so that once it installs
 * that snapshot it goes on from the log, not from a newer snapshot (etcd
 * pauses compaction while a snapshot is in flight for the same reason). A
 * follower counts only if heard from within the last two election timeouts
 * (a stopped or cut-off one holds nothing for long) and not already behind
 * the log's start (it needs a snapshot anyway). The shell bounds how far
 * back this may hold the log (Snapshots.compactionPoint).
 */
export function heldFrom(followers: Iterable<Progress>, firstIndex: number, lastIndex: number): number {
  let floor = lastIndex;
  for (const pr of followers) {
    if (!pr.isLive) continue;
    const has = pr.state === 'snapshot' ? pr.snapshotIndex : pr.match;
    if (has >= firstIndex - 1 && has < floor) floor = has;
  }
  return floor;
}
