import type { Raft } from '../core/raft.js';
import type { Ready, SoftState } from '../core/types.js';
import type { Entry, HardState, RaftMessage, Snapshot } from '../messages.js';
import { andThen } from './promise-like.js';

/**
 * What the loop needs from the world. Any step may finish synchronously
 * (return nothing) or later (return a promise); a synchronous world — the
 * simulator, MemoryStorage — runs the whole loop without yielding.
 */
export interface ReadyIO {
  send(message: RaftMessage): void;
  /** Durably store the leader's snapshot (if not null), then entries, then hard state. */
  persist(hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null): void | Promise<void>;
  /** State is durable: report role, term and leader changes. `committedUpTo` is the last index this Ready commits. */
  persisted(softState: SoftState, committedUpTo: number): void;
  /** Restore the state machine from the leader's snapshot (if not null), then apply committed entries in order. */
  apply(entries: readonly Entry[], snapshot: Snapshot | null): void | Promise<void>;
  /** Reads that became safe or failed. */
  readStates(ready: Ready): void;
  /**
   * Called after each Ready, and on a kick with none: nothing is being
   * persisted or applied until it returns (or its promise settles). The
   * node takes its snapshots here, so that its snapshot's storage calls
   * never overlap a save and `apply` waits for the state machine's
   * snapshot. Returns nothing when it has nothing to do.
   */
  betweenReadys(): void | Promise<void>;
  /** A step failed; the loop has stopped for good. */
  fatal(error: unknown): void;
}

/**
 * The one loop that turns a core's Ready into effects, shared by RaftNode
 * and the Simulator so that they cannot disagree. Order per Ready: send
 * what needs no disk; persist; send what needed the disk; report; apply;
 * advance; then the pause between Readys. Only one Ready is in progress at
 * a time; what the core produces meanwhile is batched into the next one
 * (group commit: one persist for every proposal that arrived during the
 * previous write). Messages that do not wait for the disk (heartbeats,
 * pre-votes) still go out at once.
 */
export class ReadyLoop {
  private running = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly core: Raft,
    private readonly io: ReadyIO,
  ) {}

  /** Call after every input to the core, and when `betweenReadys` has new work. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      // A Ready is being persisted; send what does not depend on it now.
      for (const m of this.core.takeMessages()) this.io.send(m);
      return;
    }
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
      while (!this.closed) {
        if (this.core.hasReady()) {
          const handling = this.handle(this.core.ready());
          if (handling !== undefined) return this.continueAsync(handling);
        }
        const between = this.closed ? undefined : this.io.betweenReadys();
        if (between !== undefined) return this.continueAsync(between);
        if (!this.core.hasReady()) break;
      }
    } catch (error) {
      this.fail(error);
    }
    this.running = false;
    return undefined;
  }

  /** One Ready, from sending to `advance`. */
  private handle(rd: Ready): void | Promise<void> {
    for (const m of rd.messages) this.io.send(m);
    const persisting =
      rd.snapshot !== null || rd.hardState !== null || rd.entries.length > 0
        ? this.io.persist(rd.hardState, rd.entries, rd.snapshot)
        : undefined;
    return andThen(persisting, () =>
      andThen(this.afterPersist(rd), () => {
        if (!this.closed) this.core.advance(rd);
      }),
    );
  }

  private afterPersist(rd: Ready): void | Promise<void> {
    if (this.closed) return;
    for (const m of rd.messagesAfterPersist) this.io.send(m);
    const committed = rd.committedEntries;
    this.io.persisted(rd.softState, committed.length > 0 ? committed[committed.length - 1].index : 0);
    const applying = committed.length > 0 || rd.snapshot !== null ? this.io.apply(committed, rd.snapshot) : undefined;
    return andThen(applying, () => this.io.readStates(rd));
  }

  private async continueAsync(pending: Promise<void>): Promise<void> {
    try {
      await pending;
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
