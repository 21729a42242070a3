import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork } from '../../src/testing/memory-network.js';
import { expectOneLeaderPerTerm, TestCluster, type TransportFactory } from '../helpers/cluster.js';
import { virtualTransports } from '../helpers/virtual-network.js';
import { VirtualTime } from '../helpers/virtual-time.js';
import { WriteLedger } from '../helpers/writes.js';
import { defineClusterSuite } from './cluster-suite.js';

describe('a cluster in memory, in virtual time', () => {
  defineClusterSuite(() => {
    const time = new VirtualTime();
    return { transports: virtualTransports(time), time, steady: true };
  });
});

function memoryTransports(): TransportFactory {
  const net = new MemoryNetwork({ seed: 7 });
  return {
    name: 'MemoryNetwork',
    create: (id) => net.transport(id),
    isolate: (id) => net.isolate(id),
    rejoin: (id) => net.rejoin(id),
  };
}

/**
 * The same wiring on real timers and MemoryNetwork, as a user would run it:
 * one short pass through election, commit and fail-over. Written to hold
 * even if a loaded machine causes extra elections.
 */
describe('a cluster over MemoryNetwork on real timers (smoke test)', () => {
  let cluster: TestCluster | null = null;
  afterEach(async () => {
    await cluster?.stop();
    cluster = null;
  });

  it('elects one leader per term, commits a write, and fails over to a new leader when the leader stops', async () => {
    const c = new TestCluster(['a', 'b', 'c'], memoryTransports(), {
      electionTimeoutMs: { min: 300, max: 600 },
      heartbeatIntervalMs: 30,
    });
    cluster = c;
    const ledger = new WriteLedger();
    await c.start();
    await ledger.write(c, 'one');

    const leader = await c.waitForStableLeader();
    const survivors = c.followers(leader).map((n) => n.id);
    await c.stopNode(leader.id);
    const next = await c.waitForStableLeader(survivors);
    expect(survivors).toContain(next.id);
    expect(next.term).toBeGreaterThan(leader.term);
    const two = await ledger.write(c, 'two', survivors);

    await c.until(
      () => survivors.every((id) => c.node(id).status().appliedIndex >= two.index),
      'the survivors to apply',
    );
    for (const id of survivors) ledger.expectApplied(c.applied.get(id)!, id);
    expectOneLeaderPerTerm(c);
  });
});
