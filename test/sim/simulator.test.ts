import { describe, expect, it } from 'vitest';
import { Simulator } from '../../src/testing/sim/simulator.js';

describe('Simulator', () => {
  it('200 seeds with every fault on keep every safety invariant, liveness and linearizability', async () => {
    let steps = 0;
    let crashes = 0;
    let leaders = 0;
    let operations = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const result = await new Simulator({ seed }).run();
      if (!result.ok) {
        throw new Error(`seed ${seed}: ${result.violation!.property}: ${result.violation!.message}\nreplay: ${result.replay}\n${result.trace}`);
      }
      steps += result.steps;
      crashes += result.stats.crashes;
      leaders += result.stats.leaders;
      operations += result.stats.operations;
    }
    // The runs did real work: faults fired, leaders changed, clients were served.
    expect(steps).toBeGreaterThanOrEqual(200 * 2000);
    expect(crashes).toBeGreaterThan(200);
    expect(leaders).toBeGreaterThan(400);
    expect(operations).toBeGreaterThan(2000);
  }, 120_000);

  it('replays a seed exactly: the same seed gives the same trace, byte for byte', async () => {
    const first = await new Simulator({ seed: 4242, recordTrace: true }).run();
    const second = await new Simulator({ seed: 4242, recordTrace: true }).run();
    expect(first.trace.length).toBeGreaterThan(10_000);
    expect(second.trace).toBe(first.trace);
    expect(second.stats).toEqual(first.stats);
    const other = await new Simulator({ seed: 4243, recordTrace: true }).run();
    expect(other.trace).not.toBe(first.trace);
  });

  it('with no faults, a 5-node cluster elects once and serves every client operation', async () => {
    const result = await new Simulator({
      seed: 7,
      nodes: 5,
      faults: { crashes: false, partitions: false, oneWayLinks: false, drops: false, duplicates: false, reorders: false, clockDrift: false },
    }).run();
    expect(result.violation).toBeNull();
    expect(result.stats.leaders).toBe(1);
    expect(result.stats.crashes).toBe(0);
    expect(result.stats.operations).toBeGreaterThan(50);
    expect(result.replay).toBe('npm run sim -- --seed 7 --nodes 5 --no-faults crashes,partitions,oneWayLinks,drops,duplicates,reorders,clockDrift');
  });
});
