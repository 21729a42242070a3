/**
 * TCP benchmarks: 3 node processes on loopback (examples/node-process.ts)
 * over TcpTransport, with MemoryStorage and with FileStorage.
 *
 * - throughput: the leader proposes `count` 16-byte entries, `window` in
 *   flight, and counts committed-and-applied entries per second;
 * - latency: one proposal at a time, from propose() to its resolution.
 *
 * Both are measured inside the leader's process, as an embedding
 * application would call propose(); the parent process only orchestrates.
 * `npx tsx bench/tcp.ts [--quick]` runs it alone; `npm run bench` prints it
 * with the others.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCommandLine } from '../examples/cli.js';
import { ProcessCluster } from '../examples/process-cluster.js';

interface Throughput {
  readonly seconds: number;
  readonly rate: number;
}

interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

async function runOne(
  storage: 'memory' | 'file',
  sizes: { throughputCount: number; window: number; latencyCount: number },
): Promise<{ throughput: Throughput; latency: Latency; leaderMaxRssMiB: number }> {
  const dir = storage === 'file' ? mkdtempSync(join(tmpdir(), 'bellwether-bench-')) : undefined;
  const cluster = new ProcessCluster({ storage, dir, clusterId: `bench-${storage}` });
  try {
    await cluster.start();
    const leader = await cluster.waitForStableLeader();
    // Warm up: connections, JIT, the file's first segments.
    await cluster.request(leader, { op: 'bench', kind: 'throughput', count: 20_000, size: 16, window: 1000 });
    await cluster.request(leader, { op: 'bench', kind: 'latency', count: 200, size: 16, window: 1 });
    const throughput = await cluster.request<Throughput>(leader, {
      op: 'bench',
      kind: 'throughput',
      count: sizes.throughputCount,
      size: 16,
      window: sizes.window,
    });
    const latency = await cluster.request<Latency>(leader, {
      op: 'bench',
      kind: 'latency',
      count: sizes.latencyCount,
      size: 16,
      window: 1,
    });
    const stats = await cluster.request<{ maxRssBytes: number }>(leader, { op: 'stats' });
    return { throughput, latency, leaderMaxRssMiB: stats.maxRssBytes / (1 << 20) };
  } finally {
    await cluster.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the TCP benchmarks; returns the lines to print. */
export async function benchTcp(options: { quick?: boolean } = {}): Promise<string[]> {
  const quick = options.quick ?? false;
  const lines: string[] = [];
  for (const storage of ['memory', 'file'] as const) {
    const sizes = {
      throughputCount: quick ? 50_000 : storage === 'memory' ? 500_000 : 200_000,
      window: 10_000,
      latencyCount: quick ? 500 : 3000,
    };
    const name = storage === 'memory' ? 'MemoryStorage' : 'FileStorage';
    const { throughput, latency, leaderMaxRssMiB } = await runOne(storage, sizes);
    lines.push(
      `tcp throughput (3 processes, loopback, ${name}, ${sizes.throughputCount.toLocaleString('en-US')} x 16-byte proposals, ` +
        `${sizes.window.toLocaleString('en-US')} in flight): ${Math.round(throughput.rate).toLocaleString('en-US')} entries/s ` +
        `(${throughput.seconds.toFixed(2)} s; leader peak RSS ${leaderMaxRssMiB.toFixed(0)} MiB)`,
    );
    lines.push(
      `tcp latency (3 processes, loopback, ${name}, ${sizes.latencyCount.toLocaleString('en-US')} sequential 16-byte proposals): ` +
        `p50 ${latency.p50.toFixed(3)} ms, p99 ${latency.p99.toFixed(3)} ms, max ${latency.max.toFixed(1)} ms`,
    );
  }
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseCommandLine({
    usage: 'npx tsx bench/tcp.ts [options]',
    summary: 'TCP throughput and latency: 3 node processes on loopback, with MemoryStorage and with FileStorage.',
    options: { quick: { type: 'boolean', description: 'smaller runs, for a quick look' } },
  });
  benchTcp({ quick: values.quick }).then(
    (lines) => {
      for (const line of lines) console.log(line);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
