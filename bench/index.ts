import { parseCommandLine } from '../examples/cli.js';
import { percentile } from './load.js';
import { benchFailover, benchThroughput } from './memory-cluster.js';
import { benchDurable } from './durable.js';
import { benchMemoryStorage } from './memory-storage.js';
import { benchSnapshots } from './snapshots.js';
import { benchTcp } from './tcp.js';

const { values } = parseCommandLine({
  usage: 'npm run bench -- [options]',
  summary: 'Prints the benchmarks: fail-over, throughput and latency over MemoryNetwork, FileStorage and TCP.',
  options: {
    quick: { type: 'boolean', description: 'fewer trials and smaller runs, for a quick look' },
    snapshots: {
      type: 'boolean',
      description:
        'only the snapshot benchmarks (memory, restart, disk use and catch-up after 1,000,000 proposals, throughput with snapshots on and off; several minutes, each scenario in a process of its own)',
    },
  },
});

/**
 * `npm run bench`: prints the numbers the issues ask for. Not a test: it
 * asserts nothing, it measures.
 */
async function main(): Promise<void> {
  const quick = values.quick;
  const trials = quick ? 5 : 40;
  const count = quick ? 10_000 : 100_000;

  console.log(`bellwether benchmarks — node ${process.version}, ${process.platform}/${process.arch}`);
  if (values.snapshots) {
    await benchSnapshots({ quick }, (line) => console.log(line));
    return;
  }

  const failovers = (await benchFailover(trials)).sort((a, b) => a - b);
  console.log(
    `fail-over (3 nodes, MemoryNetwork, election 150-300 ms, heartbeat 50 ms, ${trials} trials): ` +
      `median ${percentile(failovers, 50).toFixed(1)} ms, p95 ${percentile(failovers, 95).toFixed(1)} ms, ` +
      `max ${failovers[failovers.length - 1].toFixed(1)} ms`,
  );

  const tp = await benchThroughput(count, 16, 10_000);
  console.log(
    `throughput (3 nodes, MemoryNetwork, MemoryStorage, ${count} x 16-byte proposals, 10000 in flight): ` +
      `${Math.round(tp.rate).toLocaleString('en-US')} entries/s (${tp.seconds.toFixed(2)} s)`,
  );
  console.log(await benchMemoryStorage(count));
  for (const line of await benchDurable({ quick })) console.log(line);
  for (const line of await benchTcp({ quick })) console.log(line);
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
