import { MESSAGE_TYPES, type NodeId, type RaftMessage, type Snapshot } from '../../messages.js';
import { RaftNode } from '../../node.js';
import { coreOf, plantedBugsFor } from '../../shell/internal.js';
import { checkKvHistory } from '../linearizability.js';
import { OP_TIMEOUT_MS, type SimContext, type Slot } from './context.js';
import { EventQueue } from './event-queue.js';
import { FaultInjector } from './faults.js';
import { SafetyChecker, type Violation } from './invariants.js';
import { decodeKvWrite, encodeKvWrite, KvState } from './kv.js';
import { NodeClock } from './node-clock.js';
import { RuleChecker } from './rule-checker.js';
import { drawRunConfig } from './run-config.js';
import { SimNetwork } from './sim-network.js';
import {
  ALL_FAULTS,
  type FaultOptions,
  replayCommand,
  type RunConfig,
  type SimulationResult,
  type SimulatorOptions,
} from './sim-options.js';
import { between, type Random, simRandom } from './sim-random.js';
import { SimStorage, type SimWrite } from './sim-storage.js';
import { SnapshotChecker } from './snapshot-rules.js';
import { describeMessage, Trace } from './trace.js';
import { Workload } from './workload.js';

/**
 * A deterministic simulation of a whole cluster: real RaftNodes (the same
 * shell and Ready loop as production) on virtual time, with a simulated
 * network and disk whose every fault comes from one seed. After each event
 * the safety invariants and the protocol rules are checked; at the end,
 * liveness and the linearizability of the clients' history.
 */
export class Simulator {
  private readonly options: SimulatorOptions;
  private readonly config: RunConfig;
  private readonly faults: FaultOptions;
  private readonly random: Random;
  private readonly queue = new EventQueue();
  private readonly network: SimNetwork;
  private readonly checker = new SafetyChecker();
  private readonly snapshotChecker = new SnapshotChecker(this.checker);
  private readonly rules: RuleChecker;
  private readonly trace: Trace;
  private readonly slots: Slot[] = [];
  private readonly byId = new Map<NodeId, Slot>();
  private readonly ctx: SimContext;
  private readonly injector: FaultInjector;
  private readonly workload: Workload;
  private violation: Violation | null = null;
  private step = 0;
  private crashes = 0;
  private leaders = 0;
  private campaignsAbandoned = 0;
  private readonly snapshotStats = { taken: 0, installed: 0, crashesSaving: 0, crashesInstalling: 0 };
  private faultsOn = true;
  private readonly lastLeaderTerm = new Map<NodeId, number>();
  /** Per node, the role and term seen at the last check: to count campaigns given up for a leader of the same term. */
  private readonly lastSeen = new Map<NodeId, { role: string; term: number }>();

  constructor(options: SimulatorOptions) {
    this.options = options;
    this.config = drawRunConfig(options);
    this.faults = { ...ALL_FAULTS, ...options.faults };
    this.random = simRandom(options.seed);
    this.trace = new Trace(options.recordTrace === true);
    const committedTermAt = (i: number): number | undefined => this.checker.committedTermAt(i);
    this.rules = new RuleChecker(Math.floor(this.config.nodes / 2) + 1, committedTermAt);
    this.network = new SimNetwork(
      this.queue,
      this.random,
      (m) => this.afterDelivery(m),
      (m) => this.fail(this.rules.sent(m, this.byId.get(m.from)!)),
    );
    for (let i = 0; i < this.config.nodes; i++) {
      const slot: Slot = {
        id: `n${i + 1}`,
        storage: new SimStorage(
          this.queue,
          this.random,
          this.config.profile.maxSyncMs,
          (index) => committedTermAt(index) ?? -1,
        ),
        rate: this.faults.clockDrift ? 0.9 + this.random() * 0.2 : 1,
        electionTimeoutMs: this.config.electionTimeoutsMs[i],
        node: null,
        core: null,
        clock: null,
        detach: null,
        kv: null,
        inflight: new Set(),
      };
      this.slots.push(slot);
      this.byId.set(slot.id, slot);
    }
    this.ctx = {
      queue: this.queue,
      random: this.random,
      network: this.network,
      trace: this.trace,
      slots: this.slots,
      config: this.config,
      faults: this.faults,
      faultsOn: () => this.faultsOn,
      crashAndRestart: (slot) => this.crashAndRestart(slot),
      writeBurst: (slot, size) => this.workload.burst(slot, size),
      fail: (v) => this.fail(v),
    };
    this.injector = new FaultInjector(this.ctx);
    this.workload = new Workload(this.ctx, this.rules, () => this.checker.committedIndex);
    for (const slot of this.slots) slot.storage.onWrite = (syncMs, write) => this.storageWriting(slot, syncMs, write);
  }

  async run(): Promise<SimulationResult> {
    const c = this.config;
    this.trace.add(
      0,
      `${c.nodes} nodes, ${c.steps} steps, preVote ${c.preVote}, checkQuorum ${c.checkQuorum}, heartbeat ${c.heartbeatIntervalMs}ms, ` +
        `election timeouts ${c.electionTimeoutsMs.map((t) => t.min).join('/')}ms, patterns ${patternNames(c)}`,
    );
    for (const slot of this.slots) await this.startNode(slot);
    this.injector.start();
    this.workload.start(this.options.clients ?? 3);
    while (this.violation === null && this.step < c.steps) {
      if (!(await this.runOne())) break;
      if (this.step % 100 === 0) this.checkDurability();
    }
    if (this.violation === null) await this.livenessPhase();
    if (this.violation === null) await this.catchUpPhase();
    if (this.violation === null) this.checkDurability();
    for (const slot of this.slots) this.crash(slot, true);
    if (this.violation === null) this.checkHistory();
    return this.result();
  }

  // ------------------------------------------------------------- the loop

  /** Runs the next event, lets the promises it settled run, and checks every node. */
  private async runOne(): Promise<boolean> {
    const next = this.queue.next();
    if (next === null) return false;
    this.step++;
    next();
    // Every promise the event settled runs before the next event: nothing
    // here does real I/O, so one turn of the event loop drains them all.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.checkNodes();
    return true;
  }

  private checkNodes(): void {
    // The protocol rules first: they name the broken rule, the state
    // invariants below only its consequences.
    for (const slot of this.slots) {
      const core = slot.core;
      if (core === null) continue;
      if (core.role === 'leader') {
        if (this.lastLeaderTerm.get(slot.id) !== core.term) this.leaderElected(slot);
        this.fail(this.rules.checkMatchIndexes(slot.id, core, this.byId));
      }
      this.fail(this.rules.checkLeaderCommit(slot.id, core));
      this.fail(this.rules.checkDurablePrefix(slot.id, core, slot.storage));
      this.fail(this.rules.checkVoteKept(slot.id, core));
      this.fail(this.rules.checkCommitIndex(slot, this.slots));
      this.noteAbandonedCampaign(slot);
    }
    for (const slot of this.slots) {
      if (this.violation !== null) return;
      const core = slot.core;
      if (core === null || slot.node === null) continue;
      const existsUpTo = core.role === 'leader' ? slot.storage.durableLastIndex() : Infinity;
      this.fail(this.checker.check(slot.id, core, slot.node.status().appliedIndex, existsUpTo));
    }
  }

  private leaderElected(slot: Slot): void {
    const core = slot.core!;
    this.lastLeaderTerm.set(slot.id, core.term);
    this.leaders++;
    this.trace.add(this.queue.now, `${slot.id} is leader of term ${core.term}`);
    this.fail(this.rules.electedLeader(slot.id, core));
    this.injector.leaderElected(slot);
    this.workload.leaderElected(slot);
  }

  /** Counts the pattern "a pre-candidate or candidate hears from a leader of its own term", to show runs reach it. */
  private noteAbandonedCampaign(slot: Slot): void {
    const core = slot.core!;
    const before = this.lastSeen.get(slot.id);
    if (before !== undefined && before.role === core.role && before.term === core.term) return;
    const campaigning = before?.role === 'precandidate' || before?.role === 'candidate';
    if (campaigning && core.role === 'follower' && core.term === before!.term && core.leaderId !== null)
      this.campaignsAbandoned++;
    this.lastSeen.set(slot.id, { role: core.role, term: core.term });
  }

  /**
   * A write starts on the slot's simulated disk. A snapshot is checked as
   * it is stored: the node's core already holds a snapshot the leader sent
   * (it installs before its Ready is persisted), not yet one it is taking.
   */
  private storageWriting(slot: Slot, syncMs: number, write: SimWrite): void {
    const core = slot.core;
    const installing = write.kind === 'snapshot' && core !== null && isInstalling(core, write.snapshot);
    if (write.kind === 'snapshot' && core !== null) {
      const source = installing ? 'leader' : 'local';
      this.fail(this.snapshotChecker.saving(slot.id, write.snapshot, source, core.commitIndex));
    }
    this.injector.writing(slot, syncMs, write, installing);
  }

  private afterDelivery(m: RaftMessage): void {
    this.trace.add(this.queue.now, describeMessage(m));
    const core = this.byId.get(m.to)?.core;
    if (core !== null && core !== undefined) this.fail(this.checker.checkTermAdopted(core, m));
  }

  private fail(v: Violation | null): void {
    if (v === null || this.violation !== null) return;
    this.violation = v;
    this.trace.add(this.queue.now, `VIOLATION ${v.property}: ${v.message}`);
  }

  private checkDurability(): void {
    const disks = this.slots.map((s) => (i: number) => s.storage.durableTermAt(i));
    this.fail(this.checker.checkDurable(disks, Math.floor(this.config.nodes / 2) + 1));
  }

  // ------------------------------------------------------------- processes

  private async startNode(slot: Slot): Promise<void> {
    this.fail(this.rules.restarted(slot.id, slot.storage.durableHardState()));
    const clock = new NodeClock(this.queue, slot.rate);
    const transport = this.network.transport(slot.id);
    const kv = new KvState();
    const options = {
      id: slot.id,
      peers: this.slots.map((s) => s.id),
      transport,
      storage: slot.storage,
      clock,
      seed: between(this.random, 0, 2 ** 31),
      electionTimeoutMs: slot.electionTimeoutMs,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      preVote: this.config.preVote,
      checkQuorum: this.config.checkQuorum,
      maxEntriesPerAppend: this.config.profile.maxEntriesPerAppend,
      maxInflightMessages: this.config.profile.maxInflightMessages,
      snapshots: this.config.snapshots,
      stateMachine: {
        apply: (entry: { index: number; term: number; data: Uint8Array }) => {
          const commitIndex = coreOf.get(node)?.commitIndex ?? 0;
          this.fail(this.checker.recordApply(slot.id, entry.index, entry.term, entry.data, commitIndex));
          kv.apply(decodeKvWrite(entry.data));
        },
        snapshot: () => kv.snapshot(),
        restore: (data: Uint8Array, at: { index: number; term: number }) => {
          kv.restore(data);
          const why = started ? 'leader' : 'start';
          this.fail(this.snapshotChecker.restored(slot.id, kv.snapshot(), at.index, at.term, why));
        },
      },
    };
    let started = false;
    if (this.options.plantedBugs !== undefined) plantedBugsFor.set(options, this.options.plantedBugs);
    const node = new RaftNode(options);
    this.watch(slot, node);
    slot.node = node;
    slot.clock = clock;
    slot.detach = transport.detach;
    slot.kv = kv;
    await node.start();
    started = true;
    slot.core = coreOf.get(node) ?? null;
    if (slot.core !== null) this.checker.startLifetime(slot.id, slot.core);
    this.lastSeen.delete(slot.id);
    this.trace.add(this.queue.now, `${slot.id} started (term ${node.term})`);
  }

  /** Counts the node's snapshots, and reports a node that fails (a storage refusal, say) while it is alive. */
  private watch(slot: Slot, node: RaftNode): void {
    node.on('snapshot', ({ index, term, source }) => {
      if (source === 'local') this.snapshotStats.taken++;
      else this.snapshotStats.installed++;
      this.trace.add(
        this.queue.now,
        `${slot.id} ${source === 'local' ? 'took' : 'installed'} snapshot ${index}/${term}`,
      );
    });
    node.on('error', (error) => {
      if (slot.node !== node) return; // a crashed process's last breath
      this.fail({ property: 'Node fault', message: `${slot.id} stopped on ${error.name}: ${error.message}` });
    });
  }

  /** Kills the process: timers, network and unsynced writes are gone; its clients learn nothing. */
  private crash(slot: Slot, teardown = false): void {
    if (slot.node === null) return;
    const writing = slot.storage.unsyncedWrite();
    if (!teardown && writing?.kind === 'snapshot' && slot.core !== null) {
      if (isInstalling(slot.core, writing.snapshot)) this.snapshotStats.crashesInstalling++;
      else this.snapshotStats.crashesSaving++;
    }
    slot.clock?.crash();
    slot.detach?.();
    if (!teardown) slot.storage.crash();
    slot.node = null;
    slot.core = null;
    slot.clock = null;
    slot.kv = null;
    for (const settleUnknown of [...slot.inflight]) settleUnknown();
    slot.inflight.clear();
    if (!teardown) {
      this.crashes++;
      this.trace.add(this.queue.now, `${slot.id} crashed`);
    }
  }

  private crashAndRestart(slot: Slot): void {
    this.crash(slot);
    // Half the restarts are quick, as under a process supervisor.
    const downMs = this.random() < 0.5 ? 5 + this.random() * 55 : 60 + this.random() * 540;
    this.queue.schedule(downMs, () => {
      if (slot.node === null && this.faultsOn) void this.startNode(slot);
    });
  }

  // ------------------------------------------------------------- end phases

  /** With every fault healed, a leader must emerge and a write must commit in bounded time. */
  private async livenessPhase(): Promise<void> {
    this.faultsOn = false;
    this.network.heal();
    this.network.rejoin();
    this.network.dropTypes(MESSAGE_TYPES, 0);
    this.network.faults = { dropRate: 0, duplicateRate: 0, minDelayMs: 0.5, maxDelayMs: 2 };
    for (const slot of this.slots) if (slot.node === null) await this.startNode(slot);
    this.trace.add(this.queue.now, 'liveness phase: faults off, all nodes up');
    const deadline = this.queue.now + this.config.livenessTimeoutMs;
    let committed = false;
    let proposing = false;
    while (this.violation === null && !committed) {
      if (this.queue.now > deadline) {
        const views = this.slots
          .map((s) => `${s.id}:${s.node?.role}@${s.node?.term} leader=${s.node?.leaderId}`)
          .join(' ');
        const message = `no write committed within the liveness bound after faults stopped (${views})`;
        this.fail({ property: 'Liveness', message });
        break;
      }
      const leader = this.agreedLeader();
      if (leader !== null && !proposing) {
        proposing = true;
        const value = `live.${this.step}`;
        leader.node!.propose(encodeKvWrite({ kind: 'put', key: 'live', value }), { timeoutMs: OP_TIMEOUT_MS }).then(
          () => {
            committed = true;
          },
          () => {
            proposing = false;
          },
        );
      }
      if (!(await this.runOne())) break;
    }
  }

  /**
   * Then every node catches up within the same bound: it applies everything
   * committed, from the log or, where the leader compacted what it lacks,
   * through the leader's snapshot (§7).
   */
  private async catchUpPhase(): Promise<void> {
    const target = this.checker.committedIndex;
    const deadline = this.queue.now + this.config.livenessTimeoutMs;
    const behind = (): Slot[] => this.slots.filter((s) => (s.node?.status().appliedIndex ?? 0) < target);
    while (this.violation === null && behind().length > 0) {
      if (this.queue.now > deadline) {
        const views = behind()
          .map(
            (s) => `${s.id} applied ${s.node?.status().appliedIndex}, log ${s.core?.firstIndex}..${s.core?.lastIndex}`,
          )
          .join('; ');
        this.fail({ property: 'Liveness', message: `not every node caught up to commit index ${target}: ${views}` });
        break;
      }
      if (!(await this.runOne())) break;
    }
  }

  private agreedLeader(): Slot | null {
    const leader = this.slots.find((s) => s.node?.isLeader());
    if (leader === undefined) return null;
    return this.slots.every((s) => s.node?.leaderId === leader.id) ? leader : null;
  }

  private checkHistory(): void {
    const result = checkKvHistory(this.workload.history, { maxSteps: 2_000_000 });
    if (!result.ok && result.timedOut !== true) {
      this.fail({ property: 'Linearizability', message: `key ${result.key}: ${result.explanation ?? ''}` });
    }
  }

  private result(): SimulationResult {
    const v = this.violation;
    return {
      ok: v === null,
      seed: this.options.seed,
      violation: v === null ? null : { ...v, step: this.step, timeMs: this.queue.now },
      replay: replayCommand(this.options),
      steps: this.step,
      virtualTimeMs: this.queue.now,
      config: this.config,
      trace: this.trace.text(),
      stats: {
        messagesSent: this.network.sent,
        messagesDelivered: this.network.delivered,
        messagesDropped: this.network.dropped,
        crashes: this.crashes,
        tornWrites: this.slots.reduce((n, s) => n + s.storage.tornOnCrash, 0),
        committed: this.checker.committedIndex,
        operations: this.workload.history.length,
        leaders: this.leaders,
        campaignsAbandoned: this.campaignsAbandoned,
        burstProposals: this.workload.burstProposals,
        snapshotsTaken: this.snapshotStats.taken,
        snapshotsInstalled: this.snapshotStats.installed,
        chunksSent: this.network.chunksSent,
        compactions: this.slots.reduce((n, s) => n + s.storage.compactions, 0),
        crashesSavingSnapshots: this.snapshotStats.crashesSaving,
        crashesInstallingSnapshots: this.snapshotStats.crashesInstalling,
      },
    };
  }
}

/** The core installs a leader's snapshot before the shell stores it; one it takes itself it learns of after. */
function isInstalling(core: { readonly snapshotIndex: number }, snapshot: Snapshot): boolean {
  return core.snapshotIndex >= snapshot.index;
}

function patternNames(c: RunConfig): string {
  const on = Object.entries(c.patterns)
    .filter(([, v]) => v)
    .map(([k]) => k);
  return on.length === 0 ? 'none' : on.join(',');
}
