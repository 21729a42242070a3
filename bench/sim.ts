/**
 * `npm run sim`: the deterministic simulator from the command line.
 *
 *   npm run sim -- --seed 42                 replay one seed, print its trace tail
 *   npm run sim -- --seeds 10000             soak: seeds 1..10000 on all cores, with a progress line
 *   npm run sim -- --seed 42 --shrink        find a smaller failing configuration
 *
 * Options: --steps N, --nodes N, --clients N, --from N (first seed of a soak),
 * --workers N, --no-faults a,b (crashes, partitions, oneWayLinks, drops,
 * duplicates, reorders, clockDrift), --bug a,b (test-only planted bugs),
 * --trace (print the whole trace of a single seed).
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { ALL_FAULTS, type FaultOptions, type SimulationResult, Simulator, type SimulatorOptions } from '../src/testing/sim/simulator.js';

interface Args {
  seed?: number;
  seeds?: number;
  from: number;
  steps?: number;
  nodes?: number;
  clients?: number;
  workers: number;
  faultsOff: string[];
  bugs: string[];
  shrink: boolean;
  trace: boolean;
  child: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { from: 1, workers: availableParallelism(), faultsOff: [], bugs: [], shrink: false, trace: false, child: false };
  const num = (i: number): number => {
    const v = Number(argv[i + 1]);
    if (!Number.isInteger(v) || v < 0) throw new Error(`${argv[i]} takes a whole number, got ${argv[i + 1]}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case '--seed': args.seed = num(i++); break;
      case '--seeds': args.seeds = num(i++); break;
      case '--from': args.from = num(i++); break;
      case '--steps': args.steps = num(i++); break;
      case '--nodes': args.nodes = num(i++); break;
      case '--clients': args.clients = num(i++); break;
      case '--workers': args.workers = Math.max(1, num(i++)); break;
      case '--no-faults': args.faultsOff = (argv[++i] ?? '').split(',').filter(Boolean); break;
      case '--bug': args.bugs = (argv[++i] ?? '').split(',').filter(Boolean); break;
      case '--shrink': args.shrink = true; break;
      case '--trace': args.trace = true; break;
      case '--child': args.child = true; break;
      default: throw new Error(`unknown option ${argv[i]} (see the header of bench/sim.ts)`);
    }
  }
  for (const f of args.faultsOff) if (!(f in ALL_FAULTS)) throw new Error(`unknown fault ${f}`);
  return args;
}

function optionsFor(args: Args, seed: number): SimulatorOptions {
  const faults: Partial<Record<keyof FaultOptions, boolean>> = {};
  for (const f of args.faultsOff) faults[f as keyof FaultOptions] = false;
  const plantedBugs = Object.fromEntries(args.bugs.map((b) => [b, true]));
  return {
    seed,
    steps: args.steps,
    nodes: args.nodes,
    clients: args.clients,
    faults,
    plantedBugs: args.bugs.length > 0 ? plantedBugs : undefined,
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
  console.log(`seed ${seed} ok: ${result.steps} steps, ${result.virtualTimeMs.toFixed(0)} virtual ms, ${JSON.stringify(result.stats)}`);
  return 0;
}

/**
 * Looks for a smaller failing run of the same seed: fewer steps, then each
 * fault kind switched off in turn while it still fails. A run is a pure
 * function of its options, so each candidate replays exactly.
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
  for (const fault of Object.keys(ALL_FAULTS)) {
    if (best.faultsOff.includes(fault)) continue;
    const candidate = { ...best, faultsOff: [...best.faultsOff, fault] };
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

/** A child process of a soak: runs the seeds it is given, reports each result to the parent. */
async function child(args: Args): Promise<void> {
  process.on('message', async (msg: { seed?: number; done?: boolean }) => {
    if (msg.done === true) process.exit(0);
    const result = await new Simulator(optionsFor(args, msg.seed!)).run();
    process.send!({ seed: msg.seed, ok: result.ok, steps: result.steps, failure: result.ok ? null : result });
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
  const childArgs = process.argv.slice(2).filter((a, i, all) => a !== '--seeds' && all[i - 1] !== '--seeds');
  const progress = (): void => {
    const s = (performance.now() - started) / 1000;
    process.stdout.write(
      `\r${done}/${total} seeds, ${failures.length} failed, ${steps.toLocaleString('en-US')} steps, ${s.toFixed(0)} s, ${Math.round(steps / s).toLocaleString('en-US')} steps/s   `,
    );
  };
  await Promise.all(
    Array.from({ length: Math.min(args.workers, total) }, () =>
      new Promise<void>((resolve, reject) => {
        const worker = fork(new URL(import.meta.url).pathname, [...childArgs, '--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        const next = (): void => {
          const seed = seeds.shift();
          if (seed === undefined) worker.send({ done: true });
          else worker.send({ seed });
        };
        worker.on('message', (msg: { ready?: boolean; ok?: boolean; steps?: number; failure?: SimulationResult | null }) => {
          if (msg.ready !== true) {
            done++;
            steps += msg.steps ?? 0;
            if (msg.failure) failures.push(msg.failure);
            if (done % 20 === 0 || done === total) progress();
          }
          next();
        });
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`simulation worker exited with ${code}`))));
      }),
    ),
  );
  progress();
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `\nsoak: ${total} seeds (${args.from}..${args.from + total - 1}), ${steps.toLocaleString('en-US')} steps in ${seconds.toFixed(1)} s ` +
      `(${Math.round(steps / seconds).toLocaleString('en-US')} steps/s), ${failures.length} violations`,
  );
  for (const f of failures.sort((a, b) => a.seed - b.seed).slice(0, 5)) report(f);
  return failures.length === 0 ? 0 : 1;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) return child(args);
  if (args.seeds !== undefined) process.exitCode = await soak(args);
  else process.exitCode = await single(args, args.seed ?? 1);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(2);
});
