import type { NodeId } from '../messages.js';

/** The size of a majority of `n` voters (§5.2). */
export function quorumSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The voting members of the configuration and what counts as a quorum of
 * them. Membership changes will replace the set; every rule that counts
 * votes or replicas asks it, so none can count against a stale list.
 */
export class VoterSet {
  readonly ids: readonly NodeId[];
  /** How many voters make a quorum. */
  readonly quorum: number;

  /** `halfQuorumBug` is the test-only planted bug that takes half, rounded up: no majority when the size is even. */
  // Stryker disable next-line BooleanLiteral: the default only matters to the planted bug's test
  constructor(ids: readonly NodeId[], halfQuorumBug = false) {
    this.ids = Object.freeze([...ids]);
    // Stryker disable next-line ArithmeticOperator: Math.ceil(ids.length / 2) is the test-only planted bug
    this.quorum = halfQuorumBug ? Math.ceil(ids.length / 2) : quorumSize(ids.length);
  }

  has(id: NodeId): boolean {
    return this.ids.includes(id);
  }

  get size(): number {
    return this.ids.length;
  }

  /**
   * The highest index that a quorum of voters hold, given each voter's
   * match index (§5.3: "replicated it on a majority of the servers").
   */
  committedIndex(matchOf: (id: NodeId) => number): number {
    if (this.ids.length === 0) return 0;
    const sorted = this.ids.map(matchOf).sort((a, b) => b - a);
    return sorted[this.quorum - 1];
  }
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** The votes of one election round. */
export class VoteTally {
  private readonly votes = new Map<NodeId, boolean>();

  constructor(private readonly voters: VoterSet) {}

  /** Records a voter's first answer; a later answer from the same voter is ignored. */
  record(id: NodeId, granted: boolean): void {
    if (!this.voters.has(id) || this.votes.has(id)) return;
    this.votes.set(id, granted);
  }

  hasAnswered(id: NodeId): boolean {
    return this.votes.has(id);
  }

  outcome(): VoteOutcome {
    let granted = 0;
    let rejected = 0;
    for (const v of this.votes.values()) {
      if (v) granted++;
      else rejected++;
    }
    const q = this.voters.quorum;
    if (granted >= q) return 'won';
    if (rejected > this.voters.size - q) return 'lost';
    return 'pending';
  }
}
