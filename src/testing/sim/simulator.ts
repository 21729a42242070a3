import { createRandom, randomInt } from '../../core/random.js';
import type { PlantedBugs } from '../../core/types.js';
import { NotLeaderError } from '../../errors.js';
import type { NodeId, RaftMessage } from '../../messages.js';
import { RaftNode } from '../../node.js';
import { coreOf, plantedBugsFor } from '../../shell/internal.js';
import { quorumSize } from '../../core/quorum.js';
import { checkKvHistory, type KvInput, type KvOperation, type KvOutput } from '../linearizability.js';
import { EventQueue } from './event-queue.js';
import { SafetyChecker, type Violation } from './invariants.js';
import { decodeKvWrite, encodeKvWrite, KvState } from './kv.js';
import { NodeClock } from './node-clock.js';
import { SimNetwork } from './sim-network.js';
import { SimStorage } from './sim-storage.js';
import { Trace } from './trace.js';

/** Which faults the simulator injects; all on by default. */
export interface FaultOptions {
  /** Crash processes (losing unsynced writes) and restart them later. */
  readonly crashes: boolean;
  /** Split the cluster into random groups, both ways. */
  readonly partitions: boolean;
  /** Cut single links in one direction. */
  readonly oneWayLinks: boolean;
  /** Lose messages. */
  readonly drops: boolean;
  /** Deliver messages twice. */
  readonly duplicates: boolean;
  /** Random delays, so messages overtake each other. */
  readonly reorders: boolean;
  /** Nodes' clocks run at different rates. */
  readonly clockDrift: boolean;
}

export const ALL_FAULTS: FaultOptions = Object.freeze({
  crashes: true,
  partitions: true,
  oneWayLinks: true,
  drops: true,
  duplicates: true,
  reorders: true,
  clockDrift: true,
});

export const NO_FAULTS: FaultOptions = Object.freeze({
  crashes: false,
  partitions: false,
  oneWayLinks: false,
  drops: false,
  duplicates: false,
  reorders: false,
  clockDrift: false,
});

export interface SimulatorOptions {
  readonly seed: number;
  /** Cluster size; default 3 or 5, chosen by the seed. */
  readonly nodes?: number;
  /** Events to run with faults on, before the liveness phase. Default 2,000. */
  readonly steps?: number;
  readonly faults?: Partial<FaultOptions>;
  /** Concurrent clients of the key-value workload. Default 3. */
  readonly clients?: number;
  /** Keep the whole trace (for byte-for-byte replay comparison), not only its tail. */
  readonly recordTrace?: boolean;
  /** Virtual milliseconds the liveness phase may take. Default 10,000. */
  readonly livenessTimeoutMs?: number;
  /** Fix some of the fault intensities that are otherwise drawn per seed (swarm testing). */
  readonly profile?: Partial<FaultProfile>;
  /** Test-only: plant known Raft bugs in every node's core (see PlantedBugs). */
  readonly plantedBugs?: PlantedBugs;
}

export interface SimulationResult {
  readonly ok: boolean;
  readonly seed: number;
  readonly violation: (Violation & { readonly step: number; readonly timeMs: number }) | null;
  /** `npm run sim -- --seed N` plus any non-default options: replays this run exactly. */
  readonly replay: string;
  readonly steps: number;
  readonly virtualTimeMs: number;
  /** The last lines of the trace (all of it with `recordTrace`). */
  readonly trace: string;
  readonly stats: {
    readonly messagesSent: number;
    readonly messagesDelivered: number;
    readonly messagesDropped: number;
    readonly crashes: number;
    readonly tornWrites: number;
    readonly committed: number;
    readonly operations: number;
    readonly leaders: number;
  };
}

/**
 * Swarm testing: each seed draws its own fault intensities, so some runs
 * crash constantly on slow disks and others lose messages on fast ones;
 * bugs that need one extreme are not averaged away.
 */
export interface FaultProfile {
  /** Chance that a save is followed by a crash before its fsync completes. */
  readonly crashBeforeSyncRate: number;
  /** An fsync takes up to this long. */
  readonly maxSyncMs: number;
  /** Chance that a newly elected leader crashes within a few milliseconds. */
  readonly newLeaderCrashRate: number;
  /** Mean virtual time between injected faults. */
  readonly faultIntervalMs: number;
  /** Replication flow control: small values split the log into many messages. */
  readonly maxEntriesPerAppend: number;
  readonly maxInflightMessages: number;
}

function drawProfile(random: () => number): FaultProfile {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  return {
    crashBeforeSyncRate: pick([0.002, 0.01, 0.05]),
    maxSyncMs: pick([1, 5, 20]),
    newLeaderCrashRate: pick([0, 0.2, 0.5]),
    faultIntervalMs: pick([50, 150, 400]),
    maxEntriesPerAppend: pick([1, 3, 4096]),
    maxInflightMessages: pick([1, 4, 64]),
  };
}

interface Slot {
  readonly id: NodeId;
  readonly storage: SimStorage;
  readonly rate: number;
  node: RaftNode | null;
  clock: NodeClock | null;
  detach: (() => void) | null;
  kv: KvState | null;
  /** Client operations waiting on this process; resolved as unknown if it crashes. */
  readonly inflight: Set<() => void>;
}

interface ClientState {
  readonly id: number;
  leaderHint: NodeId | null;
  next: number;
}

const KEYS = ['x', 'y', 'z'];
const OP_TIMEOUT_MS = 2000;

/**
 * A deterministic simulation of a whole cluster: real RaftNodes (the same
 * shell and Ready loop as production) on virtual time, with a simulated
 * network and disk whose every fault comes from one seed. After each event
 * the safety invariants are checked; at the end, liveness and the
 * linearizability of the clients' history.
 */
export class Simulator {
  private readonly options: SimulatorOptions;
  private readonly faults: FaultOptions;
  private readonly random: () => number;
  private readonly queue = new EventQueue();
  private readonly network: SimNetwork;
  private readonly checker = new SafetyChecker();
  private readonly trace: Trace;
  private readonly slots: Slot[] = [];
  private readonly history: KvOperation[] = [];
  private readonly clients: ClientState[] = [];
  private violation: Violation | null = null;
  private step = 0;
  private crashes = 0;
  private leaders = 0;
  private faultsOn = true;
  private readonly nodeCount: number;
  private readonly profile: FaultProfile;

  constructor(options: SimulatorOptions) {
    this.options = options;
    this.faults = { ...ALL_FAULTS, ...options.faults };
    this.random = createRandom(options.seed);
    this.nodeCount = options.nodes ?? (this.random() < 0.5 ? 3 : 5);
    this.profile = { ...drawProfile(this.random), ...options.profile };
    this.trace = new Trace(options.recordTrace === true);
    this.network = new SimNetwork(this.queue, this.random, (m) => this.afterDelivery(m));
    for (let i = 0; i < this.nodeCount; i++) {
      const id = `n${i + 1}`;
      this.slots.push({
        id,
        storage: new SimStorage(this.queue, this.random, this.profile.maxSyncMs),
        rate: this.faults.clockDrift ? 0.9 + this.random() * 0.2 : 1,
        node: null,
        clock: null,
        detach: null,
        kv: null,
        inflight: new Set(),
      });
    }
    for (const slot of this.slots) slot.storage.onSave = (syncMs, recordsVote) => this.maybeCrashBeforeSync(slot, syncMs, recordsVote);
  }

  async run(): Promise<SimulationResult> {
    const steps = this.options.steps ?? 2000;
    for (const slot of this.slots) await this.startNode(slot);
    this.scheduleFaults();
    for (let c = 0; c < (this.options.clients ?? 3); c++) {
      const client: ClientState = { id: c, leaderHint: null, next: 0 };
      this.clients.push(client);
      this.scheduleClient(client);
    }

    while (this.violation === null && this.step < steps) {
      if (!(await this.runOne())) break;
      if (this.step % 100 === 0) this.checkDurability();
    }
    if (this.violation === null) await this.livenessPhase();
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
    for (const slot of this.slots) {
      if (this.violation !== null) return;
      const core = slot.node === null ? undefined : coreOf.get(slot.node);
      if (core === undefined || slot.node === null) continue;
      this.fail(this.checker.check(slot.id, core, slot.node.status().appliedIndex));
      if (slot.node.isLeader() && this.lastLeaderTerm.get(slot.id) !== slot.node.term) {
        this.lastLeaderTerm.set(slot.id, slot.node.term);
        this.leaders++;
        this.trace.add(this.queue.now, `${slot.id} is leader of term ${slot.node.term}`);
        this.maybeCrashNewLeader(slot);
      }
    }
  }

  private readonly lastLeaderTerm = new Map<NodeId, number>();

  private afterDelivery(m: RaftMessage): void {
    this.trace.add(this.queue.now, describeMessage(m));
    const slot = this.slots.find((s) => s.id === m.to);
    const core = slot?.node ? coreOf.get(slot.node) : undefined;
    if (core !== undefined) this.fail(this.checker.checkTermAdopted(core, m));
  }

  private fail(v: Violation | null): void {
    if (v === null || this.violation !== null) return;
    this.violation = v;
    this.trace.add(this.queue.now, `VIOLATION ${v.property}: ${v.message}`);
  }

  private checkDurability(): void {
    this.fail(
      this.checker.checkDurable(
        this.slots.map((s) => (i: number) => s.storage.durableTermAt(i)),
        quorumSize(this.nodeCount),
      ),
    );
  }

  // ------------------------------------------------------------- processes

  private async startNode(slot: Slot): Promise<void> {
    const clock = new NodeClock(this.queue, slot.rate);
    const transport = this.network.transport(slot.id);
    const kv = new KvState();
    const options = {
      id: slot.id,
      peers: this.slots.map((s) => s.id),
      transport,
      storage: slot.storage,
      clock,
      seed: randomInt(this.random, 0, 2 ** 31),
      maxEntriesPerAppend: this.profile.maxEntriesPerAppend,
      maxInflightMessages: this.profile.maxInflightMessages,
      stateMachine: {
        apply: (entry: { index: number; term: number; data: Uint8Array }) => {
          const commitIndex = coreOf.get(node)?.commitIndex ?? 0;
          this.fail(this.checker.recordApply(slot.id, entry.index, entry.term, entry.data, commitIndex));
          kv.apply(decodeKvWrite(entry.data));
        },
      },
    };
    if (this.options.plantedBugs !== undefined) plantedBugsFor.set(options, this.options.plantedBugs);
    const node = new RaftNode(options);
    slot.node = node;
    slot.clock = clock;
    slot.detach = transport.detach;
    slot.kv = kv;
    await node.start();
    const core = coreOf.get(node);
    if (core !== undefined) this.checker.startLifetime(slot.id, core);
    this.trace.add(this.queue.now, `${slot.id} started (term ${node.term})`);
  }

  /** Kills the process: timers, network and unsynced writes are gone; its clients learn nothing. */
  private crash(slot: Slot, teardown = false): void {
    if (slot.node === null) return;
    slot.clock?.crash();
    slot.detach?.();
    if (!teardown) slot.storage.crash();
    slot.node = null;
    slot.clock = null;
    slot.kv = null;
    for (const settleUnknown of [...slot.inflight]) settleUnknown();
    slot.inflight.clear();
    if (!teardown) {
      this.crashes++;
      this.trace.add(this.queue.now, `${slot.id} crashed`);
    }
  }

  // ------------------------------------------------------------- faults

  private scheduleFaults(): void {
    const f = this.faults;
    this.network.faults = {
      dropRate: 0,
      duplicateRate: 0,
      minDelayMs: 0.5,
      maxDelayMs: f.reorders ? 10 : 0.5,
    };
    if (!Object.values(f).some((on) => on)) return;
    const tick = (): void => {
      if (!this.faultsOn) return;
      this.injectFault();
      this.queue.schedule(this.random() * 2 * this.profile.faultIntervalMs, tick);
    };
    this.queue.schedule(200 + this.random() * 300, tick);
  }

  private injectFault(): void {
    const f = this.faults;
    const kinds: (() => void)[] = [];
    if (f.crashes) {
      kinds.push(() => {
        const live = this.slots.filter((s) => s.node !== null);
        if (live.length === 0) return;
        // Bias toward the interesting moments: the leader (to force
        // elections with divergent logs, Figure 8) and a node whose write is
        // not yet synced (a crash between write and fsync).
        const leader = live.find((s) => s.node!.isLeader());
        const writing = live.filter((s) => s.storage.hasUnsyncedWrite());
        const r = this.random();
        let slot = live[randomInt(this.random, 0, live.length)];
        if (r < 0.3 && leader !== undefined) slot = leader;
        else if (r < 0.6 && writing.length > 0) slot = writing[randomInt(this.random, 0, writing.length)];
        this.crashAndRestart(slot);
      });
    }
    if (f.partitions) {
      kinds.push(() => {
        const ids = this.slots.map((s) => s.id);
        const a = ids.filter(() => this.random() < 0.5);
        const b = ids.filter((id) => !a.includes(id));
        this.network.partition([a, b]);
        this.trace.add(this.queue.now, `partition [${a.join(',')}] | [${b.join(',')}]`);
      });
    }
    if (f.oneWayLinks) {
      kinds.push(() => {
        const from = this.slots[randomInt(this.random, 0, this.nodeCount)].id;
        const to = this.slots[randomInt(this.random, 0, this.nodeCount)].id;
        if (from !== to) {
          this.network.block(from, to);
          this.trace.add(this.queue.now, `cut ${from} -> ${to}`);
        }
      });
    }
    kinds.push(() => {
      // Not a fault but a disturbance: a leader hands over to a random voter (thesis §3.10).
      const leader = this.slots.find((s) => s.node?.isLeader());
      if (leader === undefined) return;
      const to = this.slots[randomInt(this.random, 0, this.nodeCount)].id;
      this.trace.add(this.queue.now, `${leader.id} transfers leadership to ${to}`);
      leader.node!.transferLeadership(to, { timeoutMs: OP_TIMEOUT_MS }).catch(() => undefined);
    });
    kinds.push(() => {
      this.network.heal();
      this.trace.add(this.queue.now, 'heal');
    });
    if (f.drops || f.duplicates || f.reorders) {
      kinds.push(() => {
        const n = this.network.faults;
        n.dropRate = f.drops ? this.random() * 0.2 : 0;
        n.duplicateRate = f.duplicates ? this.random() * 0.1 : 0;
        n.maxDelayMs = f.reorders ? 0.5 + this.random() * 40 : 0.5;
        this.trace.add(
          this.queue.now,
          `network drop=${n.dropRate.toFixed(3)} dup=${n.duplicateRate.toFixed(3)} delay<=${n.maxDelayMs.toFixed(1)}ms`,
        );
      });
    }
    kinds[randomInt(this.random, 0, kinds.length)]();
  }

  private crashAndRestart(slot: Slot): void {
    this.crash(slot);
    // Half the restarts are quick, as under a process supervisor.
    const downMs = this.random() < 0.5 ? 5 + this.random() * 55 : 60 + this.random() * 540;
    this.queue.schedule(downMs, () => {
      if (slot.node === null && this.faultsOn) void this.startNode(slot);
    });
  }

  /** A leader that dies right after its election leaves its first entries half replicated (Figure 8). */
  private maybeCrashNewLeader(slot: Slot): void {
    if (!this.faultsOn || !this.faults.crashes || this.random() >= this.profile.newLeaderCrashRate) return;
    const node = slot.node;
    this.queue.schedule(this.random() * 10, () => {
      if (this.faultsOn && slot.node === node) {
        this.trace.add(this.queue.now, `${slot.id} crashes just after its election`);
        this.crashAndRestart(slot);
      }
    });
  }

  /** Sometimes a process dies after a write reached the OS but before its fsync finished. */
  private maybeCrashBeforeSync(slot: Slot, syncMs: number, recordsVote: boolean): void {
    // A write that records a vote is where a lost write hurts most (a second vote in one term): crash there more often.
    const rate = recordsVote ? Math.max(0.25, this.profile.crashBeforeSyncRate) : this.profile.crashBeforeSyncRate;
    if (!this.faultsOn || !this.faults.crashes || this.random() >= rate) return;
    const node = slot.node;
    this.queue.schedule(this.random() * syncMs, () => {
      if (this.faultsOn && slot.node === node && slot.storage.hasUnsyncedWrite()) {
        this.trace.add(this.queue.now, `${slot.id} crashes between write and fsync`);
        this.crashAndRestart(slot);
      }
    });
  }

  // ------------------------------------------------------------- clients

  private scheduleClient(client: ClientState): void {
    this.queue.schedule(this.random() * 30, () => this.clientOperation(client));
  }

  private pickNode(client: ClientState): Slot | null {
    const hinted = this.slots.find((s) => s.id === client.leaderHint && s.node !== null);
    if (hinted !== undefined && this.random() < 0.8) return hinted;
    const live = this.slots.filter((s) => s.node !== null);
    return live.length === 0 ? null : live[randomInt(this.random, 0, live.length)];
  }

  private clientOperation(client: ClientState): void {
    const slot = this.pickNode(client);
    if (slot === null || slot.node === null) {
      this.scheduleClient(client);
      return;
    }
    const node = slot.node;
    const key = KEYS[randomInt(this.random, 0, KEYS.length)];
    const r = this.random();
    const call = this.queue.now;
    let settled = false;
    const finish = (): void => {
      settled = true;
      slot.inflight.delete(onCrash);
      this.scheduleClient(client);
    };
    let input: KvInput;
    let onCrash: () => void;
    if (r < 0.6) {
      const value = `${client.id}.${client.next++}`;
      input = r < 0.3 ? { kind: 'put', key, value } : { kind: 'append', key, value: `<${value}>` };
      const write = input;
      const record = (output: KvOutput | null, ret: number): void => {
        this.history.push({ client: client.id, input: write, call, return: ret, output });
        this.trace.add(this.queue.now, `client ${client.id} ${write.kind} ${key}=${write.value} via ${slot.id}: ${output === null ? 'unknown' : 'ok'}`);
      };
      onCrash = () => {
        if (settled) return;
        record(null, Infinity);
        finish();
      };
      node.propose(encodeKvWrite(write), { timeoutMs: OP_TIMEOUT_MS }).then(
        () => {
          if (settled) return;
          record({ kind: write.kind } as KvOutput, this.queue.now);
          finish();
        },
        (error: unknown) => {
          if (settled) return;
          if (NotLeaderError.isInstance(error)) {
            // Rejected before anything was appended: the write did not happen.
            client.leaderHint = (error as NotLeaderError).leaderId;
          } else {
            record(null, Infinity);
          }
          finish();
        },
      );
    } else {
      input = { kind: 'get', key };
      onCrash = () => {
        if (!settled) finish();
      };
      node.readIndex({ timeoutMs: OP_TIMEOUT_MS }).then(
        () => {
          if (settled || slot.node !== node || slot.kv === null) return;
          const value = slot.kv.get(key);
          this.history.push({ client: client.id, input, call, return: this.queue.now, output: { kind: 'get', value } });
          this.trace.add(this.queue.now, `client ${client.id} get ${key} via ${slot.id} = ${value ?? 'null'}`);
          finish();
        },
        (error: unknown) => {
          if (settled) return;
          if (NotLeaderError.isInstance(error)) client.leaderHint = (error as NotLeaderError).leaderId;
          finish(); // a failed read has no effect
        },
      );
    }
    slot.inflight.add(onCrash);
  }

  // ------------------------------------------------------------- end phases

  /** With every fault healed, a leader must emerge and a write must commit in bounded time. */
  private async livenessPhase(): Promise<void> {
    this.faultsOn = false;
    this.network.heal();
    this.network.faults = { dropRate: 0, duplicateRate: 0, minDelayMs: 0.5, maxDelayMs: 2 };
    for (const slot of this.slots) if (slot.node === null) await this.startNode(slot);
    this.trace.add(this.queue.now, 'liveness phase: faults off, all nodes up');
    const deadline = this.queue.now + (this.options.livenessTimeoutMs ?? 10_000);
    let committed = false;
    let proposing = false;
    while (this.violation === null && !committed) {
      if (this.queue.now > deadline) {
        const views = this.slots.map((s) => `${s.id}:${s.node?.role}@${s.node?.term} leader=${s.node?.leaderId}`).join(' ');
        this.fail({ property: 'Liveness', message: `no write committed within the liveness bound after faults stopped (${views})` });
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

  private agreedLeader(): Slot | null {
    const leader = this.slots.find((s) => s.node?.isLeader());
    if (leader === undefined) return null;
    return this.slots.every((s) => s.node?.leaderId === leader.id) ? leader : null;
  }

  private checkHistory(): void {
    const result = checkKvHistory(this.history, { maxSteps: 2_000_000 });
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
      trace: this.trace.text(),
      stats: {
        messagesSent: this.network.sent,
        messagesDelivered: this.network.delivered,
        messagesDropped: this.network.dropped,
        crashes: this.crashes,
        tornWrites: this.slots.reduce((n, s) => n + s.storage.tornOnCrash, 0),
        committed: this.checker.committedIndex,
        operations: this.history.length,
        leaders: this.leaders,
      },
    };
  }
}

/** The command line that replays a run exactly. */
export function replayCommand(options: SimulatorOptions): string {
  const parts = [`npm run sim -- --seed ${options.seed}`];
  if (options.nodes !== undefined) parts.push(`--nodes ${options.nodes}`);
  if (options.steps !== undefined && options.steps !== 2000) parts.push(`--steps ${options.steps}`);
  if (options.clients !== undefined) parts.push(`--clients ${options.clients}`);
  const off = Object.entries(options.faults ?? {}).filter(([, on]) => on === false).map(([k]) => k);
  if (off.length > 0) parts.push(`--no-faults ${off.join(',')}`);
  const bugs = Object.entries(options.plantedBugs ?? {}).filter(([, on]) => on).map(([k]) => k);
  if (bugs.length > 0) parts.push(`--bug ${bugs.join(',')}`);
  return parts.join(' ');
}

function describeMessage(m: RaftMessage): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case 'AppendEntries':
      return `${head} prev=${m.prevLogIndex}/${m.prevLogTerm} n=${m.entries.length} commit=${m.leaderCommit}`;
    case 'AppendEntriesResponse':
      return m.success ? `${head} ok match=${m.matchIndex}` : `${head} reject ${m.rejectedIndex} hint=${m.hintIndex}/${m.hintTerm}`;
    case 'RequestVote':
      return `${head}${m.preVote ? ' pre' : ''} last=${m.lastLogIndex}/${m.lastLogTerm}`;
    case 'RequestVoteResponse':
      return `${head}${m.preVote ? ' pre' : ''} ${m.granted ? 'granted' : 'rejected'}`;
    case 'Heartbeat':
      return `${head} commit=${m.commit} read=${m.readSeq}`;
    case 'HeartbeatResponse':
      return `${head} read=${m.readSeq}`;
    case 'ReadIndexResponse':
      return `${head} ${m.ok ? `index=${m.index}` : 'refused'}`;
    default:
      return head;
  }
}
