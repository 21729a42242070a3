import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ALL_PATTERNS,
  NO_FAULTS,
  NO_PATTERNS,
  replayCommand,
  type SimulationResult,
} from '../../src/testing/sim/sim-options.js';
import { Simulator } from '../../src/testing/sim/simulator.js';

const root = join(import.meta.dirname, '..', '..');

/** Runs `npm run sim` as a user would (through tsx, without npm's banner). */
function sim(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'sim.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('Simulator', () => {
  const results: SimulationResult[] = [];
  beforeAll(async () => {
    for (let seed = 1; seed <= 200; seed++) results.push(await new Simulator({ seed }).run());
  }, 180_000);

  it('200 seeds with every fault on keep every safety invariant and protocol rule, liveness and linearizability', () => {
    for (const r of results) {
      if (!r.ok)
        throw new Error(
          `seed ${r.seed}: ${r.violation!.property}: ${r.violation!.message}\nreplay: ${r.replay}\n${r.trace}`,
        );
    }
    const sum = (f: (r: SimulationResult) => number): number => results.reduce((n, r) => n + f(r), 0);
    // The runs did real work: faults fired, leaders changed, clients were served.
    expect(sum((r) => r.steps)).toBeGreaterThanOrEqual(200 * 2000);
    expect(sum((r) => r.stats.crashes)).toBeGreaterThan(200);
    expect(sum((r) => r.stats.leaders)).toBeGreaterThan(400);
    expect(sum((r) => r.stats.operations)).toBeGreaterThan(2000);
  });

  it('snapshots, compactions and chunked installs happen in most runs, with crashes while saving and while installing', () => {
    const on = results.filter((r) => r.config.snapshots !== false);
    const off = results.filter((r) => r.config.snapshots === false);
    // Drawn per seed: off in about one seed in ten, small settings otherwise.
    expect(off.length).toBeGreaterThan(5);
    expect(off.length).toBeLessThan(40);
    for (const r of off) expect(r.stats.snapshotsTaken + r.stats.snapshotsInstalled + r.stats.compactions).toBe(0);
    for (const r of on) {
      const s = r.config.snapshots as { threshold: number; trailing: number; chunkBytes: number };
      expect(s.threshold).toBeLessThanOrEqual(200);
      expect(s.trailing).toBeLessThanOrEqual(50);
      expect(s.chunkBytes).toBeLessThanOrEqual(4096);
    }
    const share = (f: (r: SimulationResult) => boolean): number => on.filter(f).length / on.length;
    expect(share((r) => r.stats.snapshotsTaken > 0 && r.stats.compactions > 0)).toBeGreaterThan(0.7);
    // An install needs a follower a leader left behind: two nodes or more, and commits without it.
    const clusters = on.filter((r) => r.config.nodes >= 3);
    expect(clusters.filter((r) => r.stats.snapshotsInstalled > 0).length / clusters.length).toBeGreaterThan(0.4);
    const sum = (f: (r: SimulationResult) => number): number => on.reduce((n, r) => n + f(r), 0);
    // Snapshots travel in several chunks: far more chunks than installs.
    expect(sum((r) => r.stats.chunksSent)).toBeGreaterThan(2 * sum((r) => r.stats.snapshotsInstalled));
    expect(sum((r) => r.stats.crashesSavingSnapshots)).toBeGreaterThan(20);
    expect(sum((r) => r.stats.crashesInstallingSnapshots)).toBeGreaterThan(5);
  });

  it('runs are wide: every cluster size from 1 to 7, PreVote and CheckQuorum each on and off, some long runs', () => {
    const sizes = new Set(results.map((r) => r.config.nodes));
    expect([...sizes].sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(results.map((r) => r.config.preVote))).toEqual(new Set([true, false]));
    expect(new Set(results.map((r) => r.config.checkQuorum))).toEqual(new Set([true, false]));
    const long = results.filter((r) => r.config.steps > 2000);
    expect(long.length).toBeGreaterThan(0);
    // Long runs see many leader changes.
    expect(Math.max(...long.map((r) => r.stats.leaders))).toBeGreaterThan(10);
  });

  it('each pattern is on in some seeds and off in others (swarm testing), and the patterns reach their interleavings', () => {
    for (const name of Object.keys(ALL_PATTERNS) as (keyof typeof ALL_PATTERNS)[]) {
      expect(new Set(results.map((r) => r.config.patterns[name])), name).toEqual(new Set([true, false]));
    }
    // Mixed timeouts put very short and very long election timeouts into one cluster.
    const mixed = results.filter((r) => r.config.patterns.mixedTimeouts && r.config.nodes >= 3);
    expect(
      mixed.some(
        (r) =>
          Math.min(...r.config.electionTimeoutsMs.map((t) => t.min)) < 100 &&
          Math.max(...r.config.electionTimeoutsMs.map((t) => t.min)) >= 600,
      ),
    ).toBe(true);
    for (const r of results)
      expect(r.config.heartbeatIntervalMs).toBeLessThan(Math.min(...r.config.electionTimeoutsMs.map((t) => t.min)));
    // Pre-candidates and candidates heard from a leader of their own term; new leaders got bursts.
    expect(results.reduce((n, r) => n + r.stats.campaignsAbandoned, 0)).toBeGreaterThan(0);
    expect(results.filter((r) => !r.config.patterns.proposalBursts).every((r) => r.stats.burstProposals === 0)).toBe(
      true,
    );
    expect(results.reduce((n, r) => n + r.stats.burstProposals, 0)).toBeGreaterThan(0);
  });

  // Seeds that found core bugs, kept as regression tests.
  it('regression, seed 9 (7 nodes, PreVote off, mixed election timeouts): a stale candidate with a short timeout no longer holds off every election (Liveness)', async () => {
    const r = await new Simulator({ seed: 9 }).run();
    expect(r.violation).toBeNull();
  });

  it('regression, seed 3820 (4 nodes, 8-byte chunks): a follower that crashed while storing the last chunk gets the snapshot again from its first byte (Liveness)', async () => {
    const r = await new Simulator({ seed: 3820 }).run();
    expect(r.violation).toBeNull();
    expect(r.stats.crashesInstallingSnapshots).toBeGreaterThan(0);
    expect(r.stats.snapshotsInstalled).toBeGreaterThan(0);
  });

  it('replays a seed exactly: the same seed gives the same trace, byte for byte', async () => {
    const first = await new Simulator({ seed: 4242, nodes: 5, recordTrace: true }).run();
    const second = await new Simulator({ seed: 4242, nodes: 5, recordTrace: true }).run();
    expect(first.trace.length).toBeGreaterThan(10_000);
    expect(second.trace).toBe(first.trace);
    expect(second.stats).toEqual(first.stats);
    const other = await new Simulator({ seed: 4243, nodes: 5, recordTrace: true }).run();
    expect(other.trace).not.toBe(first.trace);
  });

  it('fixing one drawn option leaves the rest of the seed as drawn', async () => {
    const drawn = await new Simulator({ seed: 31 }).run();
    const fixed = await new Simulator({ seed: 31, preVote: !drawn.config.preVote }).run();
    expect(fixed.config.preVote).toBe(!drawn.config.preVote);
    expect({ ...fixed.config, preVote: drawn.config.preVote }).toEqual(drawn.config);
  });

  it('with no faults and no patterns, a 5-node cluster elects once and serves every client operation', async () => {
    const result = await new Simulator({ seed: 7, nodes: 5, faults: NO_FAULTS, patterns: NO_PATTERNS }).run();
    expect(result.violation).toBeNull();
    expect(result.stats.leaders).toBe(1);
    expect(result.stats.crashes).toBe(0);
    expect(result.stats.operations).toBeGreaterThan(50);
    expect(result.replay).toBe(
      'npm run sim -- --seed 7 --nodes 5 --no-faults crashes,partitions,oneWayLinks,drops,duplicates,reorders,clockDrift ' +
        '--no-patterns mixedTimeouts,heartbeatLoss,appendLoss,linkFlaps,proposalBursts,roamingReader,farBehind',
    );
  });

  it('the replay command carries every option the run did not draw', () => {
    const replay = replayCommand({
      seed: 9,
      nodes: 4,
      steps: 3000,
      clients: 5,
      preVote: false,
      checkQuorum: true,
      livenessTimeoutMs: 20_000,
      faults: { drops: false },
      patterns: { linkFlaps: true, mixedTimeouts: false },
      profile: { maxSyncMs: 20, faultIntervalMs: 50 },
      snapshots: { threshold: 5, trailing: 0 },
      plantedBugs: { halfQuorum: true },
    });
    expect(replay).toBe(
      'npm run sim -- --seed 9 --nodes 4 --steps 3000 --clients 5 --pre-vote off --check-quorum on --liveness-ms 20000 ' +
        '--no-faults drops --patterns linkFlaps --no-patterns mixedTimeouts --profile maxSyncMs=20,faultIntervalMs=50 ' +
        '--snapshots threshold=5,trailing=0 --bug halfQuorum',
    );
    expect(replayCommand({ seed: 2, snapshots: false })).toBe('npm run sim -- --seed 2 --snapshots off');
  });

  it('fixing some snapshot settings keeps the drawn ones for the rest, and turns snapshots on in a seed that drew them off', async () => {
    const drawn = await new Simulator({ seed: 1, steps: 10 }).run();
    expect(drawn.config.snapshots).toBe(false); // seed 1 draws them off
    const fixed = await new Simulator({ seed: 1, steps: 10, snapshots: { trailing: 7 } }).run();
    expect(fixed.config.snapshots).toMatchObject({ trailing: 7 });
    const other = await new Simulator({ seed: 2, steps: 10 }).run();
    const some = await new Simulator({ seed: 2, steps: 10, snapshots: { chunkBytes: 3 } }).run();
    expect(some.config.snapshots).toEqual({ ...(other.config.snapshots as object), chunkBytes: 3 });
    expect((await new Simulator({ seed: 2, steps: 10, snapshots: false }).run()).config.snapshots).toBe(false);
  });

  it('npm run sim replays a failing run from the command it printed, with the same violation', async () => {
    const options = { seed: 3, nodes: 4, preVote: false, profile: { maxSyncMs: 1 }, plantedBugs: { halfQuorum: true } };
    const result = await new Simulator(options).run();
    expect(result.ok).toBe(false);
    const args = result.replay.replace('npm run sim -- ', '').split(' ');
    const out = sim(args);
    expect(out.status).toBe(1);
    expect(out.stdout).toContain(
      `seed 3 FAILED at step ${result.violation!.step} (virtual ${result.violation!.timeMs.toFixed(1)} ms): ${result.violation!.property}`,
    );
    expect(out.stdout).toContain(`replay: ${result.replay}`);
  }, 60_000);

  it('npm run sim rejects an unknown option or a bad number with a clear message, and prints --help', () => {
    const unknown = sim(['--seed', '1', '--sedes', '3']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--sedes'");
    expect(unknown.stderr).toContain('--help');
    const bad = sim(['--steps', '12x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--steps takes a whole number >= 1, got '12x'");
    const badOnOff = sim(['--pre-vote', 'yes']);
    expect(badOnOff.stderr).toContain("--pre-vote takes on or off, got 'yes'");
    const badSnapshots = sim(['--snapshots', 'threshold=0']);
    expect(badSnapshots.status).toBe(2);
    expect(badSnapshots.stderr).toContain("--snapshots: threshold takes a whole number >= 1, got '0'");
    expect(sim(['--snapshots', 'size=3']).stderr).toContain("--snapshots: unknown key 'size'");
    const help = sim(['--help']);
    expect(help.status).toBe(0);
    for (const flag of [
      '--seed',
      '--seeds',
      '--from',
      '--steps',
      '--nodes',
      '--clients',
      '--workers',
      '--no-faults',
      '--bug',
      '--shrink',
      '--trace',
      '--pre-vote',
      '--check-quorum',
      '--patterns',
      '--no-patterns',
      '--profile',
      '--snapshots',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  }, 60_000);
});
