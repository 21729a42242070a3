import type { Raft } from '../core/raft.js';
import type { Ready, SoftState } from '../core/types.js';
import type { Entry, HardState, RaftMessage } from '../messages.js';

/**
 * What the loop needs from the world. Any step may finish synchronously
 * (return nothing) or later (return a promise); a synchronous world — the
 * simulator, MemoryStorage — runs the whole loop without yielding.
 */
export interface ReadyIO {
  send(message: RaftMessage): void;
  /** Durably store entries, then hard state. */
  persist(hardState: HardState | null, entries: readonly Entry[]): void | Promise<void>;
  /** State is durable: report role, term and leader changes. `committedUpTo` is the last index this Ready commits. */
  persisted(softState: SoftState, committedUpTo: number): void;
  /** Apply committed entries in order. */
  apply(entries: readonly Entry[]): void | Promise<void>;
  /** Reads that became safe or failed. */
  readStates(ready: Ready): void;
  /** A step failed; the loop has stopped for good. */
  fatal(error: unknown): void;
}

/**
 * The one loop that turns a core's Ready into effects, shared by RaftNode
 * and the Simulator so that they cannot disagree. Order per Ready: send
 * what needs no disk; persist; send what needed the disk; report; apply;
 * advance. Only one Ready is in progress at a time; what the core produces
 * meanwhile is batched into the next one (group commit: one persist for
 * every proposal that arrived during the previous write). Messages that do
 * not wait for the disk (heartbeats, pre-votes) still go out at once.
 */
export class ReadyLoop {
  private running = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly core: Raft,
    private readonly io: ReadyIO,
  ) {}

  /** Call after every input to the core. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      // A Ready is being persisted; send what does not depend on it now.
      for (const m of this.core.takeMessages()) this.io.send(m);
      return;
    }
    if (!this.core.hasReady()) return;
    this.running = true;
    const done = this.run();
    if (done !== undefined) this.idle = done;
  }

  /** Stops processing; resolves once the Ready in progress (if any) is finished. */
  close(): Promise<void> {
    this.closed = true;
    return this.idle;
  }

  /** Runs synchronously while every step does; returns a promise only once a step is asynchronous. */
  private run(): Promise<void> | undefined {
    try {
      while (!this.closed && this.core.hasReady()) {
        const rd = this.core.ready();
        for (const m of rd.messages) this.io.send(m);
        if (rd.hardState !== null || rd.entries.length > 0) {
          const pending = this.io.persist(rd.hardState, rd.entries);
          if (pending !== undefined) return this.continueAsync(rd, pending, 'persist');
        }
        const applying = this.afterPersist(rd);
        if (applying !== undefined) return this.continueAsync(rd, applying, 'apply');
        this.core.advance(rd);
      }
    } catch (error) {
      this.fail(error);
    }
    this.running = false;
    return undefined;
  }

  private afterPersist(rd: Ready): void | Promise<void> {
    if (this.closed) return;
    for (const m of rd.messagesAfterPersist) this.io.send(m);
    const committed = rd.committedEntries;
    this.io.persisted(rd.softState, committed.length > 0 ? committed[committed.length - 1].index : 0);
    const applying = rd.committedEntries.length > 0 ? this.io.apply(rd.committedEntries) : undefined;
    if (applying !== undefined) return applying.then(() => this.io.readStates(rd));
    this.io.readStates(rd);
    return undefined;
  }

  private async continueAsync(rd: Ready, pending: Promise<void>, stage: 'persist' | 'apply'): Promise<void> {
    try {
      await pending;
      if (stage === 'persist') {
        const applying = this.afterPersist(rd);
        if (applying !== undefined) await applying;
      }
      if (this.closed) {
        this.running = false;
        return;
      }
      this.core.advance(rd);
    } catch (error) {
      this.fail(error);
      this.running = false;
      return;
    }
    this.running = false;
    // Whatever arrived while we waited is the next batch.
    this.kick();
  }

  private fail(error: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.io.fatal(error);
  }
}
