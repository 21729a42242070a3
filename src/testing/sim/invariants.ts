import type { Raft } from '../../core/raft.js';
import type { NodeId, RaftMessage } from '../../messages.js';

export interface Violation {
  /** Which property broke, e.g. "Election Safety". */
  readonly property: string;
  readonly message: string;
}

/** Per process lifetime: what must only grow while the process lives. */
interface Lifetime {
  term: number;
  commit: number;
  applied: number;
  /** Terms of the log entries already registered for Log Matching, by index (1-based; [0] unused). */
  registered: number[];
  /** As leader: the (term, lastIndex, lastTerm) last seen, for Leader Append-Only. */
  leaderTerm: number;
  leaderLast: number;
  leaderLastTerm: number;
}

interface EntryFact {
  readonly prevTerm: number;
  readonly data: Uint8Array;
}

/**
 * Raft's safety properties (Figure 3 of the paper) and the bookkeeping
 * rules around them, checked against the real cores after every simulator
 * step. Each check is incremental, so the cost per step stays small.
 */
export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** committedTerms[i]: the term of the entry committed at index i (global truth so far). */
  private readonly committedTerms: number[] = [0];
  private readonly committedData: Uint8Array[] = [new Uint8Array(0)];
  /** Log Matching registry: `${index}:${term}` → what such an entry must look like everywhere. */
  private readonly entryFacts = new Map<string, EntryFact>();
  /** State Machine Safety: what was applied at each index, by anyone. */
  private readonly appliedAt = new Map<number, { term: number; data: Uint8Array }>();
  private readonly lifetimes = new Map<NodeId, Lifetime>();

  /** A node (re)started: its volatile state starts over. */
  startLifetime(id: NodeId, core: Raft): void {
    this.lifetimes.set(id, {
      term: core.term,
      commit: core.commitIndex,
      applied: 0,
      registered: [0],
      leaderTerm: 0,
      leaderLast: 0,
      leaderLastTerm: 0,
    });
  }

  /** The highest index known committed anywhere. */
  get committedIndex(): number {
    return this.committedTerms.length - 1;
  }

  committedTermAt(index: number): number | undefined {
    return this.committedTerms[index];
  }

  /**
   * `existsUpTo`: the last index of this node's log that exists outside its
   * memory. A leader's entries exist once on its disk (its followers register
   * what they receive); before that, a crash takes them back as if never
   * written, and a one-node cluster, whose leader needs no vote from anyone,
   * may then lead the same term again with other entries.
   */
  check(id: NodeId, core: Raft, appliedIndex: number, existsUpTo = Infinity): Violation | null {
    const life = this.lifetimes.get(id);
    if (life === undefined) return null;
    return (
      this.checkMonotonic(id, core, appliedIndex, life) ??
      this.checkElectionSafety(id, core, life) ??
      this.checkLogMatching(id, core, life, existsUpTo) ??
      this.checkCommitted(id, core)
    );
  }

  /** §5.1: a node that processed a message of a higher term adopts that term. */
  checkTermAdopted(core: Raft, m: RaftMessage): Violation | null {
    if (m.term <= core.term) return null;
    // Exceptions by design: PreVote never changes terms (thesis §9.6), a vote
    // request inside a leader's lease is ignored (thesis §4.2.3), and a
    // granted pre-vote carries the term the candidate asked about.
    if (m.type === 'RequestVote') return null;
    if (m.type === 'RequestVoteResponse' && m.preVote && m.granted) return null;
    return {
      property: 'Term adoption (§5.1)',
      message: `${core.id} processed ${m.type} of term ${m.term} from ${m.from} but stayed at term ${core.term}`,
    };
  }

  /** State Machine Safety (§5.4.3): no two nodes apply different entries at one index. */
  recordApply(id: NodeId, index: number, term: number, data: Uint8Array, commitIndex: number): Violation | null {
    if (index > commitIndex) {
      return {
        property: 'Apply only committed',
        message: `${id} applied index ${index} above its commit index ${commitIndex}`,
      };
    }
    const seen = this.appliedAt.get(index);
    if (seen === undefined) {
      this.appliedAt.set(index, { term, data });
      return null;
    }
    if (seen.term !== term || !sameBytes(seen.data, data)) {
      return {
        property: 'State Machine Safety',
        message: `${id} applied term ${term} at index ${index}, another node applied term ${seen.term} there`,
      };
    }
    return null;
  }

  /**
   * Every committed entry is durable on a quorum: the disks a restarted
   * cluster would read hold it (committed entries are never lost).
   */
  checkDurable(durableTermAt: ((index: number) => number)[], quorum: number): Violation | null {
    for (let i = 1; i < this.committedTerms.length; i++) {
      let holders = 0;
      for (const termAt of durableTermAt) if (termAt(i) === this.committedTerms[i]) holders++;
      if (holders < quorum) {
        return {
          property: 'Durability of committed entries',
          message: `committed entry ${i} (term ${this.committedTerms[i]}) is durable on ${holders} nodes, fewer than a quorum of ${quorum}`,
        };
      }
    }
    return null;
  }

  private checkMonotonic(id: NodeId, core: Raft, applied: number, life: Lifetime): Violation | null {
    if (core.term < life.term) return monotonic(id, 'term', life.term, core.term);
    if (core.commitIndex < life.commit) return monotonic(id, 'commit index', life.commit, core.commitIndex);
    if (applied < life.applied) return monotonic(id, 'applied index', life.applied, applied);
    if (applied > core.commitIndex) {
      return {
        property: 'Apply only committed',
        message: `${id} applied up to ${applied} but has committed only ${core.commitIndex}`,
      };
    }
    life.term = core.term;
    life.commit = core.commitIndex;
    life.applied = applied;
    return null;
  }

  private checkElectionSafety(id: NodeId, core: Raft, life: Lifetime): Violation | null {
    if (core.role !== 'leader') return null;
    const known = this.leaderOfTerm.get(core.term);
    if (known !== undefined && known !== id) {
      return { property: 'Election Safety', message: `${id} and ${known} are both leaders of term ${core.term}` };
    }
    if (known === undefined) {
      this.leaderOfTerm.set(core.term, id);
      // Leader Completeness (§5.4): a new leader holds every committed entry.
      for (let i = 1; i < this.committedTerms.length; i++) {
        if (core.termAt(i) !== this.committedTerms[i]) {
          return {
            property: 'Leader Completeness',
            message: `${id} became leader of term ${core.term} without committed entry ${i} (term ${this.committedTerms[i]}; it holds ${core.termAt(i)})`,
          };
        }
      }
    }
    // Leader Append-Only: within its term a leader only appends.
    if (life.leaderTerm === core.term) {
      if (core.lastIndex < life.leaderLast || core.termAt(life.leaderLast) !== life.leaderLastTerm) {
        return {
          property: 'Leader Append-Only',
          message: `${id}, leader of term ${core.term}, lost or changed entry ${life.leaderLast}`,
        };
      }
    }
    life.leaderTerm = core.term;
    life.leaderLast = core.lastIndex;
    life.leaderLastTerm = core.lastTerm;
    return null;
  }

  /**
   * Log Matching (§5.3): two entries with the same index and term hold the
   * same command and are preceded by the same entries. Checked by
   * registering every (index, term) once with its predecessor's term.
   */
  private checkLogMatching(id: NodeId, core: Raft, life: Lifetime, existsUpTo: number): Violation | null {
    const reg = life.registered;
    // Entries this node replaced since the last check are registered again.
    while (reg.length > 1 && core.termAt(reg.length - 1) !== reg[reg.length - 1]) reg.pop();
    const last = Math.min(core.lastIndex, existsUpTo);
    if (reg.length > last + 1) reg.length = last + 1;
    if (reg.length > last) return null;
    for (const e of core.entries(reg.length, last + 1)) {
      const prevTerm = reg[e.index - 1];
      const key = `${e.index}:${e.term}`;
      const fact = this.entryFacts.get(key);
      if (fact === undefined) {
        this.entryFacts.set(key, { prevTerm, data: e.data });
      } else if (fact.prevTerm !== prevTerm || !sameBytes(fact.data, e.data)) {
        return {
          property: 'Log Matching',
          message: `${id} holds entry ${e.index} of term ${e.term} that differs from another node's (previous term ${prevTerm} vs ${fact.prevTerm})`,
        };
      }
      reg.push(e.term);
    }
    return null;
  }

  /** Committed entries never change, and a node's log always holds what it has committed. */
  private checkCommitted(id: NodeId, core: Raft): Violation | null {
    const commit = core.commitIndex;
    if (commit > core.lastIndex) {
      return {
        property: 'Committed entries are never lost',
        message: `${id} has commit index ${commit} but its log ends at ${core.lastIndex}`,
      };
    }
    const known = this.committedTerms.length - 1;
    const top = Math.min(commit, known);
    if (top > 0 && core.termAt(top) !== this.committedTerms[top]) {
      return {
        property: 'Committed entries never change',
        message: `${id} holds term ${core.termAt(top)} at committed index ${top}, committed as term ${this.committedTerms[top]}`,
      };
    }
    if (commit > known) {
      for (const e of core.entries(known + 1, commit + 1)) {
        this.committedTerms.push(e.term);
        this.committedData.push(e.data);
      }
    }
    return null;
  }
}

function monotonic(id: NodeId, what: string, before: number, now: number): Violation {
  return { property: 'Monotonic state', message: `${id}'s ${what} went back from ${before} to ${now}` };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
