import type { NodeId } from '../messages.js';
import type { NodeContext } from './context.js';
import { type VoteOutcome, VoteTally } from './quorum.js';

/**
 * One round of asking for votes: a pre-vote (thesis §9.6) or a real
 * election (§5.2). The state of the pre-candidate and candidate roles.
 */
export class Campaign {
  private readonly votes: VoteTally;

  /**
   * `term` is the term the votes are for: the candidate's own, or for a
   * pre-vote the one it would campaign in. `transfer` marks a campaign that
   * the leader asked for with TimeoutNow (thesis §3.10), which may override
   * leader stickiness.
   */
  constructor(
    private readonly node: NodeContext,
    readonly preVote: boolean,
    readonly term: number,
    readonly transfer: boolean,
  ) {
    this.votes = new VoteTally(node.voters);
  }

  /** Votes for itself and asks the others; returns the outcome so far (a single voter wins at once). */
  start(): VoteOutcome {
    this.votes.record(this.node.id, true);
    const outcome = this.votes.outcome();
    if (outcome === 'pending') this.requestVotes();
    return outcome;
  }

  /** Counts an answer; returns the outcome so far. */
  record(from: NodeId, granted: boolean): VoteOutcome {
    this.votes.record(from, granted);
    return this.votes.outcome();
  }

  /**
   * Asks every voter that has not answered yet. Called at the start and
   * then every heartbeat interval: §5.1, "servers retry RPCs if they do not
   * receive a response in a timely manner", so a lost request does not cost
   * a whole election.
   */
  requestVotes(): void {
    const { node } = this;
    for (const peer of node.voters.ids) {
      if (peer === node.id || this.votes.hasAnswered(peer)) continue;
      node.send({
        type: 'RequestVote',
        from: node.id,
        to: peer,
        term: this.term,
        lastLogIndex: node.log.lastIndex(),
        lastLogTerm: node.log.lastTerm(),
        preVote: this.preVote,
        transfer: this.transfer,
      });
    }
  }
}
