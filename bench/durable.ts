import { open, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, HardState } from '../src/messages.js';
import { RaftNode } from '../src/node.js';
import { FileStorage } from '../src/storage/file.js';
import type { PersistedState, Storage } from '../src/storage/storage.js';
import { MemoryNetwork } from '../src/testing/memory-network.js';
import { percentile, proposePipelined, stableLeader } from './load.js';

/** Passes every call through and counts the saves that carried entries. */
class CountingStorage implements Storage {
  saves = 0;
  entries = 0;

  constructor(private readonly inner: Storage) {}

  open(): Promise<PersistedState> {
    return this.inner.open();
  }

  save(hardState: HardState | null, entries: readonly Entry[]): void | Promise<void> {
    if (entries.length > 0) {
      this.saves++;
      this.entries += entries.length;
    }
    return this.inner.save(hardState, entries);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Times of (write 16 bytes + fdatasync), sorted, in ms: appending to a new
 * file (the naive WAL), or overwriting blocks written beforehand (what a
 * preallocated FileStorage segment does).
 */
async function fsyncTimes(dir: string, count: number, preallocated: boolean): Promise<number[]> {
  const path = join(dir, preallocated ? 'fsync-prealloc.bin' : 'fsync-append.bin');
  const file = await open(path, 'w+');
  const bytes = Buffer.alloc(16, 1);
  if (preallocated) {
    await file.write(Buffer.alloc(count * 16 + 4096), 0, count * 16 + 4096, 0);
    await file.datasync();
  }
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await file.write(bytes, 0, 16, i * 16);
    await file.datasync();
    times.push(performance.now() - start);
  }
  await file.close();
  return times.sort((a, b) => a - b);
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

interface DurableCluster {
  readonly nodes: RaftNode[];
  readonly storages: CountingStorage[];
  leader(): Promise<RaftNode>;
  stop(): Promise<void>;
}

async function startCluster(base: string, label: string): Promise<DurableCluster> {
  const ids = ['a', 'b', 'c'];
  const net = new MemoryNetwork({ seed: 42 });
  const storages = ids.map((id) => new CountingStorage(new FileStorage({ dir: join(base, `${label}-${id}`) })));
  const nodes = ids.map(
    (id, i) =>
      new RaftNode({
        id,
        peers: ids,
        transport: net.transport(id),
        storage: storages[i],
        stateMachine: { apply: () => undefined },
      }),
  );
  await Promise.all(nodes.map((n) => n.start()));
  return {
    nodes,
    storages,
    leader: () => stableLeader(() => nodes),
    stop: () => Promise.all(nodes.map((n) => n.stop())).then(() => undefined),
  };
}

/** Committed entries per second with `window` proposals in flight. */
async function throughput(base: string, count: number, window: number) {
  const cluster = await startCluster(base, `tp${window}`);
  const leader = await cluster.leader();
  const payload = new Uint8Array(16).fill(7);
  const before = cluster.storages.map((s) => ({ saves: s.saves, entries: s.entries }));
  const { seconds } = await proposePipelined((data) => leader.propose(data), payload, count, window);
  const saves = cluster.storages.reduce((sum, s, i) => sum + s.saves - before[i].saves, 0);
  const entries = cluster.storages.reduce((sum, s, i) => sum + s.entries - before[i].entries, 0);
  await cluster.stop();
  return { seconds, rate: count / seconds, entriesPerSync: entries / saves };
}

/** Round-trip time of one proposal at a time, from propose to resolved (committed and applied). */
async function latency(base: string, count: number): Promise<number[]> {
  const cluster = await startCluster(base, 'lat');
  const leader = await cluster.leader();
  const payload = new Uint8Array(16).fill(3);
  for (let i = 0; i < 50; i++) await leader.propose(payload); // warm up
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await leader.propose(payload);
    times.push(performance.now() - start);
  }
  await cluster.stop();
  return times.sort((a, b) => a - b);
}

/**
 * The durable numbers: this machine's fsync cost measured in the same run,
 * throughput of a 3-node cluster in one process with each node on its own
 * FileStorage (16-byte entries, many in flight), and commit latency for one
 * proposal at a time. Returns the lines to print.
 */
export async function benchDurable(options: { quick?: boolean } = {}): Promise<string[]> {
  const quick = options.quick ?? false;
  const base = await mkdtemp(join(tmpdir(), 'bellwether-bench-'));
  const lines: string[] = [];
  try {
    const fsyncs = quick ? 300 : 1000;
    const append = await fsyncTimes(base, fsyncs, false);
    const overwrite = await fsyncTimes(base, fsyncs, true);
    const fsyncMs = percentile(append, 50);
    lines.push(
      `fsync (${fsyncs} x write 16 bytes + fdatasync in ${tmpdir()}): appending p50 ${fsyncMs.toFixed(3)} ms, ` +
        `mean ${mean(append).toFixed(3)} ms (${Math.round(1000 / mean(append)).toLocaleString('en-US')}/s); ` +
        `over preallocated blocks p50 ${percentile(overwrite, 50).toFixed(3)} ms, mean ${mean(overwrite).toFixed(3)} ms ` +
        `(${Math.round(1000 / mean(overwrite)).toLocaleString('en-US')}/s)`,
    );

    const count = quick ? 20_000 : 200_000;
    for (const window of [10_000, 1_000]) {
      const tp = await throughput(base, count, window);
      lines.push(
        `durable throughput (3 nodes in one process, each on its own FileStorage, ${count.toLocaleString('en-US')} x 16-byte proposals, ` +
          `${window.toLocaleString('en-US')} in flight): ${Math.round(tp.rate).toLocaleString('en-US')} entries/s ` +
          `(${tp.seconds.toFixed(2)} s, ${tp.entriesPerSync.toFixed(0)} entries per fdatasync on average)`,
      );
    }

    const samples = quick ? 300 : 2000;
    const times = await latency(base, samples);
    const p50 = percentile(times, 50);
    const p99 = percentile(times, 99);
    lines.push(
      `durable commit latency (3 nodes, FileStorage, one proposal at a time, ${samples} samples): ` +
        `p50 ${p50.toFixed(3)} ms (${(p50 / fsyncMs).toFixed(2)}x the p50 appending fsync), p99 ${p99.toFixed(3)} ms`,
    );
  } finally {
    await rm(base, { recursive: true, force: true });
  }
  return lines;
}
