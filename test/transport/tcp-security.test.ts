/**
 * Strangers cannot talk their way into a cluster: a node of another cluster,
 * a plaintext client against a TLS cluster, and a TLS client whose
 * certificate comes from another CA are all refused at the handshake, so the
 * messages they send (vote requests and appends with a far higher term,
 * which would depose the leader if delivered) never reach Raft.
 *
 * Each refusal test has a control: the very same attack from a peer that
 * is let in does move the cluster's term, so the refusals are what keeps
 * the term still, not a harmless attack.
 */
import tls from 'node:tls';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { RaftMessage } from '../../src/messages.js';
import { RaftNode } from '../../src/node.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { TcpTransport, type TcpTransportOptions } from '../../src/tcp.js';
import { PATIENCE } from '../helpers/wait.js';
import { createTestPki, type KeyPair } from './certs.js';
import { HOST, loopbackAddresses } from './tcp-network.js';

const caOne = createTestPki('cluster-ca');
const caTwo = createTestPki('stranger-ca');
const memberCert = caOne.issue('member');
const strangerCert = caTwo.issue('d');
const insiderCert = caOne.issue('d');
afterAll(() => {
  caOne.dispose();
  caTwo.dispose();
});

interface Logged {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

interface Cluster {
  readonly nodes: RaftNode[];
  readonly transports: TcpTransport[];
  readonly logs: Logged[];
  readonly addresses: Record<string, string>;
}

let running: { stop(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(running.map((r) => r.stop()));
  running = [];
});

/**
 * A 3-node cluster (a, b, c) whose transports also know a fourth id, d, at
 * the intruder's address: d is a plausible peer, so only the handshake
 * checks stand between its messages and Raft.
 */
async function startCluster(tls: TcpTransportOptions['tls']): Promise<Cluster> {
  const addresses = await loopbackAddresses(['a', 'b', 'c', 'd']);
  const logs: Logged[] = [];
  const at = (level: string) => (fields: object, message?: string) =>
    logs.push({ level, message: message ?? '', fields: fields as Record<string, unknown> });
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  const nodes: RaftNode[] = [];
  const transports: TcpTransport[] = [];
  for (const id of ['a', 'b', 'c']) {
    const transport = new TcpTransport({
      id,
      listen: { host: HOST, port: Number(addresses[id]!.split(':')[1]) },
      peers: addresses,
      clusterId: 'orders',
      tls,
      logger,
    });
    const node = new RaftNode({
      id,
      peers: ['a', 'b', 'c'],
      transport,
      storage: new MemoryStorage(),
      // Wide margins: an election the test did not cause would only blur what it measures.
      electionTimeoutMs: { min: 500, max: 1000 },
      heartbeatIntervalMs: 50,
    });
    running.push(node);
    transports.push(transport);
    nodes.push(node);
    await node.start();
  }
  await vi.waitFor(() => expect(agreedLeader(nodes)).toBeDefined(), PATIENCE);
  return { nodes, transports, logs, addresses };
}

/** The node every node follows in its term, if there is one. */
function agreedLeader(nodes: readonly RaftNode[]): RaftNode | undefined {
  const leader = nodes.find((n) => n.isLeader());
  return leader !== undefined && nodes.every((n) => n.leaderId === leader.id && n.term === leader.term)
    ? leader
    : undefined;
}

/** The messages that would each raise a node's term to `term` if delivered (§5.1). */
function attackMessages(to: string, term: number): RaftMessage[] {
  return [
    // A vote request flagged as a leadership transfer bypasses leader stickiness.
    {
      type: 'RequestVote',
      from: 'd',
      to,
      term,
      lastLogIndex: 1_000_000,
      lastLogTerm: term,
      preVote: false,
      transfer: true,
    },
    { type: 'Heartbeat', from: 'd', to, term, commit: 0, readSeq: 1 },
    {
      type: 'AppendEntries',
      from: 'd',
      to,
      term,
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: [{ index: 1, term, type: 'normal', data: new Uint8Array([1]) }],
      leaderCommit: 0,
    },
  ];
}

/**
 * Runs an intruder as node d with `options`, sending the attack to a, b and
 * c every 10 ms for at least 600 ms and until `done` holds: a busy machine
 * slows the handshakes down, and must not cut the attack short.
 */
async function attack(
  cluster: Cluster,
  options: Partial<TcpTransportOptions>,
  term: number,
  done: (intruder: TcpTransport) => boolean,
): Promise<TcpTransport> {
  const intruder = new TcpTransport({
    id: 'd',
    listen: { host: HOST, port: Number(cluster.addresses.d!.split(':')[1]) },
    peers: cluster.addresses,
    clusterId: 'orders',
    reconnect: { minDelayMs: 5, maxDelayMs: 20 },
    ...options,
  });
  await intruder.start(() => undefined);
  running.push(intruder);
  const startedAt = performance.now();
  await vi.waitFor(
    () => {
      for (const to of ['a', 'b', 'c']) for (const m of attackMessages(to, term)) intruder.send(m);
      if (performance.now() - startedAt < 600 || !done(intruder))
        throw new Error('the attack has not yet run its course');
    },
    { timeout: PATIENCE.timeout, interval: 10 },
  );
  return intruder;
}

const maxTerm = (c: Cluster) => Math.max(...c.nodes.map((n) => n.term));
const refusals = (c: Cluster) => c.transports.reduce((sum, t) => sum + t.stats().handshakesRefused, 0);
const accepted = (c: Cluster) => c.transports.reduce((sum, t) => sum + t.stats().inboundAccepted, 0);

describe('TcpTransport security', () => {
  it(
    'refuses a node configured with another cluster id; its higher-term messages never reach Raft',
    { timeout: 60_000 },
    async () => {
      const cluster = await startCluster(undefined);
      const before = maxTerm(cluster);
      const acceptedBefore = accepted(cluster);
      const intruder = await attack(
        cluster,
        { clusterId: 'payments' },
        before + 100,
        (d) => refusals(cluster) >= 3 && d.stats().outboundRefused >= 3,
      );
      expect(maxTerm(cluster)).toBeLessThan(before + 100);
      expect(accepted(cluster)).toBe(acceptedBefore);
      expect(refusals(cluster)).toBeGreaterThanOrEqual(3);
      expect(intruder.stats().outboundRefused).toBeGreaterThanOrEqual(3);
      const reasons = cluster.logs.filter((l) => l.message === 'refused a connection').map((l) => l.fields.reason);
      expect(reasons).toContain('wrong cluster: "d" belongs to cluster "payments", this node "a" to "orders"');
      // The cluster still commits.
      await vi.waitFor(async () => {
        const leader = agreedLeader(cluster.nodes)!;
        await expect(leader.propose(new Uint8Array([7]))).resolves.toMatchObject({ term: leader.term });
      }, PATIENCE);
    },
  );

  it('control: the same attack from a node of the same cluster does raise the term', { timeout: 60_000 }, async () => {
    const cluster = await startCluster(undefined);
    const before = maxTerm(cluster);
    await attack(cluster, {}, before + 100, () => maxTerm(cluster) >= before + 100);
    expect(maxTerm(cluster)).toBeGreaterThanOrEqual(before + 100);
  });

  it('a TLS cluster refuses a plaintext client, whatever it claims', { timeout: 60_000 }, async () => {
    const cluster = await startCluster({ key: memberCert.key, cert: memberCert.cert, ca: caOne.ca });
    const before = maxTerm(cluster);
    const acceptedBefore = accepted(cluster);
    await attack(cluster, {}, before + 100, () => refusals(cluster) >= 3);
    expect(maxTerm(cluster)).toBeLessThan(before + 100);
    expect(accepted(cluster)).toBe(acceptedBefore);
    expect(refusals(cluster)).toBeGreaterThanOrEqual(3);
    const reasons = cluster.logs
      .filter((l) => l.message === 'refused a connection')
      .map((l) => String(l.fields.reason));
    expect(reasons.length).toBeGreaterThan(0);
    expect(new Set(reasons)).toEqual(new Set(['TLS: not TLS (a plaintext peer?)']));
  });

  it('a TLS cluster refuses a client whose certificate comes from another CA', { timeout: 60_000 }, async () => {
    const cluster = await startCluster({ key: memberCert.key, cert: memberCert.cert, ca: caOne.ca });
    const before = maxTerm(cluster);
    const acceptedBefore = accepted(cluster);
    // The stranger trusts the cluster's CA, so it is the cluster that must say no.
    const stranger: KeyPair = strangerCert;
    await attack(
      cluster,
      { tls: { key: stranger.key, cert: stranger.cert, ca: caOne.ca } },
      before + 100,
      () => refusals(cluster) >= 3,
    );
    expect(maxTerm(cluster)).toBeLessThan(before + 100);
    expect(accepted(cluster)).toBe(acceptedBefore);
    expect(refusals(cluster)).toBeGreaterThanOrEqual(3);
    const reasons = cluster.logs
      .filter((l) => l.message === 'refused a connection')
      .map((l) => String(l.fields.reason));
    expect(reasons.length).toBeGreaterThan(0);
    expect(new Set(reasons)).toEqual(
      new Set(['TLS: client certificate (CN=d) rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE']),
    );
  });

  it('a TLS cluster refuses a TLS client that presents no certificate, saying so', { timeout: 60_000 }, async () => {
    const cluster = await startCluster({ key: memberCert.key, cert: memberCert.cert, ca: caOne.ca });
    const port = Number(cluster.addresses.a!.split(':')[1]);
    const socket = tls.connect({ host: HOST, port, ca: caOne.ca });
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('close', resolve));
    const reasons = cluster.logs.filter((l) => l.message === 'refused a connection').map((l) => l.fields.reason);
    expect(reasons).toEqual(['TLS: the peer presented no client certificate']);
  });

  it(
    'control: the same attack over TLS with a certificate from the cluster CA does raise the term',
    { timeout: 60_000 },
    async () => {
      const cluster = await startCluster({ key: memberCert.key, cert: memberCert.cert, ca: caOne.ca });
      const before = maxTerm(cluster);
      await attack(
        cluster,
        { tls: { key: insiderCert.key, cert: insiderCert.cert, ca: caOne.ca } },
        before + 100,
        () => maxTerm(cluster) >= before + 100,
      );
      expect(maxTerm(cluster)).toBeGreaterThanOrEqual(before + 100);
    },
  );
});
