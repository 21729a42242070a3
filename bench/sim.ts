/**
 * `npm run sim`: the deterministic simulator from the command line.
 *
 *   npm run sim -- --seed 42                 replay one seed, print its trace tail
 *   npm run sim -- --seeds 10000             soak: seeds 1..10000 on all cores, with a progress line
 *   npm run sim -- --seed 42 --shrink        find a smaller failing configuration
 *
 * `npm run sim -- --help` lists every option.
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { parseArgs as parseArgv } from 'node:util';
import type { SnapshotSettings } from '../src/options.js';
import {
  ALL_FAULTS,
  ALL_PATTERNS,
  type FaultOptions,
  type FaultProfile,
  type PatternOptions,
  type SimulationResult,
  type SimulatorOptions,
} from '../src/testing/sim/sim-options.js';
import { Simulator } from '../src/testing/sim/simulator.js';

const HELP = `npm run sim -- [options]

  --seed N             run one seed (default 1) and print its result; a failure prints its trace tail
  --seeds N            soak: run N seeds on worker processes, with a progress line
  --from N             first seed of a soak (default 1)
  --workers N          worker processes of a soak (default: one per core)
  --shrink             after a failing --seed, look for a shorter run and fewer faults that still fail
  --trace              print the whole trace of a single seed

  What a seed draws unless fixed here:
  --nodes N            cluster size (drawn from 1..7)
  --steps N            events with faults on (2,000, or 10,000 for one seed in twenty)
  --pre-vote on|off    PreVote on every node
  --check-quorum on|off  CheckQuorum on every node
  --patterns a,b       force patterns on: ${Object.keys(ALL_PATTERNS).join(', ')}
  --no-patterns a,b    force patterns off
  --profile k=v,...    fix fault intensities: crashBeforeSyncRate, maxSyncMs, newLeaderCrashRate,
                       faultIntervalMs, maxEntriesPerAppend, maxInflightMessages
  --snapshots off|k=v,...  automatic snapshots off, or fix their settings: threshold, trailing, chunkBytes
                       (drawn small, and off in one seed in ten)

  --clients N          concurrent key-value clients (default 3)
  --no-faults a,b      switch faults off: ${Object.keys(ALL_FAULTS).join(', ')}
  --liveness-ms N      virtual time the liveness phase may take
  --bug a,b            plant test-only Raft bugs (see PlantedBugs in src/core/types.ts)
  -h, --help           this text
`;

interface Args {
  seed?: number;
  seeds?: number;
  from: number;
  workers: number;
  steps?: number;
  nodes?: number;
  clients?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  livenessMs?: number;
  faultsOff: string[];
  patternsOn: string[];
  patternsOff: string[];
  profile: Partial<Record<keyof FaultProfile, number>>;
  snapshots?: Partial<SnapshotSettings> | false;
  bugs: string[];
  shrink: boolean;
  trace: boolean;
  child: boolean;
  help: boolean;
}

const PROFILE_KEYS = [
  'crashBeforeSyncRate',
  'maxSyncMs',
  'newLeaderCrashRate',
  'faultIntervalMs',
  'maxEntriesPerAppend',
  'maxInflightMessages',
];
const SNAPSHOT_KEYS = ['threshold', 'trailing', 'chunkBytes'];

class UsageError extends Error {}

function parseArgs(argv: string[]): Args {
  const str = { type: 'string' } as const;
  const flag = { type: 'boolean' } as const;
  let values;
  try {
    ({ values } = parseArgv({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        seed: str,
        seeds: str,
        from: str,
        workers: str,
        steps: str,
        nodes: str,
        clients: str,
        'pre-vote': str,
        'check-quorum': str,
        'liveness-ms': str,
        'no-faults': str,
        patterns: str,
        'no-patterns': str,
        profile: str,
        snapshots: str,
        bug: str,
        shrink: flag,
        trace: flag,
        child: flag,
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const num = (name: string, min = 0): number | undefined => {
    const raw = values[name as keyof typeof values] as string | undefined;
    if (raw === undefined) return undefined;
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(v) || v < min)
      throw new UsageError(`--${name} takes a whole number >= ${min}, got '${raw}'`);
    return v;
  };
  const onOff = (name: 'pre-vote' | 'check-quorum'): boolean | undefined => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    if (raw !== 'on' && raw !== 'off') throw new UsageError(`--${name} takes on or off, got '${raw}'`);
    return raw === 'on';
  };
  const list = (name: 'no-faults' | 'patterns' | 'no-patterns' | 'bug', known?: readonly string[]): string[] => {
    const names = (values[name] ?? '').split(',').filter(Boolean);
    for (const n of names)
      if (known !== undefined && !known.includes(n))
        throw new UsageError(`--${name}: unknown name '${n}' (known: ${known.join(', ')})`);
    return names;
  };
  return {
    seed: num('seed'),
    seeds: num('seeds', 1),
    from: num('from') ?? 1,
    workers: num('workers', 1) ?? availableParallelism(),
    steps: num('steps', 1),
    nodes: num('nodes', 1),
    clients: num('clients'),
    preVote: onOff('pre-vote'),
    checkQuorum: onOff('check-quorum'),
    livenessMs: num('liveness-ms', 1),
    faultsOff: list('no-faults', Object.keys(ALL_FAULTS)),
    patternsOn: list('patterns', Object.keys(ALL_PATTERNS)),
    patternsOff: list('no-patterns', Object.keys(ALL_PATTERNS)),
    profile: parseProfile(values.profile),
    snapshots: parseSnapshots(values.snapshots),
    bugs: list('bug'),
    shrink: values.shrink === true,
    trace: values.trace === true,
    child: values.child === true,
    help: values.help === true,
  };
}

function parseProfile(raw: string | undefined): Partial<Record<keyof FaultProfile, number>> {
  const profile: Partial<Record<keyof FaultProfile, number>> = {};
  for (const pair of (raw ?? '').split(',').filter(Boolean)) {
    const [key, value] = pair.split('=');
    const v = Number(value);
    if (!PROFILE_KEYS.includes(key))
      throw new UsageError(`--profile: unknown key '${key}' (known: ${PROFILE_KEYS.join(', ')})`);
    if (value === undefined || value.trim() === '' || !Number.isFinite(v) || v < 0)
      throw new UsageError(`--profile: ${key} takes a number >= 0, got '${value ?? ''}'`);
    profile[key as keyof FaultProfile] = v;
  }
  return profile;
}

/** `off`, or settings as `threshold=5,trailing=0`: whole numbers, as the node's option takes them. */
function parseSnapshots(raw: string | undefined): Partial<SnapshotSettings> | false | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'off') return false;
  const settings: Partial<Record<keyof SnapshotSettings, number>> = {};
  for (const pair of raw.split(',').filter(Boolean)) {
    const [key, value] = pair.split('=');
    const v = Number(value);
    if (!SNAPSHOT_KEYS.includes(key))
      throw new UsageError(`--snapshots: unknown key '${key}' (known: ${SNAPSHOT_KEYS.join(', ')}, or off)`);
    const min = key === 'trailing' ? 0 : 1;
    if (value === undefined || value.trim() === '' || !Number.isInteger(v) || v < min)
      throw new UsageError(`--snapshots: ${key} takes a whole number >= ${min}, got '${value ?? ''}'`);
    settings[key as keyof SnapshotSettings] = v;
  }
  return settings;
}

function optionsFor(args: Args, seed: number): SimulatorOptions {
  const flags = (on: string[], off: string[]): Record<string, boolean> => ({
    ...Object.fromEntries(on.map((k) => [k, true])),
    ...Object.fromEntries(off.map((k) => [k, false])),
  });
  return {
    seed,
    steps: args.steps,
    nodes: args.nodes,
    clients: args.clients,
    preVote: args.preVote,
    checkQuorum: args.checkQuorum,
    livenessTimeoutMs: args.livenessMs,
    faults: flags([], args.faultsOff) as Partial<FaultOptions>,
    patterns: flags(args.patternsOn, args.patternsOff) as Partial<PatternOptions>,
    profile: args.profile,
    snapshots: args.snapshots,
    plantedBugs: args.bugs.length > 0 ? flags(args.bugs, []) : undefined,
    recordTrace: args.trace,
  };
}

function report(result: SimulationResult): void {
  const v = result.violation!;
  console.log(`\nseed ${result.seed} FAILED at step ${v.step} (virtual ${v.timeMs.toFixed(1)} ms): ${v.property}`);
  console.log(`  ${v.message}`);
  console.log(`replay: ${result.replay}`);
  console.log('last steps of the trace:');
  console.log(result.trace);
}

async function single(args: Args, seed: number): Promise<number> {
  const result = await new Simulator(optionsFor(args, seed)).run();
  if (!result.ok) {
    report(result);
    if (args.shrink) await shrink(args, seed);
    return 1;
  }
  if (args.trace) console.log(result.trace);
  const c = result.config;
  const snapshots = c.snapshots === false ? 'off' : JSON.stringify(c.snapshots);
  console.log(
    `seed ${seed} ok: ${c.nodes} nodes, preVote ${c.preVote}, checkQuorum ${c.checkQuorum}, snapshots ${snapshots}, ${result.steps} steps, ` +
      `${result.virtualTimeMs.toFixed(0)} virtual ms, ${JSON.stringify(result.stats)}`,
  );
  return 0;
}

/**
 * Looks for a smaller failing run of the same seed: fewer steps, then each
 * fault kind, each pattern and snapshots switched off in turn while it still fails. A
 * run is a pure function of its options, so each candidate replays exactly.
 */
async function shrink(args: Args, seed: number): Promise<void> {
  const fails = async (a: Args): Promise<SimulationResult | null> => {
    const r = await new Simulator(optionsFor(a, seed)).run();
    return r.ok ? null : r;
  };
  let best: Args = { ...args, trace: false };
  let bestResult = (await fails(best))!;
  let lo = 1;
  let hi = bestResult.violation!.step;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (await fails({ ...best, steps: mid })) hi = mid;
    else lo = mid + 1;
  }
  if ((await fails({ ...best, steps: hi })) !== null) best = { ...best, steps: hi };
  const candidates: ((a: Args) => Args | null)[] = [
    ...Object.keys(ALL_FAULTS).map(
      (f) => (a: Args) => (a.faultsOff.includes(f) ? null : { ...a, faultsOff: [...a.faultsOff, f] }),
    ),
    ...Object.keys(ALL_PATTERNS).map(
      (p) => (a: Args) =>
        a.patternsOff.includes(p) || a.patternsOn.includes(p) ? null : { ...a, patternsOff: [...a.patternsOff, p] },
    ),
    (a: Args) => (a.snapshots === undefined ? { ...a, snapshots: false } : null),
  ];
  for (const next of candidates) {
    const candidate = next(best);
    if (candidate === null) continue;
    const r = await fails(candidate);
    if (r !== null) {
      best = candidate;
      bestResult = r;
    }
  }
  bestResult = (await fails(best)) ?? bestResult;
  console.log(`\nshrunk: ${bestResult.replay}`);
  console.log(`  ${bestResult.violation!.property}: ${bestResult.violation!.message}`);
}

interface ChildReport {
  seed: number;
  steps: number;
  failure: SimulationResult | null;
  nodes: number;
  long: boolean;
  preVote: boolean;
  checkQuorum: boolean;
  leaders: number;
  campaignsAbandoned: number;
  snapshotsOff: boolean;
  snapshots: SnapshotTally;
}

/** The soak's snapshot counts: what the summary line shows happened across the runs. */
interface SnapshotTally {
  taken: number;
  installed: number;
  chunks: number;
  compactions: number;
  crashesSaving: number;
  crashesInstalling: number;
}

/** A child process of a soak: receives its options once, then runs the seeds it is given, reporting each. */
async function child(): Promise<void> {
  let args: Args | null = null;
  process.on('message', async (msg: { args?: Args; seed?: number; done?: boolean }) => {
    if (msg.done === true) process.exit(0);
    if (msg.args !== undefined) args = msg.args;
    if (msg.seed === undefined || args === null) return;
    const result = await new Simulator(optionsFor(args, msg.seed)).run();
    const c = result.config;
    const out: ChildReport = {
      seed: msg.seed,
      steps: result.steps,
      failure: result.ok ? null : result,
      nodes: c.nodes,
      long: c.steps > 2000,
      preVote: c.preVote,
      checkQuorum: c.checkQuorum,
      leaders: result.stats.leaders,
      campaignsAbandoned: result.stats.campaignsAbandoned,
      snapshotsOff: c.snapshots === false,
      snapshots: {
        taken: result.stats.snapshotsTaken,
        installed: result.stats.snapshotsInstalled,
        chunks: result.stats.chunksSent,
        compactions: result.stats.compactions,
        crashesSaving: result.stats.crashesSavingSnapshots,
        crashesInstalling: result.stats.crashesInstallingSnapshots,
      },
    };
    process.send!(out);
  });
  process.send!({ ready: true });
}

async function soak(args: Args): Promise<number> {
  const total = args.seeds!;
  const seeds = Array.from({ length: total }, (_, i) => args.from + i);
  const started = performance.now();
  let done = 0;
  let steps = 0;
  const failures: SimulationResult[] = [];
  const sizes = new Map<number, number>();
  const tally = { long: 0, preVoteOff: 0, checkQuorumOff: 0, leaders: 0, campaignsAbandoned: 0, snapshotsOff: 0 };
  const snaps: SnapshotTally = {
    taken: 0,
    installed: 0,
    chunks: 0,
    compactions: 0,
    crashesSaving: 0,
    crashesInstalling: 0,
  };
  let runsWithInstalls = 0;
  const progress = (): void => {
    const s = (performance.now() - started) / 1000;
    process.stdout.write(
      `\r${done}/${total} seeds, ${failures.length} failed, ${steps.toLocaleString('en-US')} steps, ${s.toFixed(0)} s, ${Math.round(steps / s).toLocaleString('en-US')} steps/s   `,
    );
  };
  const record = (r: ChildReport): void => {
    done++;
    steps += r.steps;
    if (r.failure) failures.push(r.failure);
    sizes.set(r.nodes, (sizes.get(r.nodes) ?? 0) + 1);
    if (r.long) tally.long++;
    if (!r.preVote) tally.preVoteOff++;
    if (!r.checkQuorum) tally.checkQuorumOff++;
    tally.leaders += r.leaders;
    tally.campaignsAbandoned += r.campaignsAbandoned;
    if (r.snapshotsOff) tally.snapshotsOff++;
    for (const k of Object.keys(snaps) as (keyof SnapshotTally)[]) snaps[k] += r.snapshots[k];
    if (r.snapshots.installed > 0) runsWithInstalls++;
    if (done % 20 === 0 || done === total) progress();
  };
  await Promise.all(
    Array.from(
      { length: Math.min(args.workers, total) },
      () =>
        new Promise<void>((resolve, reject) => {
          const worker = fork(new URL(import.meta.url).pathname, ['--child'], {
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
          const next = (): void => {
            const seed = seeds.shift();
            if (seed === undefined) worker.send({ done: true });
            else worker.send({ seed });
          };
          worker.on('message', (msg: ChildReport | { ready: true }) => {
            if ('ready' in msg) worker.send({ args });
            else record(msg);
            next();
          });
          worker.on('exit', (code) =>
            code === 0 ? resolve() : reject(new Error(`simulation worker exited with ${code}`)),
          );
        }),
    ),
  );
  progress();
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `\nsoak: ${total} seeds (${args.from}..${args.from + total - 1}), ${steps.toLocaleString('en-US')} steps in ${seconds.toFixed(1)} s ` +
      `(${Math.round(steps / seconds).toLocaleString('en-US')} steps/s), ${failures.length} violations`,
  );
  const bySize = [...sizes]
    .sort(([a], [b]) => a - b)
    .map(([n, count]) => `${n}:${count}`)
    .join(' ');
  console.log(
    `runs by cluster size ${bySize}; ${tally.long} long; PreVote off in ${tally.preVoteOff}, CheckQuorum off in ${tally.checkQuorumOff}; ` +
      `${tally.leaders.toLocaleString('en-US')} leaders elected; ${tally.campaignsAbandoned.toLocaleString('en-US')} campaigns abandoned for a leader of the same term`,
  );
  const n = (x: number): string => x.toLocaleString('en-US');
  console.log(
    `snapshots off in ${tally.snapshotsOff} runs; ${n(snaps.taken)} snapshots taken, ${n(snaps.installed)} installed ` +
      `(in ${runsWithInstalls} runs), ${n(snaps.chunks)} chunks sent, ${n(snaps.compactions)} compactions; ` +
      `${n(snaps.crashesSaving)} crashes while saving a snapshot, ${n(snaps.crashesInstalling)} while installing one`,
  );
  for (const f of failures.sort((a, b) => a.seed - b.seed).slice(0, 5)) report(f);
  return failures.length === 0 ? 0 : 1;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }
  if (args.child) return child();
  if (args.seeds !== undefined) process.exitCode = await soak(args);
  else process.exitCode = await single(args, args.seed ?? 1);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`npm run sim: ${error.message}\nSee npm run sim -- --help`);
  } else {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  }
  process.exit(2);
});
