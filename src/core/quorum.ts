import type { NodeId } from '../messages.js';

/** The size of a majority of `n` voters (§5.2). */
export function quorumSize(n: number, halfQuorumBug = false): number {
  // The planted bug (test only) takes half, rounded up: no majority when n is even.
  return halfQuorumBug ? Math.ceil(n / 2) : Math.floor(n / 2) + 1;
}

/**
 * The highest index that a majority of voters hold, given each voter's
 * match index (§5.3: "replicated it on a majority of the servers").
 */
export function majorityIndex(matches: number[], quorum = quorumSize(matches.length)): number {
  if (matches.length === 0) return 0;
  const sorted = matches.slice().sort((a, b) => b - a);
  return sorted[quorum - 1];
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** The votes of one election round. */
export class VoteTally {
  private readonly votes = new Map<NodeId, boolean>();

  constructor(
    private readonly voters: readonly NodeId[],
    private readonly quorum = quorumSize(voters.length),
  ) {}

  /** Records a voter's first answer; a later answer from the same voter is ignored. */
  record(id: NodeId, granted: boolean): void {
    if (!this.voters.includes(id) || this.votes.has(id)) return;
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
    const q = this.quorum;
    if (granted >= q) return 'won';
    if (rejected > this.voters.length - q) return 'lost';
    return 'pending';
  }
}
