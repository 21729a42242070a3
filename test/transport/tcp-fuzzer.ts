/**
 * Feeds random and mutated frames through raw sockets to a live
 * TcpTransport, and keeps exact counts of what it sent so they can be
 * checked against the transport's own counters: every frame must be
 * accounted for (delivered, rejected as misaddressed, or refused as
 * undecodable), which shows the transport read and judged each one.
 *
 * The frames come from the codec's fuzz stream (test/codec/arbitrary.ts:
 * valid messages of every type from the fast-check arbitraries, and frames
 * mutated from them by truncation, bit flips, inserted and deleted bytes,
 * hostile varints, wrong type tags and versions, random bytes, crossovers). Because an undecodable
 * frame ends its connection, the fuzzer sends them in sessions: a Hello,
 * then a run of frames that decode, then one that does not; plus sessions
 * that attack the framing (huge, zero or cut-off lengths) and the handshake
 * itself (garbage, mutated Hellos, another cluster).
 *
 * Not a test file: test/transport/fuzz.test.ts runs a short fuzz, and
 * scripts/fuzz-tcp.ts a long one against a cluster of node processes.
 */
import net from 'node:net';
import { decodeMessage, encodeMessage, CODEC_VERSION } from '../../src/codec/codec.js';
import { randomInt } from '../../src/core/random.js';
import { FRAME_HEADER_BYTES, frameOf } from '../../src/transport/tcp/framing.js';
import { CONTROL_LANE, BULK_LANE, encodeHello } from '../../src/transport/tcp/handshake.js';
import { FuzzFrames, MUTATIONS, type Mutation } from '../codec/arbitrary.js';

export interface FuzzTarget {
  readonly port: number;
  readonly clusterId: string;
  /** The id of the node behind `port`. */
  readonly nodeId: string;
  /** An id the node accepts connections from but that is not a voter: the fuzzer's. */
  readonly fuzzerId: string;
  /** The node's maxFrameBytes. */
  readonly maxFrameBytes: number;
}

export interface FuzzCounts {
  /** Frames written (every one of them fully, before the connection's end). */
  frames: number;
  /** Frames sent after a successful handshake that decode: the node must reject them as misaddressed. */
  decodable: number;
  /** Frames sent after a successful handshake that do not decode: each must close its connection. */
  undecodable: number;
  /** Sessions that broke the framing after the handshake (length 0, over maxFrameBytes, cut mid-frame). */
  framingAttacks: number;
  /** Sessions whose handshake was bad (garbage, mutated, another cluster, oversized, cut off). */
  handshakeAttacks: number;
  sessions: number;
  /** Sessions the node failed to close when it should have, or that misbehaved otherwise. */
  anomalies: number;
  anomalyExamples: string[];
  byMutation: Record<Mutation, number>;
}

type Random = () => number;

/** The codec fuzz's frame stream (FuzzFrames), each frame tagged with whether it decodes. */
class FrameSource {
  readonly frames: FuzzFrames;

  constructor(seed: number) {
    this.frames = new FuzzFrames(seed);
  }

  next(): { frame: Uint8Array; mutation: Mutation; decodes: boolean } {
    const { frame, mutation } = this.frames.next();
    let decodes = true;
    try {
      decodeMessage(frame);
    } catch {
      decodes = false;
    }
    return { frame, mutation, decodes };
  }
}

function header(length: number): Uint8Array {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h.writeUInt32BE(length >>> 0, 0);
  return h;
}

/** A session's bytes, what they should make the node do, and what they count for. */
interface Session {
  readonly bytes: Uint8Array[];
  /** The node must close the connection (we still end our side, so it always ends). */
  readonly expectClose: boolean;
  readonly frames: number;
  readonly kind: string;
}

export class TcpFuzzer {
  readonly counts: FuzzCounts = {
    frames: 0,
    decodable: 0,
    undecodable: 0,
    framingAttacks: 0,
    handshakeAttacks: 0,
    sessions: 0,
    anomalies: 0,
    anomalyExamples: [],
    byMutation: Object.fromEntries(MUTATIONS.map((m) => [m, 0])) as Record<Mutation, number>,
  };
  private readonly source: FrameSource;
  /** Undecodable frames waiting to end a session. */
  private readonly bad: { frame: Uint8Array; mutation: Mutation }[] = [];

  constructor(
    private readonly target: FuzzTarget,
    private readonly random: Random,
    /** Longest run of decodable frames in one session (the mean is about half). */
    private readonly maxStreamFrames = 64,
  ) {
    // The frames come from their own seeded stream, seeded from `random`.
    this.source = new FrameSource(randomInt(random, 0, 2 ** 31));
  }

  private hello(lane = this.random() < 0.5 ? CONTROL_LANE : BULK_LANE, clusterId = this.target.clusterId): Uint8Array {
    return frameOf(
      encodeHello({ codecVersion: CODEC_VERSION, lane, clusterId, from: this.target.fuzzerId, to: this.target.nodeId }),
    );
  }

  /** Makes the next session, counting its frames. */
  private session(): Session {
    const random = this.random;
    const roll = random();
    if (roll < 0.03) return this.handshakeAttack();
    if (roll < 0.06) return this.framingAttack();
    // A stream: decodable frames, then (mostly) one that is not.
    const length = 1 + randomInt(random, 0, this.maxStreamFrames);
    const bytes: Uint8Array[] = [this.hello()];
    let frames = 0;
    while (frames < length) {
      const next = this.source.next();
      if (!next.decodes) {
        // Kept for later: an undecodable frame can only end a session.
        if (this.bad.length < 1000) this.bad.push(next);
        continue;
      }
      bytes.push(frameOf(next.frame));
      this.counts.byMutation[next.mutation]++;
      frames++;
      this.counts.decodable++;
    }
    const endsBadly = random() < 0.85;
    while (endsBadly && this.bad.length === 0) {
      const next = this.source.next();
      if (!next.decodes) this.bad.push(next);
    }
    if (endsBadly) {
      const last = this.bad.pop()!;
      bytes.push(frameOf(last.frame));
      this.counts.byMutation[last.mutation]++;
      frames++;
      // A frame truncated to nothing is a zero-length frame: bad framing,
      // refused before any decoding.
      if (last.frame.length === 0) this.counts.framingAttacks++;
      else this.counts.undecodable++;
    }
    return { bytes, expectClose: endsBadly, frames, kind: endsBadly ? 'stream+bad' : 'stream' };
  }

  private framingAttack(): Session {
    const random = this.random;
    this.counts.framingAttacks++;
    const max = this.target.maxFrameBytes;
    const hello = this.hello();
    const variant = randomInt(random, 0, 4);
    const frame = encodeMessage(this.source.frames.message());
    switch (variant) {
      case 0: // a length far beyond any limit
        return { bytes: [hello, header(0xffffffff), frame], expectClose: true, frames: 1, kind: 'huge length' };
      case 1: // just over the limit
        return {
          bytes: [hello, header(max + 1 + randomInt(random, 0, 1000))],
          expectClose: true,
          frames: 1,
          kind: 'over limit',
        };
      case 2: // zero
        return { bytes: [hello, header(0)], expectClose: true, frames: 1, kind: 'zero length' };
      default: // cut off: the header promises more than ever comes
        return {
          bytes: [hello, header(frame.length + 1 + randomInt(random, 0, 100)), frame],
          expectClose: true,
          frames: 1,
          kind: 'truncated',
        };
    }
  }

  private handshakeAttack(): Session {
    const random = this.random;
    this.counts.handshakeAttacks++;
    const variant = randomInt(random, 0, 6);
    switch (variant) {
      case 0: {
        const garbage = Uint8Array.from({ length: randomInt(random, 1, 64) }, () => randomInt(random, 0, 256));
        return { bytes: [garbage], expectClose: true, frames: 1, kind: 'garbage' };
      }
      case 1: {
        const hello = this.hello().slice();
        // Any bit but the lane's: flipping it may turn one valid lane into
        // the other, and this attack must always be refused.
        const lane = FRAME_HEADER_BYTES + 6;
        let at = randomInt(random, 0, hello.length - 1);
        if (at >= lane) at++;
        hello[at]! ^= 1 << randomInt(random, 0, 8);
        return { bytes: [hello], expectClose: true, frames: 1, kind: 'mutated hello' };
      }
      case 2:
        return {
          bytes: [this.hello(CONTROL_LANE, `${this.target.clusterId}-other`)],
          expectClose: true,
          frames: 1,
          kind: 'wrong cluster',
        };
      case 3:
        return { bytes: [header(1 << 20)], expectClose: true, frames: 1, kind: 'oversized hello' };
      case 4: {
        const hello = this.hello();
        return {
          bytes: [hello.subarray(0, randomInt(random, 1, hello.length))],
          expectClose: true,
          frames: 1,
          kind: 'cut-off hello',
        };
      }
      default:
        // A Raft message where the Hello should be.
        return {
          bytes: [frameOf(encodeMessage(this.source.frames.message()))],
          expectClose: true,
          frames: 1,
          kind: 'message first',
        };
    }
  }

  /** Runs one session on a fresh connection; resolves when the connection is closed. */
  private run(session: Session): Promise<void> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: this.target.port });
      let settled = false;
      const timer = setTimeout(() => {
        this.anomaly(`${session.kind}: the node did not close the connection within 10 s`);
        socket.destroy();
      }, 10_000);
      const done = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve();
      };
      socket.on('error', (error: NodeJS.ErrnoException) => {
        // A reset after the node closed on us is normal (it may close before reading all we sent).
        if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') this.anomaly(`${session.kind}: ${error.message}`);
      });
      socket.on('close', done);
      socket.on('data', () => undefined);
      socket.once('connect', () => {
        socket.cork();
        for (const chunk of session.bytes) socket.write(chunk);
        socket.uncork();
        // Ending our side lets the node see a cut-off frame as such.
        socket.end();
      });
    });
  }

  private anomaly(text: string): void {
    this.counts.anomalies++;
    if (this.counts.anomalyExamples.length < 10) this.counts.anomalyExamples.push(text);
  }

  /**
   * Sends sessions until at least `frames` frames went out, `concurrency`
   * connections at a time. `onProgress` is called about every `every` frames.
   */
  async fuzz(
    frames: number,
    concurrency = 16,
    onProgress?: (counts: FuzzCounts) => void | Promise<void>,
    every = 50_000,
  ): Promise<FuzzCounts> {
    let nextReport = every;
    const worker = async (): Promise<void> => {
      while (this.counts.frames < frames) {
        const session = this.session();
        this.counts.frames += session.frames;
        this.counts.sessions++;
        await this.run(session);
        if (onProgress !== undefined && this.counts.frames >= nextReport) {
          nextReport += every;
          await onProgress(this.counts);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return this.counts;
  }
}
