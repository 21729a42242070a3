import { randomBytes } from 'node:crypto';
import type { Raft } from '../core/raft.js';
import type { ReadState } from '../core/types.js';
import { ConfigError, LeadershipLostError, NotLeaderError, StoppedError } from '../errors.js';
import type { Entry, NodeId } from '../messages.js';
import type { Clock } from './clock.js';
import type { Lifecycle } from './lifecycle.js';
import { type CallOptions, Pending } from './pending.js';
import type { LeaderView } from './view.js';

export interface ProposeOutcome {
  readonly index: number;
  readonly term: number;
  /** What `stateMachine.apply` returned for the entry. */
  readonly result: unknown;
}

/** The core calls that requests make. */
export type RequestCore = Pick<Raft, 'role' | 'voters' | 'propose' | 'readIndex' | 'transferLeader'>;

/** What requests need from the node. */
export interface RequestsHost {
  readonly id: NodeId;
  readonly clock: Clock;
  readonly maxProposalBatch: number;
  /** The timeout of `readIndex` and `transferLeadership` when the caller gives none. */
  readonly defaultTimeoutMs: number;
  /** The durable view: who leads, as users were told. */
  readonly view: LeaderView;
  /** Whether calls are taken, and the error they get when not. */
  readonly lifecycle: Pick<Lifecycle, 'isRunning' | 'isOver' | 'notRunningError'>;
  /** The started core, else null. */
  core(): RequestCore | null;
  /** Processes what the core produced for a request. */
  kick(): void;
}

interface QueuedProposal {
  readonly data: Uint8Array;
  readonly pending: Pending<ProposeOutcome>;
}

interface PendingProposal {
  /** The term the entry was appended in: an entry of another term at its index means it was overwritten. */
  readonly term: number;
  readonly pending: Pending<ProposeOutcome>;
}

interface ReadWaiter {
  readonly pending: Pending<number>;
  /** Set once the cluster confirmed the read; served when applied reaches it. */
  index: number | null;
}

interface TransferWaiter {
  target: NodeId | null;
  readonly pending: Pending<NodeId>;
}

/**
 * The callers' requests and the promises they wait on: proposals (queued and
 * batched, then pending by log index), reads, leader waits and leadership
 * transfers. The node settles them as the core's output becomes durable
 * and applied; `rejectAll` ends every one when the node stops.
 */
export class Requests {
  /** Makes read contexts unique across restarts of the same id (etcd #20418). */
  private readonly instance = randomBytes(6).toString('hex');
  private readSeq = 0;
  private queue: QueuedProposal[] = [];
  private readonly proposals = new Map<number, PendingProposal>();
  private readonly reads = new Map<string, ReadWaiter>();
  private readonly leaderWaiters = new Set<Pending<NodeId>>();
  private readonly transferWaiters = new Set<TransferWaiter>();

  constructor(private readonly host: RequestsHost) {}

  // ---------------------------------------------------------------- calls

  propose(data: Uint8Array, options?: CallOptions): Promise<ProposeOutcome> {
    const pending = new Pending<ProposeOutcome>(
      this.host.clock,
      options,
      'The proposal timed out; it may still commit',
    );
    if (pending.isSettled) return pending.promise;
    if (this.runningCore() === null) {
      pending.reject(this.host.lifecycle.notRunningError());
      return pending.promise;
    }
    this.queue.push({ data, pending });
    // Proposals made in the same turn of the event loop share one append and one disk write.
    if (this.queue.length === 1) queueMicrotask(() => this.flushProposals());
    return pending.promise;
  }

  readIndex(options?: CallOptions): Promise<number> {
    const ctx = `${this.instance}:${++this.readSeq}`;
    const pending = new Pending<number>(this.host.clock, this.withDefaultTimeout(options), 'readIndex timed out', () =>
      this.reads.delete(ctx),
    );
    if (pending.isSettled) return pending.promise;
    const core = this.runningCore();
    if (core === null) {
      pending.reject(this.host.lifecycle.notRunningError());
      return pending.promise;
    }
    const accepted = core.readIndex(ctx);
    if (!accepted.ok) {
      this.refuse(pending, new NotLeaderError(accepted.leaderId));
      return pending.promise;
    }
    this.reads.set(ctx, { pending, index: null });
    this.host.kick();
    return pending.promise;
  }

  transferLeadership(to: NodeId | undefined, options?: CallOptions): Promise<NodeId> {
    const pending = new Pending<NodeId>(
      this.host.clock,
      this.withDefaultTimeout(options),
      'Leadership transfer did not complete in time',
      () => this.transferWaiters.delete(waiter),
    );
    const waiter: TransferWaiter = { target: to ?? null, pending };
    if (pending.isSettled) return pending.promise;
    const started = this.startTransfer(to);
    if (NotLeaderError.isInstance(started)) {
      this.refuse(pending, started);
    } else if (typeof started !== 'string') {
      pending.reject(started);
    } else if (started === this.host.id) {
      pending.resolve(started);
    } else {
      waiter.target = started;
      this.transferWaiters.add(waiter);
      this.host.kick();
    }
    return pending.promise;
  }

  /** Starts a transfer in the core: the target's id, or why it cannot start. */
  private startTransfer(to: NodeId | undefined): NodeId | Error {
    const core = this.runningCore();
    if (core === null) return this.host.lifecycle.notRunningError();
    const { view } = this.host;
    if (!view.isLeader() || core.role !== 'leader') return new NotLeaderError(view.current.leaderId);
    if (to !== undefined && !core.voters.includes(to)) {
      return new ConfigError([{ path: 'to', message: `${to} is not a voter` }]);
    }
    const target = core.transferLeader(to);
    return target ?? new NotLeaderError(view.current.leaderId, 'No follower to transfer leadership to');
  }

  waitForLeader(options?: CallOptions): Promise<NodeId> {
    const pending = new Pending<NodeId>(this.host.clock, options, 'No leader was elected in time', () =>
      this.leaderWaiters.delete(pending),
    );
    if (pending.isSettled) return pending.promise;
    const { leaderId } = this.host.view.current;
    if (this.host.lifecycle.isOver) pending.reject(new StoppedError());
    else if (leaderId !== null) pending.resolve(leaderId);
    else this.leaderWaiters.add(pending);
    return pending.promise;
  }

  /**
   * Rejects a call the core refused because this node does not lead. While
   * the node still reports itself leader (its step-down is not on disk yet)
   * the rejection waits for a later turn of the event loop: that write
   * completes only when the loop turns, and a caller that retried at once
   * on NotLeaderError, seeing `isLeader()` still true, spun in microtasks
   * and starved it forever, at 100% CPU (seen in the crash test's cluster
   * process). Otherwise it rejects at once.
   */
  private refuse<T>(pending: Pending<T>, error: Error): void {
    if (this.host.view.isLeader()) setImmediate(() => pending.reject(error));
    else pending.reject(error);
  }

  /** The core, while the node runs: calls reach it only then. */
  private runningCore(): RequestCore | null {
    return this.host.lifecycle.isRunning ? this.host.core() : null;
  }

  private withDefaultTimeout(options: CallOptions | undefined): CallOptions {
    return { ...options, timeoutMs: options?.timeoutMs ?? this.host.defaultTimeoutMs };
  }

  private flushProposals(): void {
    const queue = this.queue;
    this.queue = [];
    const core = this.runningCore();
    if (core === null) return;
    const max = this.host.maxProposalBatch;
    for (let start = 0; start < queue.length; start += max) {
      const batch = queue.slice(start, start + max).filter((p) => !p.pending.isSettled);
      if (batch.length === 0) continue;
      const result = core.propose(batch.map((p) => p.data));
      if (!result.ok) {
        for (const p of batch) this.refuse(p.pending, new NotLeaderError(result.leaderId));
        continue;
      }
      for (let i = 0; i < batch.length; i++) {
        const index = result.index + i;
        // An older proposal at this index was overwritten by our own later term: it never committed.
        this.proposals
          .get(index)
          ?.pending.reject(new LeadershipLostError('The proposal was overwritten by a new leader'));
        this.proposals.set(index, { term: result.term, pending: batch[i].pending });
      }
    }
    this.host.kick();
  }

  // ---------------------------------------------------------------- outcomes

  /** `entry` was applied with `result`: its proposal, if made here, gets its answer. */
  applied(entry: Entry, result: unknown): void {
    const p = this.proposals.get(entry.index);
    if (p === undefined) return;
    this.proposals.delete(entry.index);
    if (p.term === entry.term) p.pending.resolve({ index: entry.index, term: entry.term, result });
    // Another leader's entry took this index: ours was never committed.
    else p.pending.reject(new LeadershipLostError('The proposal was overwritten by a new leader'));
  }

  /**
   * The state machine was restored from the leader's snapshot through
   * `index`: entries it covers will never be applied here. A proposal made
   * here waits only while this node leads, and a leader never installs a
   * snapshot (it is the one that sends them); one can still be pending
   * when the Ready that reports this node's step-down also installs the
   * snapshot and commits entries past it. Its entry may be in the
   * snapshot, or may have been overwritten: this node cannot tell, and
   * never ran `apply` for it, so its outcome is unknown.
   */
  restored(index: number): void {
    for (const [at, p] of this.proposals) {
      if (at > index) continue;
      p.pending.reject(
        new LeadershipLostError('Leadership was lost and a snapshot from the new leader covers the proposal'),
      );
      this.proposals.delete(at);
    }
  }

  /** This node stopped leading: proposals past `committedUpTo` may or may not commit. */
  leadershipLost(committedUpTo: number): void {
    for (const [index, p] of this.proposals) {
      if (index <= committedUpTo) continue;
      p.pending.reject(new LeadershipLostError());
      this.proposals.delete(index);
    }
  }

  /** A leader is known: leader waits end, and so does a transfer to it. */
  leaderKnown(leaderId: NodeId): void {
    for (const w of this.leaderWaiters) w.resolve(leaderId);
    this.leaderWaiters.clear();
    for (const w of this.transferWaiters) {
      if (w.target !== leaderId) continue;
      w.pending.resolve(leaderId);
      this.transferWaiters.delete(w);
    }
  }

  /** Reads the core confirmed (or failed); confirmed ones are served once `appliedIndex` reaches them. */
  readStates(states: readonly ReadState[], appliedIndex: number): void {
    for (const rs of states) {
      const read = this.reads.get(rs.ctx);
      if (read === undefined) continue;
      if (rs.index === null) {
        this.reads.delete(rs.ctx);
        read.pending.reject(
          new NotLeaderError(this.host.view.current.leaderId, 'Leadership could not be confirmed for the read'),
        );
      } else {
        read.index = rs.index;
      }
    }
    this.appliedUpTo(appliedIndex);
  }

  /** Serves the confirmed reads whose index is applied (thesis §6.4). */
  appliedUpTo(appliedIndex: number): void {
    if (this.reads.size === 0) return;
    for (const [ctx, read] of this.reads) {
      if (read.index !== null && read.index <= appliedIndex) {
        this.reads.delete(ctx);
        read.pending.resolve(read.index);
      }
    }
  }

  /** Ends every request with `makeError()`: the node is stopping. */
  rejectAll(makeError: () => Error): void {
    for (const { pending } of this.queue) pending.reject(makeError());
    this.queue = [];
    for (const p of this.proposals.values()) p.pending.reject(makeError());
    this.proposals.clear();
    for (const r of this.reads.values()) r.pending.reject(makeError());
    this.reads.clear();
    for (const w of this.leaderWaiters) w.reject(makeError());
    this.leaderWaiters.clear();
    for (const w of this.transferWaiters) w.pending.reject(makeError());
    this.transferWaiters.clear();
  }
}
