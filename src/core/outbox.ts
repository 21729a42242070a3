import type { RaftMessage, Snapshot } from '../messages.js';
import type { PlantedBugs, ReadState } from './types.js';

/**
 * What a node has to say, sorted by when it may be said. Vote grants, a
 * candidate's own vote requests and append acknowledgements depend on term,
 * vote or entries being durable, so they wait for the persist (Figure 2:
 * persistent state is "updated on stable storage before responding to
 * RPCs"); everything else may leave at once. A snapshot installed from the
 * leader waits here too, to be persisted first of all.
 */
export class Outbox {
  private messages: RaftMessage[] = [];
  private afterPersist: RaftMessage[] = [];
  private readStates: ReadState[] = [];
  private snapshot: Snapshot | null = null;

  /** `bugs` may plant the test-only bugs that let vote replies or append acks outrun the disk. */
  constructor(private readonly bugs: PlantedBugs) {}

  send(m: RaftMessage): void {
    if (this.needsPersist(m)) this.afterPersist.push(m);
    else this.messages.push(m);
  }

  /**
   * The log lost its entries from `index` on before they were persisted:
   * acknowledgements waiting for the persist that claim any of them are
   * dropped (their leader, of an older term, learns the truth soon enough).
   */
  withdrawAcks(index: number): void {
    this.afterPersist = this.afterPersist.filter(
      (m) => m.type !== 'AppendEntriesResponse' || !m.success || m.matchIndex < index,
    );
  }

  /** A snapshot from the leader to persist (before anything else) and restore; a newer one replaces it. */
  install(snapshot: Snapshot): void {
    this.snapshot = snapshot;
  }

  /** A read became safe at `index`, or failed (null). */
  readState(ctx: string, index: number | null): void {
    this.readStates.push({ ctx, index });
  }

  isEmpty(): boolean {
    return (
      this.messages.length === 0 &&
      this.afterPersist.length === 0 &&
      this.readStates.length === 0 &&
      this.snapshot === null
    );
  }

  /** Takes everything queued. */
  drain(): {
    messages: RaftMessage[];
    afterPersist: RaftMessage[];
    readStates: ReadState[];
    snapshot: Snapshot | null;
  } {
    const out = {
      messages: this.messages,
      afterPersist: this.afterPersist,
      readStates: this.readStates,
      snapshot: this.snapshot,
    };
    this.messages = [];
    this.afterPersist = [];
    this.readStates = [];
    this.snapshot = null;
    return out;
  }

  /** Takes only what may be sent before the outstanding persist completes. */
  drainImmediate(): RaftMessage[] {
    const out = this.messages;
    this.messages = [];
    return out;
  }

  private needsPersist(m: RaftMessage): boolean {
    switch (m.type) {
      case 'RequestVote':
        return !m.preVote;
      case 'RequestVoteResponse':
        return !m.preVote && this.bugs.voteBeforePersist !== true;
      case 'AppendEntriesResponse':
        return this.bugs.ackBeforePersist !== true;
      case 'InstallSnapshotResponse':
        // "Done" says the snapshot is durable here; a count of bytes received says nothing durable.
        return m.done;
      default:
        return false;
    }
  }
}
