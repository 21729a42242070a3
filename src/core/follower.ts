import type { AppendEntries, AppendEntriesResponse, Heartbeat, NodeId } from '../messages.js';
import type { Raft } from './raft.js';

/**
 * AppendEntries on the receiving side (§5.3, Figure 2 "Receiver
 * implementation"). The caller has already applied the term rules and
 * recorded the sender as leader.
 */
export function handleAppendEntries(r: Raft, m: AppendEntries): void {
  const log = r.log;
  if (m.prevLogIndex < log.committed) {
    // Everything up to our commit index matches any leader's log (Leader
    // Completeness, §5.4), so this message is old news: say how far we match.
    acknowledge(r, m, log.committed);
    return;
  }
  // §5.3 consistency check: we must hold prevLogIndex with prevLogTerm.
  if (!log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
    const last = log.lastIndex();
    if (m.prevLogIndex > last) {
      // Our log is too short: the leader should back up to just past our end.
      rejectWithHint(r, m, last + 1, 0);
    } else {
      // §5.3 optimisation: name the conflicting term and the first index we
      // hold for it, so the leader skips that whole term in one round trip.
      const conflictTerm = log.term(m.prevLogIndex);
      rejectWithHint(r, m, log.firstIndexOfTermAt(m.prevLogIndex), conflictTerm);
    }
    return;
  }
  log.appendFromLeader(m.entries, r.bugs.truncateWithoutConflict === true);
  const lastNew = m.prevLogIndex + m.entries.length;
  // §5.3: commit = min(leaderCommit, index of last new entry). Only the
  // entries this message proved to match may be committed.
  log.commitTo(Math.min(m.leaderCommit, lastNew));
  acknowledge(r, m, lastNew);
}

/** A heartbeat: keep following, learn the commit index, echo the read round. */
export function handleHeartbeat(r: Raft, m: Heartbeat): void {
  // The leader caps `commit` at what it knows we match, so we never commit
  // an entry that might differ from the leader's.
  r.log.commitTo(m.commit);
  r.send({ type: 'HeartbeatResponse', from: r.id, to: m.from, term: r.term, readSeq: m.readSeq });
}

function acknowledge(r: Raft, m: AppendEntries, matchIndex: number): void {
  sendAppendResponse(r, m.from, { success: true, matchIndex, rejectedIndex: 0, hintIndex: 0, hintTerm: 0 });
}

function rejectWithHint(r: Raft, m: AppendEntries, hintIndex: number, hintTerm: number): void {
  sendAppendResponse(r, m.from, { success: false, matchIndex: 0, rejectedIndex: m.prevLogIndex, hintIndex, hintTerm });
}

/** An AppendEntriesResponse in our current term. */
export function sendAppendResponse(
  r: Raft,
  to: NodeId,
  fields: Pick<AppendEntriesResponse, 'success' | 'matchIndex' | 'rejectedIndex' | 'hintIndex' | 'hintTerm'>,
): void {
  r.send({ type: 'AppendEntriesResponse', from: r.id, to, term: r.term, ...fields });
}
