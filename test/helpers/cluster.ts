import { RaftNode } from '../../src/node.js';
import type { RaftNodeOptions } from '../../src/options.js';
import type { LeaderChange } from '../../src/shell/events.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/storage.js';
import type { Transport } from '../../src/transport/transport.js';

/** Makes the transports of one cluster; the same suites run over every kind. */
export interface TransportFactory {
  readonly name: string;
  create(id: string, ids: readonly string[]): Transport | Promise<Transport>;
  isolate(id: string): void;
  rejoin(id: string): void;
  close?(): Promise<void>;
}

export interface AppliedRecord {
  readonly index: number;
  readonly term: number;
  readonly text: string;
}

const decoder = new TextDecoder();
export const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A cluster of RaftNodes with a recording state machine, for integration tests. */
export class TestCluster {
  readonly nodes = new Map<string, RaftNode>();
  readonly storages = new Map<string, Storage>();
  /** Every entry each node's state machine applied, in order, across restarts. */
  readonly applied = new Map<string, AppliedRecord[]>();
  readonly leaderEvents = new Map<string, LeaderChange[]>();

  constructor(
    readonly ids: readonly string[],
    readonly transports: TransportFactory,
    readonly nodeOptions: Partial<RaftNodeOptions> = {},
  ) {}

  async start(): Promise<void> {
    for (const id of this.ids) await this.startNode(id);
  }

  async startNode(id: string): Promise<RaftNode> {
    let storage = this.storages.get(id);
    if (storage === undefined) {
      storage = new MemoryStorage();
      this.storages.set(id, storage);
    }
    // A restarted node gets a fresh state machine; committed entries are re-applied.
    const applied: AppliedRecord[] = [];
    this.applied.set(id, applied);
    const events = this.leaderEvents.get(id) ?? [];
    this.leaderEvents.set(id, events);
    const node = new RaftNode({
      id,
      peers: [...this.ids],
      transport: await this.transports.create(id, this.ids),
      storage,
      electionTimeoutMs: { min: 100, max: 200 },
      heartbeatIntervalMs: 20,
      stateMachine: {
        apply: ({ index, term, data }) => {
          const text = decoder.decode(data);
          applied.push({ index, term, text });
          return `applied:${text}`;
        },
      },
      ...this.nodeOptions,
    });
    node.on('leaderChanged', (e) => events.push(e));
    this.nodes.set(id, node);
    await node.start();
    return node;
  }

  node(id: string): RaftNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  async stopNode(id: string): Promise<void> {
    await this.nodes.get(id)?.stop();
    this.nodes.delete(id);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.stop()));
    this.nodes.clear();
    await this.transports.close?.();
  }

  /** Waits until the running nodes (or `among`) agree on one leader; returns it. */
  async waitForStableLeader(among: readonly string[] = [...this.nodes.keys()], timeoutMs = 5000): Promise<RaftNode> {
    let found: RaftNode | undefined;
    await waitUntil(() => {
      const nodes = among.map((id) => this.node(id));
      const leaders = nodes.filter((n) => n.isLeader());
      if (leaders.length !== 1) return false;
      const leader = leaders[0];
      if (!nodes.every((n) => n.leaderId === leader.id && n.term === leader.term)) return false;
      found = leader;
      return true;
    }, timeoutMs, 'a single agreed leader');
    return found!;
  }

  followers(leader: RaftNode): RaftNode[] {
    return [...this.nodes.values()].filter((n) => n !== leader);
  }
}

/** Polls `predicate` every few milliseconds until it holds or `timeoutMs` passes. */
export async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
