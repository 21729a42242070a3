/**
 * One outbound connection: this node's messages to one peer on one lane.
 *
 * Opened lazily by the first message, handshaken, then fed from a queue
 * bounded in bytes. A broken or refused connection is retried after a
 * capped exponential backoff with jitter; while it waits, messages for the
 * peer are dropped at once (Raft resends them, §5.1: "if a server does not
 * receive a response in a timely manner, it reissues the RPC"), so an
 * unreachable peer never costs memory or blocks `send`.
 */
import net from 'node:net';
import tls from 'node:tls';
import { CODEC_VERSION } from '../../codec/codec.js';
import { formatAddress, type SocketAddress } from './address.js';
import { backoffDelay } from './backoff.js';
import type { Slab } from './buffer-pool.js';
import type { TcpContext } from './context.js';
import { FRAME_HEADER_BYTES, FrameDecoder, frameOf, writeFrameHeader } from './framing.js';
import { acceptMismatch, decodeReply, encodeHello, type Lane, MAX_HANDSHAKE_FRAME_BYTES } from './handshake.js';

type State = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

/**
 * Frames at least this big are written as they are, after a header, rather
 * than copied into a slab: copying a large AppendEntries would cost more
 * than the extra chunk in the gathered write.
 */
const LARGE_FRAME_BYTES = 16 * 1024;

/**
 * Most bytes handed to the socket and not yet taken by the kernel. Beyond
 * it the lane waits for 'drain', and new messages wait in (and, when that is
 * full, are dropped from) the bounded queue, so a peer that does not read
 * holds at most this plus maxQueueBytes of this node's memory.
 */
const SOCKET_BUFFER_BYTES = 1 << 20;

/**
 * How long a connection must have stayed up for its loss to restart the
 * backoff from the shortest delay. One that breaks sooner counts as a failed
 * attempt: otherwise a peer that accepts the handshake and then closes at
 * once (say, at a frame over its maxFrameBytes, which Raft resends) would be
 * redialled every few milliseconds, for ever.
 */
const STABLE_CONNECTION_MS = 1000;

/** Idle time before TCP keepalive probes start. */
export const KEEPALIVE_MS = 10_000;

export class OutboundLane {
  private state: State = 'idle';
  private socket: net.Socket | null = null;
  private decoder: FrameDecoder | null = null;
  /** Encoded messages waiting to be written; `head` is the next to go. */
  private queue: (Uint8Array | undefined)[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** Failed attempts (including connections that broke within STABLE_CONNECTION_MS) since the last stable connection. */
  private attempts = 0;
  /** When the current connection completed its handshake (Date.now()). */
  private openedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  /** A message was dropped during backoff: reconnect when the backoff ends. */
  private wanted = false;
  private waitingDrain = false;
  private flushScheduled = false;
  private lastError: Error | null = null;

  constructor(
    private readonly ctx: TcpContext,
    readonly peerId: string,
    private readonly address: SocketAddress,
    readonly lane: Lane,
  ) {}

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Whether a message offered now may be queued. A closed lane, or one
   * waiting out a backoff, drops it at once: it is counted as dropped here
   * (and a backoff then ends in a reconnection), so the caller need not
   * encode a message that would go nowhere.
   */
  admit(): boolean {
    if (this.state === 'closed') {
      this.ctx.stats.messagesDropped++;
      return false;
    }
    if (this.state === 'backoff') {
      this.wanted = true;
      this.ctx.stats.messagesDropped++;
      return false;
    }
    return true;
  }

  /** Queues one encoded message; never throws, never waits. */
  send(frame: Uint8Array): void {
    const stats = this.ctx.stats;
    if (!this.admit()) return;
    if (this.queuedBytes + frame.length > this.ctx.options.maxQueueBytes) {
      stats.messagesDropped++;
      this.ctx.log(
        'debug',
        'queue-full',
        { peer: this.peerId, lane: this.lane, queuedBytes: this.queuedBytes },
        'queue for peer is full; dropping message',
      );
      return;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    stats.queuedBytes += frame.length;
    stats.messagesQueued++;
    if (this.state === 'idle') this.connect();
    else if (this.state === 'open' && !this.waitingDrain && !this.flushScheduled) {
      this.flushScheduled = true;
      this.ctx.scheduleFlush(this);
    }
  }

  /**
   * The peer just connected to us, so it is up: skip what is left of the
   * backoff instead of leaving it unreachable for up to maxDelayMs.
   */
  peerIsUp(): void {
    if (this.state !== 'backoff') return;
    this.clearTimer();
    this.attempts = 0;
    if (this.wanted) this.connect();
    else this.state = 'idle';
  }

  /** Writes as much of the queue as the socket will take now; called once per turn of the event loop. */
  flush(): void {
    this.flushScheduled = false;
    const socket = this.socket;
    if (this.state !== 'open' || socket === null || this.waitingDrain || this.head >= this.queue.length) return;
    socket.cork();
    try {
      this.writeQueued(socket);
    } finally {
      socket.uncork();
    }
    if (this.head < this.queue.length && this.socket === socket && !socket.destroyed) {
      this.waitingDrain = true;
      socket.once('drain', () => {
        if (this.socket !== socket) return;
        this.waitingDrain = false;
        this.flush();
      });
    }
    this.compactQueue();
  }

  /** Stops for good (the transport is stopping): no reconnection, queue dropped. */
  close(): void {
    this.clearTimer();
    this.dropSocket();
    this.dropQueue();
    this.state = 'closed';
  }

  // ------------------------------------------------------------ connecting

  private connect(): void {
    const { options } = this.ctx;
    this.state = 'connecting';
    this.wanted = false;
    this.lastError = null;
    const { host, port } = this.address;
    let socket: net.Socket;
    try {
      socket =
        options.tls === null
          ? net.connect({ host, port })
          : tls.connect({
              host,
              port,
              key: options.tls.key,
              cert: options.tls.cert,
              ca: options.tls.ca,
              rejectUnauthorized: true,
              minVersion: 'TLSv1.2',
            });
    } catch (error) {
      this.lastError = error as Error;
      this.teardown(`cannot connect: ${(error as Error).message}`, false);
      return;
    }
    this.socket = socket;
    this.ctx.track(socket);
    this.decoder = new FrameDecoder(MAX_HANDSHAKE_FRAME_BYTES);
    socket.setNoDelay(true);
    // Detects a peer host that vanished while the connection was idle.
    socket.setKeepAlive(true, KEEPALIVE_MS);
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', (error) => {
      if (this.socket === socket) this.lastError = error;
    });
    socket.on('close', () => this.onClose(socket));
    socket.on('timeout', () => this.onIdle(socket));
    // Buffered by the socket until it is connected (and, with TLS, secured).
    socket.write(
      frameOf(
        encodeHello({
          codecVersion: CODEC_VERSION,
          lane: this.lane,
          clusterId: options.clusterId,
          from: options.id,
          to: this.peerId,
        }),
      ),
    );
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.socket !== socket) return;
      this.ctx.stats.timeouts++;
      this.teardown(`no handshake answer within ${options.connectTimeoutMs} ms`, false);
    }, options.connectTimeoutMs);
  }

  private onData(socket: net.Socket, chunk: Buffer): void {
    if (this.socket !== socket || this.decoder === null) return;
    try {
      const problem = this.decoder.push(chunk, (frame) => this.onFrame(frame));
      if (problem !== null && this.socket === socket) {
        this.ctx.stats.outboundRefused++;
        this.teardown(`peer sent a bad frame: ${problem}`, this.state === 'open');
      }
    } catch (error) {
      this.ctx.stats.internalErrors++;
      this.ctx.log('error', 'internal', { peer: this.peerId, err: error }, 'unexpected error reading from peer');
      this.teardown('internal error', this.state === 'open');
    }
  }

  private onFrame(frame: Uint8Array): boolean {
    const { options, stats } = this.ctx;
    if (this.state === 'open') {
      // After the handshake a connection carries messages one way only.
      stats.outboundRefused++;
      this.teardown('peer sent data after the handshake (protocol violation)', true);
      return false;
    }
    const reply = decodeReply(frame);
    if (reply.kind === 'malformed') {
      stats.outboundRefused++;
      this.teardown(`peer answered with something that is not a bellwether handshake: ${reply.reason}`, false, 'warn');
      return false;
    }
    if (reply.kind === 'refuse') {
      stats.outboundRefused++;
      this.teardown(`peer refused the connection: ${reply.reason}`, false, 'warn');
      return false;
    }
    const mismatch = acceptMismatch(reply, this.peerId, { clusterId: options.clusterId, codecVersion: CODEC_VERSION });
    if (mismatch !== null) {
      stats.outboundRefused++;
      this.teardown(`refusing the connection: ${mismatch}`, false, 'warn');
      return false;
    }
    this.clearTimer();
    this.state = 'open';
    this.openedAt = Date.now();
    stats.outboundOpened++;
    stats.openOutbound++;
    this.socket!.setTimeout(options.idleTimeoutMs);
    this.ctx.log(
      'info',
      'connected',
      { peer: this.peerId, lane: this.lane, address: formatAddress(this.address) },
      'connected to peer',
    );
    if (this.head < this.queue.length) {
      this.flushScheduled = true;
      this.ctx.scheduleFlush(this);
    }
    return true;
  }

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    const wasOpen = this.state === 'open';
    const why = this.lastError?.message ?? 'closed by peer';
    this.teardown(wasOpen ? `connection lost: ${why}` : `cannot connect: ${why}`, wasOpen);
  }

  /** No traffic either way for idleTimeoutMs. */
  private onIdle(socket: net.Socket): void {
    if (this.socket !== socket || this.state !== 'open') return;
    if (this.waitingDrain || this.head < this.queue.length || socket.writableLength > 0) {
      // Bytes are waiting (in our queue, or handed to the socket, as a large
      // frame is at once) and the peer has taken none for a long time.
      this.ctx.stats.timeouts++;
      this.teardown(`peer has not read for ${this.ctx.options.idleTimeoutMs} ms`, true, 'warn');
      return;
    }
    // Merely idle: close quietly; the next message reopens it.
    if (this.wasStable()) this.attempts = 0;
    this.dropSocket();
    this.state = 'idle';
  }

  /**
   * Drops the connection and its queue, then waits out a backoff. After a
   * connection that had worked for STABLE_CONNECTION_MS, the first retry
   * comes after the shortest delay; after failed attempts (and connections
   * that broke sooner) the delay doubles, up to maxDelayMs.
   */
  private teardown(
    reason: string,
    wasOpen: boolean,
    level: 'debug' | 'info' | 'warn' = wasOpen ? 'info' : 'debug',
  ): void {
    if (this.state === 'closed') return;
    if (wasOpen && this.wasStable()) this.attempts = 0;
    this.clearTimer();
    this.dropSocket();
    this.dropQueue();
    const attempt = this.attempts++;
    const delay = backoffDelay(attempt, this.ctx.options.reconnect, this.ctx.random);
    this.ctx.log(
      level,
      wasOpen ? 'disconnected' : 'connect-failed',
      { peer: this.peerId, lane: this.lane, address: formatAddress(this.address), reason, retryInMs: delay },
      wasOpen ? 'connection to peer lost' : 'could not connect to peer',
    );
    this.state = 'backoff';
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.state !== 'backoff') return;
      if (this.wanted) this.connect();
      else this.state = 'idle';
    }, delay);
  }

  /** Whether the open connection has been up long enough to count as having worked. */
  private wasStable(): boolean {
    return this.state === 'open' && Date.now() - this.openedAt >= STABLE_CONNECTION_MS;
  }

  private dropSocket(): void {
    const socket = this.socket;
    if (socket === null) return;
    if (this.state === 'open') this.ctx.stats.openOutbound--;
    this.socket = null;
    this.decoder = null;
    this.waitingDrain = false;
    socket.destroy();
  }

  private dropQueue(): void {
    const dropped = this.queue.length - this.head;
    this.ctx.stats.messagesDropped += dropped;
    this.ctx.stats.queuedBytes -= this.queuedBytes;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private compactQueue(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  // ------------------------------------------------------------ writing

  /**
   * Coalesces queued messages into as few socket writes as possible: small
   * frames are copied, header and all, into pooled slabs; a large frame is
   * written as it is after its header. Inside the caller's cork() all of it
   * leaves in one gathered write (writev).
   */
  private writeQueued(socket: net.Socket): void {
    const { pool, stats } = this.ctx;
    let slab: Slab = pool.acquire();
    let buffer = slab.buffer;
    let start = 0;
    let used = 0;
    let sent = 0;
    const emit = (): void => {
      if (used > start) {
        slab.retain();
        socket.write(buffer.subarray(start, used), slab.onWritten);
        start = used;
      }
    };
    const nextSlab = (): void => {
      emit();
      slab.seal();
      slab = pool.acquire();
      buffer = slab.buffer;
      start = 0;
      used = 0;
    };
    const queue = this.queue;
    while (this.head < queue.length) {
      if (socket.writableLength + (used - start) >= SOCKET_BUFFER_BYTES) break;
      const frame = queue[this.head]!;
      const length = frame.length;
      if (length >= LARGE_FRAME_BYTES) {
        if (used + FRAME_HEADER_BYTES > buffer.length) nextSlab();
        writeFrameHeader(buffer, used, length);
        used += FRAME_HEADER_BYTES;
        emit();
        socket.write(frame);
      } else {
        if (used + FRAME_HEADER_BYTES + length > buffer.length) nextSlab();
        writeFrameHeader(buffer, used, length);
        buffer.set(frame, used + FRAME_HEADER_BYTES);
        used += FRAME_HEADER_BYTES + length;
      }
      queue[this.head++] = undefined;
      this.queuedBytes -= length;
      stats.queuedBytes -= length;
      sent++;
    }
    emit();
    slab.seal();
    stats.messagesSent += sent;
  }
}
