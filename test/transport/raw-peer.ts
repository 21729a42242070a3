/**
 * A hand-driven client for a TcpTransport's port: it writes whatever bytes a
 * test wants (good handshakes, garbage, half frames) and reads the framed
 * replies, so tests can play a misbehaving or hostile peer.
 */
import net from 'node:net';
import tls from 'node:tls';
import { CODEC_VERSION } from '../../src/codec/codec.js';
import { FrameDecoder, frameOf } from '../../src/transport/tcp/framing.js';
import { type Lane, CONTROL_LANE, decodeReply, encodeHello, type Reply } from '../../src/transport/tcp/handshake.js';
import { PATIENCE } from '../helpers/wait.js';

export class RawPeer {
  private readonly frames: Uint8Array[] = [];
  private readonly waiters: (() => void)[] = [];
  private readonly decoder = new FrameDecoder(64 << 20);
  /** Resolves when the other side has closed the connection (or it failed). */
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk, (frame) => {
        this.frames.push(Uint8Array.from(frame));
        return true;
      });
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static connect(port: number, tlsOptions?: tls.ConnectionOptions): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket =
        tlsOptions === undefined
          ? net.connect({ host: '127.0.0.1', port }, () => resolve(new RawPeer(socket)))
          : tls.connect({ host: '127.0.0.1', port, ...tlsOptions }, () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  sendFrame(payload: Uint8Array): void {
    this.socket.write(frameOf(payload));
  }

  sendHello(hello: {
    clusterId: string;
    from: string;
    to: string;
    lane?: Lane;
    codecVersion?: number;
    handshakeVersion?: number;
  }): void {
    this.sendFrame(
      encodeHello({
        codecVersion: hello.codecVersion ?? CODEC_VERSION,
        lane: hello.lane ?? CONTROL_LANE,
        clusterId: hello.clusterId,
        from: hello.from,
        to: hello.to,
        handshakeVersion: hello.handshakeVersion,
      }),
    );
  }

  /** The next frame from the other side, or null once the connection closed without one. */
  async nextFrame(timeoutMs = PATIENCE.timeout): Promise<Uint8Array | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.isClosed) return null;
      if (Date.now() > deadline) throw new Error('no frame from the transport in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.frames.shift()!;
  }

  /** The handshake answer (accept or refuse), or null if the connection closed without one. */
  async reply(timeoutMs = PATIENCE.timeout): Promise<Reply | null> {
    const frame = await this.nextFrame(timeoutMs);
    if (frame === null) return null;
    const reply = decodeReply(frame);
    if (reply.kind === 'malformed') throw new Error(`malformed reply: ${reply.reason}`);
    return reply;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
