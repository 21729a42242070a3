import type { Entry, Snapshot } from '../messages.js';
import { ConfigError } from '../errors.js';
import type { StateMachine } from '../options.js';
import { describe } from '../validation.js';
import { andThen, isPromiseLike } from './promise-like.js';

/** What the applier needs from the node. */
export interface ApplierHooks {
  readonly stateMachine: StateMachine | undefined;
  /** True once the node is stopping: no `apply` call may follow. */
  halted(): boolean;
  /** `entry` is applied; `result` is what `stateMachine.apply` returned (undefined for the log's own entries). */
  applied(entry: Entry, result: unknown): void;
  /** The state machine holds `snapshot`, sent by the leader: the entries it covers were never applied here. */
  installed(snapshot: Snapshot): void;
  /** Every entry of a batch is applied, through `appliedIndex`. */
  caughtUp(appliedIndex: number): void;
}

const EMPTY = new Uint8Array(0);

/**
 * Feeds committed entries to the state machine, in log order, one at a time
 * (§5.3: State Machine Safety needs every node to apply the same entries in
 * the same order). It stays synchronous while the state machine does, and
 * waits for each promise before the next entry when it does not, so `apply`
 * is never called concurrently.
 *
 * Snapshots meet the state machine here too (§7): `capture` asks it for its
 * state, and `restore` replaces its state with a snapshot's before the
 * entries after it are applied. The node calls neither while entries are
 * being applied, so neither overlaps an `apply`.
 */
export class Applier {
  private index = 0;

  constructor(private readonly hooks: ApplierHooks) {}

  /** The index of the last entry applied by this node (or restored from a snapshot). */
  get appliedIndex(): number {
    return this.index;
  }

  /**
   * Restores `snapshot` (the leader's, when not null), then applies
   * `entries` in order; returns a promise only if the state machine goes
   * asynchronous.
   */
  apply(entries: readonly Entry[], snapshot: Snapshot | null = null): void | Promise<void> {
    if (snapshot === null) return this.applyFrom(entries, 0);
    return andThen(this.restore(snapshot), () => {
      if (this.hooks.halted()) return;
      this.hooks.installed(snapshot);
      return this.applyFrom(entries, 0);
    });
  }

  /**
   * Replaces the state machine's whole state with `snapshot`'s: the applied
   * index becomes its index. Without a state machine there is nothing to
   * replace. A state machine without `restore` cannot take it, and that is
   * fatal: going on would apply the entries after the snapshot to a state
   * that lacks the ones before.
   */
  restore(snapshot: Snapshot): void | Promise<void> {
    if (this.hooks.halted()) return;
    const sm = this.hooks.stateMachine;
    const restored = (): void => {
      this.index = snapshot.index;
    };
    if (sm === undefined) return restored();
    if (sm.restore === undefined) {
      throw new ConfigError([
        {
          path: 'stateMachine.restore',
          message: `is required: a snapshot (index ${snapshot.index}) must be restored, and the state machine has no restore()`,
        },
      ]);
    }
    return andThen(sm.restore(snapshot.data, { index: snapshot.index, term: snapshot.term }), restored);
  }

  /**
   * The state machine's state after the last applied entry, as its
   * `snapshot()` gives it: empty without a state machine. The caller checked
   * that a state machine has `snapshot`.
   */
  capture(): Uint8Array | Promise<Uint8Array> {
    const sm = this.hooks.stateMachine;
    if (sm === undefined) return EMPTY;
    return andThen(sm.snapshot!(), checkedSnapshot);
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

/** What `snapshot()` returned, if it is bytes: anything else would be stored and sent as garbage. */
function checkedSnapshot(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  throw new TypeError(`stateMachine.snapshot() must return a Uint8Array, got ${describe(data)}`);
}
