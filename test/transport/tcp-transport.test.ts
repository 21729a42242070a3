import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CODEC_VERSION, encodeMessage } from '../../src/codec/codec.js';
import { ConfigError } from '../../src/errors.js';
import type { AppendEntries, Heartbeat, InstallSnapshot, RaftMessage } from '../../src/messages.js';
import { TcpTransport, type TcpTransportOptions } from '../../src/tcp.js';
import { FrameDecoder, frameOf } from '../../src/transport/tcp/framing.js';
import { decodeHello, encodeAccept } from '../../src/transport/tcp/handshake.js';
import { PATIENCE } from '../helpers/wait.js';
import { createTestPki } from './certs.js';
import { RawPeer } from './raw-peer.js';
import { freePorts, HOST, loopbackAddresses, tcpOptions } from './tcp-network.js';

interface LogEntry {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

function captureLogger() {
  const entries: LogEntry[] = [];
  const at = (level: string) => (fields: object, message?: string) => {
    entries.push({ level, fields: fields as Record<string, unknown>, message: message ?? '' });
  };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, entries };
}

const hb = (from: string, to: string, seq: number): Heartbeat => ({
  type: 'Heartbeat',
  from,
  to,
  term: 1,
  commit: 0,
  readSeq: seq,
});

function append(from: string, to: string, bytes: number, seq = 0): AppendEntries {
  return {
    type: 'AppendEntries',
    from,
    to,
    term: 1,
    prevLogIndex: seq,
    prevLogTerm: 1,
    entries: [{ index: seq + 1, term: 1, type: 'normal', data: new Uint8Array(bytes).fill(seq & 0xff) }],
    leaderCommit: 0,
  };
}

/** Chunk `seq` of a snapshot sent in chunks of `bytes`, its bytes a pattern of `seq`. */
function chunk(from: string, to: string, bytes: number, seq: number, chunks: number): InstallSnapshot {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 7 + seq) & 0xff;
  return {
    type: 'InstallSnapshot',
    from,
    to,
    term: 1,
    snapshot: { index: 5000, term: 1, voters: [from, to], learners: [] },
    offset: seq * bytes,
    totalBytes: chunks * bytes,
    data,
  };
}

const toStop: { stop(): unknown }[] = [];
const servers: net.Server[] = [];
const serverSockets: net.Socket[] = [];
const peers: RawPeer[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const p of peers.splice(0)) p.destroy();
  for (const s of serverSockets.splice(0)) s.destroy();
  await Promise.all(toStop.splice(0).map((t) => t.stop()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** Starts a TcpTransport that records what it receives. */
async function started(options: TcpTransportOptions): Promise<{ transport: TcpTransport; inbox: RaftMessage[] }> {
  const transport = new TcpTransport(options);
  const inbox: RaftMessage[] = [];
  await transport.start((m) => inbox.push(m));
  toStop.push(transport);
  return { transport, inbox };
}

async function rawPeer(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  peers.push(peer);
  return peer;
}

/**
 * A fake peer at `port` that completes the handshake as `id` and then does
 * whatever `afterAccept` says with the socket (e.g. never read again).
 */
async function fakePeer(
  port: number,
  id: string,
  clusterId: string,
  afterAccept: (socket: net.Socket, data: Buffer[]) => void,
) {
  const server = net.createServer((socket) => {
    serverSockets.push(socket);
    socket.on('error', () => undefined);
    const decoder = new FrameDecoder(1024);
    const data: Buffer[] = [];
    let accepted = false;
    socket.on('data', (chunk: Buffer) => {
      if (accepted) {
        data.push(chunk);
        return;
      }
      decoder.push(chunk, (frame) => {
        const hello = decodeHello(frame);
        if (hello.kind !== 'hello') throw new Error('fake peer expected a hello');
        socket.write(frameOf(encodeAccept({ codecVersion: CODEC_VERSION, clusterId, id })));
        accepted = true;
        afterAccept(socket, data);
        return false;
      });
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: HOST, port }, resolve));
  servers.push(server);
  return server;
}

describe('TcpTransport options', () => {
  it('lists every invalid option in one ConfigError', () => {
    let error: unknown;
    try {
      new TcpTransport({
        id: '',
        listen: { host: '127.0.0.1', port: 70_000 },
        peers: { b: 'no-port', c: '[::1]:0', d: '::1:7001' },
        clusterId: 'x'.repeat(300),
        maxFrameBytes: 1 << 20,
        maxQueueBytes: 4096,
        tls: { key: 'not a key', cert: 'not a cert', ca: 'nope' },
        bogus: true,
      } as unknown as TcpTransportOptions);
    } catch (e) {
      error = e;
    }
    expect(ConfigError.isInstance(error)).toBe(true);
    const issues = (error as ConfigError).issues.map((i) => i.path).sort();
    expect(issues).toEqual(['bogus', 'clusterId', 'id', 'listen.port', 'peers.b', 'peers.c', 'peers.d'].sort());
  });

  it('refuses maxQueueBytes below maxFrameBytes, and an unusable TLS key, as ConfigErrors', () => {
    const base = { id: 'a', listen: { host: HOST, port: 0 }, peers: {}, clusterId: 'c' };
    expect(() => new TcpTransport({ ...base, maxFrameBytes: 1 << 20, maxQueueBytes: 4096 })).toThrow(
      /maxQueueBytes: must be >= maxFrameBytes/,
    );
    expect(() => new TcpTransport({ ...base, tls: { key: 'x', cert: 'y', ca: 'z' } })).toThrow(
      /tls: is not a usable key/,
    );
  });

  it('refuses TLS material that would silently do something else: an empty or certificate-less ca, an empty key or cert', () => {
    // Node reads an empty `ca` as "no ca given" and then trusts the public
    // root CAs: any publicly issued certificate would pass for a member.
    // A ca with no PEM certificate, or an empty list, is ignored, so every
    // peer would be refused; an empty key or cert means no certificate at all.
    const pki = createTestPki('options-ca');
    try {
      const pair = pki.issue('a');
      const base = { id: 'a', listen: { host: HOST, port: 0 }, peers: {}, clusterId: 'c' };
      const issuesOf = (tls: TcpTransportOptions['tls']): string[] => {
        try {
          new TcpTransport({ ...base, tls });
          return [];
        } catch (error) {
          expect(ConfigError.isInstance(error)).toBe(true);
          return (error as ConfigError).issues.map((i) => i.path);
        }
      };
      const good = { key: pair.key, cert: pair.cert, ca: pki.ca };
      expect(issuesOf(good)).toEqual([]);
      expect(issuesOf({ ...good, ca: [pki.ca, Buffer.from(pki.ca)] })).toEqual([]);
      expect(issuesOf({ ...good, ca: '' })).toEqual(['tls.ca']);
      expect(issuesOf({ ...good, ca: '   \n' })).toEqual(['tls.ca']);
      expect(issuesOf({ ...good, ca: 'not a certificate' })).toEqual(['tls.ca']);
      expect(issuesOf({ ...good, ca: Buffer.alloc(0) })).toEqual(['tls.ca']);
      expect(issuesOf({ ...good, ca: [] })).toEqual(['tls.ca']);
      expect(issuesOf({ ...good, ca: [pki.ca, ''] })).toEqual(['tls.ca']);
      expect(issuesOf({ ...good, key: '' })).toEqual(['tls.key']);
      expect(issuesOf({ ...good, cert: '' })).toEqual(['tls.cert']);
    } finally {
      pki.dispose();
    }
  });

  it('ignores its own id in peers, so every node can be given the same map', async () => {
    const addresses = await loopbackAddresses(['a', 'b']);
    const a = await started(tcpOptions('a', addresses));
    const b = await started(tcpOptions('b', addresses));
    a.transport.send(hb('a', 'b', 1));
    await vi.waitFor(() => expect(b.inbox).toHaveLength(1), PATIENCE);
    expect(b.inbox[0]).toEqual(hb('a', 'b', 1));
  });

  it('listens on a free port when given port 0, and reports it with address()', async () => {
    const { transport } = await started({ id: 'a', listen: { host: HOST, port: 0 }, peers: {}, clusterId: 'c' });
    const address = transport.address();
    expect(address?.host).toBe(HOST);
    expect(address?.port).toBeGreaterThan(0);
  });

  it('start rejects with a clear error when the port is taken', async () => {
    const [port] = await freePorts(1);
    const first = await started({ id: 'a', listen: { host: HOST, port: port! }, peers: {}, clusterId: 'c' });
    expect(first.transport.address()?.port).toBe(port);
    const second = new TcpTransport({ id: 'a', listen: { host: HOST, port: port! }, peers: {}, clusterId: 'c' });
    await expect(second.start(() => undefined)).rejects.toThrow(
      `TcpTransport "a" cannot listen on 127.0.0.1:${port}: EADDRINUSE`,
    );
  });
});

describe('TcpTransport lifecycle', () => {
  it('once stop resolves, its port can be bound again at once, even after traffic both ways', async () => {
    const addresses = await loopbackAddresses(['a', 'b']);
    const a = await started(tcpOptions('a', addresses));
    const b = await started(tcpOptions('b', addresses));
    a.transport.send(hb('a', 'b', 1));
    b.transport.send(hb('b', 'a', 1));
    await vi.waitFor(() => expect([a.inbox.length, b.inbox.length]).toEqual([1, 1]), PATIENCE);
    const port = a.transport.address()!.port;
    await a.transport.stop();
    expect(a.transport.address()).toBeNull();
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: HOST, port }, resolve);
    });
    servers.push(server);
    expect((server.address() as net.AddressInfo).port).toBe(port);
  });

  it('after stop, send is a no-op and the stats stop moving', async () => {
    const addresses = await loopbackAddresses(['a', 'b']);
    const a = await started(tcpOptions('a', addresses));
    await a.transport.stop();
    const before = a.transport.stats();
    a.transport.send(hb('a', 'b', 1));
    expect(a.transport.stats()).toEqual(before);
  });
});

describe('TcpTransport sending', () => {
  it('a heartbeat sent after 24 MiB of AppendEntries overtakes them (a separate lane for small messages)', async () => {
    const addresses = await loopbackAddresses(['a', 'b']);
    const a = await started(tcpOptions('a', addresses));
    const b = await started(tcpOptions('b', addresses));
    // Open both lanes first so connection set-up does not decide the race.
    a.transport.send(hb('a', 'b', 0));
    a.transport.send(append('a', 'b', 16, 0));
    await vi.waitFor(() => expect(b.inbox).toHaveLength(2), PATIENCE);
    for (let i = 1; i <= 6; i++) a.transport.send(append('a', 'b', 4 << 20, i));
    a.transport.send(hb('a', 'b', 1));
    await vi.waitFor(() => expect(b.inbox).toHaveLength(9), PATIENCE);
    const order = b.inbox.slice(2).map((m) => (m.type === 'Heartbeat' ? 'heartbeat' : 'append'));
    expect(order.indexOf('heartbeat')).toBeLessThan(order.lastIndexOf('append'));
  });

  it('a heartbeat sent after 24 MiB of snapshot chunks overtakes them, and the chunks arrive intact and in order (the bulk lane)', async () => {
    const addresses = await loopbackAddresses(['a', 'b']);
    const a = await started(tcpOptions('a', addresses));
    const b = await started(tcpOptions('b', addresses));
    // Open both lanes first so connection set-up does not decide the race.
    a.transport.send(hb('a', 'b', 0));
    a.transport.send(chunk('a', 'b', 16, 0, 1));
    await vi.waitFor(() => expect(b.inbox).toHaveLength(2), PATIENCE);
    const sent = Array.from({ length: 6 }, (_, seq) => chunk('a', 'b', 4 << 20, seq, 6));
    for (const message of sent) a.transport.send(message);
    a.transport.send(hb('a', 'b', 1));
    // The follower's answer to a chunk, sent while the chunks are on their way.
    b.transport.send({
      type: 'InstallSnapshotResponse',
      from: 'b',
      to: 'a',
      term: 1,
      snapshotIndex: 5000,
      received: 0,
      done: false,
    });
    await vi.waitFor(() => expect(b.inbox).toHaveLength(9), PATIENCE);
    const arrived = b.inbox.slice(2);
    const order = arrived.map((m) => m.type);
    expect(order.indexOf('Heartbeat')).toBeLessThan(order.lastIndexOf('InstallSnapshot'));
    const chunks = arrived.filter((m): m is InstallSnapshot => m.type === 'InstallSnapshot');
    expect(chunks.map((m) => m.offset)).toEqual(sent.map((m) => m.offset));
    for (let i = 0; i < sent.length; i++) {
      expect({ ...chunks[i], data: null }).toEqual({ ...sent[i], data: null });
      // Compared as Buffers: a per-element comparison of megabytes is slow.
      expect(Buffer.compare(Buffer.from(chunks[i]!.data), Buffer.from(sent[i]!.data))).toBe(0);
    }
    await vi.waitFor(() => expect(a.inbox.map((m) => m.type)).toEqual(['InstallSnapshotResponse']), PATIENCE);
  });

  it('drops a snapshot chunk larger than maxFrameBytes with a warning naming snapshots.chunkBytes, and carries what follows', async () => {
    const addresses = await loopbackAddresses(['a', 'b']);
    const { logger, entries } = captureLogger();
    const a = await started(tcpOptions('a', addresses, { maxFrameBytes: 1 << 20, logger }));
    const b = await started(tcpOptions('b', addresses, { maxFrameBytes: 1 << 20 }));
    expect(() => a.transport.send(chunk('a', 'b', 1 << 20, 0, 2))).not.toThrow();
    expect(a.transport.stats().messagesDropped).toBe(1);
    const warning = entries.find((e) => e.level === 'warn' && e.fields.type === 'InstallSnapshot');
    expect(warning?.message).toMatch(/lower the node's snapshots\.chunkBytes or raise maxFrameBytes/);
    expect(warning?.fields).toMatchObject({ to: 'b', maxFrameBytes: 1 << 20 });
    // Smaller chunks, as a node with a fitting chunkBytes sends them, and a heartbeat, all arrive.
    a.transport.send(chunk('a', 'b', 512 << 10, 0, 2));
    a.transport.send(chunk('a', 'b', 512 << 10, 1, 2));
    a.transport.send(hb('a', 'b', 1));
    await vi.waitFor(() => expect(b.inbox).toHaveLength(3), PATIENCE);
    expect(b.inbox.filter((m) => m.type === 'InstallSnapshot').map((m) => m.offset)).toEqual([0, 512 << 10]);
    expect(a.transport.stats().messagesDropped).toBe(1);
  });

  it('keeps heartbeats flowing when the peer refuses a snapshot chunk over its own maxFrameBytes (it closes only the bulk lane)', async () => {
    const addresses = await loopbackAddresses(['a', 'b']);
    const a = await started(tcpOptions('a', addresses));
    const b = await started(tcpOptions('b', addresses, { maxFrameBytes: 1 << 20 }));
    a.transport.send(hb('a', 'b', 0));
    await vi.waitFor(() => expect(b.inbox).toHaveLength(1), PATIENCE);
    // b closes the connection that brings the 2 MiB chunk; the heartbeat
    // sent just after it travels on the other one, which stays open.
    a.transport.send(chunk('a', 'b', 2 << 20, 0, 1));
    a.transport.send(hb('a', 'b', 1));
    await vi.waitFor(() => expect(b.transport.stats().framingErrors).toBe(1), PATIENCE);
    await vi.waitFor(() => expect(b.inbox).toEqual([hb('a', 'b', 0), hb('a', 'b', 1)]), PATIENCE);
    // One control connection and one bulk connection were ever opened.
    expect(a.transport.stats().outboundOpened).toBe(2);
  });

  it('coalesces: 1,000 messages sent in one turn leave in a handful of socket writes', async () => {
    const addresses = await loopbackAddresses(['a', 'b']);
    const a = await started(tcpOptions('a', addresses));
    const b = await started(tcpOptions('b', addresses));
    a.transport.send(hb('a', 'b', 0));
    await vi.waitFor(() => expect(b.inbox).toHaveLength(1), PATIENCE);
    const write = vi.spyOn(net.Socket.prototype, 'write');
    for (let i = 1; i <= 1000; i++) a.transport.send(hb('a', 'b', i));
    await vi.waitFor(() => expect(b.inbox).toHaveLength(1001), PATIENCE);
    expect(write.mock.calls.length).toBeLessThanOrEqual(3);
    expect(a.transport.stats().messagesSent).toBe(1001);
  });

  it('drops messages for a peer that does not read, keeping its queue within maxQueueBytes, then closes the connection', async () => {
    const [aPort, bPort] = await freePorts(2);
    const { logger, entries } = captureLogger();
    await fakePeer(bPort!, 'b', 'c1', (socket) => socket.pause());
    const a = await started({
      id: 'a',
      listen: { host: HOST, port: aPort! },
      peers: { b: `${HOST}:${bPort}` },
      clusterId: 'c1',
      maxFrameBytes: 1 << 20,
      maxQueueBytes: 1 << 20,
      idleTimeoutMs: 500,
      logger,
    });
    let peakQueued = 0;
    // 96 MiB offered, a little at a time, to a peer that reads nothing.
    for (let round = 0; round < 96; round++) {
      for (let i = 0; i < 16; i++) a.transport.send(append('a', 'b', 64 * 1024, round * 16 + i));
      peakQueued = Math.max(peakQueued, a.transport.stats().queuedBytes);
      await new Promise((r) => setImmediate(r));
    }
    const stats = a.transport.stats();
    expect(peakQueued).toBeLessThanOrEqual(1 << 20);
    expect(stats.messagesDropped).toBeGreaterThan(500);
    // Loopback socket buffers take a few MiB; the rest was dropped, not kept.
    expect(stats.messagesSent).toBeLessThan(400);
    await vi.waitFor(() => expect(entries.map((e) => e.message)).toContain('connection to peer lost'), PATIENCE);
    const lost = entries.find((e) => e.message === 'connection to peer lost')!;
    expect(lost.fields.reason).toBe('peer has not read for 500 ms');
    // Losing the connection drops its queue. On a loaded machine the loop
    // above can outlast the 500 ms, so the loss may come mid-loop and later
    // sends queue on a new connection to the same silent peer: that one is
    // dropped in turn. Nothing else can empty a queue to a peer that reads nothing.
    await vi.waitFor(() => expect(a.transport.stats().queuedBytes).toBe(0), PATIENCE);
  });

  it('backs off from a peer that closes the connection right after each handshake, instead of redialling it in a storm', async () => {
    // b reads frames of at most 64 KiB, a sends 100 KiB appends (a
    // misconfiguration): b accepts each bulk connection and closes it at the
    // first frame. Raft resends, so a redials; a connection that broke at
    // once must not reset the backoff as one that had worked for a while.
    const addresses = await loopbackAddresses(['a', 'b']);
    const a = await started(tcpOptions('a', addresses));
    const b = await started(tcpOptions('b', addresses, { maxFrameBytes: 64 * 1024 }));
    // Raft's resends: one append every 5 ms, each a chance to redial.
    let seq = 0;
    const resending = setInterval(() => a.transport.send(append('a', 'b', 100 * 1024, seq++)), 5);
    try {
      await vi.waitFor(() => expect(b.transport.stats().framingErrors).toBeGreaterThan(0), PATIENCE);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      clearInterval(resending);
    }
    // Default backoff, 25 ms doubling to 1 s with jitter: at most 7 more
    // attempts fit in the second after the first failure (a storm would
    // redial at every resend, about 200). A busy machine fires timers late,
    // which only means fewer attempts.
    expect(b.transport.stats().inboundAccepted).toBeLessThanOrEqual(10);
  });

  it('treats a peer that stopped reading in the middle of a large append as stalled, not merely idle', async () => {
    // The whole append was handed to the socket (the lane's own queue is
    // empty) but most of it is still in the socket's buffer: the connection
    // is not idle, and closing it is a timeout to count and log, followed
    // by a backoff, not a quiet close.
    const [aPort, bPort] = await freePorts(2);
    const { logger, entries } = captureLogger();
    await fakePeer(bPort!, 'b', 'c1', (socket) => socket.pause());
    const a = await started({
      id: 'a',
      listen: { host: HOST, port: aPort! },
      peers: { b: `${HOST}:${bPort}` },
      clusterId: 'c1',
      idleTimeoutMs: 300,
      logger,
    });
    a.transport.send(append('a', 'b', 15 << 20, 1));
    await vi.waitFor(() => expect(a.transport.stats().outboundOpened).toBe(1), PATIENCE);
    await vi.waitFor(() => expect(a.transport.stats().openOutbound).toBe(0), PATIENCE);
    expect(a.transport.stats().timeouts).toBe(1);
    const lost = entries.find((e) => e.message === 'connection to peer lost');
    expect(lost?.fields.reason).toBe('peer has not read for 300 ms');
  });

  it('drops, counts and logs a message that cannot be encoded, without throwing', async () => {
    const addresses = await loopbackAddresses(['a', 'b']);
    const { logger, entries } = captureLogger();
    const a = await started(tcpOptions('a', addresses, { logger }));
    const bad = {
      ...append('a', 'b', 4),
      entries: [{ index: 99, term: 1, type: 'normal', data: new Uint8Array(1) }],
    } as RaftMessage;
    expect(() => a.transport.send(bad)).not.toThrow();
    expect(a.transport.stats().messagesDropped).toBe(1);
    expect(entries.some((e) => e.level === 'warn' && e.message === 'cannot encode message; dropping it')).toBe(true);
  });

  it('reconnects at once when a peer that was down connects to us (no waiting out the backoff)', async () => {
    const addresses = await loopbackAddresses(['a', 'b']);
    // A backoff far longer than the wait below: only the peer's own
    // connection can make a's retry come in time.
    const slow = { reconnect: { minDelayMs: 60_000, maxDelayMs: 120_000 } };
    const a = await started(tcpOptions('a', addresses, slow));
    a.transport.send(hb('a', 'b', 1)); // b is down: refused, a backs off for 30-60 s
    await vi.waitFor(() => expect(a.transport.stats().messagesDropped).toBe(1), PATIENCE);
    const b = await started(tcpOptions('b', addresses));
    b.transport.send(hb('b', 'a', 1));
    await vi.waitFor(() => expect(a.inbox).toHaveLength(1), PATIENCE);
    let seq = 2;
    // Within PATIENCE (20 s), well before the backoff (at least 30 s) ends.
    await vi.waitFor(() => {
      a.transport.send(hb('a', 'b', seq++));
      expect(b.inbox.length).toBeGreaterThan(0);
    }, PATIENCE);
  });
});

describe('TcpTransport with a logger that throws', () => {
  it('never throws out of send, nor out of a socket callback (which would crash the process)', async () => {
    const fail = () => {
      throw new Error('logger is broken');
    };
    const logger = { debug: fail, info: fail, warn: fail, error: fail };
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const addresses = await loopbackAddresses(['a', 'b']);
      const a = await started(tcpOptions('a', addresses, { logger }));
      const b = await started(tcpOptions('b', addresses, { logger }));
      // Paths of send that log: an unknown peer, a message too large to send.
      expect(() => a.transport.send(hb('a', 'nobody', 1))).not.toThrow();
      expect(() => a.transport.send(append('a', 'b', 17 << 20))).not.toThrow();
      // A socket callback that logs: refusing a stranger of another cluster.
      const stranger = await rawPeer(Number(addresses.a!.split(':')[1]));
      stranger.sendHello({ clusterId: 'elsewhere', from: 'b', to: 'a' });
      expect(await stranger.reply()).toMatchObject({ kind: 'refuse' });
      // Connecting logs too; the transports still carry messages.
      b.transport.send(hb('b', 'a', 1));
      await vi.waitFor(() => expect(a.inbox).toHaveLength(1), PATIENCE);
      await new Promise((r) => setTimeout(r, 20));
      expect(uncaught).toEqual([]);
      expect(a.transport.stats().messagesDropped).toBe(2);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});

describe('TcpTransport receiving', () => {
  async function listener(overrides: Partial<TcpTransportOptions> = {}) {
    const [aPort, bPort] = await freePorts(2);
    const { logger, entries } = captureLogger();
    const a = await started({
      id: 'a',
      listen: { host: HOST, port: aPort! },
      peers: { b: `${HOST}:${bPort}` },
      clusterId: 'orders',
      logger,
      ...overrides,
    });
    return { ...a, port: aPort!, entries };
  }

  it('delivers what an authenticated peer sends, and drops messages that claim another sender or addressee', async () => {
    const a = await listener();
    const peer = await rawPeer(a.port);
    peer.sendHello({ clusterId: 'orders', from: 'b', to: 'a' });
    expect(await peer.reply()).toMatchObject({ kind: 'accept', clusterId: 'orders', id: 'a' });
    peer.sendFrame(encodeMessage(hb('c', 'a', 1))); // b speaking for c
    peer.sendFrame(encodeMessage(hb('b', 'c', 2))); // addressed to someone else
    peer.sendFrame(encodeMessage(hb('b', 'a', 3)));
    await vi.waitFor(() => expect(a.inbox).toHaveLength(1), PATIENCE);
    expect(a.inbox).toEqual([hb('b', 'a', 3)]);
    expect(a.transport.stats()).toMatchObject({ messagesRejected: 2, messagesDelivered: 1, framesReceived: 3 });
    expect(peer.isClosed).toBe(false);
  });

  it('closes the connection on an undecodable frame, and logs why, after delivering what came before', async () => {
    const a = await listener();
    const peer = await rawPeer(a.port);
    peer.sendHello({ clusterId: 'orders', from: 'b', to: 'a' });
    await peer.reply();
    peer.sendFrame(encodeMessage(hb('b', 'a', 1)));
    const broken = encodeMessage(hb('b', 'a', 2));
    broken[1] = 99; // unknown message type
    peer.sendFrame(broken);
    peer.sendFrame(encodeMessage(hb('b', 'a', 3)));
    await peer.closed;
    expect(a.inbox).toEqual([hb('b', 'a', 1)]);
    expect(a.transport.stats().decodeErrors).toBe(1);
    const log = a.entries.find((e) => e.message === 'closing connection: undecodable message');
    expect(log?.fields.reason).toMatch(/^unknown message type tag 99\b/);
  });

  it('closes the connection when a frame header announces more than maxFrameBytes', async () => {
    const a = await listener({ maxFrameBytes: 64 * 1024 });
    const peer = await rawPeer(a.port);
    peer.sendHello({ clusterId: 'orders', from: 'b', to: 'a' });
    await peer.reply();
    peer.write(Uint8Array.of(0, 1, 0, 1)); // 65,537 bytes
    await peer.closed;
    expect(a.transport.stats().framingErrors).toBe(1);
    expect(a.entries.find((e) => e.message === 'closing connection: bad framing')?.fields.reason).toBe(
      'frame of 65537 bytes is over the limit of 65536',
    );
  });

  it('closes an inbound connection that sends nothing within handshakeTimeoutMs, or only half a handshake', async () => {
    const a = await listener({ handshakeTimeoutMs: 150 });
    const silent = await rawPeer(a.port);
    const slow = await rawPeer(a.port);
    slow.write(Uint8Array.of(0, 0, 0, 40, 0x42, 0x57)); // a header and two bytes, then nothing
    expect(await silent.reply()).toEqual({ kind: 'refuse', reason: 'no handshake within 150 ms' });
    expect(await slow.reply()).toEqual({ kind: 'refuse', reason: 'no handshake within 150 ms' });
    await Promise.all([silent.closed, slow.closed]);
    expect(a.transport.stats().handshakesRefused).toBe(2);
  });

  it('caps the handshake frame: a stranger cannot announce a large frame before authenticating', async () => {
    const a = await listener();
    const peer = await rawPeer(a.port);
    peer.write(Uint8Array.of(0, 0x10, 0, 0)); // 1 MiB "hello"
    expect(await peer.reply()).toEqual({
      kind: 'refuse',
      reason: 'not a bellwether handshake: frame of 1048576 bytes is over the limit of 1024',
    });
    await peer.closed;
  });

  it('closes an authenticated connection that stays idle for idleTimeoutMs', async () => {
    const a = await listener({ idleTimeoutMs: 200 });
    const peer = await rawPeer(a.port);
    peer.sendHello({ clusterId: 'orders', from: 'b', to: 'a' });
    await peer.reply();
    await peer.closed;
    expect(a.transport.stats().timeouts).toBe(1);
  });

  it('refuses, with the reason sent to the peer and logged: another cluster, an unknown id, another codec version, garbage', async () => {
    const a = await listener();
    const cases = [
      {
        hello: { clusterId: 'payments', from: 'b', to: 'a' },
        reason: 'wrong cluster: "b" belongs to cluster "payments", this node "a" to "orders"',
      },
      {
        hello: { clusterId: 'orders', from: 'mallory', to: 'a' },
        reason: 'unknown node id "mallory": it is not among this node\'s peers',
      },
      {
        // A node of the version before snapshots (see codec/format.ts).
        hello: { clusterId: 'orders', from: 'b', to: 'a', codecVersion: 1 },
        reason: 'incompatible codec version 1 from "b" (this node "a" speaks 2)',
      },
    ];
    for (const { hello, reason } of cases) {
      const peer = await rawPeer(a.port);
      peer.sendHello(hello);
      expect(await peer.reply()).toEqual({ kind: 'refuse', reason });
      await peer.closed;
      expect(
        a.entries.some((e) => e.level === 'warn' && e.message === 'refused a connection' && e.fields.reason === reason),
      ).toBe(true);
    }
    const http = await rawPeer(a.port);
    http.write(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(await http.reply()).toMatchObject({ kind: 'refuse' });
    await http.closed;
    expect(a.transport.stats().handshakesRefused).toBe(4);
    expect(a.inbox).toEqual([]);
  });

  it('a dialing node refuses a listener of another cluster and logs the reason it was given', async () => {
    const addresses = await loopbackAddresses(['a', 'b']);
    const { logger, entries } = captureLogger();
    const a = await started(tcpOptions('a', addresses, { clusterId: 'orders', logger }));
    const b = await started(tcpOptions('b', addresses, { clusterId: 'payments' }));
    a.transport.send(hb('a', 'b', 1));
    await vi.waitFor(
      () => expect(entries.some((e) => e.message === 'could not connect to peer' && e.level === 'warn')).toBe(true),
      PATIENCE,
    );
    const refusal = entries.find((e) => e.message === 'could not connect to peer' && e.level === 'warn')!;
    expect(refusal.fields.reason).toBe(
      'peer refused the connection: wrong cluster: "a" belongs to cluster "orders", this node "b" to "payments"',
    );
    expect(b.inbox).toEqual([]);
    expect(a.transport.stats().outboundRefused).toBe(1);
  });
});
