import type { Raft } from '../core/raft.js';
import type { RaftMessage } from '../messages.js';
import type { Logger } from '../options.js';
import type { Transport } from '../transport/transport.js';
import type { Clock } from './clock.js';
import { type ReadyIO, ReadyLoop } from './ready-loop.js';

/** The effects of a Ready that the node provides; the driver sends and reports faults itself. */
export type DriverIO = Omit<ReadyIO, 'send' | 'fatal'>;

/** What the driver needs from the node. */
export interface DriverHooks {
  readonly id: string;
  readonly logger: Logger;
  readonly transport: Transport;
  /** Inputs reach the core only while this holds (the node is running). */
  accepting(): boolean;
  /** The core or the loop failed: the node must stop. */
  fatal(error: unknown): void;
}

/**
 * Drives one started core: feeds it its inputs (ticks from the clock,
 * messages from the transport) and runs its output through the ReadyLoop.
 * The inputs of one turn of the event loop are coalesced into one Ready.
 */
export class CoreDriver {
  private readonly loop: ReadyLoop;
  private kickScheduled = false;
  private stopTicker: (() => void) | null = null;

  constructor(
    readonly core: Raft,
    io: DriverIO,
    private readonly hooks: DriverHooks,
  ) {
    this.loop = new ReadyLoop(core, { ...io, send: (m) => this.send(m), fatal: (error) => hooks.fatal(error) });
  }

  /** Starts calling `tick` every `tickMs`; throws what the clock throws. */
  startTicking(clock: Clock, tickMs: number): void {
    this.stopTicker = clock.every(tickMs, () => this.tick());
  }

  stopTicking(): void {
    this.stopTicker?.();
    this.stopTicker = null;
  }

  /** Stops the ticks and the loop; resolves once the Ready in progress (if any) is finished. */
  close(): Promise<void> {
    this.stopTicking();
    return this.loop.close();
  }

  /** Processes what the core produced for a call (a proposal, a read). */
  kick(): void {
    this.loop.kick();
  }

  /** Takes one message from the transport. */
  receive(message: RaftMessage): void {
    this.input(() => this.core.step(message));
  }

  /** Runs the loop on the next microtask: once for every input of this turn of the event loop. */
  scheduleKick(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    queueMicrotask(() => {
      this.kickScheduled = false;
      if (this.hooks.accepting()) this.loop.kick();
    });
  }

  private tick(): void {
    this.input(() => this.core.tick());
  }

  private input(feed: () => void): void {
    if (!this.hooks.accepting()) return;
    try {
      feed();
    } catch (error) {
      // An invariant the core enforces was violated (a bug or a corrupt peer): stop rather than go on.
      this.hooks.fatal(error);
      return;
    }
    this.scheduleKick();
  }

  private send(message: RaftMessage): void {
    try {
      this.hooks.transport.send(message);
    } catch (error) {
      // The transport contract says send never throws; a buggy one must not break the loop.
      this.hooks.logger.warn(
        { id: this.hooks.id, err: error, to: message.to, type: message.type },
        'transport.send threw',
      );
    }
  }
}
