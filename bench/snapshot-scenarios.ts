/**
 * One snapshot benchmark scenario, run in a process of its own (with
 * --expose-gc) so that its resident memory is its own: bench/snapshots.ts
 * starts it with the scenario as JSON and reads back one `RESULT {json}`
 * line. Not meant to be run by hand.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directoryUse, proposeMany, settledRss, SnapshotCluster, type StorageKind, until } from './snapshot-cluster.js';
import { parseCommandLine } from '../examples/cli.js';

/** Proposals in flight, as in the throughput benchmarks. */
const WINDOW = 10_000;

export type Scenario =
  | { readonly name: 'growth'; readonly kind: StorageKind; readonly count: number; readonly baseline: number }
  | { readonly name: 'catchUp'; readonly kind: StorageKind; readonly count: number }
  | { readonly name: 'throughput'; readonly kind: StorageKind; readonly count: number; readonly trials: number };

export interface GrowthResult {
  readonly seconds: number;
  readonly rssBaseline: number;
  readonly rssAfter: number;
  readonly heapBaseline: number;
  readonly heapAfter: number;
  /** Snapshots each node took, in node order. */
  readonly snapshots: number[];
  /** FileStorage: each node's directory. */
  readonly disk: Awaited<ReturnType<typeof directoryUse>>[] | null;
  readonly restart: {
    readonly startedMs: number;
    readonly leaderKnownMs: number;
    readonly caughtUpMs: number;
    readonly snapshotIndex: number;
    readonly target: number;
    /** Entries the restarted node applied after restoring its snapshot. */
    readonly reapplied: number;
  };
}

export interface CatchUpResult {
  /** Committed entries per second while the follower was down. */
  readonly downRate: number;
  readonly caughtUpMs: number;
  readonly target: number;
  /** The indexes of the leader's snapshots the follower installed until it caught up. */
  readonly installed: number[];
  /** Entries the follower applied until it caught up, after the snapshots. */
  readonly applied: number;
  /** Snapshots from the leader it installed in the second after it caught up. */
  readonly installsAfter: number;
  /** Committed entries per second, and how many, while it caught up. */
  readonly meanwhileRate: number;
  readonly meanwhile: number;
  /** Committed entries per second in the second after, all three nodes up. */
  readonly afterRate: number;
}

export interface ThroughputResult {
  /** Entries per second of each trial, in the order run. */
  readonly on: number[];
  readonly off: number[];
  readonly snapshotsPerTrial: number;
}

/** RSS after `baseline` and after `count` proposals, the directories, then a follower's restart. */
async function growth(kind: StorageKind, count: number, baseline: number, base: string): Promise<GrowthResult> {
  const cluster = new SnapshotCluster(kind, base, undefined);
  await cluster.startAll();
  const snapshots = new Map(cluster.ids.map((id) => [id, 0]));
  for (const [id, node] of cluster.nodes) node.on('snapshot', () => snapshots.set(id, snapshots.get(id)! + 1));
  const leader = await cluster.leader();
  const started = performance.now();
  await proposeMany(leader, baseline, WINDOW);
  await cluster.allApplied(leader.status().commitIndex);
  const before = await settledRss();
  await proposeMany(leader, count - baseline, WINDOW);
  await cluster.allApplied(leader.status().commitIndex);
  const seconds = (performance.now() - started) / 1000;
  const after = await settledRss();
  const disk = kind === 'file' ? await Promise.all(cluster.ids.map((id) => directoryUse(cluster.dir(id)))) : null;

  const follower = cluster.ids.find((id) => id !== leader.id)!;
  const target = leader.status().commitIndex;
  await cluster.stop(follower);
  const t0 = performance.now();
  const node = await cluster.start(follower);
  const startedMs = performance.now() - t0;
  await node.waitForLeader({ timeoutMs: 10_000 });
  const leaderKnownMs = performance.now() - t0;
  await until(() => node.status().appliedIndex >= target, 60_000, 'the restarted node to catch up');
  const caughtUpMs = performance.now() - t0;
  const restart = {
    startedMs,
    leaderKnownMs,
    caughtUpMs,
    snapshotIndex: node.status().snapshotIndex,
    target,
    reapplied: cluster.machines.get(follower)!.applied(),
  };
  await cluster.stopAll();
  return {
    seconds,
    rssBaseline: before.rss,
    rssAfter: after.rss,
    heapBaseline: before.heap,
    heapAfter: after.heap,
    snapshots: cluster.ids.map((id) => snapshots.get(id)!),
    disk,
    restart,
  };
}

/**
 * A follower is down while the leader commits `count` proposals, and comes
 * back while the leader goes on taking proposals at full speed: how long
 * until it has everything committed when it came back, and what the
 * leader commits per second before, during and after.
 */
async function catchUp(kind: StorageKind, count: number, base: string): Promise<CatchUpResult> {
  const cluster = new SnapshotCluster(kind, base, undefined);
  await cluster.startAll();
  const leader = await cluster.leader();
  const follower = cluster.ids.find((id) => id !== leader.id)!;
  await cluster.stop(follower);
  const commit = (): number => leader.status().commitIndex;
  let stop = false;
  const writing = proposeMany(leader, Number.MAX_SAFE_INTEGER, WINDOW, () => stop);
  const t0 = performance.now();
  await until(() => commit() >= count, 600_000, `${count} commits`);
  const downRate = commit() / ((performance.now() - t0) / 1000);

  const installs: number[] = [];
  const target = commit();
  const t1 = performance.now();
  const node = await cluster.start(follower, (n) =>
    n.on('snapshot', ({ index, source }) => {
      if (source === 'leader') installs.push(index);
    }),
  );
  await until(() => node.status().appliedIndex >= target, 120_000, 'the follower to catch up');
  const caughtUpMs = performance.now() - t1;
  const meanwhile = commit() - target;
  const installed = installs.slice();
  const applied = cluster.machines.get(follower)!.applied();
  // A second more with all three nodes up, for comparison.
  const t2 = performance.now();
  const before = commit();
  await new Promise((r) => setTimeout(r, 1000));
  const afterRate = (commit() - before) / ((performance.now() - t2) / 1000);
  stop = true;
  await writing;
  await cluster.stopAll();
  return {
    downRate,
    caughtUpMs,
    target,
    installed,
    applied,
    meanwhile,
    meanwhileRate: meanwhile / (caughtUpMs / 1000),
    afterRate,
    installsAfter: installs.length - installed.length,
  };
}

/** Entries per second with automatic snapshots on (the defaults) and off, trials alternating, after a warm-up. */
async function throughput(kind: StorageKind, count: number, trials: number, base: string): Promise<ThroughputResult> {
  const on: number[] = [];
  const off: number[] = [];
  let snapshotsPerTrial = 0;
  const trial = async (snapshots: boolean, label: string): Promise<number> => {
    const cluster = new SnapshotCluster(kind, join(base, label), snapshots ? undefined : false);
    await cluster.startAll();
    let taken = 0;
    for (const node of cluster.nodes.values()) node.on('snapshot', () => taken++);
    const leader = await cluster.leader();
    const { done, seconds } = await proposeMany(leader, count, WINDOW);
    await cluster.stopAll();
    if (snapshots) snapshotsPerTrial = taken / cluster.ids.length;
    return done / seconds;
  };
  await trial(true, 'warm-up');
  for (let t = 0; t < trials; t++) {
    // Alternate which goes first, so that neither always runs on a warmer or more fragmented process.
    if (t % 2 === 0) {
      off.push(await trial(false, `off-${t}`));
      on.push(await trial(true, `on-${t}`));
    } else {
      on.push(await trial(true, `on-${t}`));
      off.push(await trial(false, `off-${t}`));
    }
  }
  return { on, off, snapshotsPerTrial };
}

async function main(): Promise<void> {
  const { argument } = parseCommandLine({
    usage: 'npx tsx --expose-gc bench/snapshot-scenarios.ts <scenario>',
    summary:
      'One snapshot benchmark scenario in a process of its own, started by `npm run bench -- --snapshots` ' +
      '(bench/snapshots.ts); prints `RESULT <json>`.',
    options: {},
    argument: {
      name: 'scenario',
      description: 'the scenario as JSON, e.g. {"name":"growth","kind":"memory","count":100000,"baseline":10000}',
      required: true,
    },
  });
  const scenario = JSON.parse(argument!) as Scenario;
  const base = await mkdtemp(join(tmpdir(), 'bellwether-snapshot-bench-'));
  try {
    let result: unknown;
    if (scenario.name === 'growth') result = await growth(scenario.kind, scenario.count, scenario.baseline, base);
    else if (scenario.name === 'catchUp') result = await catchUp(scenario.kind, scenario.count, base);
    else result = await throughput(scenario.kind, scenario.count, scenario.trials, base);
    console.log(`RESULT ${JSON.stringify(result)}`);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
