/**
 * `npm run demo`: bellwether doing its job.
 *
 * Starts 3 node processes on loopback, talking over TcpTransport and each
 * keeping its log in a FileStorage in a temporary directory. Writes
 * continuously through whichever node leads, SIGKILLs the leader a few
 * times, times each fail-over, restarts the killed node and watches it
 * catch up, then reads every acknowledged write back from every node and
 * prints a summary. Exits 0 when no acknowledged write was lost, 1 otherwise.
 *
 *   npx tsx examples/demo.ts           the full run (about 20 s)
 *   npx tsx examples/demo.ts --quick   one fail-over (about 6 s)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine } from './cli.js';
import { type NodeState, ProcessCluster } from './process-cluster.js';
import { WriteLoad } from './write-load.js';

const { values } = parseCommandLine({
  usage: 'npm run demo -- [options]',
  summary:
    'Starts 3 node processes on loopback (TcpTransport, FileStorage), writes continuously, SIGKILLs the leader ' +
    'and restarts it, then checks that no acknowledged write was lost. Exits 0 when none was.',
  options: { quick: { type: 'boolean', description: 'one fail-over instead of three (about 6 s instead of 20 s)' } },
});
const quick = values.quick;
const KILLS = quick ? 1 : 3;
const STEADY_MS = quick ? 800 : 2500;
const DOWN_MS = quick ? 500 : 1200;

const started = performance.now();
const clock = () => `[${((performance.now() - started) / 1000).toFixed(2).padStart(6)}s]`;
const say = (line: string) => console.log(`${clock()} ${line}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (value: number) => `${Math.round(value)} ms`;

function describeState(id: string, state: NodeState | null): string {
  if (state === null) return `${id}: down`;
  const leader =
    state.role === 'leader'
      ? '  ★ leader'
      : state.leaderId === null
        ? ', no leader known'
        : `, following ${state.leaderId}`;
  return `${id}: ${state.role.padEnd(12)} term ${state.term}${leader}`;
}

let finished = false;

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bellwether-demo-'));
  const cluster = new ProcessCluster({
    storage: 'file',
    dir,
    clusterId: 'demo',
    onState: (id, state) => {
      if (!finished) say(describeState(id, state));
    },
  });
  // Never hang: whatever happens, the demo ends.
  const watchdog = setTimeout(() => {
    console.error(`${clock()} the demo took too long; giving up`);
    void cluster.stop().finally(() => process.exit(1));
  }, 90_000);
  watchdog.unref();

  console.log('bellwether demo: 3 node processes on 127.0.0.1, TcpTransport, FileStorage');
  console.log(`  data directory ${dir}`);
  try {
    say('starting node processes a, b and c');
    await cluster.start();
    console.log(
      `  ${Object.entries(cluster.peerAddresses)
        .map(([id, a]) => `${id} at ${a}`)
        .join(', ')}`,
    );
    const first = await cluster.waitForStableLeader();
    say(`${first} leads; writing continuously (8 writes in flight)`);

    const load = new WriteLoad(cluster, 8);
    load.start();
    const failovers: { killed: string; elected: string; electedMs: number; firstWriteMs: number }[] = [];
    const catchUps: number[] = [];

    for (let round = 1; round <= KILLS; round++) {
      await sleep(STEADY_MS);
      const victim = await cluster.waitForStableLeader();
      const ackedBefore = load.acknowledged;
      say(`${ackedBefore.toLocaleString('en-US')} writes acknowledged so far`);
      say(`✗ SIGKILL the leader, ${victim}`);
      const killedAt = performance.now();
      const firstWrite = load.nextAck((ack) => ack.at > killedAt && ack.leader !== victim);
      await cluster.kill(victim);
      await cluster.waitUntil(
        () => {
          const l = cluster.leader();
          return l !== null && l !== victim;
        },
        10_000,
        'a new leader',
      );
      const electedMs = performance.now() - killedAt;
      const elected = cluster.leader()!;
      const ack = await firstWrite;
      const firstWriteMs = ack.at - killedAt;
      failovers.push({ killed: victim, elected, electedMs, firstWriteMs });
      say(
        `fail-over ${round}: ${elected} elected ${ms(electedMs)} after the kill, first write acknowledged after ${ms(firstWriteMs)}`,
      );

      await sleep(DOWN_MS);
      say(`restarting ${victim} (same data directory)`);
      const restartAt = performance.now();
      await cluster.spawn(victim);
      const startedMs = performance.now() - restartAt;
      const leader = await cluster.waitForStableLeader();
      const target = (await cluster.request<{ commitIndex: number }>(leader, { op: 'status' })).commitIndex;
      let status = await cluster.request<{ appliedIndex: number }>(victim, { op: 'status' });
      while (status.appliedIndex < target) {
        await sleep(10);
        status = await cluster.request<{ appliedIndex: number }>(victim, { op: 'status' });
      }
      const caughtUpMs = performance.now() - restartAt - startedMs;
      catchUps.push(caughtUpMs);
      say(
        `${victim} caught up: applied up to index ${status.appliedIndex} (the leader had committed ${target}), ` +
          `${ms(caughtUpMs)} after its node started (the process took ${ms(startedMs)} to start)`,
      );
    }

    await sleep(quick ? 300 : 1000);
    await load.stop();
    say(`stopped writing; reading every write back from a, b and c`);
    const result = await load.verify(cluster.ids);
    finished = true;

    console.log('');
    console.log('Summary');
    console.log(`  fail-overs:  ${failovers.length}`);
    for (const [i, f] of failovers.entries()) {
      console.log(
        `    ${i + 1}. killed ${f.killed}: ${f.elected} elected in ${ms(f.electedMs)}, serving writes in ${ms(f.firstWriteMs)}`,
      );
    }
    console.log(`  restarted nodes caught up ${catchUps.map(ms).join(', ')} after starting`);
    console.log(`  writes acknowledged:   ${load.acknowledged.toLocaleString('en-US')}`);
    console.log(
      `  outcome unknown:       ${load.unknown} (in flight at a killed leader; Raft may or may not have kept them)`,
    );
    console.log(
      `  writes applied:        ${result.applied.toLocaleString('en-US')} on each node (${Object.entries(result.perNode)
        .map(([id, n]) => `${id} ${n}`)
        .join(', ')})`,
    );
    console.log(
      `  same order everywhere: ${result.identical ? 'yes' : 'NO'}; applied twice: ${result.noDuplicates ? 'none' : 'SOME'}`,
    );
    console.log(
      `  writes lost:           ${result.lost}${result.lost > 0 ? ` (e.g. ${result.lostExamples.join(', ')})` : ''}`,
    );
    const ok = result.lost === 0 && result.identical && result.noDuplicates && load.acknowledged > 0;
    console.log(ok ? '\nOK: every acknowledged write survived.' : '\nFAILED: see above.');
    return ok ? 0 : 1;
  } finally {
    await cluster.stop();
    clearTimeout(watchdog);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`${clock()} demo failed:`, error);
    process.exit(1);
  },
);
