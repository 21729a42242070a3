import { abortError, TimeoutError } from '../errors.js';
import type { Clock } from './clock.js';

export interface CallOptions {
  /** Rejects the call with an AbortError when aborted. */
  readonly signal?: AbortSignal;
  /** Rejects the call with a TimeoutError after this many milliseconds. */
  readonly timeoutMs?: number;
}

/**
 * One caller's promise, settled exactly once: by the node, by its
 * AbortSignal, or by its timeout. `onCancel` lets the owner forget it when
 * the caller gives up first.
 */
export class Pending<T> {
  readonly promise: Promise<T>;
  private resolveFn!: (value: T) => void;
  private rejectFn!: (reason: unknown) => void;
  private settled = false;
  private cancelTimer: (() => void) | null = null;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = (): void => {
    this.reject(abortError(this.signal?.reason));
    this.onCancel?.();
  };

  constructor(
    clock: Clock,
    options: CallOptions | undefined,
    timeoutMessage: string,
    private readonly onCancel?: () => void,
  ) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    this.signal = options?.signal;
    if (this.signal?.aborted) {
      this.settled = true;
      this.rejectFn(abortError(this.signal.reason));
      return;
    }
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    const timeoutMs = options?.timeoutMs;
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      this.cancelTimer = clock.after(Math.max(0, timeoutMs), () => {
        this.reject(new TimeoutError(timeoutMessage));
        this.onCancel?.();
      });
    }
  }

  get isSettled(): boolean {
    return this.settled;
  }

  resolve(value: T): void {
    if (this.settled) return;
    this.cleanup();
    this.resolveFn(value);
  }

  reject(reason: unknown): void {
    if (this.settled) return;
    this.cleanup();
    this.rejectFn(reason);
  }

  private cleanup(): void {
    this.settled = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}
