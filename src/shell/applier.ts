import type { Entry } from '../messages.js';
import type { StateMachine } from '../options.js';
import { isPromiseLike } from './promise-like.js';

/** What the applier needs from the node. */
export interface ApplierHooks {
  readonly stateMachine: StateMachine | undefined;
  /** True once the node is stopping: no `apply` call may follow. */
  halted(): boolean;
  /** `entry` is applied; `result` is what `stateMachine.apply` returned (undefined for the log's own entries). */
  applied(entry: Entry, result: unknown): void;
  /** Every entry of a batch is applied, through `appliedIndex`. */
  caughtUp(appliedIndex: number): void;
}

/**
 * Feeds committed entries to the state machine, in log order, one at a time
 * (§5.3: State Machine Safety needs every node to apply the same entries in
 * the same order). It stays synchronous while the state machine does, and
 * waits for each promise before the next entry when it does not, so `apply`
 * is never called concurrently.
 *
 * This is the seam for snapshots: taking one (between two batches) and
 * restoring one (before the entries after it) belong here, where the
 * applied index is known.
 */
export class Applier {
  private index = 0;

  constructor(private readonly hooks: ApplierHooks) {}

  /** The index of the last entry applied by this node. */
  get appliedIndex(): number {
    return this.index;
  }

  /** Applies `entries` in order; returns a promise only if the state machine goes asynchronous. */
  apply(entries: readonly Entry[]): void | Promise<void> {
    return this.applyFrom(entries, 0);
  }

  private applyFrom(entries: readonly Entry[], from: number): void | Promise<void> {
    const sm = this.hooks.stateMachine;
    for (let i = from; i < entries.length; i++) {
      if (this.hooks.halted()) return;
      const entry = entries[i];
      // The log's own entries (a new leader's empty entry) take an index but are not the state machine's.
      if (entry.type !== 'normal' || sm === undefined) {
        this.done(entry, undefined);
        continue;
      }
      const result = sm.apply({ index: entry.index, term: entry.term, data: entry.data });
      if (isPromiseLike(result)) {
        return Promise.resolve(result).then((value) => {
          this.done(entry, value);
          return this.applyFrom(entries, i + 1);
        });
      }
      this.done(entry, result);
    }
    this.hooks.caughtUp(this.index);
  }

  private done(entry: Entry, result: unknown): void {
    this.index = entry.index;
    this.hooks.applied(entry, result);
  }
}
