/**
 * Fuzzes a live TcpTransport at scale:
 *
 *   npx tsx scripts/fuzz-tcp.ts [--frames 1000000] [--seed 1] [--concurrency 16] [--stream 16]
 *
 * Starts a 3-process cluster on loopback (examples/node-process.ts), keeps
 * a steady trickle of writes going through its leader, and feeds the
 * leader's port, through raw sockets, at least `--frames` random and
 * mutated frames (see test/transport/tcp-fuzzer.ts: codec fuzz frames in
 * sessions of decodable frames ending in an undecodable one, plus attacks on
 * the framing and on the handshake). Then checks, and prints:
 *
 * - the node is still running (no crash) and caught no exception other than
 *   DecodeError (its internalErrors counter is 0);
 * - every frame is accounted for in the node's counters (each decodable one
 *   rejected as misaddressed, each undecodable one a DecodeError that closed
 *   its connection, each framing or handshake attack refused);
 * - the node's peak RSS, and its RSS before and after;
 * - the cluster kept committing during the fuzz (writes per interval, the
 *   longest gap between two acknowledged writes), and no acknowledged write
 *   was lost.
 *
 * Exits 0 when every check passes, 1 otherwise.
 */
import { parseCommandLine } from '../examples/cli.js';
import { createRandom } from '../src/core/random.js';
import type { TcpTransportStats } from '../src/tcp.js';
import { ProcessCluster } from '../examples/process-cluster.js';
import { WriteLoad } from '../examples/write-load.js';
import { TcpFuzzer } from '../test/transport/tcp-fuzzer.js';

const { values } = parseCommandLine({
  usage: 'npm run fuzz:tcp -- [options]',
  summary:
    'Feeds random and mutated frames through raw sockets to the leader of a 3-process cluster on loopback, ' +
    'and checks that it accounts for every frame, stays up and keeps committing. Exits 1 if a check fails.',
  options: {
    frames: { type: 'integer', default: 1_000_000, min: 1, description: 'frames to send, at least' },
    seed: { type: 'integer', default: 1, description: 'seed of the fuzz; the same seed sends the same frames' },
    concurrency: { type: 'integer', default: 16, min: 1, description: 'connections open at a time' },
    stream: { type: 'integer', default: 16, min: 1, description: 'longest run of decodable frames in one connection' },
  },
});
const { frames, seed, concurrency, stream } = values;

const mib = (bytes: number) => `${(bytes / (1 << 20)).toFixed(1)} MiB`;
const n = (value: number) => value.toLocaleString('en-US');

interface NodeStats {
  readonly transport: TcpTransportStats;
  readonly rss: number;
  readonly heapUsed: number;
  readonly maxRssBytes: number;
}

async function main(): Promise<number> {
  const cluster = new ProcessCluster({ storage: 'memory', clusterId: 'fuzz', extraPeers: { fuzzer: '127.0.0.1:1' } });
  try {
    await cluster.start();
    const target = await cluster.waitForStableLeader();
    const port = Number(cluster.peerAddresses[target]!.split(':')[1]);
    const stats = () => cluster.request<NodeStats>(target, { op: 'stats' });
    console.log(
      `fuzzing node ${target} (the leader) at 127.0.0.1:${port}: ${n(frames)} frames, seed ${seed}, ${concurrency} connections at a time`,
    );

    const load = new WriteLoad(cluster, 2, 5);
    load.start();
    await new Promise((r) => setTimeout(r, 500));
    const before = await stats();
    console.log(
      `  before: RSS ${mib(before.rss)}, heap ${mib(before.heapUsed)}, ${n(load.acknowledged)} writes acknowledged`,
    );

    let peakRss = before.rss;
    const started = performance.now();
    let ackedAtLastReport = load.acknowledged;
    let lastReport = started;
    const fuzzer = new TcpFuzzer(
      { port, clusterId: 'fuzz', nodeId: target, fuzzerId: 'fuzzer', maxFrameBytes: 16 << 20 },
      createRandom(seed),
      stream,
    );
    const counts = await fuzzer.fuzz(
      frames,
      concurrency,
      async (c) => {
        const s = await stats();
        peakRss = Math.max(peakRss, s.rss);
        const now = performance.now();
        const writesPerSecond = ((load.acknowledged - ackedAtLastReport) * 1000) / (now - lastReport);
        ackedAtLastReport = load.acknowledged;
        lastReport = now;
        console.log(
          `  … ${n(c.frames)} frames, ${n(c.sessions)} connections, ${n(Math.round((c.frames * 1000) / (now - started)))} frames/s; ` +
            `node RSS ${mib(s.rss)}, heap ${mib(s.heapUsed)}; cluster committing ${n(Math.round(writesPerSecond))} writes/s`,
        );
      },
      100_000,
    );
    const finished = performance.now();
    const seconds = (finished - started) / 1000;
    // The longest stretch of the fuzz without an acknowledged write.
    const times = [started, ...load.acks.map((a) => a.at).filter((t) => t > started && t < finished), finished];
    let longestGap = 0;
    for (let i = 1; i < times.length; i++) longestGap = Math.max(longestGap, times[i]! - times[i - 1]!);
    const alive = cluster.isRunning(target);
    const after = alive ? await stats() : null;
    await load.stop();
    const verification = alive ? await load.verify(cluster.ids) : null;

    const d = (key: keyof TcpTransportStats) => (after === null ? NaN : after.transport[key] - before.transport[key]);
    const checks: [string, boolean][] = [
      ['the node is still running', alive],
      ['no exception other than DecodeError (internalErrors = 0)', after?.transport.internalErrors === 0],
      ['no anomaly seen by the fuzzer (every connection closed when it should)', counts.anomalies === 0],
      [
        `every undecodable frame was a DecodeError (${n(counts.undecodable)} = ${n(d('decodeErrors'))})`,
        d('decodeErrors') === counts.undecodable,
      ],
      [
        `every decodable frame was rejected as misaddressed (${n(counts.decodable)} = ${n(d('messagesRejected'))})`,
        d('messagesRejected') === counts.decodable,
      ],
      [
        `every framing attack closed its connection (${n(counts.framingAttacks)} = ${n(d('framingErrors'))})`,
        d('framingErrors') === counts.framingAttacks,
      ],
      [
        `every bad handshake was refused (${n(counts.handshakeAttacks)} = ${n(d('handshakesRefused'))})`,
        d('handshakesRefused') === counts.handshakeAttacks,
      ],
      [
        `the cluster kept committing (longest gap between acknowledged writes ${Math.round(longestGap)} ms)`,
        longestGap < 2000,
      ],
      ['no acknowledged write lost', verification?.lost === 0 && verification.identical],
    ];

    console.log('');
    console.log(
      `Sent ${n(counts.frames)} frames in ${n(counts.sessions)} connections in ${seconds.toFixed(1)} s (${n(Math.round(counts.frames / seconds))} frames/s):`,
    );
    console.log(
      `  ${n(counts.decodable)} decodable (random or mutated, all misaddressed), ${n(counts.undecodable)} undecodable,`,
    );
    console.log(
      `  ${n(counts.framingAttacks)} framing attacks (length 0, over maxFrameBytes, cut off), ${n(counts.handshakeAttacks)} bad handshakes`,
    );
    console.log(
      `  by mutation: ${Object.entries(counts.byMutation)
        .map(([m, c]) => `${m} ${n(c)}`)
        .join(', ')}`,
    );
    if (after !== null) {
      console.log(
        `Node ${target}: RSS ${mib(before.rss)} before, ${mib(after.rss)} after (heap ${mib(after.heapUsed)}), peak sampled ${mib(Math.max(peakRss, after.rss))}, ` +
          `process peak (maxRSS) ${mib(after.maxRssBytes)}; ${n(d('framesReceived'))} frames read; ` +
          `${n(d('inboundAccepted'))} connections accepted`,
      );
    }
    console.log(
      `Cluster: ${n(load.acknowledged)} writes acknowledged in all, ${load.unknown} of unknown outcome, ${verification?.lost ?? '?'} lost`,
    );
    console.log('');
    for (const [what, ok] of checks) console.log(`  ${ok ? 'ok  ' : 'FAIL'}  ${what}`);
    if (counts.anomalyExamples.length > 0) console.log(`  anomalies: ${counts.anomalyExamples.join('; ')}`);
    return checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    await cluster.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
