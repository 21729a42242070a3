import { RaftNode } from '../src/node.js';
import { MemoryStorage } from '../src/storage/memory.js';
import { MemoryNetwork } from '../src/testing/memory-network.js';
import { proposePipelined, stableLeader } from './load.js';

/** A 3-node cluster on MemoryNetwork with default timeouts, for the benchmarks. */
export class BenchCluster {
  readonly net = new MemoryNetwork({ seed: 42 });
  readonly nodes = new Map<string, RaftNode>();
  readonly storages = new Map<string, MemoryStorage>();

  constructor(readonly ids: readonly string[] = ['a', 'b', 'c']) {}

  async startAll(): Promise<void> {
    for (const id of this.ids) await this.startNode(id);
  }

  async startNode(id: string): Promise<RaftNode> {
    const storage = this.storages.get(id) ?? new MemoryStorage();
    this.storages.set(id, storage);
    const node = new RaftNode({
      id,
      peers: [...this.ids],
      transport: this.net.transport(id),
      storage,
      stateMachine: { apply: () => undefined },
    });
    this.nodes.set(id, node);
    await node.start();
    return node;
  }

  async stopNode(id: string): Promise<void> {
    await this.nodes.get(id)?.stop();
    this.nodes.delete(id);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.stop()));
    this.nodes.clear();
  }

  /** Resolves when all running nodes agree on one leader. */
  stableLeader(timeoutMs = 10_000): Promise<RaftNode> {
    return stableLeader(() => [...this.nodes.values()], timeoutMs);
  }
}

/**
 * Fail-over: stop the leader, and time until every survivor reports the
 * same new leader through `leaderChanged`.
 */
export async function benchFailover(trials: number): Promise<number[]> {
  const cluster = new BenchCluster();
  await cluster.startAll();
  const times: number[] = [];
  for (let t = 0; t < trials; t++) {
    const leader = await cluster.stableLeader();
    // Let heartbeats settle so each trial starts from a steady cluster.
    await new Promise((r) => setTimeout(r, 100));
    const survivors = [...cluster.nodes.values()].filter((n) => n !== leader);
    const done = new Promise<number>((resolve) => {
      const seen = new Map<string, string | null>(survivors.map((n) => [n.id, null]));
      const check = (): void => {
        const values = [...seen.values()];
        if (values.every((v) => v !== null && v !== leader.id && v === values[0])) resolve(performance.now());
      };
      for (const n of survivors) {
        n.on('leaderChanged', ({ leaderId }) => {
          seen.set(n.id, leaderId);
          check();
        });
      }
    });
    const stoppedAt = performance.now();
    await cluster.stopNode(leader.id);
    const electedAt = await done;
    times.push(electedAt - stoppedAt);
    for (const n of survivors) n.removeAllListeners('leaderChanged');
    await cluster.startNode(leader.id);
  }
  await cluster.stopAll();
  return times;
}

/** Committed entries per second for `count` proposals of `size` bytes, `window` in flight. */
export async function benchThroughput(
  count: number,
  size: number,
  window: number,
): Promise<{ seconds: number; rate: number }> {
  const cluster = new BenchCluster();
  await cluster.startAll();
  const leader = await cluster.stableLeader();
  const result = await proposePipelined((data) => leader.propose(data), new Uint8Array(size).fill(7), count, window);
  await cluster.stopAll();
  return result;
}
