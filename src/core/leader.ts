import type { AppendEntriesResponse, NodeId, RaftMessage } from '../messages.js';
import { majorityIndex } from './quorum.js';
import type { Raft } from './raft.js';

/**
 * The leader's side of replication (§5.3), commitment (§5.4.2) and reads
 * (thesis §6.4). Functions of a `Raft` whose role is leader.
 */

export function stepLeader(r: Raft, m: RaftMessage): void {
  switch (m.type) {
    case 'AppendEntriesResponse':
      handleAppendResponse(r, m);
      break;
    case 'HeartbeatResponse': {
      const pr = r.progress.get(m.from);
      if (pr === undefined) return;
      pr.recentActive = true;
      if (m.readSeq > pr.readAck) {
        pr.readAck = m.readSeq;
        releaseReads(r);
      }
      if (pr.match < r.log.lastIndex()) {
        // The follower is alive but behind: an unanswered probe was lost.
        if (pr.state === 'probe') pr.probeSent = false;
        sendAppend(r, m.from, false);
      }
      break;
    }
    case 'ReadIndex':
      leaderRead(r, m.ctx, m.from);
      break;
    default:
      // Vote responses after winning, and anything else, need no action.
      break;
  }
}

function handleAppendResponse(r: Raft, m: AppendEntriesResponse): void {
  const pr = r.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  if (!m.success) {
    if (m.rejectedIndex === 0 && m.hintIndex === 0) return; // a stale-leader notice, not a log answer
    if (pr.maybeBackUp(m.rejectedIndex, backUpTarget(r, m))) sendAppend(r, m.from, true);
    return;
  }
  const acked = r.bugs.optimisticMatch ? Math.max(m.matchIndex, pr.next - 1) : m.matchIndex;
  if (!pr.maybeUpdate(acked)) return; // duplicate or reordered acknowledgement
  if (pr.state === 'probe') pr.becomeReplicate();
  if (maybeCommit(r)) r.commitNotifyPending = true;
  if (r.leadTransferee === m.from) maybeSendTimeoutNow(r);
  // Refill the in-flight window.
  while (sendAppend(r, m.from, false));
}

/**
 * Thesis §3.10: the leader stops taking proposals, brings the target's log
 * up to date, then tells it to campaign at once with TimeoutNow.
 */
export function startTransfer(r: Raft, to?: NodeId): NodeId | null {
  if (r.role !== 'leader') return null;
  const target = to ?? mostUpToDateFollower(r);
  if (target === null || target === r.id) return target;
  if (!r.isVoter(target) || !r.progress.has(target)) return null;
  r.leadTransferee = target;
  r.resetTransferTimer();
  maybeSendTimeoutNow(r, true);
  return target;
}

function mostUpToDateFollower(r: Raft): NodeId | null {
  let best: NodeId | null = null;
  let bestMatch = -1;
  for (const [id, pr] of r.progress) {
    if (r.isVoter(id) && pr.match > bestMatch) {
      best = id;
      bestMatch = pr.match;
    }
  }
  return best;
}

/**
 * Thesis §3.10: once the transfer target holds the whole log, tell it to
 * campaign now; until then, keep replicating to it.
 */
export function maybeSendTimeoutNow(r: Raft, starting = false): void {
  const target = r.leadTransferee;
  if (target === null) return;
  const pr = r.progress.get(target);
  if (pr === undefined) return;
  if (pr.match === r.log.lastIndex()) {
    r.send({ type: 'TimeoutNow', from: r.id, to: target, term: r.term });
    return;
  }
  // At the start of a transfer, do not wait for a stalled pipeline to be
  // noticed: resend from the last known match.
  if (starting && pr.next > r.log.lastIndex()) pr.becomeProbe();
  sendAppend(r, target, starting);
}

/** Where to retry after a rejection, from the follower's conflict hint. */
function backUpTarget(r: Raft, m: AppendEntriesResponse): number {
  if (m.hintTerm === 0) return m.hintIndex;
  // If we hold entries of the conflicting term, the follower matches us up
  // to our last one of them (Log Matching); otherwise skip its whole term.
  const ours = r.log.lastIndexOfTerm(m.hintTerm);
  return ours > 0 ? ours + 1 : m.hintIndex;
}

/**
 * Sends the follower the entries it lacks, if its window allows. With
 * `allowEmpty` an empty append is sent to probe or to carry the commit
 * index. Returns true if a message went out with entries.
 */
export function sendAppend(r: Raft, to: NodeId, allowEmpty: boolean): boolean {
  const pr = r.progress.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  const log = r.log;
  const prevLogIndex = pr.next - 1;
  const entries = log.slice(pr.next, log.lastIndex() + 1, r.config.maxEntriesPerAppend, r.config.maxBytesPerAppend);
  if (entries.length === 0 && !allowEmpty) return false;
  const leaderCommit = log.committed;
  r.send({
    type: 'AppendEntries',
    from: r.id,
    to,
    term: r.term,
    prevLogIndex,
    prevLogTerm: log.term(prevLogIndex),
    entries,
    leaderCommit,
  });
  pr.sentCommit = leaderCommit;
  if (entries.length > 0) pr.sent(entries[entries.length - 1].index);
  else if (pr.state === 'probe') pr.probeSent = true;
  return entries.length > 0;
}

/**
 * Tells a follower the commit index without sending entries. In replicate
 * state the empty append is anchored at the follower's known match, so it
 * cannot overtake in-flight appends and be rejected for a gap.
 */
function sendCommit(r: Raft, to: NodeId): void {
  const pr = r.progress.get(to);
  if (pr === undefined) return;
  if (pr.state === 'probe') {
    sendAppend(r, to, true);
    return;
  }
  const log = r.log;
  r.send({
    type: 'AppendEntries',
    from: r.id,
    to,
    term: r.term,
    prevLogIndex: pr.match,
    prevLogTerm: log.term(pr.match),
    entries: [],
    leaderCommit: log.committed,
  });
  pr.sentCommit = log.committed;
}

/**
 * Called every heartbeat interval: a pipeline whose match has not moved for
 * two intervals while appends are outstanding lost messages, so it falls
 * back to probing from the last known match (Raft retries, §5.3).
 */
export function detectStalls(r: Raft): void {
  for (const [peer, pr] of r.progress) {
    if (pr.state === 'replicate' && pr.hasInflight() && pr.match === pr.matchAtLastHeartbeat) {
      pr.stalledRounds++;
      if (pr.stalledRounds >= 2) {
        pr.becomeProbe();
        sendAppend(r, peer, true);
      }
    } else {
      pr.stalledRounds = 0;
    }
    pr.matchAtLastHeartbeat = pr.match;
  }
}

export function bcastAppend(r: Raft): void {
  for (const peer of r.progress.keys()) sendAppend(r, peer, false);
}

/** Heartbeats carry the latest read round so one round trip confirms reads too. */
export function bcastHeartbeat(r: Raft, readSeq = r.reads.sentSeq): void {
  for (const [peer, pr] of r.progress) {
    r.send({
      type: 'Heartbeat',
      from: r.id,
      to: peer,
      term: r.term,
      // Never tell a follower to commit past what it is known to hold.
      commit: Math.min(pr.match, r.log.committed),
      readSeq,
    });
  }
}

/**
 * §5.4.2: advance the commit index to the highest index held by a quorum,
 * but only by counting replicas of an entry of the current term (Figure 8):
 * older entries are committed indirectly, by the Log Matching Property.
 */
export function maybeCommit(r: Raft): boolean {
  const matches: number[] = [];
  for (const id of r.voters) {
    if (id === r.id) matches.push(r.log.stable);
    else matches.push(r.progress.get(id)?.match ?? 0);
  }
  const n = majorityIndex(matches, r.quorum());
  if (n <= r.log.committed) return false;
  if (r.log.term(n) !== r.term && !r.bugs.commitOldTermByCounting) return false;
  r.log.commitTo(n);
  // The leader's first entry of its term is now committed: reads that waited for it may go.
  if (r.reads.waiting.length > 0 && r.log.term(r.log.committed) === r.term) {
    const waiting = r.reads.waiting;
    r.reads.waiting = [];
    for (const w of waiting) leaderRead(r, w.ctx, w.from);
  }
  return true;
}

/** Thesis §6.4: a read on the leader, for itself or for a follower. */
export function leaderRead(r: Raft, ctx: string, from: NodeId): void {
  if (!r.isVoter(from) && from !== r.id) {
    r.refuseRead(from, ctx);
    return;
  }
  // Step 1: until the leader's first entry of its term commits, it may not
  // know the latest commit index (etcd #7331), so the read waits.
  if (r.log.term(r.log.committed) !== r.term && !r.bugs.readBeforeLeaderCommit) {
    r.reads.waiting.push({ ctx, from });
    return;
  }
  if (r.voters.length === 1 || r.bugs.readWithoutConfirmation) {
    serveRead(r, ctx, from, r.log.committed);
    return;
  }
  // Steps 2-3: remember the commit index and confirm leadership with a
  // heartbeat round sent after the read arrived.
  r.reads.enqueue(ctx, from, r.log.committed);
}

function releaseReads(r: Raft): void {
  const confirmed = r.reads.release((seq) => {
    let acks = 1; // the leader itself
    for (const [id, pr] of r.progress) if (pr.readAck >= seq && r.isVoter(id)) acks++;
    return acks >= r.quorum();
  });
  for (const read of confirmed) serveRead(r, read.ctx, read.from, read.index);
}

function serveRead(r: Raft, ctx: string, from: NodeId, index: number): void {
  if (from === r.id) r.pushReadState(ctx, index);
  else r.send({ type: 'ReadIndexResponse', from: r.id, to: from, term: r.term, ctx, index, ok: true });
}

/** On losing leadership: every read not yet confirmed fails. */
export function failPendingReads(r: Raft): void {
  for (const read of r.reads.drain()) {
    if (read.from === r.id) r.pushReadState(read.ctx, null);
    else r.refuseRead(read.from, read.ctx);
  }
}

/**
 * Work coalesced until output is collected: one heartbeat round for all
 * reads that arrived since the last, and one append per follower that has
 * not yet been told the latest commit index.
 */
export function flushLeaderOutput(r: Raft): void {
  if (r.role !== 'leader') {
    r.commitNotifyPending = false;
    return;
  }
  if (r.reads.roundNeeded) bcastHeartbeat(r, r.reads.startRound());
  if (r.commitNotifyPending) {
    r.commitNotifyPending = false;
    for (const [peer, pr] of r.progress) {
      if (pr.sentCommit < r.log.committed) sendCommit(r, peer);
    }
  }
}
