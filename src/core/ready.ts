import type { HardState, NodeId, RaftMessage, Role } from '../messages.js';
import type { Leader } from './leader.js';
import type { RaftLog } from './log.js';
import type { Outbox } from './outbox.js';
import type { Ready, SoftState } from './types.js';

/** The node's state as the handshake reads it (raft.ts's public getters). */
export interface NodeView {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly role: Role;
  readonly leaderId: NodeId | null;
}

/**
 * The Ready handshake with the shell (etcd's Ready/Advance): what is new
 * since the shell was last told, handed out one Ready at a time. It
 * remembers the hard state last persisted and the soft state last
 * reported, so each Ready carries only changes.
 */
export class ReadyHandshake {
  private persistedHardState: HardState;
  private lastSoftState: SoftState;
  private outstanding = false;

  /**
   * `leader` is the leader state while the node leads (its coalesced
   * output is flushed into each Ready), `applyLimit` the highest index that
   * may be handed to the state machine.
   */
  constructor(
    private readonly view: NodeView,
    private readonly log: RaftLog,
    private readonly outbox: Outbox,
    private readonly leader: () => Leader | null,
    private readonly applyLimit: () => number,
  ) {
    this.persistedHardState = this.hardState();
    this.lastSoftState = this.softState();
  }

  has(): boolean {
    return (
      !this.outbox.isEmpty() ||
      this.leader()?.hasOutput() === true ||
      this.hardStateChanged() ||
      this.softStateChanged() ||
      this.log.stable < this.log.lastIndex() ||
      this.log.hasCommittedToHandOut(this.applyLimit())
    );
  }

  take(): Ready {
    if (this.outstanding) throw new Error('ready() called again before advance()');
    this.outstanding = true;
    this.leader()?.flush();
    const hardState = this.hardStateChanged() ? this.hardState() : null;
    const out = this.outbox.drain();
    this.lastSoftState = this.softState();
    return {
      softState: this.lastSoftState,
      messages: out.messages,
      hardState,
      snapshot: out.snapshot,
      entries: this.log.unstableEntries(),
      messagesAfterPersist: out.afterPersist,
      committedEntries: this.log.takeCommitted(this.applyLimit()),
      readStates: out.readStates,
    };
  }

  advance(rd: Ready): void {
    this.outstanding = false;
    if (rd.hardState !== null) this.persistedHardState = rd.hardState;
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      this.log.stableTo(last.index, last.term);
      // The leader's own replica counts toward commit only once durable.
      this.leader()?.persisted();
    }
  }

  takeMessages(): RaftMessage[] {
    this.leader()?.flush();
    return this.outbox.drainImmediate();
  }

  private hardState(): HardState {
    return { term: this.view.term, vote: this.view.vote, commit: this.log.committed };
  }

  private softState(): SoftState {
    return { role: this.view.role, term: this.view.term, leaderId: this.view.leaderId };
  }

  /** A role or leader change alone (a CheckQuorum step-down, a lost vote) must reach the shell too. */
  private softStateChanged(): boolean {
    const p = this.lastSoftState;
    const v = this.view;
    return p.role !== v.role || p.term !== v.term || p.leaderId !== v.leaderId;
  }

  private hardStateChanged(): boolean {
    const p = this.persistedHardState;
    const v = this.view;
    return p.term !== v.term || p.vote !== v.vote || p.commit !== this.log.committed;
  }
}
