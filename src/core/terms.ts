import type { NodeId, RaftMessage } from '../messages.js';
import { appendResponse, STALE_LEADER_NOTICE } from './follower.js';
import { readRefusal } from './read-only.js';
import type { PlantedBugs } from './types.js';

/**
 * The term rules every message passes before its handler (§5.1): a higher
 * term means we are out of date, a lower one that the sender is. Pure
 * decisions; raft.ts carries them out.
 */

/**
 * What to do with a message of a higher term:
 * - `ignore`: drop it;
 * - `adopt`: take its term (as a follower) and then handle it;
 * - `handle`: handle it without taking its term.
 */
export type HigherTermAction = 'ignore' | 'adopt' | 'handle';

/** Whether this node trusts a live leader, in the two senses that shield it from vote requests. */
export interface LeaderLease {
  /** A leader was heard from within the minimum election timeout (or this node leads). */
  readonly heardFromLeader: boolean;
  /** The same, and CheckQuorum is on (thesis §4.2.3: leader stickiness). */
  readonly sticky: boolean;
}

export function onHigherTerm(m: RaftMessage, lease: LeaderLease, bugs: PlantedBugs): HigherTermAction {
  if (m.type === 'RequestVote') {
    // Leader stickiness: a vote request cannot depose a live leader, unless
    // the leader itself asked (TimeoutNow during a transfer, thesis §3.10).
    // Thesis §9.6: a pre-vote is refused by anyone who heard from a live
    // leader within the election timeout, CheckQuorum or not.
    const shielded = m.preVote ? lease.heardFromLeader : lease.sticky;
    if (shielded && !m.transfer) return 'ignore';
    // A pre-vote changes nobody's term (thesis §9.6).
    return m.preVote ? 'handle' : 'adopt';
  }
  // A pre-vote grant carries the term we asked about; the term rises only on winning.
  if (m.type === 'RequestVoteResponse' && m.preVote && m.granted) return 'handle';
  if (bugs.ignoreHigherTermInResponse && isResponse(m)) return 'handle';
  return 'adopt';
}

/** The leader a message of a higher term proves, if any. */
export function leaderOf(m: RaftMessage): NodeId | null {
  return m.type === 'AppendEntries' || m.type === 'Heartbeat' || m.type === 'InstallSnapshot' ? m.from : null;
}

/**
 * The answer to a message of a lower term, where an answer helps the sender
 * catch up; null where silence is right.
 */
export function answerLowerTerm(m: RaftMessage, id: NodeId, term: number): RaftMessage | null {
  switch (m.type) {
    case 'AppendEntries':
    case 'Heartbeat':
    case 'InstallSnapshot':
      return appendResponse(id, m.from, term, STALE_LEADER_NOTICE);
    case 'ReadIndex':
      // The follower forwarded it in an older term; refuse so it can retry now.
      return readRefusal(id, m.from, term, m.ctx);
    case 'RequestVote':
      // Answer a pre-vote, so a pre-candidate with a smaller term learns ours
      // and can try again at a term that can win (etcd #8501, #9586).
      return m.preVote
        ? { type: 'RequestVoteResponse', from: id, to: m.from, term, granted: false, preVote: true }
        : null;
    default:
      return null;
  }
}

// Stryker disable all: only the test-only planted bug ignoreHigherTermInResponse asks
function isResponse(m: RaftMessage): boolean {
  return (
    m.type === 'RequestVoteResponse' ||
    m.type === 'AppendEntriesResponse' ||
    m.type === 'HeartbeatResponse' ||
    m.type === 'ReadIndexResponse'
  );
}
// Stryker restore all
