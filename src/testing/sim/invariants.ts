import type { Raft } from '../../core/raft.js';
import type { Entry, NodeId, RaftMessage } from '../../messages.js';

export interface Violation {
  /** Which property broke, e.g. "Election Safety". */
  readonly property: string;
  readonly message: string;
}

/**
 * The part of a node's log already registered for Log Matching: the terms
 * of entries base+1..base+terms.length, after the entry at `base` (the
 * start of its log: 0, or where a snapshot or compaction left it) of term
 * `baseTerm`.
 */
interface Registered {
  base: number;
  baseTerm: number;
  terms: number[];
}

/** Per process lifetime: what must only grow while the process lives. */
interface Lifetime {
  term: number;
  commit: number;
  applied: number;
  registered: Registered;
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
  /** committed[i]: the entry committed at index i (global truth so far; [0] stands for the empty log). */
  private readonly committed: Entry[] = [{ index: 0, term: 0, type: 'noop', data: new Uint8Array(0) }];
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
      registered: { base: core.firstIndex - 1, baseTerm: core.termAt(core.firstIndex - 1), terms: [] },
      leaderTerm: 0,
      leaderLast: 0,
      leaderLastTerm: 0,
    });
  }

  /** The highest index known committed anywhere. */
  get committedIndex(): number {
    return this.committed.length - 1;
  }

  committedTermAt(index: number): number | undefined {
    return this.committed[index]?.term;
  }

  /** The entries known committed in [lo, hi), in log order: the reference a restored state is replayed from. */
  committedEntries(lo: number, hi: number): readonly Entry[] {
    return this.committed.slice(Math.max(1, lo), hi);
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
      this.checkCommitted(id, core) ??
      this.checkCompacted(id, core)
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
    for (let i = 1; i < this.committed.length; i++) {
      const term = this.committed[i].term;
      let holders = 0;
      for (const termAt of durableTermAt) if (termAt(i) === term) holders++;
      if (holders < quorum) {
        return {
          property: 'Durability of committed entries',
          message: `committed entry ${i} (term ${term}) is durable on ${holders} nodes, fewer than a quorum of ${quorum}`,
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
      const incomplete = this.leaderCompleteness(id, core);
      if (incomplete !== null) return incomplete;
    }
    // Leader Append-Only: within its term a leader only appends (what it compacted since, it committed).
    if (life.leaderTerm === core.term) {
      const changed = life.leaderLast >= core.firstIndex - 1 && core.termAt(life.leaderLast) !== life.leaderLastTerm;
      if (core.lastIndex < life.leaderLast || changed) {
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
   * Leader Completeness (§5.4): a new leader holds every committed entry:
   * those after its compacted prefix in its log, and the rest in its
   * snapshot, whose last entry must be the committed one (§7).
   */
  private leaderCompleteness(id: NodeId, core: Raft): Violation | null {
    const missing = (what: string): Violation => ({
      property: 'Leader Completeness',
      message: `${id} became leader of term ${core.term} ${what}`,
    });
    const start = core.firstIndex - 1;
    if (start > 0) {
      const s = core.snapshotIndex;
      if (s < start || core.snapshotTerm !== this.committed[s]?.term) {
        return missing(
          `with a log compacted through ${start} and a snapshot at ${s} (term ${core.snapshotTerm}), not the committed entry there`,
        );
      }
    }
    for (let i = Math.max(1, start); i < this.committed.length; i++) {
      if (core.termAt(i) !== this.committed[i].term) {
        return missing(`without committed entry ${i} (term ${this.committed[i].term}; it holds ${core.termAt(i)})`);
      }
    }
    return null;
  }

  /**
   * Log Matching (§5.3): two entries with the same index and term hold the
   * same command and are preceded by the same entries. Checked by
   * registering every (index, term) once with its predecessor's term, over
   * the log after the node's snapshot.
   */
  private checkLogMatching(id: NodeId, core: Raft, life: Lifetime, existsUpTo: number): Violation | null {
    const reg = life.registered;
    const termOf = (i: number): number => (i === reg.base ? reg.baseTerm : reg.terms[i - reg.base - 1]);
    const start = core.firstIndex - 1;
    // Entries this node replaced since the last check are registered again.
    while (reg.terms.length > 0 && reg.base + reg.terms.length >= start) {
      const i = reg.base + reg.terms.length;
      if (core.termAt(i) === reg.terms[reg.terms.length - 1]) break;
      reg.terms.pop();
    }
    if (start > reg.base) {
      const kept = this.rebase(id, core, reg, termOf);
      if (kept !== null) return kept;
    }
    const last = Math.min(core.lastIndex, existsUpTo);
    if (last < reg.base) {
      reg.terms.length = 0;
      return null;
    }
    if (reg.base + reg.terms.length > last) reg.terms.length = last - reg.base;
    const from = reg.base + reg.terms.length + 1;
    if (from > last) return null;
    for (const e of core.entries(from, last + 1)) {
      const prevTerm = termOf(e.index - 1);
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
      reg.terms.push(e.term);
    }
    return null;
  }

  /**
   * The node's log now starts later (a snapshot taken or installed): the
   * registry starts there too. Figure 13, step 6: an installed snapshot
   * keeps the log after its last entry only if the log held that entry; a
   * log that kept entries registered after a different entry there holds
   * entries whose predecessor has changed.
   */
  private rebase(id: NodeId, core: Raft, reg: Registered, termOf: (i: number) => number): Violation | null {
    const start = core.firstIndex - 1;
    const lastRegistered = reg.base + reg.terms.length;
    if (start >= lastRegistered) {
      // Everything registered is behind the new start.
      reg.terms = [];
    } else {
      if (core.termAt(start) !== termOf(start)) {
        return {
          property: 'An installed snapshot replaces a conflicting log (Figure 13)',
          message: `${id} installed a snapshot at ${start} (term ${core.termAt(start)}) over its entry of term ${termOf(start)} there, and kept entries ${start + 1}..${lastRegistered} that followed that entry`,
        };
      }
      reg.terms = reg.terms.slice(start - reg.base);
    }
    reg.base = start;
    reg.baseTerm = core.termAt(start);
    return null;
  }

  /** Committed entries never change, and a node's log (or snapshot) always holds what it has committed. */
  private checkCommitted(id: NodeId, core: Raft): Violation | null {
    const commit = core.commitIndex;
    if (commit > core.lastIndex) {
      return {
        property: 'Committed entries are never lost',
        message: `${id} has commit index ${commit} but its log ends at ${core.lastIndex}`,
      };
    }
    const known = this.committed.length - 1;
    const top = Math.min(commit, known);
    // Below its log's start, the snapshot holds the committed entries (checkCompacted).
    if (top > 0 && top >= core.firstIndex - 1 && core.termAt(top) !== this.committed[top].term) {
      return {
        property: 'Committed entries never change',
        message: `${id} holds term ${core.termAt(top)} at committed index ${top}, committed as term ${this.committed[top].term}`,
      };
    }
    if (commit > known) {
      if (known + 1 < core.firstIndex) return compactedUncommitted(id, core.firstIndex - 1, known);
      for (const e of core.entries(known + 1, commit + 1)) this.committed.push(e);
    }
    return null;
  }

  /**
   * §7: a node compacts only entries a snapshot holds, and a snapshot holds
   * only committed entries. So every compacted entry was committed, the
   * entry where the log now starts is the committed one, and the node's
   * snapshot ends on a committed entry at or after it.
   */
  private checkCompacted(id: NodeId, core: Raft): Violation | null {
    const start = core.firstIndex - 1;
    if (start === 0) return null;
    const known = this.committed.length - 1;
    if (start > known) return compactedUncommitted(id, start, known);
    if (core.termAt(start) !== this.committed[start].term) {
      return {
        property: 'Every compacted entry was committed',
        message: `${id} compacted its log through ${start}, holding term ${core.termAt(start)} there; the committed entry is of term ${this.committed[start].term}`,
      };
    }
    const s = core.snapshotIndex;
    if (s < start || s > known || core.snapshotTerm !== this.committed[s].term) {
      return {
        property: 'Snapshots cover only committed entries',
        message: `${id} compacted its log through ${start} behind a snapshot at ${s} (term ${core.snapshotTerm}); ${s > known ? `only ${known} is committed` : `the committed entry there is of term ${this.committed[s]?.term}`}`,
      };
    }
    return null;
  }
}

function compactedUncommitted(id: NodeId, through: number, known: number): Violation {
  return {
    property: 'Every compacted entry was committed',
    message: `${id} compacted its log through ${through}, but only ${known} is known committed`,
  };
}

function monotonic(id: NodeId, what: string, before: number, now: number): Violation {
  return { property: 'Monotonic state', message: `${id}'s ${what} went back from ${before} to ${now}` };
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
