import type { NodeId, RequestVote, RequestVoteResponse } from '../messages.js';
import type { RaftLog } from './log.js';
import type { PlantedBugs } from './types.js';

/** What a voter knows of its own term when a vote request of that term (or a pre-vote) arrives. */
export interface VoterState {
  readonly term: number;
  /** The vote it cast in its current term, or null. */
  readonly votedFor: NodeId | null;
  /** Whether it follows a known leader in its current term. */
  readonly leaderKnown: boolean;
}

/**
 * Whether a vote request of the voter's term, or a pre-vote, may be
 * granted; raft.ts has applied the term rules before (§5.1).
 */
export function mayGrantVote(m: RequestVote, voter: VoterState, log: RaftLog, bugs: PlantedBugs): boolean {
  // §5.2: at most one vote per term, first come first served. A pre-vote for
  // a later term commits the voter to nothing, so it may be granted whatever
  // it voted for in this term.
  const canVote =
    voter.votedFor === m.from || (voter.votedFor === null && !voter.leaderKnown) || (m.preVote && m.term > voter.term);
  // §5.4.1: only a candidate whose log is at least as up-to-date as ours.
  return canVote && (bugs.skipUpToDateCheck === true || log.isUpToDate(m.lastLogIndex, m.lastLogTerm));
}

/** The answer to `m`: a grant echoes the request's term, so the candidate counts it; a refusal carries ours. */
export function voteResponse(from: NodeId, m: RequestVote, term: number, granted: boolean): RequestVoteResponse {
  return { type: 'RequestVoteResponse', from, to: m.from, term, granted, preVote: m.preVote };
}
