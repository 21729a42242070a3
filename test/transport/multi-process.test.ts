/**
 * The real thing: 3 node processes on loopback over TcpTransport, each with
 * a FileStorage, under a steady write load. The leader is SIGKILLed ten
 * times; each time a new leader must serve writes again, and the killed
 * node, restarted on its data directory, must catch up. At the end every
 * write whose propose resolved must be on every node.
 *
 * How fast the fail-over is belongs to the benchmarks and the demo, which
 * print it; here its bound only tells a stuck cluster from a slow one, so it
 * is far beyond anything a loaded machine makes of a 150-300 ms election.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ProcessCluster } from '../../examples/process-cluster.js';
import { WriteLoad } from '../../examples/write-load.js';

const KILLS = 10;
/** Writes must be served again within this long after each kill. */
const SERVED_AGAIN_MS = 15_000;
/** And the restarted node must have caught up within this long. */
const CAUGHT_UP_MS = 30_000;
/** Patience for the whole cluster to follow one leader (spawning a node process is slow on a busy machine). */
const STABLE_LEADER_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const dir = mkdtempSync(join(tmpdir(), 'bellwether-multi-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('3 node processes over TCP with FileStorage', () => {
  it(
    `survive ${KILLS} SIGKILLs of the leader: a new leader serves writes again, the old one catches up, no acknowledged write is lost`,
    { timeout: 600_000 },
    async () => {
      const cluster = new ProcessCluster({ storage: 'file', dir, clusterId: 'multi-process-test' });
      try {
        await cluster.start();
        await cluster.waitForStableLeader(STABLE_LEADER_MS);
        const load = new WriteLoad(cluster, 8);
        load.start();
        const failovers: number[] = [];
        const killed: string[] = [];
        for (let round = 0; round < KILLS; round++) {
          await sleep(300);
          const victim = await cluster.waitForStableLeader(STABLE_LEADER_MS);
          const before = load.acknowledged;
          const killedAt = performance.now();
          const served = load.nextAck((ack) => ack.at > killedAt && ack.leader !== victim);
          await cluster.kill(victim);
          killed.push(victim);
          const ack = await Promise.race([served, sleep(SERVED_AGAIN_MS).then(() => null)]);
          expect(ack, `round ${round + 1}: writes served again within ${SERVED_AGAIN_MS} ms`).not.toBeNull();
          failovers.push(ack!.at - killedAt);

          await cluster.spawn(victim);
          const leader = await cluster.waitForStableLeader(STABLE_LEADER_MS);
          const target = (await cluster.request<{ commitIndex: number }>(leader, { op: 'status' })).commitIndex;
          await vi.waitFor(
            async () => {
              const { appliedIndex } = await cluster.request<{ appliedIndex: number }>(victim, { op: 'status' });
              expect(appliedIndex, `round ${round + 1}: ${victim} caught up`).toBeGreaterThanOrEqual(target);
            },
            { timeout: CAUGHT_UP_MS, interval: 10 },
          );
          // The load kept going through the whole round.
          expect(load.acknowledged).toBeGreaterThan(before);
        }
        await load.stop();
        const result = await load.verify(cluster.ids);
        expect(result.lost, `lost writes, e.g. ${result.lostExamples.join(', ')}`).toBe(0);
        expect(result.identical).toBe(true);
        expect(result.noDuplicates).toBe(true);
        expect(result.applied).toBeGreaterThanOrEqual(load.acknowledged);
        expect(killed).toHaveLength(KILLS);
        console.log(
          `multi-process: ${KILLS} fail-overs, writes served again after ` +
            `${failovers.map((t) => Math.round(t)).join(', ')} ms; ${load.acknowledged} writes acknowledged, ` +
            `${load.unknown} of unknown outcome, 0 lost`,
        );
      } finally {
        await cluster.stop();
      }
    },
  );
});
