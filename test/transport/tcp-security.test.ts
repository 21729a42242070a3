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
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RaftMessage } from '../../src/messages.js';
import { RaftNode } from '../../src/node.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { TcpTransport, type TcpTransportOptions } from '../../src/tcp.js';
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

async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

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
      electionTimeoutMs: { min: 100, max: 200 },
      heartbeatIntervalMs: 20,
    });
    running.push(node);
    transports.push(transport);
    nodes.push(node);
    await node.start();
  }
  await waitFor(() => nodes.some((n) => n.isLeader()) && nodes.every((n) => n.leaderId !== null), 5000, 'a leader');
  return { nodes, transports, logs, addresses };
}

/** The messages that would each raise a node's term to `term` if delivered (§5.1). */
function attackMessages(to: string, term: number): RaftMessage[] {
  return [
    // A vote request flagged as a leadership transfer bypasses leader stickiness.
    { type: 'RequestVote', from: 'd', to, term, lastLogIndex: 1_000_000, lastLogTerm: term, preVote: false, transfer: true },
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

/** Runs an intruder as node d with `options` for 600 ms, sending the attack to a, b and c every 10 ms. */
async function attack(cluster: Cluster, options: Partial<TcpTransportOptions>, term: number): Promise<TcpTransport> {
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
  const until = Date.now() + 600;
  while (Date.now() < until) {
    for (const to of ['a', 'b', 'c']) for (const m of attackMessages(to, term)) intruder.send(m);
    await new Promise((r) => setTimeout(r, 10));
  }
  return intruder;
}

const maxTerm = (c: Cluster) => Math.max(...c.nodes.map((n) => n.term));
const refusals = (c: Cluster) => c.transports.reduce((sum, t) => sum + t.stats().handshakesRefused, 0);
const accepted = (c: Cluster) => c.transports.reduce((sum, t) => sum + t.stats().inboundAccepted, 0);

describe('TcpTransport security', () => {
  it('refuses a node configured with another cluster id; its higher-term messages never reach Raft', { timeout: 20_000 }, async () => {
    const cluster = await startCluster(undefined);
    const before = maxTerm(cluster);
    const acceptedBefore = accepted(cluster);
    const intruder = await attack(cluster, { clusterId: 'payments' }, before + 100);
    expect(maxTerm(cluster)).toBeLessThan(before + 100);
    expect(accepted(cluster)).toBe(acceptedBefore);
    expect(refusals(cluster)).toBeGreaterThanOrEqual(3);
    expect(intruder.stats().outboundRefused).toBeGreaterThanOrEqual(3);
    const reasons = cluster.logs.filter((l) => l.message === 'refused a connection').map((l) => l.fields.reason);
    expect(reasons).toContain('wrong cluster: "d" belongs to cluster "payments", this node "a" to "orders"');
    // The cluster still commits.
    const leader = cluster.nodes.find((n) => n.isLeader())!;
    await expect(leader.propose(new Uint8Array([7]))).resolves.toMatchObject({ term: leader.term });
  });

  it('control: the same attack from a node of the same cluster does raise the term', { timeout: 20_000 }, async () => {
    const cluster = await startCluster(undefined);
    const before = maxTerm(cluster);
    await attack(cluster, {}, before + 100);
    expect(maxTerm(cluster)).toBeGreaterThanOrEqual(before + 100);
  });

  it('a TLS cluster refuses a plaintext client, whatever it claims', { timeout: 20_000 }, async () => {
    const cluster = await startCluster({ key: memberCert.key, cert: memberCert.cert, ca: caOne.ca });
    const before = maxTerm(cluster);
    const acceptedBefore = accepted(cluster);
    await attack(cluster, {}, before + 100);
    expect(maxTerm(cluster)).toBeLessThan(before + 100);
    expect(accepted(cluster)).toBe(acceptedBefore);
    expect(refusals(cluster)).toBeGreaterThanOrEqual(3);
    const reasons = cluster.logs.filter((l) => l.message === 'refused a connection').map((l) => String(l.fields.reason));
    expect(reasons.length).toBeGreaterThan(0);
    expect(new Set(reasons)).toEqual(new Set(['TLS: not TLS (a plaintext peer?)']));
  });

  it('a TLS cluster refuses a client whose certificate comes from another CA', { timeout: 20_000 }, async () => {
    const cluster = await startCluster({ key: memberCert.key, cert: memberCert.cert, ca: caOne.ca });
    const before = maxTerm(cluster);
    const acceptedBefore = accepted(cluster);
    // The stranger trusts the cluster's CA, so it is the cluster that must say no.
    const stranger: KeyPair = strangerCert;
    await attack(cluster, { tls: { key: stranger.key, cert: stranger.cert, ca: caOne.ca } }, before + 100);
    expect(maxTerm(cluster)).toBeLessThan(before + 100);
    expect(accepted(cluster)).toBe(acceptedBefore);
    expect(refusals(cluster)).toBeGreaterThanOrEqual(3);
    const reasons = cluster.logs.filter((l) => l.message === 'refused a connection').map((l) => String(l.fields.reason));
    expect(reasons.length).toBeGreaterThan(0);
    expect(new Set(reasons)).toEqual(new Set(['TLS: client certificate (CN=d) rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE']));
  });

  it('a TLS cluster refuses a TLS client that presents no certificate, saying so', { timeout: 20_000 }, async () => {
    const cluster = await startCluster({ key: memberCert.key, cert: memberCert.cert, ca: caOne.ca });
    const port = Number(cluster.addresses.a!.split(':')[1]);
    const socket = tls.connect({ host: HOST, port, ca: caOne.ca });
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('close', resolve));
    const reasons = cluster.logs.filter((l) => l.message === 'refused a connection').map((l) => l.fields.reason);
    expect(reasons).toEqual(['TLS: the peer presented no client certificate']);
  });

  it('control: the same attack over TLS with a certificate from the cluster CA does raise the term', { timeout: 20_000 }, async () => {
    const cluster = await startCluster({ key: memberCert.key, cert: memberCert.cert, ca: caOne.ca });
    const before = maxTerm(cluster);
    await attack(cluster, { tls: { key: insiderCert.key, cert: insiderCert.cert, ca: caOne.ca } }, before + 100);
    expect(maxTerm(cluster)).toBeGreaterThanOrEqual(before + 100);
  });
});
