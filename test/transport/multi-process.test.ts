/**
 * The real thing: 3 node processes on loopback over TcpTransport, each with
 * a FileStorage, under a steady write load. The leader is SIGKILLed ten
 * times; each time a new leader must serve writes within a second, and the
 * killed node, restarted on its data directory, must catch up. At the end
 * every write whose propose resolved must be on every node.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../../examples/process-cluster.js';
import { WriteLoad } from '../../examples/write-load.js';

const KILLS = 10;
const dir = mkdtempSync(join(tmpdir(), 'bellwether-multi-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('3 node processes over TCP with FileStorage', () => {
  it(`survive ${KILLS} SIGKILLs of the leader: a new leader serves writes within 1 s, the old one catches up, no acknowledged write is lost`, { timeout: 120_000 }, async () => {
    const cluster = new ProcessCluster({ storage: 'file', dir, clusterId: 'multi-process-test' });
    try {
      await cluster.start();
      await cluster.waitForStableLeader();
      const load = new WriteLoad(cluster, 8);
      load.start();
      const failovers: number[] = [];
      const killed: string[] = [];
      for (let round = 0; round < KILLS; round++) {
        await new Promise((r) => setTimeout(r, 300));
        const victim = await cluster.waitForStableLeader();
        const before = load.acknowledged;
        const killedAt = performance.now();
        const served = load.nextAck((ack) => ack.at > killedAt && ack.leader !== victim);
        await cluster.kill(victim);
        killed.push(victim);
        const ack = await served;
        failovers.push(ack.at - killedAt);
        expect(ack.at - killedAt, `round ${round + 1}: writes served again after`).toBeLessThan(1000);

        await cluster.spawn(victim);
        const leader = await cluster.waitForStableLeader();
        const target = (await cluster.request<{ commitIndex: number }>(leader, { op: 'status' })).commitIndex;
        let applied = 0;
        const deadline = performance.now() + 10_000;
        while (applied < target) {
          expect(performance.now(), `round ${round + 1}: ${victim} caught up in time`).toBeLessThan(deadline);
          applied = (await cluster.request<{ appliedIndex: number }>(victim, { op: 'status' })).appliedIndex;
          if (applied < target) await new Promise((r) => setTimeout(r, 10));
        }
        // The load kept going through the whole round.
        expect(load.acknowledged).toBeGreaterThan(before);
      }
      await load.stop();
      const result = await load.verify(cluster.ids);
      expect(result.lost, `lost writes, e.g. ${result.lostExamples.join(', ')}`).toBe(0);
      expect(result.identical).toBe(true);
      expect(result.noDuplicates).toBe(true);
      expect(result.applied).toBeGreaterThanOrEqual(load.acknowledged);
      expect(load.acknowledged).toBeGreaterThan(1000);
      expect(killed).toHaveLength(KILLS);
      console.log(
        `multi-process: ${KILLS} fail-overs, writes served again after ` +
          `${failovers.map((t) => Math.round(t)).join(', ')} ms; ${load.acknowledged} writes acknowledged, ` +
          `${load.unknown} of unknown outcome, 0 lost`,
      );
    } finally {
      await cluster.stop();
    }
  });
});
