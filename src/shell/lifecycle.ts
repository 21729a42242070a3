import { StoppedError } from '../errors.js';

type Phase = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** The node's own start and stop work; the lifecycle decides when each runs. */
export interface LifecycleSteps {
  /** Brings the node up; if it fails, it has undone what it did (a failed start ends the lifecycle). */
  startup(): Promise<void>;
  /** Takes the node down; `wasRunning` is false when the start failed or never ran. */
  shutdown(wasRunning: boolean): Promise<void>;
}

/**
 * new → starting → running → stopping → stopped, once: a stopped node is
 * never restarted (a new RaftNode on the same storage is). `start()` and
 * `stop()` each run their step once and hand every caller the same promise;
 * a stop during start waits for the start, then undoes it.
 */
export class Lifecycle {
  private phase: Phase = 'new';
  private startPromise: Promise<void> | null = null;
  private stopPromise: Promise<void> | null = null;

  constructor(private readonly steps: LifecycleSteps) {}

  /** Inputs reach the core and calls are taken only while running. */
  get isRunning(): boolean {
    return this.phase === 'running';
  }

  /** True once a stop began, or a start failed. */
  get isOver(): boolean {
    return this.phase === 'stopping' || this.phase === 'stopped';
  }

  /** What a call gets while the node is not running. */
  notRunningError(): StoppedError {
    return new StoppedError(this.phase === 'new' || this.phase === 'starting' ? 'The node is not started' : undefined);
  }

  /** The start step reached the point where the node takes inputs. */
  started(): void {
    this.phase = 'running';
  }

  /** The start step is failing: from now on nothing reaches the core while it undoes itself. */
  startFailed(): void {
    this.phase = 'stopped';
  }

  start(): Promise<void> {
    if (this.stopPromise !== null || this.phase === 'stopped') {
      return Promise.reject(
        new StoppedError('A stopped node cannot be restarted; create a new RaftNode with the same storage'),
      );
    }
    if (this.startPromise !== null) return this.startPromise;
    this.phase = 'starting';
    this.startPromise = this.steps.startup().catch((error: unknown) => {
      this.startFailed();
      throw error;
    });
    return this.startPromise;
  }

  stop(): Promise<void> {
    if (this.stopPromise !== null) return this.stopPromise;
    this.stopPromise = this.shutdown();
    return this.stopPromise;
  }

  private async shutdown(): Promise<void> {
    await this.startPromise?.catch(() => undefined);
    const wasRunning = this.phase === 'running';
    this.phase = 'stopping';
    await this.steps.shutdown(wasRunning);
    this.phase = 'stopped';
  }
}
