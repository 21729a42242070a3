import type { RaftMessage } from '../messages.js';
import { sendAppendResponse } from './follower.js';
import type { Raft } from './raft.js';

/**
 * The term rules every message passes before its handler (§5.1): a higher
 * term means we are out of date, a lower one that the sender is.
 */

/** A message carries a higher term. Returns false if the message is to be ignored. */
export function stepHigherTerm(r: Raft, m: RaftMessage): boolean {
  if (m.type === 'RequestVote') {
    // Leader stickiness: a vote request cannot depose a live leader, unless
    // the leader itself asked (TimeoutNow during a transfer, thesis §3.10).
    // Thesis §9.6: a pre-vote is refused by anyone who heard from a live
    // leader within the election timeout, CheckQuorum or not.
    const lease = m.preVote ? r.heardFromLeaderRecently() : r.inLease();
    if (lease && !m.transfer) return false;
    // A pre-vote changes nobody's term (thesis §9.6).
    if (m.preVote) return true;
    r.becomeFollower(m.term, null);
    return true;
  }
  if (m.type === 'RequestVoteResponse' && m.preVote && m.granted) {
    // A grant carries the term we asked about; the term rises only on winning.
    return true;
  }
  if (r.bugs.ignoreHigherTermInResponse && isResponse(m)) return true;
  const fromLeader = m.type === 'AppendEntries' || m.type === 'Heartbeat';
  r.becomeFollower(m.term, fromLeader ? m.from : null);
  return true;
}

/** A message carries a lower term: answer only where the answer helps the sender catch up. */
export function stepLowerTerm(r: Raft, m: RaftMessage): void {
  if (m.type === 'AppendEntries' || m.type === 'Heartbeat') {
    // Figure 2: "reply false if term < currentTerm", with our term, so a
    // stale leader learns it has been replaced and steps down.
    // (A notice, not a log answer: no rejected index and no hint.)
    sendAppendResponse(r, m.from, { success: false, matchIndex: 0, rejectedIndex: 0, hintIndex: 0, hintTerm: 0 });
  } else if (m.type === 'ReadIndex') {
    // The follower forwarded it in an older term; refuse so it can retry now.
    r.refuseRead(m.from, m.ctx);
  } else if (m.type === 'RequestVote' && m.preVote) {
    // Answer, so a pre-candidate with a smaller term learns ours and can
    // try again at a term that can win (etcd #8501, #9586).
    r.send({ type: 'RequestVoteResponse', from: r.id, to: m.from, term: r.term, granted: false, preVote: true });
  }
}

function isResponse(m: RaftMessage): boolean {
  return (
    m.type === 'RequestVoteResponse' ||
    m.type === 'AppendEntriesResponse' ||
    m.type === 'HeartbeatResponse' ||
    m.type === 'ReadIndexResponse'
  );
}
