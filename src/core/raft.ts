import type {
  AppendEntries,
  Entry,
  Heartbeat,
  InstallSnapshot,
  NodeId,
  RaftMessage,
  RequestVote,
  RequestVoteResponse,
  Role,
  Snapshot,
} from '../messages.js';
import type { NodeContext } from './context.js';
import { Campaign } from './election.js';
import { Follower } from './follower.js';
import { ForwardedReads } from './forwarded-reads.js';
import { Leader } from './leader.js';
import { RaftLog } from './log.js';
import { Outbox } from './outbox.js';
import { type VoteOutcome, VoterSet } from './quorum.js';
import { randomInt } from './random.js';
import { readRefusal } from './read-only.js';
import { answerLowerTerm, leaderOf, onHigherTerm } from './terms.js';
import { mayGrantVote, voteResponse } from './vote.js';
import { ReadyHandshake } from './ready.js';
import type { CoreStatus, PlantedBugs, ProposeResult, RaftConfig, Ready, StoredState } from './types.js';

const NO_BUGS: PlantedBugs = {};

/**
 * The state of each role. A role's state exists only while the node holds
 * that role, so a follower cannot read a leader's progress and a leader
 * cannot see a stale vote tally.
 */
type RoleState =
  | { readonly role: 'follower'; readonly follower: Follower }
  | { readonly role: 'precandidate' | 'candidate'; readonly campaign: Campaign }
  | { readonly role: 'leader'; readonly leader: Leader };

/**
 * The Raft algorithm as a pure, deterministic state machine: no timers, no
 * I/O, no promises. Time enters through `tick()`, the network through
 * `step()`, clients through `propose()` and `readIndex()`; everything the
 * world must do comes out of `ready()`.
 *
 * This file owns term, vote, role and leader, and every transition between
 * roles: the term rules every message passes first (§5.1, decided in
 * terms.ts) and elections (§5.2, §5.4.1, thesis §9.6). A role's own work
 * lives with its state: leader.ts (Leader), election.ts (Campaign),
 * follower.ts (Follower: appends, heartbeats, snapshot chunks), vote.ts,
 * forwarded-reads.ts; the Ready handshake with the shell is in ready.ts.
 */
export class Raft {
  readonly id: NodeId;
  private readonly config: RaftConfig;
  private readonly bugs: PlantedBugs;
  private readonly log: RaftLog;
  private readonly voterSet: VoterSet;
  private readonly outbox: Outbox;
  /** What the roles may use of this node (not term, vote or role). */
  private readonly context: NodeContext;
  private readonly forwarded: ForwardedReads;

  private currentTerm: number;
  private votedFor: NodeId | null;
  private state: RoleState;
  /** The newest snapshot this node holds (taken here or installed), kept to send to followers that need it. */
  private latestSnapshot: Snapshot | null;
  private knownLeader: NodeId | null = null;

  /** Non-leaders: ticks since the leader was last heard from or a vote granted. */
  private electionElapsed = 0;
  private randomizedElectionTimeout = 0;

  private readonly handshake: ReadyHandshake;

  constructor(config: RaftConfig, stored: StoredState) {
    this.id = config.id;
    this.config = config;
    this.bugs = config.plantedBugs ?? NO_BUGS;
    this.outbox = new Outbox(this.bugs);
    this.voterSet = new VoterSet(config.voters, this.bugs.halfQuorum === true);
    this.currentTerm = stored.hardState.term;
    this.votedFor = stored.hardState.vote;
    this.latestSnapshot = stored.snapshot ?? null;
    this.log = new RaftLog(
      stored.entries,
      stored.hardState.commit,
      this.latestSnapshot ?? undefined,
      this.bugs.keepDurableMarkOnConflict === true,
    );
    const outbox = this.outbox;
    this.context = {
      id: this.id,
      config,
      bugs: this.bugs,
      log: this.log,
      voters: this.voterSet,
      send: (m) => outbox.send(m),
      readState: (ctx, index) => outbox.readState(ctx, index),
      snapshot: () => this.latestSnapshot,
    };
    this.state = { role: 'follower', follower: new Follower(this.context, this.outbox) };
    this.forwarded = new ForwardedReads((ctx) => outbox.readState(ctx, null), config.electionTicksMin);
    this.handshake = new ReadyHandshake(
      this,
      this.log,
      this.outbox,
      () => (this.state.role === 'leader' ? this.state.leader : null),
      // The planted bug (test only) hands out entries before they commit.
      () => (this.bugs.applyUncommitted ? this.log.lastIndex() : this.log.committed),
    );
    this.resetElectionTimer();
  }

  // ---------------------------------------------------------------- reading

  get term(): number {
    return this.currentTerm;
  }

  get vote(): NodeId | null {
    return this.votedFor;
  }

  get role(): Role {
    return this.state.role;
  }

  get leaderId(): NodeId | null {
    return this.knownLeader;
  }

  get voters(): readonly NodeId[] {
    return this.voterSet.ids;
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

  /** The highest index this core knows is on stable storage: what it may acknowledge and count toward commit. */
  get stableIndex(): number {
    return this.log.stable;
  }

  /** The follower leadership is being handed to (thesis §3.10), or null. */
  get leadTransferee(): NodeId | null {
    return this.state.role === 'leader' ? this.state.leader.transferee : null;
  }

  /** The index and term of the newest snapshot this node holds (0 and 0 for none). */
  get snapshotIndex(): number {
    return this.latestSnapshot?.index ?? 0;
  }

  get snapshotTerm(): number {
    return this.latestSnapshot?.term ?? 0;
  }

  /** How far the log may be compacted without taking what live followers still need (Leader.compactionFloor). */
  get compactionFloor(): number {
    return this.state.role === 'leader' ? this.state.leader.compactionFloor() : this.log.lastIndex();
  }

  /** The first index the in-memory log holds; the ones before it are compacted into a snapshot. */
  get firstIndex(): number {
    return this.log.firstIndex();
  }

  termAt(index: number): number {
    return this.log.term(index);
  }

  entries(lo: number, hi: number): Entry[] {
    return this.log.slice(lo, hi);
  }

  /** Leader only: each follower's match index (§5.3), for the simulator's invariants; empty otherwise. */
  matchIndexes(): ReadonlyMap<NodeId, number> {
    return this.state.role === 'leader' ? this.state.leader.matchIndexes() : new Map();
  }

  status(): CoreStatus {
    return {
      id: this.id,
      role: this.state.role,
      term: this.currentTerm,
      vote: this.votedFor,
      leaderId: this.knownLeader,
      commitIndex: this.log.committed,
      appliedIndex: this.log.handedOut,
      lastLogIndex: this.log.lastIndex(),
      voters: this.voterSet.ids,
      snapshotIndex: this.snapshotIndex,
      snapshotTerm: this.snapshotTerm,
    };
  }

  // ---------------------------------------------------------------- roles

  /**
   * `restartTimer` false keeps the election timer running: Figure 2 restarts
   * it only on hearing from the current leader or on granting a vote.
   */
  private becomeFollower(term: number, leaderId: NodeId | null, restartTimer = true): void {
    // Stryker disable next-line all: test-only planted bug (the vote of this term is lost)
    if (term === this.currentTerm && this.bugs.forgetVoteOnStepDown) this.votedFor = null;
    if (term !== this.currentTerm) {
      this.currentTerm = term;
      this.votedFor = null;
    }
    if (this.state.role === 'leader') this.state.leader.stepDown(this.currentTerm);
    // A snapshot half received from the old leader is dropped: a new leader starts its own.
    if (this.state.role !== 'follower' || leaderId !== this.knownLeader) {
      this.state = { role: 'follower', follower: new Follower(this.context, this.outbox) };
    }
    this.setLeader(leaderId);
    if (restartTimer) this.resetElectionTimer();
  }

  private becomePreCandidate(): Campaign {
    // Thesis §9.6: a pre-candidate does not touch its term or vote. It forgets
    // the leader, or a stale leader hint would make it refuse other
    // pre-candidates and the cluster could deadlock (etcd #8243).
    const campaign = new Campaign(this.context, true, this.currentTerm + 1, false);
    this.state = { role: 'precandidate', campaign };
    this.setLeader(null);
    this.resetElectionTimer();
    return campaign;
  }

  private becomeCandidate(transfer: boolean): Campaign {
    // §5.2: increment the term and vote for self.
    this.currentTerm += 1;
    this.votedFor = this.id;
    const campaign = new Campaign(this.context, false, this.currentTerm, transfer);
    this.state = { role: 'candidate', campaign };
    this.setLeader(null);
    this.resetElectionTimer();
    return campaign;
  }

  private becomeLeader(): void {
    const leader = new Leader(this.context, this.currentTerm);
    this.state = { role: 'leader', leader };
    this.setLeader(this.id);
    leader.start();
  }

  private setLeader(leaderId: NodeId | null): void {
    // Forwarded reads wait for an answer from the leader of their term only.
    this.forwarded.leaderChanged(this.currentTerm, leaderId === this.knownLeader);
    this.knownLeader = leaderId;
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
    this.forwarded.tick();
    const s = this.state;
    if (s.role === 'leader') {
      if (!s.leader.tick()) this.becomeFollower(this.currentTerm, null);
      return;
    }
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign();
      return;
    }
    // A campaign asks again each heartbeat interval (see Campaign.requestVotes).
    if (s.role !== 'follower' && this.electionElapsed % this.config.heartbeatTicks === 0) s.campaign.requestVotes();
  }

  // ---------------------------------------------------------------- elections

  /** Starts an election now, as if the election timeout had fired. */
  campaign(transfer = false): void {
    if (!this.voterSet.has(this.id) || this.state.role === 'leader') return;
    const campaign = this.config.preVote && !transfer ? this.becomePreCandidate() : this.becomeCandidate(transfer);
    this.onVoteOutcome(campaign.start());
  }

  /** Acts on the outcome of the current round. */
  private onVoteOutcome(outcome: VoteOutcome): void {
    if (outcome === 'pending') return;
    if (outcome === 'lost') this.becomeFollower(this.currentTerm, null);
    else if (this.state.role === 'precandidate') this.onVoteOutcome(this.becomeCandidate(false).start());
    else this.becomeLeader();
  }

  private handleRequestVote(m: RequestVote): void {
    const voter = { term: this.currentTerm, votedFor: this.votedFor, leaderKnown: this.knownLeader !== null };
    if (!mayGrantVote(m, voter, this.log, this.bugs)) {
      this.refuseVote(m);
      return;
    }
    this.send(voteResponse(this.id, m, m.term, true));
    if (!m.preVote) {
      this.votedFor = m.from;
      // §5.2: granting a vote restarts the randomized election timeout, with
      // a fresh draw: the one kept from before was the longer of a race this
      // node lost, and keeping it would slow the next election.
      this.resetElectionTimer();
    }
  }

  private refuseVote(m: RequestVote): void {
    this.send(voteResponse(this.id, m, this.currentTerm, false));
  }

  /** A leader is known and was heard from within the minimum election timeout (or this node leads). */
  private heardFromLeaderRecently(): boolean {
    return (
      this.knownLeader !== null && (this.state.role === 'leader' || this.electionElapsed < this.config.electionTicksMin)
    );
  }

  // ---------------------------------------------------------------- input

  step(m: RaftMessage): void {
    if (m.to !== this.id || m.from === this.id) return;
    if (m.type === 'RequestVote' && !this.voterSet.has(m.from)) {
      // Thesis §4.2.3: a server outside the configuration (removed, or
      // stray) must not disrupt it, so its term is not adopted either.
      this.refuseVote(m);
      return;
    }
    if (m.term > this.currentTerm) {
      const heardFromLeader = this.heardFromLeaderRecently();
      // Leader stickiness (thesis §4.2.3) needs CheckQuorum: without it a
      // leader cut off from the quorum would keep its followers forever.
      const lease = { heardFromLeader, sticky: heardFromLeader && this.config.checkQuorum };
      const action = onHigherTerm(m, lease, this.bugs);
      if (action === 'ignore') return;
      // A vote request's term is adopted, but only a granted vote restarts the
      // timer: a stale candidate with a short timeout would otherwise hold
      // off every election forever (a leader stepping down starts afresh).
      const restartTimer = m.type !== 'RequestVote' || this.state.role === 'leader';
      if (action === 'adopt') this.becomeFollower(m.term, leaderOf(m), restartTimer);
    } else if (m.term < this.currentTerm) {
      const answer = answerLowerTerm(m, this.id, this.currentTerm);
      if (answer !== null) this.send(answer);
      return;
    }

    const s = this.state;
    // Votes and read answers are handled the same way in every role.
    if (m.type === 'RequestVote') this.handleRequestVote(m);
    else if (m.type === 'ReadIndexResponse') this.receiveReadIndexResponse(m.ctx, m.ok ? m.index : null);
    else if (s.role === 'leader') s.leader.step(m);
    else if (m.type === 'ReadIndex') this.send(readRefusal(this.id, m.from, this.currentTerm, m.ctx));
    else if (s.role === 'follower') this.stepFollower(m);
    else this.stepCandidate(m, s.campaign);
  }

  private stepCandidate(m: RaftMessage, campaign: Campaign): void {
    switch (m.type) {
      case 'AppendEntries':
      case 'Heartbeat':
      case 'InstallSnapshot':
        // §5.2: a leader of our term exists; return to follower.
        this.becomeFollower(m.term, m.from);
        this.stepFromLeader(m);
        break;
      case 'RequestVoteResponse':
        if (m.preVote === campaign.preVote || this.countsAsPlantedVote(m)) {
          this.onVoteOutcome(campaign.record(m.from, m.granted));
        }
        break;
      default:
        break;
    }
  }

  /** The planted bug that counts a late pre-vote grant in the real election (test only). */
  private countsAsPlantedVote(m: RequestVoteResponse): boolean {
    return this.bugs.countPreVoteAsVote === true && m.granted;
  }

  private stepFollower(m: RaftMessage): void {
    switch (m.type) {
      case 'AppendEntries':
      case 'Heartbeat':
      case 'InstallSnapshot':
        this.electionElapsed = 0;
        this.setLeader(m.from);
        this.stepFromLeader(m);
        break;
      case 'TimeoutNow':
        // Thesis §3.10: the leader asks us to take over; skip PreVote.
        this.campaign(true);
        break;
      default:
        break;
    }
  }

  /** Replication from the leader of our term (§5.3, §7); the sender is already recorded as leader. */
  private stepFromLeader(m: AppendEntries | Heartbeat | InstallSnapshot): void {
    if (this.state.role !== 'follower') return;
    const installed = this.state.follower.step(m, this.currentTerm);
    if (installed !== null) this.latestSnapshot = installed;
  }

  private send(m: RaftMessage): void {
    this.outbox.send(m);
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * §7: the shell took a snapshot at `snapshot.index` and stored it durably;
   * the log may drop its entries through `compactThrough` (at most the
   * snapshot's index: a few are kept so slow followers catch up from the log).
   */
  snapshotTaken(snapshot: Snapshot, compactThrough: number): void {
    // A snapshot never covers an entry that is not committed and applied here.
    if (this.bugs.snapshotAboveCommit !== true) this.log.checkApplied(snapshot);
    if (snapshot.index > this.snapshotIndex) this.latestSnapshot = snapshot;
    this.log.compact(Math.min(compactThrough, snapshot.index, this.log.handedOut));
  }

  // ---------------------------------------------------------------- clients

  propose(datas: readonly Uint8Array[]): ProposeResult {
    const s = this.state;
    return s.role === 'leader' ? s.leader.propose(datas) : { ok: false, leaderId: this.knownLeader };
  }

  /**
   * Thesis §3.10: hands leadership to `to` (default: the most up-to-date
   * follower). Returns the target, or null if this node cannot transfer.
   */
  transferLeader(to?: NodeId): NodeId | null {
    return this.state.role === 'leader' ? this.state.leader.startTransfer(to) : null;
  }

  readIndex(ctx: string): { ok: true } | { ok: false; leaderId: NodeId | null } {
    const s = this.state;
    if (s.role === 'leader') {
      s.leader.read(ctx, this.id);
      return { ok: true };
    }
    if (s.role === 'follower' && this.knownLeader !== null) {
      // Thesis §6.4.1: a follower asks the leader for the read index.
      this.forwarded.add(ctx, this.currentTerm);
      this.send({ type: 'ReadIndex', from: this.id, to: this.knownLeader, term: this.currentTerm, ctx });
      return { ok: true };
    }
    return { ok: false, leaderId: this.knownLeader };
  }

  private receiveReadIndexResponse(ctx: string, index: number | null): void {
    if (this.forwarded.answer(ctx)) this.outbox.readState(ctx, index);
  }

  // ---------------------------------------------------------------- Ready

  hasReady(): boolean {
    return this.handshake.has();
  }

  /**
   * Everything the shell must do now. Only one Ready may be outstanding:
   * call `advance(ready)` before the next `ready()`; use `takeMessages()`
   * meanwhile to send what does not wait for the disk.
   */
  ready(): Ready {
    return this.handshake.take();
  }

  /** The shell persisted, sent and applied what `rd` asked for. */
  advance(rd: Ready): void {
    this.handshake.advance(rd);
  }

  /** Drains the messages that may be sent before the outstanding Ready is persisted. */
  takeMessages(): RaftMessage[] {
    return this.handshake.takeMessages();
  }
}
