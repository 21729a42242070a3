import type { RaftMessage } from '../../messages.js';
import type { BufferPool } from './buffer-pool.js';
import type { LogLimiter } from './log-limiter.js';
import type { ParsedTcpOptions } from './options.js';

/** Counters a TcpTransport keeps; `stats()` returns a copy. */
export interface TcpTransportStats {
  /** Messages `send` queued for a peer. */
  messagesQueued: number;
  /** Messages written to a socket. */
  messagesSent: number;
  /**
   * Messages `send` dropped: unknown peer, peer unreachable (reconnecting),
   * queue full, over maxFrameBytes, not encodable, or still queued when
   * their connection broke.
   */
  messagesDropped: number;
  /** Messages handed to onMessage. */
  messagesDelivered: number;
  /** Frames read on authenticated inbound connections (delivered, rejected or undecodable). */
  framesReceived: number;
  /** Inbound messages dropped because `from` was not the connection's peer or `to` not this node. */
  messagesRejected: number;
  /** Inbound frames that did not decode; each closed its connection. */
  decodeErrors: number;
  /** Inbound connections closed for bad framing: length 0, over the limit, or cut mid-frame. */
  framingErrors: number;
  /** Inbound connections refused before or at the handshake (wrong cluster, unknown id, version, garbage, TLS, timeout). */
  handshakesRefused: number;
  /** Outbound connections refused by the peer or failing this node's checks of the peer's answer. */
  outboundRefused: number;
  /** Connections closed for being idle or not reading. */
  timeouts: number;
  /** Unexpected exceptions caught inside the transport: 0 unless there is a bug. */
  internalErrors: number;
  /** Inbound connections that completed the handshake, in total. */
  inboundAccepted: number;
  /** Outbound connections that completed the handshake, in total. */
  outboundOpened: number;
  /** Inbound connections open now (authenticated or not). */
  openInbound: number;
  /** Outbound connections open now (handshake done). */
  openOutbound: number;
  /** Payload bytes queued for peers now. */
  queuedBytes: number;
}

export function emptyStats(): TcpTransportStats {
  return {
    messagesQueued: 0,
    messagesSent: 0,
    messagesDropped: 0,
    messagesDelivered: 0,
    framesReceived: 0,
    messagesRejected: 0,
    decodeErrors: 0,
    framingErrors: 0,
    handshakesRefused: 0,
    outboundRefused: 0,
    timeouts: 0,
    internalErrors: 0,
    inboundAccepted: 0,
    outboundOpened: 0,
    openInbound: 0,
    openOutbound: 0,
    queuedBytes: 0,
  };
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What connections share with the transport that owns them. */
export interface TcpContext {
  readonly options: ParsedTcpOptions;
  readonly stats: TcpTransportStats;
  readonly pool: BufferPool;
  readonly limiter: LogLimiter;
  /** Source of jitter. */
  readonly random: () => number;
  /** Logs through the limiter under `kind`, adding this node's id. */
  log(level: LogLevel, kind: string, fields: Record<string, unknown>, message: string): void;
  /**
   * Counts (in handshakesRefused) and logs, under one kind, a connection
   * refused before or at its handshake: too many connections, TLS, or a
   * Hello that is wrong. `remote` as remoteOf gives it.
   */
  refused(remote: string, reason: string, claimedId?: string): void;
  /** Hands an authenticated, well-addressed message to the node (if still started). */
  deliver(message: RaftMessage): void;
  /** Registers a socket the transport must close, and wait for, when it stops. */
  track(socket: import('node:net').Socket): void;
  /** Asks for a flush of `lane` at the end of this turn of the event loop. */
  scheduleFlush(lane: { flush(): void }): void;
}
