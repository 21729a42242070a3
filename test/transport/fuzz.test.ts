/**
 * A short run of the TCP fuzzer (scripts/fuzz-tcp.ts runs a million frames):
 * random and mutated frames through raw sockets to the leader of a live
 * 3-process cluster, which must account for every frame, throw nothing but
 * DecodeErrors (caught, each closing its connection), stay up, and keep
 * committing writes meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { createRandom } from '../../src/core/random.js';
import type { TcpTransportStats } from '../../src/tcp.js';
import { ProcessCluster } from '../../examples/process-cluster.js';
import { WriteLoad } from '../../examples/write-load.js';
import { TcpFuzzer } from './tcp-fuzzer.js';

const FRAMES = 20_000;

describe('TcpTransport under fuzzing', () => {
  it(
    `accounts for ${FRAMES.toLocaleString('en-US')} random and mutated frames from raw sockets while its cluster keeps committing`,
    { timeout: 120_000 },
    async () => {
      const cluster = new ProcessCluster({
        storage: 'memory',
        clusterId: 'fuzz',
        extraPeers: { fuzzer: '127.0.0.1:1' },
      });
      try {
        await cluster.start();
        const target = await cluster.waitForStableLeader(30_000);
        const stats = async () =>
          (await cluster.request<{ transport: TcpTransportStats }>(target, { op: 'stats' })).transport;
        const before = await stats();
        const load = new WriteLoad(cluster, 4);
        load.start();
        const port = Number(cluster.peerAddresses[target]!.split(':')[1]);
        const fuzzer = new TcpFuzzer(
          { port, clusterId: 'fuzz', nodeId: target, fuzzerId: 'fuzzer', maxFrameBytes: 16 << 20 },
          createRandom(20_241),
        );
        const fuzzStarted = performance.now();
        const counts = await fuzzer.fuzz(FRAMES, 8);
        const fuzzEnded = performance.now();
        const after = await stats();
        await load.stop();

        expect(cluster.isRunning(target)).toBe(true);
        expect(counts.anomalies, counts.anomalyExamples.join('\n')).toBe(0);
        expect(counts.frames).toBeGreaterThanOrEqual(FRAMES);
        // Every frame was read and judged: decodable ones rejected (they do
        // not speak for the fuzzer's own id), the others refused.
        expect(after.internalErrors).toBe(0);
        expect(after.decodeErrors - before.decodeErrors).toBe(counts.undecodable);
        expect(after.messagesRejected - before.messagesRejected).toBe(counts.decodable);
        expect(after.framingErrors - before.framingErrors).toBe(counts.framingAttacks);
        expect(after.handshakesRefused - before.handshakesRefused).toBe(counts.handshakeAttacks);
        expect(counts.undecodable).toBeGreaterThan(200);
        expect(counts.handshakeAttacks).toBeGreaterThan(5);
        expect(counts.framingAttacks).toBeGreaterThan(5);
        // The cluster went on committing during the fuzz, in both halves of it
        // (how many writes fit is the machine's business), and lost nothing.
        const middle = (fuzzStarted + fuzzEnded) / 2;
        expect(
          load.acks.some((a) => a.at > fuzzStarted && a.at < middle),
          'writes in the first half of the fuzz',
        ).toBe(true);
        expect(
          load.acks.some((a) => a.at > middle && a.at < fuzzEnded),
          'writes in the second half of the fuzz',
        ).toBe(true);
        const result = await load.verify(cluster.ids);
        expect(result.lost).toBe(0);
        expect(result.identical).toBe(true);
      } finally {
        await cluster.stop();
      }
    },
  );
});
