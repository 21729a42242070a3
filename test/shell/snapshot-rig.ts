import { createRandom } from '../../src/core/random.js';
import type { PlantedBugs } from '../../src/core/types.js';
import type { Entry, HardState, Snapshot } from '../../src/messages.js';
import { RaftNode } from '../../src/node.js';
import type { CommittedEntry, RaftNodeOptions, SnapshotPosition, StateMachine } from '../../src/options.js';
import type { SnapshotEvent } from '../../src/shell/events.js';
import { plantedBugsFor } from '../../src/shell/internal.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { PersistedState, Storage } from '../../src/storage/storage.js';
import { SimNetwork } from '../../src/testing/sim/sim-network.js';
import { VirtualTime } from '../helpers/virtual-time.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const enc = (s: string): Uint8Array => encoder.encode(s);

/** One call the state machine received, with the index it was at. */
export interface MachineCall {
  readonly op: 'apply' | 'snapshot' | 'restore';
  /** apply: the entry's index; snapshot: the last applied index; restore: the snapshot's index. */
  readonly index: number;
}

/**
 * A key-value state machine ("key=value" entries) that snapshots as JSON
 * and records every call, so tests can check what was called when.
 */
export class KvMachine implements StateMachine {
  state = new Map<string, string>();
  readonly calls: MachineCall[] = [];
  lastApplied = 0;
  /** When set, `snapshot()` waits for this promise (a test's gate) before answering. */
  snapshotGate: Promise<void> | null = null;
  /** Calls of `apply` in progress while `snapshot()` was pending. */
  appliesDuringSnapshot = 0;
  private snapshotting = false;

  apply({ index, data }: CommittedEntry): number {
    if (this.snapshotting) this.appliesDuringSnapshot++;
    const [key, value] = decoder.decode(data).split('=');
    this.state.set(key, value);
    this.lastApplied = index;
    this.calls.push({ op: 'apply', index });
    return this.state.size;
  }

  snapshot(): Uint8Array | Promise<Uint8Array> {
    this.calls.push({ op: 'snapshot', index: this.lastApplied });
    const bytes = enc(JSON.stringify([...this.state]));
    const gate = this.snapshotGate;
    if (gate === null) return bytes;
    this.snapshotting = true;
    return gate.then(() => {
      this.snapshotting = false;
      return bytes;
    });
  }

  restore(data: Uint8Array, { index }: SnapshotPosition): void {
    this.state = new Map(JSON.parse(decoder.decode(data)) as [string, string][]);
    this.lastApplied = index;
    this.calls.push({ op: 'restore', index });
  }

  /** The size of the snapshot `snapshot()` would give now. */
  snapshotBytes(): number {
    return enc(JSON.stringify([...this.state])).byteLength;
  }

  /** The state, in a form two machines can be compared by. */
  dump(): string {
    return JSON.stringify([...this.state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  callsOf(op: MachineCall['op']): number[] {
    return this.calls.filter((c) => c.op === op).map((c) => c.index);
  }
}

/** One storage call, in the order the node made them. */
export type StorageOp =
  | { readonly op: 'save'; readonly first: number; readonly last: number; readonly hardState: boolean }
  | { readonly op: 'saveSnapshot'; readonly index: number; readonly bytes: number }
  | { readonly op: 'compact'; readonly through: number };

/**
 * A MemoryStorage whose every call takes `latencyMs` of virtual time and is
 * recorded, with a count of calls in flight at once (the Storage contract:
 * never more than one). `saveSnapshot` can be made to fail.
 */
export class RecordingStorage implements Storage {
  readonly inner = new MemoryStorage();
  readonly ops: StorageOp[] = [];
  maxInFlight = 0;
  failSnapshot: Error | null = null;
  private inFlight = 0;

  constructor(
    private readonly time: VirtualTime,
    private readonly latencyMs = 1,
  ) {}

  open(): Promise<PersistedState> {
    return this.inner.open();
  }

  save(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    const first = entries.length > 0 ? entries[0].index : 0;
    const last = entries.length > 0 ? entries[entries.length - 1].index : 0;
    this.ops.push({ op: 'save', first, last, hardState: hardState !== null });
    const copy = entries.slice();
    return this.later(() => this.inner.save(hardState, copy));
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.ops.push({ op: 'saveSnapshot', index: snapshot.index, bytes: snapshot.data.byteLength });
    const fault = this.failSnapshot;
    return this.later(() => {
      if (fault !== null) throw fault;
      return this.inner.saveSnapshot(snapshot);
    });
  }

  compact(through: number): Promise<void> {
    this.ops.push({ op: 'compact', through });
    return this.later(() => this.inner.compact(through));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private later(write: () => unknown): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<void>((resolve, reject) => {
      this.time.queue.schedule(this.latencyMs, () => {
        this.inFlight--;
        Promise.resolve()
          .then(write)
          .then(() => resolve(), reject);
      });
    });
  }
}

/** A storage with only the required methods: it cannot keep snapshots. */
export class LogOnlyStorage implements Storage {
  private readonly inner = new MemoryStorage();
  open(): Promise<PersistedState> {
    return this.inner.open();
  }
  save(hardState: HardState | null, entries: readonly Entry[]): void {
    this.inner.save(hardState, entries);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * A cluster in virtual time on the simulator's network (seeded drops,
 * duplicates and delays when asked), each node with its own KvMachine and
 * RecordingStorage, and every `snapshot` event recorded.
 */
export class SnapshotCluster {
  readonly time = new VirtualTime();
  /** Messages delivered, by type. */
  readonly delivered = new Map<string, number>();
  readonly net = new SimNetwork(this.time.queue, createRandom(11), (m) =>
    this.delivered.set(m.type, (this.delivered.get(m.type) ?? 0) + 1),
  );
  readonly nodes = new Map<string, RaftNode>();
  readonly machines = new Map<string, KvMachine>();
  readonly storages = new Map<string, RecordingStorage>();
  readonly events = new Map<string, SnapshotEvent[]>();

  constructor(
    readonly ids: readonly string[],
    private readonly options: Partial<RaftNodeOptions> = {},
    /** Options for one node only (over `options`), and the bugs planted in it (test only). */
    private readonly only: (id: string) => Partial<RaftNodeOptions> & { plantedBugs?: PlantedBugs } = () => ({}),
  ) {}

  async start(): Promise<void> {
    for (const id of this.ids) await this.startNode(id);
  }

  /** Starts `id` (again, after a stop) with a fresh state machine on its storage. */
  async startNode(id: string): Promise<RaftNode> {
    let storage = this.storages.get(id);
    if (storage === undefined) {
      storage = new RecordingStorage(this.time);
      this.storages.set(id, storage);
    }
    const machine = new KvMachine();
    this.machines.set(id, machine);
    const events: SnapshotEvent[] = [];
    this.events.set(id, events);
    const { plantedBugs, ...own } = this.only(id);
    const options: RaftNodeOptions = {
      id,
      peers: [...this.ids],
      transport: this.net.transport(id),
      storage,
      stateMachine: machine,
      clock: this.time.clock(),
      seed: this.ids.indexOf(id) + 1,
      electionTimeoutMs: { min: 100, max: 200 },
      heartbeatIntervalMs: 20,
      ...this.options,
      ...own,
    };
    if (plantedBugs !== undefined) plantedBugsFor.set(options, plantedBugs);
    const node = new RaftNode(options);
    node.on('snapshot', (e) => events.push(e));
    this.nodes.set(id, node);
    await this.time.wait(node.start(), `${id} to start`);
    return node;
  }

  node(id: string): RaftNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  async stopNode(id: string): Promise<void> {
    await this.time.wait(this.node(id).stop(), `${id} to stop`);
    this.nodes.delete(id);
  }

  async stop(): Promise<void> {
    await this.time.wait(Promise.all([...this.nodes.values()].map((n) => n.stop())), 'the cluster to stop');
    this.nodes.clear();
  }

  /** Cuts every link of `id`, both ways. */
  isolate(id: string): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.net.block(id, other);
      this.net.block(other, id);
    }
  }

  rejoin(id: string): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.net.unblock(id, other);
      this.net.unblock(other, id);
    }
  }

  /** The one leader that every node in `among` follows. */
  async leader(among: readonly string[] = [...this.nodes.keys()]): Promise<RaftNode> {
    let found: RaftNode | undefined;
    await this.time.until(
      () => {
        const nodes = among.map((id) => this.node(id));
        const leaders = nodes.filter((n) => n.isLeader());
        found = leaders.length === 1 ? leaders[0] : undefined;
        return found !== undefined && nodes.every((n) => n.leaderId === found!.id && n.term === found!.term);
      },
      `a leader agreed on by ${among.join(', ')}`,
    );
    return found!;
  }

  /** Writes `count` keys through the leader of `among`, `batch` proposals at a time; returns the last index. */
  async write(count: number, prefix: string, among?: readonly string[], batch = 50): Promise<number> {
    let last = 0;
    for (let start = 0; start < count; start += batch) {
      const leader = await this.leader(among);
      const n = Math.min(batch, count - start);
      const outcomes = await this.time.wait(
        Promise.all(Array.from({ length: n }, (_, i) => leader.propose(enc(`${prefix}${start + i}=${start + i}`)))),
        `${n} writes on ${leader.id}`,
      );
      last = outcomes[outcomes.length - 1].index;
    }
    return last;
  }

  /** Waits until every running node applied `index`. */
  async applied(index: number, ids: readonly string[] = [...this.nodes.keys()]): Promise<void> {
    await this.time.until(
      () => ids.every((id) => this.node(id).status().appliedIndex >= index),
      `${ids.join(', ')} to apply ${index}`,
    );
  }
}
