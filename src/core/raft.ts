import type { Entry, HardState, NodeId, RaftMessage, RequestVote, Role } from '../messages.js';
import { handleAppendEntries, handleHeartbeat } from './follower.js';
import {
  bcastAppend,
  bcastHeartbeat,
  detectStalls,
  failPendingReads,
  flushLeaderOutput,
  leaderRead,
  maybeCommit,
  startTransfer,
  stepLeader,
} from './leader.js';
import { RaftLog } from './log.js';
import { Outbox } from './outbox.js';
import { stepHigherTerm, stepLowerTerm } from './terms.js';
import { Progress } from './progress.js';
import { quorumSize, VoteTally } from './quorum.js';
import { randomInt } from './random.js';
import { ReadOnlyQueue } from './read-only.js';
import type {
  CoreStatus,
  PlantedBugs,
  ProposeResult,
  RaftConfig,
  Ready,
  SoftState,
  StoredState,
} from './types.js';

const NO_BUGS: PlantedBugs = {};

/**
 * The Raft algorithm as a pure, deterministic state machine: no timers, no
 * I/O, no promises. Time enters through `tick()`, the network through
 * `step()`, clients through `propose()` and `readIndex()`; everything the
 * world must do comes out of `ready()`.
 *
 * Handlers for the leader live in leader.ts and for log replication on the
 * follower in follower.ts; this file holds the node's state, the term rules
 * every message passes first (§5.1), and elections (§5.2, §5.4.1, thesis §9.6).
 */
export class Raft {
  readonly id: NodeId;
  readonly config: RaftConfig;
  readonly bugs: PlantedBugs;
  readonly log: RaftLog;
  voters: readonly NodeId[];

  term: number;
  vote: NodeId | null;
  role: Role = 'follower';
  leaderId: NodeId | null = null;

  /** Leader only: one Progress per other voter. */
  readonly progress = new Map<NodeId, Progress>();
  readonly reads = new ReadOnlyQueue();
  /** Leader only: the follower leadership is being handed to (thesis §3.10), or null. */
  leadTransferee: NodeId | null = null;
  private transferElapsed = 0;
  /** Leader only: the commit index advanced and followers have not all been told. */
  commitNotifyPending = false;
  /** Follower reads forwarded to the leader and not yet answered: ctx → the term and tick they left at. */
  private readonly forwardedReads = new Map<string, { term: number; at: number }>();
  /** Ticks since start; only for expiring forwarded reads. */
  private ticks = 0;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private votes: VoteTally | null = null;
  /** The current campaign was started by TimeoutNow (it may override stickiness). */
  private campaignTransfer = false;

  private readonly outbox: Outbox;
  private persistedHardState: HardState;
  private lastSoftState: SoftState;
  private readyOutstanding = false;

  constructor(config: RaftConfig, stored: StoredState) {
    this.id = config.id;
    this.config = config;
    this.bugs = config.plantedBugs ?? NO_BUGS;
    this.outbox = new Outbox(this.bugs);
    this.voters = [...config.voters];
    this.term = stored.hardState.term;
    this.vote = stored.hardState.vote;
    this.log = new RaftLog(stored.entries, stored.hardState.commit);
    this.persistedHardState = { term: this.term, vote: this.vote, commit: this.log.committed };
    this.lastSoftState = { role: this.role, term: this.term, leaderId: this.leaderId };
    this.resetElectionTimer();
  }

  get commitIndex(): number {
    return this.log.committed;
  }

  get lastIndex(): number {
    return this.log.lastIndex();
  }

  get lastTerm(): number {
    return this.log.lastTerm();
  }

  termAt(index: number): number {
    return this.log.term(index);
  }

  entries(lo: number, hi: number): Entry[] {
    return this.log.slice(lo, hi);
  }

  isVoter(id: NodeId = this.id): boolean {
    return this.voters.includes(id);
  }

  quorum(): number {
    return quorumSize(this.voters.length, this.bugs.halfQuorum === true);
  }

  /** Leader only: each follower's match index (§5.3), read-only, for the simulator's invariants; empty otherwise. */
  matchIndexes(): ReadonlyMap<NodeId, number> {
    const out = new Map<NodeId, number>();
    if (this.role === 'leader') for (const [id, pr] of this.progress) out.set(id, pr.match);
    return out;
  }

  status(): CoreStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leaderId: this.leaderId,
      commitIndex: this.log.committed,
      appliedIndex: this.log.handedOut,
      lastLogIndex: this.log.lastIndex(),
      voters: this.voters,
    };
  }

  // ---------------------------------------------------------------- output

  /** Queues a message; the outbox holds back what must wait for the disk. */
  send(m: RaftMessage): void {
    this.outbox.send(m);
  }

  // ---------------------------------------------------------------- roles

  becomeFollower(term: number, leaderId: NodeId | null): void {
    const wasLeader = this.role === 'leader';
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    } else if (this.bugs.forgetVoteOnStepDown) {
      this.vote = null;
    }
    this.role = 'follower';
    this.setLeader(leaderId);
    this.votes = null;
    this.leadTransferee = null;
    this.resetElectionTimer();
    if (wasLeader) {
      this.progress.clear();
      failPendingReads(this);
    }
  }

  private becomePreCandidate(): void {
    // Thesis §9.6: a pre-candidate does not touch its term or vote. It forgets
    // the leader, or a stale leader hint would make it refuse other
    // pre-candidates and the cluster could deadlock (etcd #8243).
    this.role = 'precandidate';
    this.setLeader(null);
    this.votes = new VoteTally(this.voters, this.quorum());
    this.resetElectionTimer();
  }

  private becomeCandidate(): void {
    // §5.2: increment the term and vote for self.
    this.term += 1;
    this.vote = this.id;
    this.role = 'candidate';
    this.setLeader(null);
    this.votes = new VoteTally(this.voters, this.quorum());
    this.resetElectionTimer();
  }

  private becomeLeader(): void {
    this.role = 'leader';
    this.setLeader(this.id);
    this.votes = null;
    this.heartbeatElapsed = 0;
    this.electionElapsed = 0;
    this.progress.clear();
    const next = this.log.lastIndex() + 1;
    for (const peer of this.voters) {
      if (peer === this.id) continue;
      const pr = new Progress(next, this.config.maxInflightMessages);
      pr.recentActive = true;
      this.progress.set(peer, pr);
    }
    // §5.4.2 and §8: a new leader commits an entry of its own term at once,
    // which also commits everything before it and lets reads proceed.
    this.log.append([{ index: next, term: this.term, type: 'noop', data: new Uint8Array(0) }]);
    bcastAppend(this);
  }

  private setLeader(leaderId: NodeId | null): void {
    if (leaderId !== this.leaderId) this.failForwardedReads(() => true);
    this.leaderId = leaderId;
    // A leader of a later term answers nothing sent in an earlier one.
    this.failForwardedReads((read) => read.term !== this.term);
  }

  /**
   * Fails the forwarded reads that match: their answer will not come (a new
   * leader or term) or is overdue (lost on the way), so the caller can retry
   * at once instead of waiting for its timeout.
   */
  private failForwardedReads(match: (read: { term: number; at: number }) => boolean): void {
    if (this.forwardedReads.size === 0) return;
    for (const [ctx, read] of this.forwardedReads) {
      if (!match(read)) continue;
      this.forwardedReads.delete(ctx);
      this.pushReadState(ctx, null);
    }
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0;
    this.randomizedElectionTimeout = randomInt(
      this.config.random,
      this.config.electionTicksMin,
      this.config.electionTicksMax,
    );
  }

  // ---------------------------------------------------------------- time

  tick(): void {
    this.ticks++;
    this.failForwardedReads((read) => this.ticks - read.at >= this.config.electionTicksMin);
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign();
      return;
    }
    // §5.1: "servers retry RPCs if they do not receive a response in a
    // timely manner": a lost vote request should not cost a whole election.
    if (this.votes !== null && this.electionElapsed % this.config.heartbeatTicks === 0) {
      this.sendVoteRequests(this.role === 'precandidate', this.campaignTransfer, this.votes);
    }
  }

  private tickLeader(): void {
    if (this.leadTransferee !== null && ++this.transferElapsed >= this.config.electionTicksMin) {
      // Thesis §3.10: a transfer that has not finished within an election
      // timeout is abandoned, and the leader accepts proposals again.
      this.leadTransferee = null;
    }
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicksMin) {
      this.electionElapsed = 0;
      // Thesis §6.2 (CheckQuorum): a leader that has not heard from a quorum
      // within an election timeout steps down, so clients stop trusting it.
      if (this.config.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      for (const pr of this.progress.values()) pr.recentActive = false;
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      detectStalls(this);
      bcastHeartbeat(this);
    }
  }

  private quorumActive(): boolean {
    let active = this.isVoter() ? 1 : 0;
    for (const [id, pr] of this.progress) if (pr.recentActive && this.isVoter(id)) active++;
    return active >= this.quorum();
  }

  // ---------------------------------------------------------------- elections

  /** Starts an election now, as if the election timeout had fired. */
  campaign(transfer = false): void {
    if (!this.isVoter() || this.role === 'leader') return;
    if (this.config.preVote && !transfer) {
      this.becomePreCandidate();
      this.requestVotes(true, false);
    } else {
      this.becomeCandidate();
      this.requestVotes(false, transfer);
    }
  }

  private requestVotes(preVote: boolean, transfer: boolean): void {
    this.votes!.record(this.id, true);
    this.campaignTransfer = transfer;
    if (this.tallyVotes()) return;
    this.sendVoteRequests(preVote, transfer, this.votes!);
  }

  /** Asks every voter that has not answered this round yet. */
  private sendVoteRequests(preVote: boolean, transfer: boolean, votes: VoteTally): void {
    // A pre-vote asks about the term the node would use (thesis §9.6).
    const term = preVote ? this.term + 1 : this.term;
    for (const peer of this.voters) {
      if (peer === this.id || votes.hasAnswered(peer)) continue;
      this.send({
        type: 'RequestVote',
        from: this.id,
        to: peer,
        term,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        preVote,
        transfer,
      });
    }
  }

  /** Acts on the outcome of the current round; returns true if the round ended. */
  private tallyVotes(): boolean {
    const outcome = this.votes!.outcome();
    if (outcome === 'pending') return false;
    if (outcome === 'lost') {
      this.becomeFollower(this.term, null);
      return true;
    }
    if (this.role === 'precandidate') {
      this.becomeCandidate();
      this.requestVotes(false, false);
    } else {
      this.becomeLeader();
    }
    return true;
  }

  private handleRequestVote(m: RequestVote): void {
    // §5.2: at most one vote per term, first come first served. A
    // pre-vote for a later term commits us to nothing, so it may be granted
    // whatever we voted for in this term.
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leaderId === null) ||
      (m.preVote && m.term > this.term);
    const upToDate =
      this.bugs.skipUpToDateCheck || this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    // Votes from outside the configuration are never granted (PITFALLS: removed nodes).
    if (canVote && upToDate && this.isVoter(m.from)) {
      // A grant echoes the request's term, so the candidate counts it.
      this.send({ type: 'RequestVoteResponse', from: this.id, to: m.from, term: m.term, granted: true, preVote: m.preVote });
      if (!m.preVote) {
        this.vote = m.from;
        this.electionElapsed = 0;
      }
    } else {
      this.send({ type: 'RequestVoteResponse', from: this.id, to: m.from, term: this.term, granted: false, preVote: m.preVote });
    }
  }

  // ---------------------------------------------------------------- input

  step(m: RaftMessage): void {
    if (m.to !== this.id || m.from === this.id) return;
    if (m.term > this.term) {
      if (!stepHigherTerm(this, m)) return;
    } else if (m.term < this.term) {
      stepLowerTerm(this, m);
      return;
    }

    if (m.type === 'RequestVote') {
      this.handleRequestVote(m);
      return;
    }
    // Reads are answered the same way in every role but the leader's.
    if (m.type === 'ReadIndexResponse') {
      this.receiveReadIndexResponse(m.ctx, m.ok ? m.index : null);
      return;
    }
    if (m.type === 'ReadIndex' && this.role !== 'leader') {
      this.refuseRead(m.from, m.ctx);
      return;
    }
    switch (this.role) {
      case 'leader':
        stepLeader(this, m);
        break;
      case 'precandidate':
      case 'candidate':
        this.stepCandidate(m);
        break;
      case 'follower':
        this.stepFollower(m);
        break;
    }
  }

  /**
   * Leader stickiness (thesis §4.2.3): with CheckQuorum, a node that heard
   * from a live leader within the minimum election timeout (or leads
   * itself) does not let a vote request depose it.
   */
  inLease(): boolean {
    return this.config.checkQuorum && this.heardFromLeaderRecently();
  }

  /** A leader is known and was heard from within the minimum election timeout (or this node leads). */
  heardFromLeaderRecently(): boolean {
    return this.leaderId !== null && (this.role === 'leader' || this.electionElapsed < this.config.electionTicksMin);
  }

  private stepCandidate(m: RaftMessage): void {
    switch (m.type) {
      case 'AppendEntries':
        // §5.2: a leader of our term exists; return to follower.
        this.becomeFollower(m.term, m.from);
        handleAppendEntries(this, m);
        break;
      case 'Heartbeat':
        this.becomeFollower(m.term, m.from);
        handleHeartbeat(this, m);
        break;
      case 'RequestVoteResponse':
        if (m.preVote !== (this.role === 'precandidate') && !(this.bugs.countPreVoteAsVote && m.granted)) return;
        this.votes!.record(m.from, m.granted);
        this.tallyVotes();
        break;
      default:
        break;
    }
  }

  private stepFollower(m: RaftMessage): void {
    switch (m.type) {
      case 'AppendEntries':
        this.electionElapsed = 0;
        this.setLeader(m.from);
        handleAppendEntries(this, m);
        break;
      case 'Heartbeat':
        this.electionElapsed = 0;
        this.setLeader(m.from);
        handleHeartbeat(this, m);
        break;
      case 'TimeoutNow':
        // Thesis §3.10: the leader asks us to take over; skip PreVote.
        this.campaign(true);
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- clients

  propose(datas: readonly Uint8Array[]): ProposeResult {
    if (this.role !== 'leader') return { ok: false, leaderId: this.leaderId };
    // While handing leadership over, new entries would only delay the target.
    if (this.leadTransferee !== null) return { ok: false, leaderId: this.leadTransferee };
    const first = this.log.lastIndex() + 1;
    const entries: Entry[] = new Array(datas.length);
    for (let i = 0; i < datas.length; i++) {
      entries[i] = { index: first + i, term: this.term, type: 'normal', data: datas[i] };
    }
    this.log.append(entries);
    if (this.voters.length === 1) maybeCommit(this);
    bcastAppend(this);
    return { ok: true, index: first, term: this.term };
  }

  /**
   * Thesis §3.10: hands leadership to `to` (default: the most up-to-date
   * follower). Returns the target, or null if this node cannot transfer.
   */
  transferLeader(to?: NodeId): NodeId | null {
    return startTransfer(this, to);
  }

  /** Restarts the transfer clock (leader.ts starts a transfer). */
  resetTransferTimer(): void {
    this.transferElapsed = 0;
  }

  readIndex(ctx: string): { ok: true } | { ok: false; leaderId: NodeId | null } {
    if (this.role === 'leader') {
      leaderRead(this, ctx, this.id);
      return { ok: true };
    }
    if (this.role === 'follower' && this.leaderId !== null) {
      // Thesis §6.4.1: a follower asks the leader for the read index.
      this.forwardedReads.set(ctx, { term: this.term, at: this.ticks });
      this.send({ type: 'ReadIndex', from: this.id, to: this.leaderId, term: this.term, ctx });
      return { ok: true };
    }
    return { ok: false, leaderId: this.leaderId };
  }

  /** A read became safe (index) or failed (null); the shell serves it once applied >= index. */
  pushReadState(ctx: string, index: number | null): void {
    this.outbox.readStates.push({ ctx, index });
  }

  private receiveReadIndexResponse(ctx: string, index: number | null): void {
    if (!this.forwardedReads.delete(ctx)) return;
    this.pushReadState(ctx, index);
  }

  refuseRead(to: NodeId, ctx: string): void {
    this.send({ type: 'ReadIndexResponse', from: this.id, to, term: this.term, ctx, index: 0, ok: false });
  }

  // ---------------------------------------------------------------- Ready

  hasReady(): boolean {
    return (
      !this.outbox.isEmpty() ||
      this.commitNotifyPending ||
      this.reads.roundNeeded ||
      this.hardStateChanged() ||
      this.softStateChanged() ||
      this.log.stable < this.log.lastIndex() ||
      this.log.hasCommittedToHandOut(this.applyLimit())
    );
  }

  /**
   * Everything the shell must do now. Only one Ready may be outstanding:
   * call `advance(ready)` before the next `ready()`; use `takeMessages()`
   * meanwhile to send what does not wait for the disk.
   */
  ready(): Ready {
    if (this.readyOutstanding) throw new Error('ready() called again before advance()');
    this.readyOutstanding = true;
    flushLeaderOutput(this);
    const hardState = this.hardStateChanged()
      ? { term: this.term, vote: this.vote, commit: this.log.committed }
      : null;
    const out = this.outbox.drain();
    this.lastSoftState = { role: this.role, term: this.term, leaderId: this.leaderId };
    const rd: Ready = {
      softState: this.lastSoftState,
      messages: out.messages,
      hardState,
      entries: this.log.unstableEntries(),
      messagesAfterPersist: out.afterPersist,
      committedEntries: this.log.takeCommitted(this.applyLimit()),
      readStates: out.readStates,
    };
    return rd;
  }

  /** The shell persisted, sent and applied what `rd` asked for. */
  advance(rd: Ready): void {
    this.readyOutstanding = false;
    if (rd.hardState !== null) this.persistedHardState = rd.hardState;
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      this.log.stableTo(last.index, last.term);
      // The leader's own replica counts toward commit only once durable.
      if (this.role === 'leader' && maybeCommit(this)) this.commitNotifyPending = true;
    }
  }

  /** Drains the messages that may be sent before the outstanding Ready is persisted. */
  takeMessages(): RaftMessage[] {
    flushLeaderOutput(this);
    return this.outbox.drainImmediate();
  }

  private applyLimit(): number {
    return this.bugs.applyUncommitted ? this.log.lastIndex() : this.log.committed;
  }

  /** A role or leader change alone (a CheckQuorum step-down, a lost vote) must reach the shell too. */
  private softStateChanged(): boolean {
    const p = this.lastSoftState;
    return p.role !== this.role || p.term !== this.term || p.leaderId !== this.leaderId;
  }

  private hardStateChanged(): boolean {
    const p = this.persistedHardState;
    return p.term !== this.term || p.vote !== this.vote || p.commit !== this.log.committed;
  }
}
