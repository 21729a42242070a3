/**
 * TcpTransport: carries RaftMessages between processes over TCP, with
 * optional mutual TLS. See ./tcp/ for its parts:
 *
 * - framing.ts   4-byte length prefix, then one encodeMessage frame;
 * - handshake.ts every connection opens with cluster id, node ids and codec
 *                version, and is refused with a reason if any is wrong;
 * - outbound.ts  lazily opened connections per peer and lane, a queue
 *                bounded in bytes, coalesced writes, backoff with jitter;
 * - inbound.ts   authentication, per-frame checks, timeouts.
 *
 * Each node dials its peers and sends on the connections it opened; it
 * receives on the connections its peers opened. Two lanes per peer keep
 * heartbeats and votes off the connection that carries large
 * AppendEntries and snapshot chunks (tcp/lanes.ts; Transport: "Large
 * batches must not delay small messages").
 */
import net from 'node:net';
import tls from 'node:tls';
import { encodeMessage } from '../codec/codec.js';
import type { RaftMessage } from '../messages.js';
import type { MessageHandler, Transport } from './transport.js';
import { remoteOf, type SocketAddress } from './tcp/address.js';
import { BufferPool } from './tcp/buffer-pool.js';
import { emptyStats, type LogLevel, type TcpContext, type TcpTransportStats } from './tcp/context.js';
import { BULK_LANE, CONTROL_LANE } from './tcp/handshake.js';
import { InboundConnection, type InboundOwner } from './tcp/inbound.js';
import { laneOf } from './tcp/lanes.js';
import { LogLimiter } from './tcp/log-limiter.js';
import { type ParsedTcpOptions, parseTcpOptions, type TcpTransportOptions } from './tcp/options.js';
import { OutboundLane } from './tcp/outbound.js';

export type { TcpTlsOptions, TcpTransportOptions } from './tcp/options.js';
export type { TcpTransportStats } from './tcp/context.js';

type Lifecycle = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Why a TLS peer's client certificate was not accepted, in words. */
function clientCertificateProblem(socket: tls.TLSSocket): string {
  const certificate = socket.getPeerCertificate();
  if (certificate === null || Object.keys(certificate).length === 0) return 'the peer presented no client certificate';
  const subject = typeof certificate.subject?.CN === 'string' ? ` (CN=${certificate.subject.CN})` : '';
  return `client certificate${subject} rejected: ${String(socket.authorizationError ?? 'not authorized')}`;
}

export class TcpTransport implements Transport {
  readonly id: string;
  private readonly options: ParsedTcpOptions;
  private readonly counters: TcpTransportStats = emptyStats();
  private readonly ctx: TcpContext;
  private lifecycle: Lifecycle = 'new';
  private handler: MessageHandler | null = null;
  private server: net.Server | null = null;
  private stopping: Promise<void> | null = null;
  /** Per peer, its two outbound lanes, indexed by Lane. */
  private readonly lanes = new Map<string, readonly [OutboundLane, OutboundLane]>();
  private readonly inbound = new Set<InboundConnection>();
  /** Every socket not yet closed, accepted or dialed, so that stop() can close them all and wait. */
  private readonly sockets = new Set<net.Socket>();
  private flushList: { flush(): void }[] = [];
  private flushScheduled = false;
  /** Messages to this node itself, delivered on the next turn (never inside send). */
  private local: RaftMessage[] = [];
  private localScheduled = false;

  /** Validates `options` (throws one ConfigError listing every problem); opens nothing until start(). */
  constructor(options: TcpTransportOptions) {
    this.options = parseTcpOptions(options);
    this.id = this.options.id;
    const limiter = new LogLimiter();
    const logger = this.options.logger;
    const id = this.id;
    this.ctx = {
      options: this.options,
      stats: this.counters,
      pool: new BufferPool(),
      limiter,
      random: Math.random,
      log(level: LogLevel, kind: string, fields: Record<string, unknown>, message: string) {
        const verdict = limiter.allow(kind);
        if (!verdict.log) return;
        const extra = verdict.suppressed > 0 ? { suppressed: verdict.suppressed } : {};
        try {
          logger[level]({ transport: 'tcp', id, ...fields, ...extra }, message);
        } catch {
          // The user's logger failed. Most logging happens in socket and
          // timer callbacks, where a throw would crash the process, and the
          // rest in send, which must never throw: the line is lost, no more.
        }
      },
      refused: (remote, reason, claimedId) => {
        this.counters.handshakesRefused++;
        this.ctx.log('warn', 'refused', { remote, claimedId, reason }, 'refused a connection');
      },
      deliver: (message) => this.deliver(message),
      track: (socket) => this.track(socket),
      scheduleFlush: (lane) => {
        this.flushList.push(lane);
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(this.flushAll);
        }
      },
    };
  }

  /** Listens for peers. Rejects if the address cannot be bound (e.g. EADDRINUSE). */
  async start(onMessage: MessageHandler): Promise<void> {
    if (this.lifecycle !== 'new' && this.lifecycle !== 'stopped') {
      throw new Error(`TcpTransport "${this.id}" is already started`);
    }
    this.lifecycle = 'starting';
    const server = this.createServer();
    this.server = server;
    const { host, port } = this.options.listen;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      this.server = null;
      this.lifecycle = 'stopped';
      const err = error as NodeJS.ErrnoException;
      throw new Error(`TcpTransport "${this.id}" cannot listen on ${host}:${port}: ${err.code ?? err.message}`, {
        cause: error,
      });
    }
    server.on('error', (error) => this.ctx.log('error', 'server-error', { err: error }, 'server error'));
    if (this.lifecycle !== 'starting') {
      // stop() was called while we were binding.
      server.close();
      return;
    }
    for (const [peerId, address] of this.options.peers) {
      this.lanes.set(peerId, [
        new OutboundLane(this.ctx, peerId, address, CONTROL_LANE),
        new OutboundLane(this.ctx, peerId, address, BULK_LANE),
      ]);
    }
    this.handler = onMessage;
    this.lifecycle = 'running';
    this.ctx.log(
      'info',
      'listening',
      { address: this.address(), tls: this.options.tls !== null },
      'transport listening',
    );
  }

  /**
   * Queues `message` for its peer and returns at once; never throws. Drops
   * it (counted in stats().messagesDropped) when the peer is unknown or
   * unreachable, its queue is full, or the message is too large.
   */
  send(message: RaftMessage): void {
    if (this.lifecycle !== 'running') return;
    try {
      const to = message.to;
      if (to === this.id) {
        this.local.push(message);
        if (!this.localScheduled) {
          this.localScheduled = true;
          setImmediate(this.deliverLocal);
        }
        return;
      }
      const lanes = this.lanes.get(to);
      if (lanes === undefined) {
        this.counters.messagesDropped++;
        this.ctx.log('debug', 'unknown-peer', { to }, 'no address for this peer; dropping message');
        return;
      }
      const lane = lanes[laneOf(message)];
      // Messages for a peer that is down are dropped before they are
      // encoded: a leader keeps sending a down follower appends, and
      // encoding them only to drop them is wasted work.
      if (!lane.admit()) return;
      let frame: Uint8Array;
      try {
        frame = encodeMessage(message);
      } catch (error) {
        this.counters.messagesDropped++;
        this.ctx.log(
          'warn',
          'encode',
          { to, type: message.type, err: (error as Error).message },
          'cannot encode message; dropping it',
        );
        return;
      }
      if (frame.length > this.options.maxFrameBytes) {
        // Dropped like any message Raft will resend, so the lane goes on
        // carrying the others. But the resend is as large, so say which
        // setting makes it fit: a too-large chunk is sent again, whole, at
        // every attempt, and the follower never gets the snapshot.
        this.counters.messagesDropped++;
        this.ctx.log(
          'warn',
          'too-large',
          { to, type: message.type, bytes: frame.length, maxFrameBytes: this.options.maxFrameBytes },
          message.type === 'InstallSnapshot'
            ? "snapshot chunk is larger than maxFrameBytes; dropping it (lower the node's snapshots.chunkBytes or raise maxFrameBytes)"
            : 'message is larger than maxFrameBytes; dropping it (lower maxBytesPerAppend or raise maxFrameBytes)',
        );
        return;
      }
      lane.send(frame);
    } catch (error) {
      this.counters.internalErrors++;
      this.ctx.log('error', 'internal', { err: error }, 'unexpected error in send');
    }
  }

  /**
   * Closes the listener and every connection, drops whatever is queued and
   * clears every timer. Once it resolves, the port can be bound again,
   * onMessage is not called again and send is a no-op.
   */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    if (this.lifecycle === 'new' || this.lifecycle === 'stopped') {
      this.lifecycle = 'stopped';
      return Promise.resolve();
    }
    this.lifecycle = 'stopping';
    this.handler = null;
    this.local = [];
    for (const lanes of this.lanes.values()) for (const lane of lanes) lane.close();
    this.lanes.clear();
    for (const connection of this.inbound) connection.destroy();
    const server = this.server;
    this.server = null;
    // Resolve only once every handle is really closed (not merely asked to
    // close), so a caller can rebind the port or exit at once.
    const closing = [...this.sockets].map(
      (socket) =>
        new Promise<void>((resolve) => {
          socket.once('close', () => resolve());
          socket.destroy();
        }),
    );
    closing.push(
      new Promise<void>((resolve) => {
        if (server === null || !server.listening) resolve();
        else server.close(() => resolve());
      }),
    );
    this.stopping = Promise.all(closing).then(() => {
      this.lifecycle = 'stopped';
      this.stopping = null;
      this.inbound.clear();
      this.sockets.clear();
    });
    return this.stopping;
  }

  /** The address the transport listens on (the real port when `listen.port` was 0), or null when not listening. */
  address(): SocketAddress | null {
    const address = this.server?.address();
    return address !== null && typeof address === 'object' ? { host: address.address, port: address.port } : null;
  }

  /** A snapshot of the transport's counters. */
  stats(): TcpTransportStats {
    return { ...this.counters };
  }

  // ------------------------------------------------------------ internals

  private createServer(): net.Server {
    const o = this.options;
    const inboundOwner: InboundOwner = {
      isKnownPeer: (id) => this.lanes.has(id),
      authenticated: (connection) => {
        const peer = connection.peerId;
        if (peer !== null) for (const lane of this.lanes.get(peer) ?? []) lane.peerIsUp();
      },
      closed: (connection) => this.inbound.delete(connection),
    };
    const accept = (socket: net.Socket): void => {
      if (this.lifecycle !== 'running') {
        socket.destroy();
        return;
      }
      if (socket instanceof tls.TLSSocket && !socket.authorized) {
        // Checked here, before a single byte is read, rather than by
        // OpenSSL's rejectUnauthorized, so the log can say what was wrong.
        this.refuseTls(socket, clientCertificateProblem(socket));
        return;
      }
      this.inbound.add(new InboundConnection(this.ctx, socket, inboundOwner));
    };
    let server: net.Server;
    if (o.tls === null) {
      server = net.createServer(accept);
    } else {
      const tlsServer = tls.createServer(
        {
          key: o.tls.key,
          cert: o.tls.cert,
          ca: o.tls.ca,
          // Mutual TLS: every peer must show a certificate. Whether it chains
          // to our CA is checked in accept(), which refuses it before reading.
          requestCert: true,
          rejectUnauthorized: false,
          handshakeTimeout: o.handshakeTimeoutMs,
          minVersion: 'TLSv1.2',
        },
        accept,
      );
      tlsServer.on('tlsClientError', (error: NodeJS.ErrnoException, socket) => {
        const plaintext = error.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || error.code === 'ERR_SSL_HTTP_REQUEST';
        this.refuseTls(socket, plaintext ? 'not TLS (a plaintext peer?)' : (error.code ?? error.message));
      });
      server = tlsServer;
    }
    server.maxConnections = o.maxConnections;
    server.on('connection', (socket: net.Socket) => {
      this.track(socket);
      // Errors on a socket that never got further (reset during the TLS
      // handshake, say) must not become an unhandled 'error' event.
      socket.on('error', () => undefined);
    });
    server.on('drop', (info) => this.ctx.refused(remoteOf(info ?? {}), 'too many connections'));
    return server;
  }

  private refuseTls(socket: net.Socket, problem: string): void {
    this.ctx.refused(remoteOf(socket), `TLS: ${problem}`);
    socket.destroy();
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private deliver(message: RaftMessage): void {
    const handler = this.handler;
    if (handler === null) return;
    this.counters.messagesDelivered++;
    try {
      handler(message);
    } catch (error) {
      this.ctx.log('error', 'handler', { err: error, type: message.type, from: message.from }, 'onMessage threw');
    }
  }

  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    const list = this.flushList;
    this.flushList = [];
    for (const lane of list) lane.flush();
  };

  private readonly deliverLocal = (): void => {
    this.localScheduled = false;
    const batch = this.local;
    this.local = [];
    for (const message of batch) this.deliver(message);
  };
}
