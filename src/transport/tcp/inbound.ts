/**
 * One inbound connection: a peer's messages to this node on one lane.
 *
 * Nothing from it reaches the node before the peer has shown, in its Hello,
 * the right cluster id, a known node id and a compatible codec version (and,
 * with TLS, a certificate from the cluster's CA). Until then frames are
 * capped at MAX_HANDSHAKE_FRAME_BYTES and the peer has handshakeTimeoutMs to
 * finish. Afterwards every frame must decode and carry the peer's own id as
 * `from` and this node's as `to`; a frame that does not decode, or bad
 * framing, closes the connection. Nothing a peer sends can throw out of here.
 */
import type net from 'node:net';
import { CODEC_VERSION, decodeMessage } from '../../codec/codec.js';
import { DecodeError } from '../../errors.js';
import type { RaftMessage } from '../../messages.js';
import { remoteOf } from './address.js';
import type { TcpContext } from './context.js';
import { FrameDecoder, frameOf } from './framing.js';
import { KEEPALIVE_MS } from './outbound.js';
import {
  decodeHello,
  encodeAccept,
  encodeRefuse,
  type Lane,
  MAX_HANDSHAKE_FRAME_BYTES,
  refusalReason,
} from './handshake.js';

/** What an inbound connection tells the transport that owns it. */
export interface InboundOwner {
  isKnownPeer(id: string): boolean;
  /** The peer passed the handshake (so it is up: outbound backoff to it can end). */
  authenticated(connection: InboundConnection): void;
  closed(connection: InboundConnection): void;
}

/** How long a refused peer gets to read the refusal before the socket is destroyed. */
const REFUSAL_LINGER_MS = 1000;

export class InboundConnection {
  private peer: string | null = null;
  private lane: Lane | null = null;
  private readonly decoder = new FrameDecoder(MAX_HANDSHAKE_FRAME_BYTES);
  private timer: NodeJS.Timeout | null;
  private finished = false;
  private readonly remote: string;

  constructor(
    private readonly ctx: TcpContext,
    private readonly socket: net.Socket,
    private readonly owner: InboundOwner,
  ) {
    this.remote = remoteOf(socket);
    ctx.stats.openInbound++;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (error) => {
      this.ctx.log(
        'debug',
        'inbound-error',
        { remote: this.remote, peer: this.peer, err: error.message },
        'inbound connection error',
      );
    });
    socket.on('close', () => this.onClose());
    socket.on('timeout', () => this.onIdle());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.ctx.stats.timeouts++;
      this.refuse(`no handshake within ${ctx.options.handshakeTimeoutMs} ms`);
    }, ctx.options.handshakeTimeoutMs);
  }

  /** The authenticated peer id, or null before the handshake. */
  get peerId(): string | null {
    return this.peer;
  }

  /** Closes the connection at once (the transport is stopping). */
  destroy(): void {
    this.finish();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    try {
      const problem = this.decoder.push(chunk, this.onFrame);
      if (problem === null) return;
      if (this.peer === null) {
        this.refuse(`not a bellwether handshake: ${problem}`);
      } else {
        this.ctx.stats.framingErrors++;
        this.fail('bad framing', problem);
      }
    } catch (error) {
      // Unreachable unless there is a bug here; still, a peer's bytes must
      // never take the process down.
      this.ctx.stats.internalErrors++;
      this.ctx.log(
        'error',
        'internal',
        { remote: this.remote, peer: this.peer, err: error },
        'unexpected error on inbound connection',
      );
      this.destroy();
    }
  }

  private readonly onFrame = (frame: Uint8Array): boolean =>
    this.peer === null ? this.onHello(frame) : this.onMessage(frame);

  private onHello(frame: Uint8Array): boolean {
    const { options, stats } = this.ctx;
    const hello = decodeHello(frame);
    if (hello.kind === 'malformed') return this.refuse(`not a bellwether handshake: ${hello.reason}`);
    const reason = refusalReason(hello, {
      clusterId: options.clusterId,
      id: options.id,
      codecVersion: CODEC_VERSION,
      isKnownPeer: (id) => this.owner.isKnownPeer(id),
    });
    if (reason !== null) return this.refuse(reason, hello.from);
    this.clearTimer();
    this.peer = hello.from;
    this.lane = hello.lane;
    this.decoder.maxFrameBytes = options.maxFrameBytes;
    this.socket.write(
      frameOf(encodeAccept({ codecVersion: CODEC_VERSION, clusterId: options.clusterId, id: options.id })),
    );
    this.socket.setTimeout(options.idleTimeoutMs);
    stats.inboundAccepted++;
    this.ctx.log(
      'info',
      'accepted',
      { peer: this.peer, lane: this.lane, remote: this.remote },
      'accepted connection from peer',
    );
    this.owner.authenticated(this);
    return true;
  }

  private onMessage(frame: Uint8Array): boolean {
    const { stats, options } = this.ctx;
    stats.framesReceived++;
    let message: RaftMessage;
    try {
      message = decodeMessage(frame);
    } catch (error) {
      if (DecodeError.isInstance(error)) {
        stats.decodeErrors++;
        this.fail('undecodable message', error.reason);
      } else {
        stats.internalErrors++;
        this.ctx.log(
          'error',
          'internal',
          { peer: this.peer, err: error },
          'decodeMessage threw something other than DecodeError',
        );
        this.destroy();
      }
      return false;
    }
    // Only the authenticated peer may speak for itself, and only to us.
    if (message.from !== this.peer || message.to !== options.id) {
      stats.messagesRejected++;
      this.ctx.log(
        'debug',
        'misaddressed',
        { peer: this.peer, from: message.from, to: message.to, type: message.type },
        'dropping a message whose from/to do not match the connection',
      );
      return true;
    }
    this.ctx.deliver(message);
    return true;
  }

  /** Refuses the handshake: tells the peer why (so its operator can fix it), logs it, closes. */
  private refuse(reason: string, claimedId?: string): boolean {
    if (this.finished) return false;
    this.ctx.refused(this.remote, reason, claimedId);
    this.finish();
    this.socket.end(frameOf(encodeRefuse(reason)));
    // A peer that never reads or closes must not hold the socket open.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.socket.destroy();
    }, REFUSAL_LINGER_MS);
    return false;
  }

  private fail(what: string, reason: string): void {
    this.ctx.log(
      'warn',
      'inbound-bad',
      { peer: this.peer, remote: this.remote, reason },
      `closing connection: ${what}`,
    );
    this.destroy();
  }

  private onEnd(): void {
    if (!this.finished && this.decoder.midFrame) {
      if (this.peer === null) {
        this.refuse('connection ended in the middle of the handshake');
      } else {
        this.ctx.stats.framingErrors++;
        this.fail('bad framing', 'connection ended in the middle of a frame');
      }
    }
  }

  private onIdle(): void {
    if (this.finished) return;
    this.ctx.stats.timeouts++;
    this.ctx.log('info', 'idle', { peer: this.peer, remote: this.remote }, 'closing idle inbound connection');
    this.destroy();
  }

  private onClose(): void {
    this.finish();
    this.clearTimer();
    this.ctx.stats.openInbound--;
    this.owner.closed(this);
  }

  /** From now on, ignore everything the peer sends. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.decoder.stop();
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
