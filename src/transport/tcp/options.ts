/**
 * TcpTransport's options: what users pass, their validation with zod (one
 * ConfigError listing every problem), and the defaults.
 */
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import type { ConfigIssue } from '../../errors.js';
import type { Logger } from '../../logger.js';
import {
  intAtLeast,
  intBetween,
  loggerOption,
  mustBe,
  nonEmptyString,
  optionsObject,
  parseOptions,
} from '../../validation.js';
import { parseAddress, type SocketAddress } from './address.js';
import { MAX_NAME_BYTES } from './handshake.js';

type Pem = string | Buffer;

/** Mutual TLS: this node's key and certificate, and the CA(s) a peer's certificate must chain to. */
export interface TcpTlsOptions {
  readonly key: Pem;
  readonly cert: Pem;
  readonly ca: Pem | readonly Pem[];
}

export interface TcpTransportOptions {
  /** This node's id (the RaftNode's `id`). */
  readonly id: string;
  /** Where this node accepts its peers' connections. Port 0 picks a free port (see `address()`). */
  readonly listen: { readonly host: string; readonly port: number };
  /**
   * The other nodes' addresses, `host:port` (`[::1]:7001` for IPv6). An entry
   * for this node's own id is ignored, so every node can be given the same map.
   * Connections from ids not listed here are refused.
   */
  readonly peers: Readonly<Record<string, string>>;
  /** Every node of one cluster has the same clusterId; a node of another cluster is refused. */
  readonly clusterId: string;
  /** Mutual TLS. When given, every connection is TLS both ways and plaintext peers are refused. */
  readonly tls?: TcpTlsOptions;
  /**
   * Largest encoded message accepted or sent; a bigger inbound frame closes
   * its connection, a bigger outbound message is dropped (and logged).
   * Default 16 MiB. Every node of a cluster should use the same value.
   *
   * A message must fit in one frame, and Raft resends a dropped message as
   * it was, so what the node sends must stay below this:
   * - the RaftNode's `maxBytesPerAppend` (default 1 MiB) bounds the entry
   *   data of one AppendEntries;
   * - its `snapshots.chunkBytes` (default 1 MiB) is the data of one
   *   InstallSnapshot chunk, which also carries the snapshot's
   *   configuration: at most 257 bytes per member, plus a few dozen bytes.
   *   A chunk larger than maxFrameBytes is dropped at every attempt and the
   *   follower never receives the snapshot (the log warns, naming
   *   chunkBytes), though the other messages keep flowing.
   * The defaults leave 15 MiB of room. Snapshots of any size travel in
   * chunks, so this bounds the chunk, not the snapshot.
   */
  readonly maxFrameBytes?: number;
  /**
   * Most bytes queued for one peer on one lane while its connection is
   * busy or being opened; beyond it messages are dropped (Raft resends), so
   * a peer that does not read cannot make this node buffer without bound.
   * At least maxFrameBytes. Default max(32 MiB, maxFrameBytes).
   */
  readonly maxQueueBytes?: number;
  /** How long opening a connection (TCP, TLS and handshake) may take. Default 3000. */
  readonly connectTimeoutMs?: number;
  /** How long an inbound connection has to complete its handshake. Default 5000. */
  readonly handshakeTimeoutMs?: number;
  /** A connection with no traffic either way for this long is closed (reopened on demand). Default 120000. */
  readonly idleTimeoutMs?: number;
  /** Reconnection backoff: exponential from minDelayMs, capped at maxDelayMs, with jitter. Default { minDelayMs: 25, maxDelayMs: 1000 }. */
  readonly reconnect?: { readonly minDelayMs: number; readonly maxDelayMs: number };
  /** Most inbound connections at once, authenticated or not. Default 1024. */
  readonly maxConnections?: number;
  /** Pino-compatible logger (the same one RaftNode takes). Default: silent. */
  readonly logger?: Logger;
}

export interface TcpTlsMaterial {
  readonly key: Pem;
  readonly cert: Pem;
  readonly ca: Pem | Pem[];
}

/** The options after validation, with defaults filled in. */
export interface ParsedTcpOptions {
  readonly id: string;
  readonly listen: SocketAddress;
  readonly peers: ReadonlyMap<string, SocketAddress>;
  readonly clusterId: string;
  readonly tls: TcpTlsMaterial | null;
  readonly maxFrameBytes: number;
  readonly maxQueueBytes: number;
  readonly connectTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly reconnect: { readonly minDelayMs: number; readonly maxDelayMs: number };
  readonly maxConnections: number;
  readonly logger: Logger;
}

export const DEFAULT_MAX_FRAME_BYTES = 16 << 20;
const DEFAULT_MAX_QUEUE_BYTES = 32 << 20;
/** Frames are length-prefixed with 4 bytes; anything larger cannot be framed. */
const LARGEST_FRAME = 2 ** 31 - 1;

const byteLength = (text: string) => Buffer.byteLength(text, 'utf8');

/** A name that travels in the handshake: non-empty, at most MAX_NAME_BYTES of UTF-8. */
const name = nonEmptyString.refine((s) => byteLength(s) <= MAX_NAME_BYTES, {
  error: `must be at most ${MAX_NAME_BYTES} bytes of UTF-8`,
});

const pem = z.union([z.string(), z.instanceof(Buffer)], { error: mustBe('a PEM string or Buffer') });

const schema = optionsObject({
  id: name,
  listen: z.strictObject(
    {
      host: z.string({ error: mustBe('a host name or address') }).min(1, { error: 'must not be empty' }),
      port: intBetween(0, 65535),
    },
    { error: mustBe('an object { host, port }') },
  ),
  peers: z.record(z.string(), z.string({ error: mustBe('a "host:port" string') }), {
    error: mustBe('an object mapping node ids to "host:port"'),
  }),
  clusterId: name,
  tls: z
    .strictObject(
      {
        key: pem,
        cert: pem,
        ca: z.union([pem, z.array(pem)], { error: mustBe('PEM text, a Buffer, or an array of them') }),
      },
      { error: mustBe('an object { key, cert, ca }') },
    )
    .optional(),
  maxFrameBytes: intBetween(1024, LARGEST_FRAME).default(DEFAULT_MAX_FRAME_BYTES),
  maxQueueBytes: intAtLeast(1024).optional(),
  connectTimeoutMs: intBetween(1, 2 ** 31 - 1).default(3000),
  handshakeTimeoutMs: intBetween(1, 2 ** 31 - 1).default(5000),
  idleTimeoutMs: intBetween(1, 2 ** 31 - 1).default(120_000),
  reconnect: z
    .strictObject(
      { minDelayMs: intBetween(1, 2 ** 31 - 1), maxDelayMs: intBetween(1, 2 ** 31 - 1) },
      { error: mustBe('an object { minDelayMs, maxDelayMs }') },
    )
    .default({ minDelayMs: 25, maxDelayMs: 1000 }),
  maxConnections: intBetween(1, 1 << 20).default(1024),
  logger: loggerOption(),
});

const isBlank = (pem: Pem): boolean => (typeof pem === 'string' ? pem.trim() === '' : pem.length === 0);

/** Whether `pem` holds at least one PEM certificate that parses. */
function hasPemCertificate(pem: Pem): boolean {
  const text = typeof pem === 'string' ? pem : pem.toString('latin1');
  if (!text.includes('-----BEGIN CERTIFICATE-----')) return false;
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

/**
 * Problems with TLS material that node:tls would accept without a word but
 * that would not do what the user meant. An empty key or cert is read as
 * "none": this node would show no certificate and every peer would refuse
 * it. An empty `ca` is read as "no ca given", and then the public root CAs
 * are trusted, so any publicly issued certificate would pass for a member
 * of the cluster. A `ca` entry with no PEM certificate in it is skipped, so
 * every peer would be refused.
 */
function tlsMaterialIssues(tls: { key: Pem; cert: Pem; ca: Pem | readonly Pem[] }): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (isBlank(tls.key)) issues.push({ path: 'tls.key', message: 'must not be empty' });
  if (isBlank(tls.cert)) issues.push({ path: 'tls.cert', message: 'must not be empty' });
  const cas: readonly Pem[] = Array.isArray(tls.ca) ? tls.ca : [tls.ca as Pem];
  if (cas.length === 0) {
    issues.push({ path: 'tls.ca', message: 'must hold at least one CA certificate (PEM)' });
  } else if (!cas.every(hasPemCertificate)) {
    issues.push({
      path: 'tls.ca',
      message:
        'every entry must be a PEM CA certificate (an empty ca would make Node trust the public root CAs instead)',
    });
  }
  return issues;
}

/** The peers' addresses, checked one by one so every bad entry is reported; this node's own entry is left out. */
function peerAddresses(raw: Record<string, unknown>): { peers: Map<string, SocketAddress>; issues: ConfigIssue[] } {
  const peers = new Map<string, SocketAddress>();
  const issues: ConfigIssue[] = [];
  const id = typeof raw.id === 'string' ? raw.id : undefined;
  if (typeof raw.peers === 'object' && raw.peers !== null && !Array.isArray(raw.peers)) {
    for (const [peerId, address] of Object.entries(raw.peers as Record<string, unknown>)) {
      if (peerId === '' || byteLength(peerId) > MAX_NAME_BYTES) {
        issues.push({ path: `peers.${peerId}`, message: `a node id must be 1 to ${MAX_NAME_BYTES} bytes of UTF-8` });
        continue;
      }
      if (typeof address !== 'string') continue; // reported by the schema
      const parsed = parseAddress(address);
      if (typeof parsed === 'string') issues.push({ path: `peers.${peerId}`, message: parsed });
      else if (peerId !== id) peers.set(peerId, parsed);
    }
  }
  return { peers, issues };
}

type SchemaOutput = z.output<typeof schema>;

/** Rules that span fields, checked once every field is valid on its own. */
function crossFieldIssues(o: SchemaOutput): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (o.reconnect.minDelayMs > o.reconnect.maxDelayMs) {
    issues.push({
      path: 'reconnect.maxDelayMs',
      message: `must be >= reconnect.minDelayMs (${o.reconnect.minDelayMs})`,
    });
  }
  if (o.maxQueueBytes !== undefined && o.maxQueueBytes < o.maxFrameBytes) {
    issues.push({
      path: 'maxQueueBytes',
      message: `must be >= maxFrameBytes (${o.maxFrameBytes}), or the largest message could never be queued; got ${o.maxQueueBytes}`,
    });
  }
  const tls = o.tls;
  if (tls !== undefined) {
    issues.push(...tlsMaterialIssues(tls));
    try {
      // Parses the PEM now, so a bad key or certificate is a ConfigError
      // at construction rather than a failure at the first connection.
      createSecureContext({ key: tls.key, cert: tls.cert, ca: tls.ca as Pem | Pem[] });
    } catch (error) {
      issues.push({ path: 'tls', message: `is not a usable key, certificate and CA: ${(error as Error).message}` });
    }
  }
  return issues;
}

/**
 * Validates TcpTransport options and fills in defaults. Throws one
 * ConfigError listing every problem, each with its dotted path.
 */
export function parseTcpOptions(input: unknown): ParsedTcpOptions {
  const raw = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const { peers, issues: peerIssues } = peerAddresses(raw);
  const o = parseOptions(schema, input, (parsed) => [
    ...peerIssues,
    ...(parsed === undefined ? [] : crossFieldIssues(parsed)),
  ]);
  return Object.freeze({
    id: o.id,
    listen: Object.freeze({ host: o.listen.host, port: o.listen.port }),
    peers,
    clusterId: o.clusterId,
    tls: o.tls === undefined ? null : { key: o.tls.key, cert: o.tls.cert, ca: o.tls.ca as Pem | Pem[] },
    maxFrameBytes: o.maxFrameBytes,
    maxQueueBytes: o.maxQueueBytes ?? Math.max(DEFAULT_MAX_QUEUE_BYTES, o.maxFrameBytes),
    connectTimeoutMs: o.connectTimeoutMs,
    handshakeTimeoutMs: o.handshakeTimeoutMs,
    idleTimeoutMs: o.idleTimeoutMs,
    reconnect: Object.freeze({ ...o.reconnect }),
    maxConnections: o.maxConnections,
    logger: o.logger,
  });
}
