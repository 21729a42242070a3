import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import type { Raft } from './core/raft.js';
import type { PlantedBugs } from './core/types.js';
import { StoppedError } from './errors.js';
import type { NodeId, Role } from './messages.js';
import { type Logger, type NodeOptions, parseNodeOptions, type RaftNodeOptions } from './options.js';
import { Applier } from './shell/applier.js';
import { emitSafely } from './shell/dispatch.js';
import { CoreDriver, type DriverIO } from './shell/driver.js';
import type { RaftNodeEvents, SnapshotInfo } from './shell/events.js';
import { FatalFaults } from './shell/fatal.js';
import { coreOf, plantedBugsFor } from './shell/internal.js';
import { Lifecycle } from './shell/lifecycle.js';
import type { CallOptions } from './shell/pending.js';
import { andThen } from './shell/promise-like.js';
import { type ProposeOutcome, Requests } from './shell/requests.js';
import { Snapshots } from './shell/snapshots.js';
import { clockFailed, loadCore, openFailed, restoreStored, startStep, transportFailed } from './shell/startup.js';
import { tickSchedule } from './shell/ticks.js';
import { NodeView } from './shell/view.js';

export type { ProposeOutcome } from './shell/requests.js';

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
  /** The last index and its term covered by the newest snapshot this node holds (0 and 0 for none). */
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
}

/**
 * A Raft node: the shell around the pure core. It owns the timers, the
 * transport, the storage and the state machine, turns milliseconds into
 * ticks, persists before sending what depends on it, and reports through
 * promises and events only what is durable.
 *
 * This file is the public surface and the start and stop steps; the parts
 * it composes live in shell/: requests.ts (callers' requests and their
 * promises), applier.ts (the apply loop), view.ts (the reported role, term
 * and leader), driver.ts (ticks and messages into the core, its Ready out),
 * snapshots.ts (taking and storing snapshots), lifecycle.ts (new →
 * running → stopped), fatal.ts (fatal faults) and dispatch.ts (event
 * dispatch).
 */
export class RaftNode extends EventEmitter<RaftNodeEvents> {
  readonly id: NodeId;
  private readonly options: NodeOptions;
  private readonly logger: Logger;
  private readonly plantedBugs: PlantedBugs | undefined;
  private readonly lifecycle: Lifecycle;
  private readonly faults: FatalFaults;
  private readonly view: NodeView;
  private readonly requests: Requests;
  private readonly applier: Applier;
  private readonly snapshots: Snapshots;
  /** The started core and what drives it; null before start and after a failed one. */
  private driver: CoreDriver | null = null;

  constructor(options: RaftNodeOptions) {
    super();
    this.options = parseNodeOptions(options);
    this.id = this.options.id;
    this.logger = this.options.logger;
    this.plantedBugs = plantedBugsFor.get(options);
    const lifecycle = new Lifecycle({
      startup: () => this.startup(),
      shutdown: (wasRunning) => this.shutdown(wasRunning),
    });
    this.lifecycle = lifecycle;
    this.faults = new FatalFaults({
      id: this.id,
      logger: this.logger,
      stop: () => this.stop(),
      errorListeners: () => this.listenerCount('error'),
      emitError: (fault) => this.dispatch('error', fault),
    });
    this.view = new NodeView({
      id: this.id,
      logger: this.logger,
      emit: (event, ...args) => this.dispatch(event, ...args),
      leadershipLost: (committedUpTo) => this.requests.leadershipLost(committedUpTo),
      leaderKnown: (leaderId) => this.requests.leaderKnown(leaderId),
    });
    this.requests = new Requests({
      id: this.id,
      clock: this.options.clock,
      maxProposalBatch: this.options.maxProposalBatch,
      defaultTimeoutMs: 3 * this.options.electionTimeoutMs.max,
      view: this.view,
      lifecycle,
      core: () => this.driver?.core ?? null,
      kick: () => this.driver?.kick(),
    });
    this.applier = new Applier({
      stateMachine: this.options.stateMachine,
      halted: () => lifecycle.isOver,
      applied: (entry, result) => {
        this.requests.applied(entry, result);
        if (entry.type === 'normal') this.dispatch('applied', { index: entry.index, term: entry.term });
      },
      installed: (snapshot) => {
        this.requests.restored(snapshot.index);
        this.snapshots.installed(snapshot);
      },
      caughtUp: (appliedIndex) => this.requests.appliedUpTo(appliedIndex),
    });
    this.snapshots = new Snapshots({
      id: this.id,
      logger: this.logger,
      clock: this.options.clock,
      storage: this.options.storage,
      stateMachine: this.options.stateMachine,
      settings: this.options.snapshots,
      plantedBugs: this.plantedBugs,
      applier: this.applier,
      lifecycle,
      core: () => this.driver?.core ?? null,
      kick: () => this.driver?.kick(),
      emit: (event) => this.dispatch('snapshot', event),
    });
  }

  // ---------------------------------------------------------------- state

  get role(): Role {
    return this.view.current.role;
  }

  get term(): number {
    return this.view.current.term;
  }

  get leaderId(): NodeId | null {
    return this.view.current.leaderId;
  }

  isLeader(): boolean {
    return this.view.isLeader();
  }

  status(): NodeStatus {
    const core = this.driver?.core;
    const { role, term, leaderId } = this.view.current;
    return {
      id: this.id,
      role,
      term,
      leaderId,
      commitIndex: core?.commitIndex ?? 0,
      appliedIndex: this.applier.appliedIndex,
      lastLogIndex: core?.lastIndex ?? 0,
      voters: core?.voters ?? this.options.peers,
      learners: [],
      snapshotIndex: core?.snapshotIndex ?? 0,
      snapshotTerm: core?.snapshotTerm ?? 0,
    };
  }

  // ---------------------------------------------------------------- lifecycle

  /** Loads storage, starts the transport and the timers. Calling it again returns the same promise. */
  start(): Promise<void> {
    return this.lifecycle.start();
  }

  /**
   * Stops timers, transport and storage. Pending calls reject with
   * StoppedError; no `apply` call follows once this resolves. Idempotent.
   */
  stop(): Promise<void> {
    return this.lifecycle.stop();
  }

  /**
   * A failed start undoes every step that completed (the storage opened,
   * the transport started) and rejects with a typed error, so that nothing
   * stays held: a new RaftNode on the same storage can start. A step that
   * failed is not undone: cleaning up after its own failed call is the
   * adapter's job, and closing a storage whose `open` failed could release
   * another live node's hold on it.
   */
  private async startup(): Promise<void> {
    const stored = await startStep(() => this.options.storage.open(), openFailed);
    const ticks = tickSchedule(this.options.heartbeatIntervalMs, this.options.electionTimeoutMs);
    let transportStarted = false;
    try {
      const seed = this.options.seed ?? randomBytes(4).readUInt32LE(0);
      const driver = this.drive(loadCore(this.options, ticks, seed, this.plantedBugs, stored));
      // The newest snapshot first; the core hands out only the entries after it.
      await restoreStored(stored.snapshot, this.options, this.applier);
      this.snapshots.loaded(stored.snapshot);
      await startStep(() => this.options.transport.start((m) => driver.receive(m)), transportFailed);
      transportStarted = true;
      this.lifecycle.started();
      startStep(() => driver.startTicking(this.options.clock, ticks.tickMs), clockFailed);
      this.logger.info(
        { id: this.id, term: driver.core.term, lastIndex: driver.core.lastIndex, seed },
        'raft node started',
      );
      // Committed entries found in storage after the snapshot are applied again to the fresh state machine.
      driver.scheduleKick();
    } catch (error) {
      await this.undoStart(transportStarted);
      throw error;
    }
  }

  /** Puts the loaded core to work: the view starts from it, and the driver feeds it and runs its output. */
  private drive(core: Raft): CoreDriver {
    coreOf.set(this, core);
    this.view.load({ role: core.role, term: core.term, leaderId: core.leaderId });
    const io: DriverIO = {
      persist: (hardState, entries, snapshot) => {
        const save = (): void | Promise<void> =>
          hardState !== null || entries.length > 0 ? this.options.storage.save(hardState, entries) : undefined;
        return snapshot === null ? save() : andThen(this.snapshots.persistInstalled(snapshot), save);
      },
      persisted: (soft, committedUpTo) => this.view.report(soft, committedUpTo),
      apply: (entries, snapshot) => this.applier.apply(entries, snapshot),
      readStates: (rd) => this.requests.readStates(rd.readStates, this.applier.appliedIndex),
      betweenReadys: () => this.snapshots.betweenReadys(),
    };
    this.driver = new CoreDriver(core, io, {
      id: this.id,
      logger: this.logger,
      transport: this.options.transport,
      accepting: () => this.lifecycle.isRunning,
      fatal: (error) => this.faults.fail(error),
    });
    return this.driver;
  }

  private async undoStart(transportStarted: boolean): Promise<void> {
    this.lifecycle.startFailed();
    await this.release(transportStarted);
    this.driver = null;
    coreOf.delete(this);
  }

  private async shutdown(wasRunning: boolean): Promise<void> {
    this.driver?.stopTicking();
    this.requests.rejectAll(() => new StoppedError());
    this.snapshots.rejectAll(new StoppedError());
    if (wasRunning) await this.release(true);
    this.logger.info({ id: this.id }, 'raft node stopped');
  }

  /** Stops the ticks, then the transport (so no late message reaches a closing node), the loop and the storage. */
  private async release(transportStarted: boolean): Promise<void> {
    const quietly = async (what: string, close: () => void | Promise<void>): Promise<void> => {
      try {
        await close();
      } catch (error) {
        this.logger.warn({ id: this.id, err: error }, `${what} did not close cleanly`);
      }
    };
    this.driver?.stopTicking();
    if (transportStarted) await quietly('transport', () => this.options.transport.stop());
    await this.driver?.close();
    await quietly('storage', () => this.options.storage.close());
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
    return this.requests.propose(data, options);
  }

  /**
   * Linearizable read barrier (thesis §6.4): resolves with an index once the
   * cluster confirmed leadership after this call and this node has applied
   * at least that index. Works on followers, which ask the leader.
   */
  readIndex(options?: CallOptions): Promise<number> {
    return this.requests.readIndex(options);
  }

  /**
   * Hands leadership to `to`, or to the most up-to-date follower (thesis
   * §3.10). Resolves with the new leader's id once this node sees it lead.
   * Proposals are refused with NotLeaderError while the transfer runs.
   */
  transferLeadership(to?: NodeId, options?: CallOptions): Promise<NodeId> {
    return this.requests.transferLeadership(to, options);
  }

  /**
   * Takes a snapshot now, at the applied index (§7), even below the
   * `snapshots.threshold`, and compacts the log behind it. Resolves with
   * where it stands and its size once it is durable; when nothing was
   * applied since the newest snapshot, with that one. `apply` waits
   * meanwhile. Calls made while one is pending share its result. Rejects
   * ConfigError when the state machine has no `snapshot()` or the storage
   * no `saveSnapshot()`, StoppedError, or the storage's error (which stops
   * the node).
   */
  snapshot(options?: CallOptions): Promise<SnapshotInfo> {
    return this.snapshots.request(options);
  }

  /** Resolves with the leader's id, at once if one is known. */
  waitForLeader(options?: CallOptions): Promise<NodeId> {
    return this.requests.waitForLeader(options);
  }

  /** Emits to the listeners; one that throws is logged and cannot unwind the Raft loop. */
  private dispatch<K extends keyof RaftNodeEvents>(event: K, ...args: RaftNodeEvents[K]): void {
    emitSafely(this, event, args, (err) => this.logger.error({ id: this.id, event, err }, 'event listener threw'));
  }
}
