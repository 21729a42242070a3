import type {
  AppendEntriesResponse,
  Entry,
  HeartbeatResponse,
  InstallSnapshotResponse,
  NodeId,
  RaftMessage,
} from '../messages.js';
import type { NodeContext } from './context.js';
import { heldFrom, Progress } from './progress.js';
import { ReadOnlyQueue, readRefusal } from './read-only.js';
import type { ProposeResult } from './types.js';

/**
 * The state of the leader role and its handlers: replication (§5.3),
 * commitment (§5.4.2), reads (thesis §6.4), CheckQuorum (thesis §6.2) and
 * leadership transfer (thesis §3.10). A Leader lives for one term: raft.ts
 * creates it on winning an election and drops it on stepping down, so
 * nothing of it can leak into another role or term.
 */
export class Leader {
  /** One Progress per other voter. */
  private readonly progress = new Map<NodeId, Progress>();
  private readonly reads = new ReadOnlyQueue();
  /** The follower leadership is being handed to, or null. */
  private transferTarget: NodeId | null = null;
  private transferElapsed = 0;
  /** The commit index advanced and followers have not all been told. */
  private commitNotifyPending = false;
  private heartbeatElapsed = 0;
  /** Ticks since the last CheckQuorum round. */
  private quorumCheckElapsed = 0;

  constructor(
    private readonly node: NodeContext,
    readonly term: number,
  ) {
    const next = node.log.lastIndex() + 1;
    for (const peer of node.voters.ids) {
      if (peer === node.id) continue;
      const pr = new Progress(next, node.config.maxInflightMessages);
      // A new leader gives every follower one CheckQuorum round to answer.
      pr.recentActive = true;
      this.progress.set(peer, pr);
    }
  }

  /**
   * §5.4.2 and §8: a new leader appends an entry of its own term at once;
   * committing it commits everything before it and lets reads proceed.
   */
  start(): void {
    const index = this.node.log.lastIndex() + 1;
    this.node.log.append([{ index, term: this.term, type: 'noop', data: new Uint8Array(0) }]);
    this.bcastAppend();
  }

  /** The follower leadership is being handed to, or null. */
  get transferee(): NodeId | null {
    return this.transferTarget;
  }

  /** Each follower's match index. */
  matchIndexes(): Map<NodeId, number> {
    const out = new Map<NodeId, number>();
    for (const [id, pr] of this.progress) out.set(id, pr.match);
    return out;
  }

  /** §7: how far the log may be compacted and still hold what live followers need (see heldFrom). */
  compactionFloor(): number {
    return heldFrom(this.progress.values(), this.node.log.firstIndex(), this.node.log.lastIndex());
  }

  // ---------------------------------------------------------------- time

  /** Advances the leader's clocks by one tick; returns false when CheckQuorum says to step down. */
  tick(): boolean {
    const { config } = this.node;
    if (this.transferTarget !== null && ++this.transferElapsed >= config.electionTicksMin) {
      // Thesis §3.10: a transfer that has not finished within an election
      // timeout is abandoned, and the leader accepts proposals again.
      this.transferTarget = null;
    }
    this.heartbeatElapsed++;
    if (++this.quorumCheckElapsed >= config.electionTicksMin) {
      this.quorumCheckElapsed = 0;
      // Thesis §6.2 (CheckQuorum): a leader that has not heard from a quorum
      // within an election timeout steps down, so clients stop trusting it.
      if (config.checkQuorum && !this.quorumActive()) return false;
      for (const pr of this.progress.values()) pr.endRound();
    }
    if (this.heartbeatElapsed >= config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.detectStalls();
      this.bcastHeartbeat(this.reads.sentSeq);
    }
    return true;
  }

  private quorumActive(): boolean {
    const { voters, id } = this.node;
    let active = voters.has(id) ? 1 : 0;
    for (const [peer, pr] of this.progress) if (pr.recentActive && voters.has(peer)) active++;
    return active >= voters.quorum;
  }

  // ---------------------------------------------------------------- input

  step(m: RaftMessage): void {
    switch (m.type) {
      case 'AppendEntriesResponse':
        this.handleAppendResponse(m);
        break;
      case 'HeartbeatResponse':
        this.handleHeartbeatResponse(m);
        break;
      case 'InstallSnapshotResponse':
        this.handleSnapshotResponse(m);
        break;
      case 'ReadIndex':
        this.read(m.ctx, m.from);
        break;
      default:
        // Vote responses after winning, and anything else, need no action.
        break;
    }
  }

  private handleAppendResponse(m: AppendEntriesResponse): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.heard();
    if (!m.success) {
      // A stale-leader notice, not a log answer: a real rejection names its
      // prevLogIndex, which is at least 1 since index 0 always matches (§5.3).
      if (m.rejectedIndex === 0) return;
      if (pr.maybeBackUp(m.rejectedIndex, this.backUpTarget(m))) this.sendAppend(m.from, pr, true);
      return;
    }
    // Stryker disable next-line MethodExpression,ArithmeticOperator: the Math.max branch is the test-only planted bug
    const acked = this.node.bugs.optimisticMatch ? Math.max(m.matchIndex, pr.next - 1) : m.matchIndex;
    if (!pr.maybeUpdate(acked)) return; // duplicate or reordered acknowledgement
    // A late acknowledgement can show that the follower no longer needs the snapshot.
    if (pr.state === 'probe' || (pr.state === 'snapshot' && pr.match + 1 >= this.node.log.firstIndex())) {
      pr.becomeReplicate();
    }
    this.maybeCommit();
    if (this.transferTarget === m.from) this.maybeSendTimeoutNow(false);
    // Refill the in-flight window.
    while (this.sendAppend(m.from, pr, false));
  }

  private handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.heard();
    if (m.readSeq > pr.readAck) {
      pr.readAck = m.readSeq;
      this.releaseReads();
    }
    if (pr.match < this.node.log.lastIndex()) {
      // The follower is alive but behind: an unanswered probe was lost.
      if (pr.state === 'probe') pr.probeSent = false;
      this.sendAppend(m.from, pr, false);
    }
  }

  /**
   * §7: the follower confirmed the bytes it has, so the next chunk goes; or
   * it holds everything the snapshot covers, durably, and replication goes
   * on from the snapshot's index.
   */
  private handleSnapshotResponse(m: InstallSnapshotResponse): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.heard();
    if (m.done) {
      if (pr.state === 'snapshot') pr.snapshotDone(m.snapshotIndex);
      else if (!pr.maybeUpdate(m.snapshotIndex)) return;
      this.maybeCommit();
      this.sendAppend(m.from, pr, false);
      return;
    }
    if (pr.state !== 'snapshot' || m.snapshotIndex !== pr.snapshotIndex) return; // about another snapshot: stale
    // Fewer bytes than confirmed is an answer to an older chunk, except none:
    // a follower answers 0 only when it holds nothing of this snapshot (it
    // restarted, or dropped the transfer), so the transfer starts over.
    if (m.received < pr.snapshotAcked && m.received !== 0) return;
    pr.snapshotAcked = m.received;
    pr.chunkSent = false;
    pr.stalledRounds = 0;
    this.sendChunk(m.from, pr);
  }

  /** Where to retry after a rejection, from the follower's conflict hint. */
  private backUpTarget(m: AppendEntriesResponse): number {
    if (m.hintTerm === 0) return m.hintIndex;
    // If we hold entries of the conflicting term, the follower matches us up
    // to our last one of them (Log Matching); otherwise skip its whole term.
    const ours = this.node.log.lastIndexOfTerm(m.hintTerm);
    return ours > 0 ? ours + 1 : m.hintIndex;
  }

  // ---------------------------------------------------------------- clients

  propose(datas: readonly Uint8Array[]): ProposeResult {
    // While handing leadership over, new entries would only delay the target.
    if (this.transferTarget !== null) return { ok: false, leaderId: this.transferTarget };
    const first = this.node.log.lastIndex() + 1;
    const entries: Entry[] = new Array(datas.length);
    for (let i = 0; i < datas.length; i++) {
      entries[i] = { index: first + i, term: this.term, type: 'normal', data: datas[i] };
    }
    this.node.log.append(entries);
    this.bcastAppend();
    return { ok: true, index: first, term: this.term };
  }

  /** Thesis §6.4: a read on the leader, for itself or for a follower. */
  read(ctx: string, from: NodeId): void {
    const { node } = this;
    if (!node.voters.has(from) && from !== node.id) {
      node.send(readRefusal(node.id, from, this.term, ctx));
      return;
    }
    // Step 1: until the leader's first entry of its term commits, it may not
    // know the latest commit index (etcd #7331), so the read waits.
    if (!this.committedInTerm() && !node.bugs.readBeforeLeaderCommit) {
      this.reads.wait(ctx, from);
      return;
    }
    if (node.voters.size === 1 || node.bugs.readWithoutConfirmation) {
      this.serveRead(ctx, from, node.log.committed);
      return;
    }
    // Steps 2-3: remember the commit index and confirm leadership with a
    // heartbeat round sent after the read arrived.
    this.reads.enqueue(ctx, from, node.log.committed);
  }

  private committedInTerm(): boolean {
    return this.node.log.term(this.node.log.committed) === this.term;
  }

  private releaseReads(): void {
    const { voters } = this.node;
    const confirmed = this.reads.release((seq) => {
      let acks = 1; // the leader itself
      for (const [id, pr] of this.progress) if (pr.readAck >= seq && voters.has(id)) acks++;
      return acks >= voters.quorum;
    });
    for (const read of confirmed) this.serveRead(read.ctx, read.from, read.index);
  }

  private serveRead(ctx: string, from: NodeId, index: number): void {
    const { node } = this;
    if (from === node.id) node.readState(ctx, index);
    else node.send({ type: 'ReadIndexResponse', from: node.id, to: from, term: this.term, ctx, index, ok: true });
  }

  /**
   * Leadership is lost: every read not yet confirmed fails. Refusals carry
   * the node's term after stepping down, so a follower still in an older
   * term learns the newer one with its answer.
   */
  stepDown(term: number): void {
    const { node } = this;
    for (const read of this.reads.drain()) {
      if (read.from === node.id) node.readState(read.ctx, null);
      else node.send(readRefusal(node.id, read.from, term, read.ctx));
    }
  }

  /**
   * Thesis §3.10: hands leadership to `to` (default: the most up-to-date
   * follower). The leader stops taking proposals, brings the target's log
   * up to date, then tells it to campaign at once with TimeoutNow. Returns
   * the target, or null if there is none to hand to.
   */
  startTransfer(to?: NodeId): NodeId | null {
    const target = to ?? this.mostUpToDateFollower();
    if (target === null || target === this.node.id) return target;
    if (!this.node.voters.has(target) || !this.progress.has(target)) return null;
    this.transferTarget = target;
    this.transferElapsed = 0;
    this.maybeSendTimeoutNow(true);
    return target;
  }

  private mostUpToDateFollower(): NodeId | null {
    let best: NodeId | null = null;
    let bestMatch = -1;
    for (const [id, pr] of this.progress) {
      if (this.node.voters.has(id) && pr.match > bestMatch) {
        best = id;
        bestMatch = pr.match;
      }
    }
    return best;
  }

  /** Once the transfer target holds the whole log, tell it to campaign now; until then, keep replicating to it. */
  private maybeSendTimeoutNow(starting: boolean): void {
    const target = this.transferTarget;
    const pr = target === null ? undefined : this.progress.get(target);
    if (target === null || pr === undefined) return;
    const last = this.node.log.lastIndex();
    if (pr.match === last) {
      this.node.send({ type: 'TimeoutNow', from: this.node.id, to: target, term: this.term });
      return;
    }
    // At the start of a transfer, do not wait for a stalled pipeline to be
    // noticed: resend from the last known match.
    if (starting && pr.next > last) pr.becomeProbe();
    this.sendAppend(target, pr, starting);
  }

  // ---------------------------------------------------------------- commit

  /**
   * §5.4.2: advance the commit index to the highest index held by a quorum,
   * but only by counting replicas of an entry of the current term (Figure 8):
   * older entries are committed indirectly, by the Log Matching Property.
   * The leader's own replica counts only once durable.
   */
  private maybeCommit(): void {
    const { node } = this;
    const log = node.log;
    const n = node.voters.committedIndex((id) => (id === node.id ? log.stable : (this.progress.get(id)?.match ?? 0)));
    if (n <= log.committed) return;
    if (log.term(n) !== this.term && !node.bugs.commitOldTermByCounting) return;
    log.commitTo(n);
    this.commitNotifyPending = true;
    // The leader's first entry of its term is now committed: reads that waited for it may go.
    if (this.committedInTerm()) for (const w of this.reads.takeWaiting()) this.read(w.ctx, w.from);
  }

  /** The leader's own entries became durable: they may complete a quorum. */
  persisted(): void {
    this.maybeCommit();
  }

  // ---------------------------------------------------------------- output

  /** There is coalesced output to send: a read round, or a commit index followers have not been told. */
  hasOutput(): boolean {
    return this.reads.roundNeeded || this.commitNotifyPending;
  }

  /**
   * Work coalesced until output is collected: one heartbeat round for all
   * reads that arrived since the last, and one append per follower that has
   * not yet been told the latest commit index.
   */
  flush(): void {
    if (this.reads.roundNeeded) this.bcastHeartbeat(this.reads.startRound());
    if (!this.commitNotifyPending) return;
    this.commitNotifyPending = false;
    const committed = this.node.log.committed;
    for (const [peer, pr] of this.progress) if (pr.sentCommit < committed) this.sendCommit(peer, pr);
  }

  private bcastAppend(): void {
    for (const [peer, pr] of this.progress) this.sendAppend(peer, pr, false);
  }

  /** Heartbeats carry the latest read round so one round trip confirms reads too. */
  private bcastHeartbeat(readSeq: number): void {
    const { node } = this;
    for (const [peer, pr] of this.progress) {
      node.send({
        type: 'Heartbeat',
        from: node.id,
        to: peer,
        term: this.term,
        // Never tell a follower to commit past what it is known to hold.
        commit: Math.min(pr.match, node.log.committed),
        readSeq,
      });
    }
  }

  /**
   * Sends the follower the entries it lacks, if its window allows. With
   * `allowEmpty` an empty append is sent to probe or to carry the commit
   * index. Returns true if a message went out with entries.
   */
  private sendAppend(to: NodeId, pr: Progress, allowEmpty: boolean): boolean {
    if (pr.state === 'snapshot' || pr.next < this.node.log.firstIndex()) {
      // §7: what the follower needs next is compacted away; it gets the snapshot.
      this.sendChunk(to, pr);
      return false;
    }
    if (pr.isPaused()) return false;
    const { log, config } = this.node;
    const entries = log.slice(pr.next, log.lastIndex() + 1, config.maxEntriesPerAppend, config.maxBytesPerAppend);
    if (entries.length === 0 && !allowEmpty) return false;
    this.sendAppendFrom(to, pr, pr.next - 1, entries);
    if (entries.length > 0) pr.sent(entries[entries.length - 1].index);
    else if (pr.state === 'probe') pr.probeSent = true;
    return entries.length > 0;
  }

  /**
   * Tells a follower the commit index without sending entries. In replicate
   * state the empty append is anchored at the follower's known match, so it
   * cannot overtake in-flight appends and be rejected for a gap.
   */
  private sendCommit(to: NodeId, pr: Progress): void {
    // A follower being sent a snapshot learns the commit index from heartbeats.
    if (pr.state === 'snapshot') return;
    // An anchor compacted away has no term to check against: probe instead.
    if (pr.state === 'probe' || pr.match + 1 < this.node.log.firstIndex()) this.sendAppend(to, pr, true);
    else this.sendAppendFrom(to, pr, pr.match, []);
  }

  /**
   * Sends the next chunk of a snapshot, one chunk in flight per follower so
   * a large snapshot never crowds out the heartbeats and appends of the
   * others. A transfer goes on with the snapshot it began with while the log
   * still holds the entries after it (compactionFloor keeps them); a newer
   * one restarts it only once they are gone. Restarting at every newer
   * snapshot made a follower that installs slower than the leader applies
   * `threshold` entries install one snapshot after another.
   */
  private sendChunk(to: NodeId, pr: Progress): void {
    const newest = this.node.snapshot();
    if (newest === null) return;
    const current = pr.state === 'snapshot' ? pr.sending : null;
    if (current === null || current.index < this.node.log.firstIndex() - 1) pr.becomeSnapshot(newest);
    const snapshot = pr.sending!;
    if (pr.chunkSent) return;
    const { index, term, voters, learners } = snapshot;
    const offset = pr.snapshotAcked;
    this.node.send({
      type: 'InstallSnapshot',
      from: this.node.id,
      to,
      term: this.term,
      snapshot: { index, term, voters, learners },
      offset,
      totalBytes: snapshot.data.byteLength,
      data: snapshot.data.subarray(offset, offset + this.node.config.snapshotChunkBytes),
    });
    pr.chunkSent = true;
    pr.stalledRounds = 0;
  }

  private sendAppendFrom(to: NodeId, pr: Progress, prevLogIndex: number, entries: Entry[]): void {
    const { node } = this;
    const leaderCommit = node.log.committed;
    node.send({
      type: 'AppendEntries',
      from: node.id,
      to,
      term: this.term,
      prevLogIndex,
      prevLogTerm: node.log.term(prevLogIndex),
      entries,
      leaderCommit,
    });
    pr.sentCommit = leaderCommit;
  }

  /**
   * Called every heartbeat interval: a pipeline whose match has not moved for
   * two intervals while appends are outstanding lost messages, so it falls
   * back to probing from the last known match (Raft retries, §5.3).
   */
  private detectStalls(): void {
    for (const [peer, pr] of this.progress) {
      if (pr.state === 'snapshot') {
        // A chunk unanswered for two intervals was lost: send it again.
        if (pr.chunkSent && ++pr.stalledRounds >= 2) {
          pr.chunkSent = false;
          this.sendChunk(peer, pr);
        }
        continue;
      }
      if (pr.state === 'replicate' && pr.hasInflight() && pr.match === pr.matchAtLastHeartbeat) {
        pr.stalledRounds++;
        if (pr.stalledRounds >= 2) {
          pr.becomeProbe();
          this.sendAppend(peer, pr, true);
        }
      } else {
        pr.stalledRounds = 0;
      }
      pr.matchAtLastHeartbeat = pr.match;
    }
  }
}
