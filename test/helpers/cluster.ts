import { expect } from 'vitest';
import { RaftNode } from '../../src/node.js';
import type { RaftNodeOptions } from '../../src/options.js';
import type { LeaderChange } from '../../src/shell/events.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/storage.js';
import type { Transport } from '../../src/transport/transport.js';
import { realTime, type TestTime } from './test-time.js';

// Kept here for the tests that import it with TestCluster.
export { waitUntil } from './wait.js';

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

/**
 * A cluster of RaftNodes with a recording state machine, for integration
 * tests, on real timers or in virtual time (`time`): every wait goes
 * through `time`, so the same test runs in both.
 */
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
    readonly time: TestTime = realTime,
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
      clock: this.time.clockFor(id),
      // A seed per id: in virtual time, the same run every time.
      seed: this.ids.indexOf(id) + 1,
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
    await this.time.wait(node.start(), `${id} to start`);
    return node;
  }

  node(id: string): RaftNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  async stopNode(id: string): Promise<void> {
    const node = this.nodes.get(id);
    if (node !== undefined) await this.time.wait(node.stop(), `${id} to stop`);
    this.nodes.delete(id);
  }

  async stop(): Promise<void> {
    await this.time.wait(Promise.all([...this.nodes.values()].map((n) => n.stop())), 'the cluster to stop');
    this.nodes.clear();
    await this.transports.close?.();
  }

  /** Resolves as `promise` does, letting the cluster's time pass meanwhile. */
  wait<T>(promise: Promise<T>, what = 'a call to settle'): Promise<T> {
    return this.time.wait(promise, what);
  }

  /** Resolves once `predicate` holds, letting the cluster's time pass meanwhile. */
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void> {
    return this.time.until(predicate, what, timeoutMs);
  }

  /**
   * Waits until the running nodes (or `among`) agree on one leader: exactly
   * one of them leads, and all of them follow it in its term. Returns it.
   */
  async waitForStableLeader(among: readonly string[] = [...this.nodes.keys()], timeoutMs?: number): Promise<RaftNode> {
    let found: RaftNode | undefined;
    await this.time.until(
      () => {
        found = agreedLeader(among.map((id) => this.node(id)));
        return found !== undefined;
      },
      `a single leader agreed on by ${among.join(', ')}`,
      timeoutMs,
    );
    return found!;
  }

  followers(leader: RaftNode): RaftNode[] {
    return [...this.nodes.values()].filter((n) => n !== leader);
  }
}

/** The leader every one of `nodes` follows in its term, if there is one. */
function agreedLeader(nodes: readonly RaftNode[]): RaftNode | undefined {
  const leaders = nodes.filter((n) => n.isLeader());
  if (leaders.length !== 1) return undefined;
  const leader = leaders[0];
  return nodes.every((n) => n.leaderId === leader.id && n.term === leader.term) ? leader : undefined;
}

/**
 * Asserts that no two nodes ever reported different leaders for one term
 * (Election Safety, §5.2), over every leaderChanged event of the run. It
 * holds however many elections a loaded machine causes.
 */
export function expectOneLeaderPerTerm(cluster: TestCluster): void {
  const leaderOfTerm = new Map<number, string>();
  for (const events of cluster.leaderEvents.values()) {
    for (const e of events) {
      if (e.leaderId === null) continue;
      const seen = leaderOfTerm.get(e.term);
      if (seen !== undefined) expect(e.leaderId, `two leaders in term ${e.term}`).toBe(seen);
      leaderOfTerm.set(e.term, e.leaderId);
    }
  }
  expect(leaderOfTerm.size).toBeGreaterThan(0);
}
