import type { HardState, NodeId, RaftMessage, Role } from '../../messages.js';
import type { Violation } from './invariants.js';

/** What the rules read from a running core: public, read-only members. */
export interface CoreView {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly role: Role;
  readonly commitIndex: number;
  /** The highest index the core counts as on its disk. */
  readonly stableIndex: number;
  /** The first index the core's log holds; the ones before it are in its snapshot (all committed). */
  readonly firstIndex: number;
  termAt(index: number): number;
  /** Leader only: each follower's match index. */
  matchIndexes(): ReadonlyMap<NodeId, number>;
}

/** A server's disk as a restarted process would read it. */
export interface DurableView {
  /** The term of the stored entry at `index`, or -1 if there is none. */
  durableTermAt(index: number): number;
  durableLastIndex(): number;
  durableHardState(): HardState;
}

export interface ServerView {
  readonly id: NodeId;
  /** The running core, or null while the process is down. */
  readonly core: CoreView | null;
  readonly storage: DurableView;
}

/**
 * The rules of the Raft TLA+ specification that the end-state invariants
 * (SafetyChecker) only see through their consequences, checked at the moment
 * each rule applies: when a vote or acknowledgement leaves a server, when a
 * server restarts, when a leader is elected, after every step for match and
 * commit indexes and each server's durable prefix, and when a read returns. Each reports the first time its
 * rule breaks, long before the rare interleaving that turns the broken rule
 * into two leaders or a lost write.
 *
 * A vote counts once it has left the server (a grant, or a candidate's own
 * vote request): a vote held only in memory and lost in a crash was never
 * given, and is not one. A pre-vote is never a vote (thesis §9.6).
 */
export class RuleChecker {
  /** Per server, per term: whom it gave its vote. */
  private readonly votes = new Map<NodeId, Map<number, NodeId>>();
  /** Per server, the vote it gave in its latest term. */
  private readonly lastVote = new Map<NodeId, { readonly term: number; readonly to: NodeId }>();
  /** Per server, the latest term in which it acknowledged entries. */
  private readonly ackTerm = new Map<NodeId, number>();
  /** Per server, the commit index last checked against the disks (0 after a restart). */
  private readonly checkedCommit = new Map<NodeId, number>();
  /** Per leader, its term and the commit index it had when last checked. */
  private readonly leaderCommit = new Map<NodeId, { readonly term: number; commit: number }>();

  constructor(
    /** A true majority of the cluster, whatever the core computes. */
    private readonly majority: number,
    /** The term of the entry committed at an index, if known: what a compacted entry was (§7: only committed entries are compacted). */
    private readonly committedTermAt: (index: number) => number | undefined = () => undefined,
  ) {}

  /** A message leaves `sender`: votes are recorded, acknowledgements checked against its disk. */
  sent(m: RaftMessage, sender: ServerView): Violation | null {
    switch (m.type) {
      case 'RequestVote':
        // A candidate votes for itself before asking (§5.2); a transfer's campaign is a real election too.
        return m.preVote ? null : this.recordVote(m.from, m.term, m.from);
      case 'RequestVoteResponse':
        return m.preVote || !m.granted ? null : this.recordVote(m.from, m.term, m.to);
      case 'AppendEntriesResponse':
        return m.success ? this.checkAck(m.from, m.to, m.term, m.matchIndex, sender) : null;
      case 'InstallSnapshotResponse':
        // Figure 13: a follower answers that it holds the snapshot only once it is durable.
        return m.done ? this.checkAck(m.from, m.to, m.term, m.snapshotIndex, sender) : null;
      default:
        return null;
    }
  }

  /** §5.2: "each server will vote for at most one candidate in a given term". */
  private recordVote(server: NodeId, term: number, to: NodeId): Violation | null {
    let byTerm = this.votes.get(server);
    if (byTerm === undefined) {
      byTerm = new Map();
      this.votes.set(server, byTerm);
    }
    const given = byTerm.get(term);
    if (given !== undefined && given !== to) {
      return {
        property: 'One vote per server per term',
        message: `${server} voted for ${given} and then for ${to} in term ${term}`,
      };
    }
    byTerm.set(term, to);
    const last = this.lastVote.get(server);
    if (last === undefined || term > last.term) this.lastVote.set(server, { term, to });
    return null;
  }

  /**
   * §5.2, the state behind one vote per term: a vote given in a term stays
   * the server's vote (votedFor) for as long as it is in that term. A server
   * that forgets it, by stepping down or otherwise, can give a second one.
   */
  checkVoteKept(id: NodeId, core: CoreView): Violation | null {
    const last = this.lastVote.get(id);
    if (last === undefined || last.term !== core.term || core.vote === last.to) return null;
    return {
      property: 'One vote per server per term',
      message: `${id} voted for ${last.to} in term ${last.term}, but its vote in that term is now ${core.vote ?? 'none'}`,
    };
  }

  /**
   * Figure 2: an acknowledgement promises entries "on stable storage"; one
   * the disk does not hold is a lie, whatever its term (a deposed leader
   * that still counts it could commit what no disk holds).
   */
  private checkAck(
    server: NodeId,
    leader: NodeId,
    term: number,
    matchIndex: number,
    sender: ServerView,
  ): Violation | null {
    if (term > (this.ackTerm.get(server) ?? 0)) this.ackTerm.set(server, term);
    const stored = sender.storage.durableLastIndex();
    if (matchIndex > stored) {
      return {
        property: 'Acknowledged entries are durable',
        message: `${server} acknowledged index ${matchIndex} to ${leader} in term ${term} with only ${stored} entries on its disk`,
      };
    }
    return null;
  }

  /**
   * Figure 2: entries are on stable storage before a server answers for
   * them. What the core counts as durable (what it acknowledges and counts
   * toward commit) must be what its disk holds, index by index over the whole
   * durable prefix: a truncation that fails to lower the durable mark leaves
   * stale entries below an acknowledged index, where the check of the
   * acknowledgement itself does not look.
   */
  checkDurablePrefix(id: NodeId, core: CoreView, disk: DurableView): Violation | null {
    // Below the log's first index the entries are folded into a snapshot, which may still be on its way to the disk.
    for (let i = Math.max(1, core.firstIndex); i <= core.stableIndex; i++) {
      const onDisk = disk.durableTermAt(i);
      if (onDisk === core.termAt(i)) continue;
      return {
        property: 'Durable prefix on disk',
        message: `${id} counts its log up to ${core.stableIndex} as durable, but at ${i} its disk holds ${onDisk === -1 ? 'nothing' : `term ${onDisk}`} and its log term ${core.termAt(i)}`,
      };
    }
    return null;
  }

  /**
   * Figure 2: term and vote are on stable storage before a server answers.
   * A restarted server reads them back, and they must cover every vote and
   * acknowledgement it gave before the crash.
   */
  restarted(id: NodeId, stored: HardState): Violation | null {
    this.checkedCommit.set(id, 0);
    this.leaderCommit.delete(id);
    const last = this.lastVote.get(id);
    const ackTerm = this.ackTerm.get(id) ?? 0;
    let lost: string | null = null;
    if (last !== undefined && (stored.term < last.term || (stored.term === last.term && stored.vote !== last.to))) {
      lost = `it had voted for ${last.to} in term ${last.term}`;
    } else if (stored.term < ackTerm) {
      lost = `it had acknowledged entries in term ${ackTerm}`;
    }
    if (lost === null) return null;
    return {
      property: 'Term and vote survive a crash',
      message: `${id} restarted at term ${stored.term} with vote ${stored.vote ?? 'none'}, but before the crash ${lost}`,
    };
  }

  /** §5.2: a candidate wins with votes from a majority of the servers in its term; pre-votes do not count. */
  electedLeader(id: NodeId, core: CoreView): Violation | null {
    let granted = core.vote === id ? 1 : 0;
    for (const [server, byTerm] of this.votes) if (server !== id && byTerm.get(core.term) === id) granted++;
    if (granted >= this.majority) return null;
    return {
      property: 'Leader elected by a quorum',
      message: `${id} became leader of term ${core.term} with ${granted} votes given to it, fewer than a majority of ${this.majority}`,
    };
  }

  /**
   * §5.3: matchIndex is what the leader knows the follower holds. Compared
   * only with followers in the leader's own term: a stale leader's view of a
   * follower that a later leader has since rewritten is old, not wrong.
   */
  checkMatchIndexes(leaderId: NodeId, leader: CoreView, servers: ReadonlyMap<NodeId, ServerView>): Violation | null {
    for (const [id, match] of leader.matchIndexes()) {
      const follower = servers.get(id);
      if (match === 0 || follower === undefined) continue;
      const term = follower.core?.term ?? follower.storage.durableHardState().term;
      if (term !== leader.term) continue;
      const disk = follower.storage;
      const stored = disk.durableLastIndex();
      // An entry the leader compacted was committed: the follower must hold the committed one.
      const held = leader.termAt(match);
      const expected = held >= 0 ? held : this.committedTermAt(match);
      if (stored >= match && (expected === undefined || disk.durableTermAt(match) === expected)) continue;
      const holds =
        stored < match ? `its disk ends at ${stored}` : `its disk holds term ${disk.durableTermAt(match)} there`;
      return {
        property: "Match index within the follower's durable log",
        message: `${leaderId}, leader of term ${leader.term}, has match index ${match} (term ${expected}) for ${id}, but ${holds}`,
      };
    }
    return null;
  }

  /**
   * §5.3-5.4: an entry is committed once a majority of servers store it, so
   * no server's commit index may name an entry that fewer hold durably
   * (counting any servers: thesis §10.2.1 lets a leader commit before its own write).
   */
  checkCommitIndex(server: ServerView, servers: Iterable<ServerView>): Violation | null {
    const core = server.core;
    if (core === null) return null;
    const commit = core.commitIndex;
    if (commit === 0 || this.checkedCommit.get(server.id) === commit) return null;
    this.checkedCommit.set(server.id, commit);
    const term = core.termAt(commit);
    let holders = 0;
    for (const s of servers) if (s.storage.durableTermAt(commit) === term) holders++;
    if (holders >= this.majority) return null;
    return {
      property: 'Commit only what a quorum stores',
      message: `${server.id} has commit index ${commit} (term ${term}), but only ${holders} disks hold that entry, fewer than a majority of ${this.majority}`,
    };
  }

  /**
   * §5.4.2: "only log entries from the leader's current term are committed
   * by counting replicas"; earlier ones only with them (Figure 8). So a
   * leader's commit index only ever moves onto an entry of its own term.
   */
  checkLeaderCommit(id: NodeId, core: CoreView): Violation | null {
    if (core.role !== 'leader') {
      this.leaderCommit.delete(id);
      return null;
    }
    const seen = this.leaderCommit.get(id);
    const commit = core.commitIndex;
    if (seen === undefined || seen.term !== core.term) {
      this.leaderCommit.set(id, { term: core.term, commit });
      return null;
    }
    if (commit === seen.commit) return null;
    const from = seen.commit;
    seen.commit = commit;
    const term = core.termAt(commit);
    if (term === core.term) return null;
    return {
      property: 'Leader commits only entries of its term by counting',
      message: `${id}, leader of term ${core.term}, moved its commit index from ${from} to ${commit}, an entry of term ${term}`,
    };
  }

  /** Thesis §6.4: a read's index covers everything committed before the read was called. */
  readReturned(id: NodeId, index: number, committedAtCall: number): Violation | null {
    if (index >= committedAtCall) return null;
    return {
      property: 'Read index covers prior commits',
      message: `a read through ${id} returned index ${index}, but index ${committedAtCall} was committed before it was called`,
    };
  }
}
