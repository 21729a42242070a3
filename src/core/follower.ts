import type {
  AppendEntries,
  AppendEntriesResponse,
  Heartbeat,
  InstallSnapshot,
  NodeId,
  Snapshot,
} from '../messages.js';
import type { NodeContext } from './context.js';
import type { RaftLog } from './log.js';
import type { Outbox } from './outbox.js';
import { SnapshotReceiver } from './snapshot-receiver.js';

/**
 * The follower role: what it does with the messages of the leader of its
 * term (§5.3 appends, heartbeats, §7 snapshot chunks). It lives as long as
 * the node follows one leader, so a snapshot half received from an old
 * leader is dropped with it. raft.ts has applied the term rules and
 * recorded the sender as leader before any of these.
 */
export class Follower {
  private readonly receiver = new SnapshotReceiver();

  constructor(
    private readonly node: NodeContext,
    /** Acknowledgements still waiting for the persist, and the snapshot to persist. */
    private readonly outbox: Pick<Outbox, 'withdrawAcks' | 'install'>,
  ) {}

  /** Handles a message from the leader of `term`; returns the snapshot it installed, if it did. */
  step(m: AppendEntries | Heartbeat | InstallSnapshot, term: number): Snapshot | null {
    const { id, log } = this.node;
    if (m.type === 'InstallSnapshot') return this.receiveSnapshot(m, term);
    if (m.type === 'AppendEntries') {
      const { answer, truncatedFrom } = appendFromLeader(log, m, this.node.bugs.truncateWithoutConflict === true);
      // Figure 2, durable before responding: an acknowledgement still waiting
      // for the persist must not claim entries that will now never be stored.
      if (truncatedFrom > 0) this.outbox.withdrawAcks(truncatedFrom);
      this.node.send(appendResponse(id, m.from, term, answer));
      return null;
    }
    heartbeatFromLeader(log, m);
    // Echo the read round so the leader can confirm its reads (thesis §6.4).
    this.node.send({ type: 'HeartbeatResponse', from: id, to: m.from, term, readSeq: m.readSeq });
    return null;
  }

  /** §7: a chunk of the leader's snapshot; the whole snapshot is installed once its last chunk arrives. */
  private receiveSnapshot(m: InstallSnapshot, term: number): Snapshot | null {
    const answer = (received: number, done: boolean): void =>
      this.node.send({
        type: 'InstallSnapshotResponse',
        from: this.node.id,
        to: m.from,
        term,
        snapshotIndex: m.snapshot.index,
        received,
        done,
      });
    if (m.snapshot.index <= this.node.log.committed) {
      // Everything it covers is committed here already, and committed entries
      // match any leader's (§5.4): nothing to install.
      answer(m.totalBytes, true);
      return null;
    }
    const { received, snapshot } = this.receiver.receive(m);
    if (snapshot !== null) this.install(snapshot);
    // "Done" waits in the outbox until the snapshot is durable.
    answer(received, snapshot !== null);
    return snapshot;
  }

  /**
   * Figure 13: the log keeps what follows the snapshot's last entry if it
   * holds that entry with the snapshot's term, and is discarded otherwise;
   * the shell persists the snapshot, then restores the state machine from it.
   */
  private install(snapshot: Snapshot): void {
    const log = this.node.log;
    const keepsSuffix = log.term(snapshot.index) === snapshot.term;
    log.restoreSnapshot(snapshot, this.node.bugs.keepConflictingSuffix === true);
    // Acknowledgements waiting for the persist must not claim entries the snapshot discarded.
    if (!keepsSuffix) this.outbox.withdrawAcks(snapshot.index + 1);
    this.outbox.install(snapshot);
  }
}

/*
 * AppendEntries on the receiving side (§5.3, Figure 2 "Receiver
 * implementation"), as functions of the log alone.
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
