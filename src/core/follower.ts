import type { AppendEntries, AppendEntriesResponse, Heartbeat, NodeId } from '../messages.js';
import type { RaftLog } from './log.js';

/**
 * AppendEntries on the receiving side (§5.3, Figure 2 "Receiver
 * implementation"), as functions of the log alone: the caller has applied
 * the term rules, recorded the sender as leader, and sends the answer.
 */

/** The log-related fields of an AppendEntriesResponse. */
export type AppendAnswer = Pick<
  AppendEntriesResponse,
  'success' | 'matchIndex' | 'rejectedIndex' | 'hintIndex' | 'hintTerm'
>;

/**
 * Figure 2: "reply false if term < currentTerm", sent with our term so that
 * a stale leader learns it was replaced. A notice, not a log answer: no
 * rejected index and no hint.
 */
export const STALE_LEADER_NOTICE: AppendAnswer = Object.freeze({
  success: false,
  matchIndex: 0,
  rejectedIndex: 0,
  hintIndex: 0,
  hintTerm: 0,
});

/**
 * Checks and appends the leader's entries; returns the answer, and the
 * first index a conflict removed from the log (0 when none was).
 */
export function appendFromLeader(
  log: RaftLog,
  m: AppendEntries,
  truncateWithoutConflict: boolean,
): { answer: AppendAnswer; truncatedFrom: number } {
  if (m.prevLogIndex < log.committed) {
    // Everything up to our commit index matches any leader's log (Leader
    // Completeness, §5.4), so this message is old news: say how far we match.
    return { answer: acknowledged(log.committed), truncatedFrom: 0 };
  }
  // §5.3 consistency check: we must hold prevLogIndex with prevLogTerm.
  if (!log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
    const last = log.lastIndex();
    // Our log is too short: the leader should back up to just past our end.
    if (m.prevLogIndex > last) return { answer: rejected(m, last + 1, 0), truncatedFrom: 0 };
    // §5.3 optimisation: name the conflicting term and the first index we
    // hold for it, so the leader skips that whole term in one round trip.
    const hint = rejected(m, log.firstIndexOfTermAt(m.prevLogIndex), log.term(m.prevLogIndex));
    return { answer: hint, truncatedFrom: 0 };
  }
  const truncatedFrom = log.appendFromLeader(m.entries, truncateWithoutConflict);
  const lastNew = m.prevLogIndex + m.entries.length;
  // §5.3: commit = min(leaderCommit, index of last new entry). Only the
  // entries this message proved to match may be committed.
  log.commitTo(Math.min(m.leaderCommit, lastNew));
  return { answer: acknowledged(lastNew), truncatedFrom };
}

/** A heartbeat: learn the commit index. */
export function heartbeatFromLeader(log: RaftLog, m: Heartbeat): void {
  // The leader caps `commit` at what it knows we match, so we never commit
  // an entry that might differ from the leader's.
  log.commitTo(m.commit);
}

/** An AppendEntriesResponse carrying `answer`. */
export function appendResponse(from: NodeId, to: NodeId, term: number, answer: AppendAnswer): AppendEntriesResponse {
  return { type: 'AppendEntriesResponse', from, to, term, ...answer };
}

function acknowledged(matchIndex: number): AppendAnswer {
  return { success: true, matchIndex, rejectedIndex: 0, hintIndex: 0, hintTerm: 0 };
}

function rejected(m: AppendEntries, hintIndex: number, hintTerm: number): AppendAnswer {
  return { success: false, matchIndex: 0, rejectedIndex: m.prevLogIndex, hintIndex, hintTerm };
}
