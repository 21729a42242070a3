import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import { Raft } from './core/raft.js';
import { createRandom } from './core/random.js';
import type { PlantedBugs, Ready, SoftState } from './core/types.js';
import {
  ConfigError,
  LeadershipLostError,
  NotLeaderError,
  RaftError,
  StoppedError,
  StorageError,
} from './errors.js';
import type { Entry, HardState, NodeId, RaftMessage, Role } from './messages.js';
import { type Logger, type NodeOptions, parseNodeOptions, type RaftNodeOptions } from './options.js';
import type { Clock } from './shell/clock.js';
import type { RaftNodeEvents } from './shell/events.js';
import { coreOf, plantedBugsFor } from './shell/internal.js';
import { type CallOptions, Pending } from './shell/pending.js';
import { ReadyLoop } from './shell/ready-loop.js';
import { tickSchedule } from './shell/ticks.js';
import type { Storage } from './storage/storage.js';

export interface ProposeOutcome {
  readonly index: number;
  readonly term: number;
  /** What `stateMachine.apply` returned for the entry. */
  readonly result: unknown;
}

export interface NodeStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastLogIndex: number;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

type Lifecycle = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

interface PendingProposal {
  readonly term: number;
  readonly pending: Pending<ProposeOutcome>;
}

interface PendingRead {
  readonly pending: Pending<number>;
  /** Set once the cluster confirmed the read; served when applied reaches it. */
  index: number | null;
}

/**
 * A Raft node: the shell around the pure core. It owns the timers, the
 * transport, the storage and the state machine, turns milliseconds into
 * ticks, persists before sending what depends on it, and reports through
 * promises and events only what is durable.
 */
export class RaftNode extends EventEmitter<RaftNodeEvents> {
  readonly id: NodeId;
  private readonly options: NodeOptions;
  private readonly storage: Storage;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly ticks: ReturnType<typeof tickSchedule>;
  private readonly plantedBugs: PlantedBugs | undefined;
  /** Makes read contexts unique across restarts of the same id (etcd #20418). */
  private readonly instance = randomBytes(6).toString('hex');

  private lifecycle: Lifecycle = 'new';
  private core: Raft | null = null;
  private loop: ReadyLoop | null = null;
  private stopTicker: (() => void) | null = null;
  private startPromise: Promise<void> | null = null;
  private stopPromise: Promise<void> | null = null;
  private kickScheduled = false;
  private failed = false;

  /** The durable view reported to users (role, term, leader). */
  private view: SoftState = { role: 'follower', term: 0, leaderId: null };
  private appliedIndex = 0;
  private readSeq = 0;

  private proposalQueue: { data: Uint8Array; pending: Pending<ProposeOutcome> }[] = [];
  private readonly proposals = new Map<number, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  private readonly leaderWaiters = new Set<Pending<NodeId>>();
  private readonly transferWaiters = new Set<{ target: NodeId | null; pending: Pending<NodeId> }>();

  constructor(options: RaftNodeOptions) {
    super();
    this.options = parseNodeOptions(options);
    this.id = this.options.id;
    this.storage = this.options.storage;
    this.clock = this.options.clock;
    this.logger = this.options.logger;
    this.ticks = tickSchedule(this.options.heartbeatIntervalMs, this.options.electionTimeoutMs);
    this.plantedBugs = plantedBugsFor.get(options);
  }

  // ---------------------------------------------------------------- state

  get role(): Role {
    return this.view.role;
  }

  get term(): number {
    return this.view.term;
  }

  get leaderId(): NodeId | null {
    return this.view.leaderId;
  }

  isLeader(): boolean {
    return this.view.role === 'leader';
  }

  status(): NodeStatus {
    const core = this.core;
    return {
      id: this.id,
      role: this.view.role,
      term: this.view.term,
      leaderId: this.view.leaderId,
      commitIndex: core?.commitIndex ?? 0,
      appliedIndex: this.appliedIndex,
      lastLogIndex: core?.lastIndex ?? 0,
      voters: core?.voters ?? this.options.peers,
      learners: [],
    };
  }

  // ---------------------------------------------------------------- lifecycle

  /** Loads storage, starts the transport and the timers. Calling it again returns the same promise. */
  start(): Promise<void> {
    if (this.stopPromise !== null || this.lifecycle === 'stopped') {
      return Promise.reject(new StoppedError('A stopped node cannot be restarted; create a new RaftNode with the same storage'));
    }
    if (this.startPromise !== null) return this.startPromise;
    this.lifecycle = 'starting';
    this.startPromise = this.startup();
    return this.startPromise;
  }

  private async startup(): Promise<void> {
    let stored;
    try {
      stored = await this.storage.open();
    } catch (error) {
      this.lifecycle = 'stopped';
      throw asStorageError(error, 'Could not open storage');
    }
    const seed = this.options.seed ?? randomBytes(4).readUInt32LE(0);
    const core = new Raft(
      {
        id: this.id,
        voters: this.options.peers,
        electionTicksMin: this.ticks.electionTicksMin,
        electionTicksMax: this.ticks.electionTicksMax,
        heartbeatTicks: this.ticks.heartbeatTicks,
        preVote: this.options.preVote,
        checkQuorum: this.options.checkQuorum,
        maxInflightMessages: this.options.maxInflightMessages,
        maxEntriesPerAppend: this.options.maxEntriesPerAppend,
        maxBytesPerAppend: this.options.maxBytesPerAppend,
        random: createRandom(seed),
        plantedBugs: this.plantedBugs,
      },
      stored,
    );
    this.core = core;
    coreOf.set(this, core);
    this.view = { role: core.role, term: core.term, leaderId: core.leaderId };
    this.loop = new ReadyLoop(core, {
      send: (m) => this.send(m),
      persist: (hs, entries) => this.persist(hs, entries),
      persisted: (soft, committedUpTo) => this.report(soft, committedUpTo),
      apply: (entries) => this.apply(entries, 0),
      readStates: (rd) => this.serveReads(rd),
      fatal: (error) => this.fail(error),
    });
    try {
      await this.options.transport.start((m) => this.receive(m));
    } catch (error) {
      this.lifecycle = 'stopped';
      await this.storage.close().catch(() => undefined);
      throw error;
    }
    this.lifecycle = 'running';
    this.stopTicker = this.clock.every(this.ticks.tickMs, () => this.tick());
    this.logger.info({ id: this.id, term: core.term, lastIndex: core.lastIndex, seed }, 'raft node started');
    // Committed entries found in storage are applied again to the fresh state machine.
    this.scheduleKick();
  }

  /**
   * Stops timers, transport and storage. Pending calls reject with
   * StoppedError; no `apply` call follows once this resolves. Idempotent.
   */
  stop(): Promise<void> {
    if (this.stopPromise !== null) return this.stopPromise;
    this.stopPromise = this.shutdown();
    return this.stopPromise;
  }

  private async shutdown(): Promise<void> {
    // A stop during start waits for the start to finish, then undoes it.
    await this.startPromise?.catch(() => undefined);
    const wasStarted = this.lifecycle === 'running';
    this.lifecycle = 'stopping';
    this.stopTicker?.();
    this.stopTicker = null;
    this.rejectAll(() => new StoppedError());
    if (wasStarted) {
      // Detach the transport first, so no late message reaches a closing node.
      try {
        await this.options.transport.stop();
      } catch (error) {
        this.logger.warn({ id: this.id, err: error }, 'transport did not stop cleanly');
      }
      await this.loop?.close();
      try {
        await this.storage.close();
      } catch (error) {
        this.logger.warn({ id: this.id, err: error }, 'storage did not close cleanly');
      }
    }
    this.lifecycle = 'stopped';
    this.logger.info({ id: this.id }, 'raft node stopped');
  }

  // ---------------------------------------------------------------- calls

  /**
   * Appends `data` to the replicated log. Resolves once the entry is
   * committed and applied here. Proposals that arrive together share one
   * append message and one disk write.
   */
  propose(data: Uint8Array, options?: CallOptions): Promise<ProposeOutcome> {
    if (!(data instanceof Uint8Array)) {
      return Promise.reject(new TypeError('propose(data) takes a Uint8Array'));
    }
    const pending = new Pending<ProposeOutcome>(this.clock, options, 'The proposal timed out; it may still commit');
    if (pending.isSettled) return pending.promise;
    if (this.lifecycle !== 'running') {
      pending.reject(this.notRunningError());
      return pending.promise;
    }
    this.proposalQueue.push({ data, pending });
    if (this.proposalQueue.length === 1) queueMicrotask(() => this.flushProposals());
    return pending.promise;
  }

  private flushProposals(): void {
    const queue = this.proposalQueue;
    this.proposalQueue = [];
    const core = this.core;
    if (core === null || this.lifecycle !== 'running') return;
    const max = this.options.maxProposalBatch;
    for (let start = 0; start < queue.length; start += max) {
      const batch = queue.slice(start, start + max).filter((p) => !p.pending.isSettled);
      if (batch.length === 0) continue;
      const result = core.propose(batch.map((p) => p.data));
      if (!result.ok) {
        for (const p of batch) p.pending.reject(new NotLeaderError(result.leaderId));
        continue;
      }
      for (let i = 0; i < batch.length; i++) {
        const index = result.index + i;
        // An older proposal at this index was overwritten by our own later term: it never committed.
        this.proposals.get(index)?.pending.reject(new LeadershipLostError('The proposal was overwritten by a new leader'));
        this.proposals.set(index, { term: result.term, pending: batch[i].pending });
      }
    }
    this.loop?.kick();
  }

  /**
   * Linearizable read barrier (thesis §6.4): resolves with an index once the
   * cluster confirmed leadership after this call and this node has applied
   * at least that index. Works on followers, which ask the leader.
   */
  readIndex(options?: CallOptions): Promise<number> {
    const ctx = `${this.instance}:${++this.readSeq}`;
    const pending = new Pending<number>(
      this.clock,
      { ...options, timeoutMs: options?.timeoutMs ?? this.defaultTimeoutMs() },
      'readIndex timed out',
      () => this.reads.delete(ctx),
    );
    if (pending.isSettled) return pending.promise;
    const core = this.core;
    if (core === null || this.lifecycle !== 'running') {
      pending.reject(this.notRunningError());
      return pending.promise;
    }
    const accepted = core.readIndex(ctx);
    if (!accepted.ok) {
      pending.reject(new NotLeaderError(accepted.leaderId));
      return pending.promise;
    }
    this.reads.set(ctx, { pending, index: null });
    this.loop?.kick();
    return pending.promise;
  }

  /**
   * Hands leadership to `to`, or to the most up-to-date follower (thesis
   * §3.10). Resolves with the new leader's id once this node sees it lead.
   * Proposals are refused with NotLeaderError while the transfer runs.
   */
  transferLeadership(to?: NodeId, options?: CallOptions): Promise<NodeId> {
    const pending = new Pending<NodeId>(
      this.clock,
      { ...options, timeoutMs: options?.timeoutMs ?? this.defaultTimeoutMs() },
      'Leadership transfer did not complete in time',
      () => this.transferWaiters.delete(waiter),
    );
    const waiter = { target: to ?? null, pending };
    if (pending.isSettled) return pending.promise;
    const core = this.core;
    if (core === null || this.lifecycle !== 'running') {
      pending.reject(this.notRunningError());
      return pending.promise;
    }
    if (!this.isLeader() || core.role !== 'leader') {
      pending.reject(new NotLeaderError(this.view.leaderId));
      return pending.promise;
    }
    if (to !== undefined && !core.voters.includes(to)) {
      pending.reject(new ConfigError([{ path: 'to', message: `${to} is not a voter` }]));
      return pending.promise;
    }
    const target = core.transferLeader(to);
    if (target === null) {
      pending.reject(new NotLeaderError(this.view.leaderId, 'No follower to transfer leadership to'));
      return pending.promise;
    }
    if (target === this.id) {
      pending.resolve(this.id);
      return pending.promise;
    }
    waiter.target = target;
    this.transferWaiters.add(waiter);
    this.loop?.kick();
    return pending.promise;
  }

  /** Resolves with the leader's id, at once if one is known. */
  waitForLeader(options?: CallOptions): Promise<NodeId> {
    const pending = new Pending<NodeId>(this.clock, options, 'No leader was elected in time', () =>
      this.leaderWaiters.delete(pending),
    );
    if (pending.isSettled) return pending.promise;
    if (this.lifecycle === 'stopping' || this.lifecycle === 'stopped') {
      pending.reject(new StoppedError());
    } else if (this.view.leaderId !== null) {
      pending.resolve(this.view.leaderId);
    } else {
      this.leaderWaiters.add(pending);
    }
    return pending.promise;
  }

  private notRunningError(): StoppedError {
    const starting = this.lifecycle === 'new' || this.lifecycle === 'starting';
    return new StoppedError(starting ? 'The node is not started' : undefined);
  }

  private defaultTimeoutMs(): number {
    return 3 * this.options.electionTimeoutMs.max;
  }

  // ---------------------------------------------------------------- inputs

  private tick(): void {
    if (this.lifecycle !== 'running' || this.core === null) return;
    try {
      this.core.tick();
    } catch (error) {
      this.fail(error);
      return;
    }
    this.scheduleKick();
  }

  private receive(message: RaftMessage): void {
    if (this.lifecycle !== 'running' || this.core === null) return;
    try {
      this.core.step(message);
    } catch (error) {
      // An invariant the core enforces was violated (a bug or a corrupt peer): stop rather than go on.
      this.fail(error);
      return;
    }
    this.scheduleKick();
  }

  /** Coalesces the inputs of one turn of the event loop into one Ready. */
  private scheduleKick(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    queueMicrotask(() => {
      this.kickScheduled = false;
      if (this.lifecycle === 'running') this.loop?.kick();
    });
  }

  // ---------------------------------------------------------------- effects

  private send(message: RaftMessage): void {
    try {
      this.options.transport.send(message);
    } catch (error) {
      // The transport contract says send never throws; a buggy one must not break the loop.
      this.logger.warn({ id: this.id, err: error, to: message.to, type: message.type }, 'transport.send threw');
    }
  }

  private persist(hardState: HardState | null, entries: readonly Entry[]): void | Promise<void> {
    return this.storage.save(hardState, entries);
  }

  /** State is durable: now tell the world about role and leader changes. */
  private report(soft: SoftState, committedUpTo: number): void {
    const before = this.view;
    if (before.role === soft.role && before.leaderId === soft.leaderId && before.term === soft.term) return;
    this.view = soft;
    if (before.role === 'leader' && soft.role !== 'leader') {
      // The outcome of entries appended while leader is now unknown, except
      // for those this very Ready commits: apply gives them a definite answer.
      for (const [index, p] of this.proposals) {
        if (index <= committedUpTo) continue;
        p.pending.reject(new LeadershipLostError());
        this.proposals.delete(index);
      }
    }
    if (before.role !== soft.role) {
      this.logger.info({ id: this.id, role: soft.role, term: soft.term }, 'role changed');
      this.emitSafely('roleChanged', { role: soft.role, previousRole: before.role, term: soft.term });
    }
    // A new term under the same leader is reported too: applications fence on the term.
    if (before.leaderId !== soft.leaderId || (soft.leaderId !== null && before.term !== soft.term)) {
      this.logger.info({ id: this.id, leaderId: soft.leaderId, term: soft.term }, 'leader changed');
      this.emitSafely('leaderChanged', { leaderId: soft.leaderId, previousLeaderId: before.leaderId, term: soft.term });
      if (soft.leaderId !== null) {
        for (const w of this.leaderWaiters) w.resolve(soft.leaderId);
        this.leaderWaiters.clear();
        for (const w of this.transferWaiters) {
          if (w.target !== soft.leaderId) continue;
          w.pending.resolve(soft.leaderId);
          this.transferWaiters.delete(w);
        }
      }
    }
  }

  /** Applies entries in order from `from`; goes asynchronous only if the state machine does. */
  private apply(entries: readonly Entry[], from: number): void | Promise<void> {
    const sm = this.options.stateMachine;
    for (let i = from; i < entries.length; i++) {
      if (this.lifecycle === 'stopping' || this.lifecycle === 'stopped') return;
      const entry = entries[i];
      if (entry.type !== 'normal' || sm === undefined) {
        this.applied(entry, undefined);
        continue;
      }
      const result = sm.apply({ index: entry.index, term: entry.term, data: entry.data });
      if (isPromiseLike(result)) {
        return Promise.resolve(result).then((value) => {
          this.applied(entry, value);
          return this.apply(entries, i + 1);
        });
      }
      this.applied(entry, result);
    }
    this.serveAppliedReads();
  }

  private applied(entry: Entry, result: unknown): void {
    this.appliedIndex = entry.index;
    const p = this.proposals.get(entry.index);
    if (p !== undefined) {
      this.proposals.delete(entry.index);
      if (p.term === entry.term) p.pending.resolve({ index: entry.index, term: entry.term, result });
      // Another leader's entry took this index: ours was never committed.
      else p.pending.reject(new LeadershipLostError('The proposal was overwritten by a new leader'));
    }
    if (entry.type === 'normal') this.emitSafely('applied', { index: entry.index, term: entry.term });
  }

  private serveReads(rd: Ready): void {
    for (const rs of rd.readStates) {
      const read = this.reads.get(rs.ctx);
      if (read === undefined) continue;
      if (rs.index === null) {
        this.reads.delete(rs.ctx);
        read.pending.reject(new NotLeaderError(this.view.leaderId, 'Leadership could not be confirmed for the read'));
      } else {
        read.index = rs.index;
      }
    }
    this.serveAppliedReads();
  }

  private serveAppliedReads(): void {
    if (this.reads.size === 0) return;
    for (const [ctx, read] of this.reads) {
      if (read.index !== null && read.index <= this.appliedIndex) {
        this.reads.delete(ctx);
        read.pending.resolve(read.index);
      }
    }
  }

  private fail(error: unknown): void {
    // One fatal fault stops the node; later ones (from the same stop) are only logged.
    if (this.failed) {
      this.logger.warn({ id: this.id, err: error }, 'another fault while stopping');
      return;
    }
    this.failed = true;
    // Storage errors arrive typed (StorageError); a state machine's own error is passed on as it is.
    const err = error instanceof Error ? error : new Error(String(error));
    this.logger.error({ id: this.id, err }, 'fatal error; stopping the node');
    void this.stop().then(() => {
      if (this.listenerCount('error') > 0) this.emitSafely('error', err);
    });
  }

  private rejectAll(makeError: () => Error): void {
    for (const { pending } of this.proposalQueue) pending.reject(makeError());
    this.proposalQueue = [];
    for (const p of this.proposals.values()) p.pending.reject(makeError());
    this.proposals.clear();
    for (const r of this.reads.values()) r.pending.reject(makeError());
    this.reads.clear();
    for (const w of this.leaderWaiters) w.reject(makeError());
    this.leaderWaiters.clear();
    for (const w of this.transferWaiters) w.pending.reject(makeError());
    this.transferWaiters.clear();
  }

  /**
   * Calls every listener even if one throws: a listener's bug must not
   * unwind the Raft loop (eventemitter3 has no try/catch of its own).
   */
  private emitSafely<K extends keyof RaftNodeEvents>(event: K, ...args: RaftNodeEvents[K]): void {
    const listeners = this.listeners(event);
    for (const listener of listeners) {
      try {
        (listener as (...a: unknown[]) => void).apply(this.listenerContexts.get(listener) ?? this, args);
      } catch (error) {
        this.logger.error({ id: this.id, event, err: error }, 'event listener threw');
      }
    }
    if (listeners.length > 0) this.removeOnceListeners(event, listeners);
  }

  private removeOnceListeners(event: keyof RaftNodeEvents, called: readonly unknown[]): void {
    for (const fn of called) {
      if (typeof fn === 'function' && this.onceListeners.has(fn)) {
        this.onceListeners.delete(fn);
        super.removeListener(event, fn as never);
      }
    }
  }

  private readonly onceListeners = new WeakSet<object>();
  /** The `this` each listener asked for (eventemitter3 does not hand it out with `listeners()`). */
  private readonly listenerContexts = new WeakMap<object, unknown>();

  override on<K extends keyof RaftNodeEvents>(event: K, fn: (...args: RaftNodeEvents[K]) => void, context?: unknown): this {
    if (context !== undefined) this.listenerContexts.set(fn, context);
    return super.on(event, fn as never, context);
  }

  override addListener<K extends keyof RaftNodeEvents>(
    event: K,
    fn: (...args: RaftNodeEvents[K]) => void,
    context?: unknown,
  ): this {
    return this.on(event, fn, context);
  }

  override once<K extends keyof RaftNodeEvents>(
    event: K,
    fn: (...args: RaftNodeEvents[K]) => void,
    context?: unknown,
  ): this {
    // Registered as a plain listener so emitSafely can call it; removed after its first call.
    this.onceListeners.add(fn);
    return this.on(event, fn, context);
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function asStorageError(error: unknown, message: string): Error {
  if (RaftError.isInstance(error)) return error as Error;
  return new StorageError(`${message}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
