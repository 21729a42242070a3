/**
 * The conformance suite for Transport implementations: call
 * `testTransportConformance({ name, create })` inside a vitest test file and
 * it registers the tests every transport must pass, the built-in ones
 * included. Each test builds a fresh network with `create`, so transports
 * never share state between tests.
 *
 * What is checked is the contract written on the Transport interface:
 * delivery of every message type as an equal object, no delivery inside
 * `send`, `send` that neither throws nor blocks on unknown or dead peers,
 * large messages (a batch of entries, a snapshot chunk), many peers, nothing delivered after `stop()`, and `stop()`
 * releasing what the transport held (a restarted node can take the same
 * place; no socket, server or timer is left behind).
 */
import type * as Vitest from 'vitest';
import type { AppendEntries, Entry, InstallSnapshot, RaftMessage } from '../messages.js';
import type { Transport } from '../transport/transport.js';
import { type VitestApi, vitestApi } from './vitest-api.js';

// Bound when the suite is registered: vitest may not be imported at load time (see vitest-api.ts).
let describe: typeof Vitest.describe;
let it: typeof Vitest.it;
let expect: typeof Vitest.expect;

/** One network of transports for the given node ids, made afresh for each test. */
export interface ConformanceNetwork {
  /**
   * A new, unstarted transport for node `id` (one of the ids given to
   * `create`). Called again for an id whose transport was stopped, it makes
   * that node's replacement, as a restarted process would (same address).
   */
  transport(id: string): Transport | Promise<Transport>;
  /** Releases what the network itself holds, after every transport was stopped. Optional. */
  close?(): void | Promise<void>;
}

export interface TransportConformanceOptions {
  /** Shown in the suite's name. */
  readonly name: string;
  /** Makes a network in which `ids` can reach one another. */
  create(ids: readonly string[]): ConformanceNetwork | Promise<ConformanceNetwork>;
  /** Size of the large-message tests' payloads: an AppendEntries' entries, one snapshot chunk. Default 4 MiB. */
  readonly largeMessageBytes?: number;
  /** How long to wait for an expected delivery. Default 5000 ms. */
  readonly deliveryTimeoutMs?: number;
  /** vitest's functions, if they cannot be found on their own (see vitestApi). */
  readonly vitest?: Partial<VitestApi>;
}

interface TestNode {
  readonly id: string;
  readonly transport: Transport;
  readonly inbox: RaftMessage[];
}

const TEST_TIMEOUT_MS = 30_000;

function heartbeat(from: string, to: string, seq: number): RaftMessage {
  return { type: 'Heartbeat', from, to, term: 3, commit: 2, readSeq: seq };
}

/** `length` bytes of a pattern that differs with `seed`, so misplaced or mixed-up bytes show. */
function pattern(length: number, seed: number): Uint8Array {
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i++) data[i] = (i * 7 + seed * 13) & 0xff;
  return data;
}

function entries(firstIndex: number, payloads: readonly Uint8Array[]): Entry[] {
  return payloads.map((data, i) => ({ index: firstIndex + i, term: 2, type: 'normal' as const, data }));
}

/** One message of every type, each with distinctive field values. */
function oneOfEachType(from: string, to: string): RaftMessage[] {
  const payload = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);
  return [
    { type: 'RequestVote', from, to, term: 7, lastLogIndex: 41, lastLogTerm: 6, preVote: true, transfer: false },
    { type: 'RequestVoteResponse', from, to, term: 7, granted: true, preVote: false },
    {
      type: 'AppendEntries',
      from,
      to,
      term: 7,
      prevLogIndex: 40,
      prevLogTerm: 6,
      entries: [
        { index: 41, term: 6, type: 'noop', data: new Uint8Array(0) },
        { index: 42, term: 7, type: 'normal', data: payload(16) },
        { index: 43, term: 7, type: 'config', data: payload(300) },
      ],
      leaderCommit: 39,
    },
    {
      type: 'AppendEntriesResponse',
      from,
      to,
      term: 7,
      success: false,
      matchIndex: 0,
      rejectedIndex: 40,
      hintIndex: 35,
      hintTerm: 5,
    },
    { type: 'Heartbeat', from, to, term: 7, commit: 39, readSeq: 12 },
    { type: 'HeartbeatResponse', from, to, term: 7, readSeq: 12 },
    { type: 'ReadIndex', from, to, term: 7, ctx: 'read-42 ✓ 🦊' },
    { type: 'ReadIndexResponse', from, to, term: 7, ctx: 'read-42 ✓ 🦊', index: 39, ok: true },
    {
      type: 'InstallSnapshot',
      from,
      to,
      term: 7,
      snapshot: { index: 30, term: 5, voters: [from, to, 'v3'], learners: ['l4'] },
      offset: 64,
      totalBytes: 200,
      data: payload(100),
    },
    { type: 'InstallSnapshotResponse', from, to, term: 7, snapshotIndex: 30, received: 164, done: false },
    { type: 'TimeoutNow', from, to, term: 7 },
  ];
}

/** Polls until `predicate` holds; fails the test naming `what` after `timeoutMs`. */
async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The kinds of live handles a transport could leak: sockets, servers, timers. */
const HANDLE_KINDS = ['TCPServerWrap', 'TCPSocketWrap', 'TLSWrap', 'PipeServerWrap', 'UDPWrap', 'Timeout'];

function handleCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) {
    if (HANDLE_KINDS.includes(kind)) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

function leakedHandles(baseline: Map<string, number>): string[] {
  const leaks: string[] = [];
  for (const [kind, count] of handleCounts()) {
    const before = baseline.get(kind) ?? 0;
    if (count > before) leaks.push(`${count - before} × ${kind}`);
  }
  return leaks;
}

/**
 * Registers the conformance tests for one transport. Use it at the top
 * level of a test file, or inside a `describe`.
 */
export function testTransportConformance(options: TransportConformanceOptions): void {
  ({ describe, it, expect } = vitestApi(options.vitest));
  const largeBytes = options.largeMessageBytes ?? 4 << 20;
  const timeoutMs = options.deliveryTimeoutMs ?? 5000;

  /** Makes a network, starts a transport for each id in `start`, runs `body`, and always cleans up. */
  async function withNetwork(
    ids: readonly string[],
    start: readonly string[],
    body: (ctx: {
      network: ConformanceNetwork;
      nodes: Map<string, TestNode>;
      startNode(id: string): Promise<TestNode>;
    }) => Promise<void>,
  ): Promise<void> {
    const network = await options.create(ids);
    const nodes = new Map<string, TestNode>();
    const started: Transport[] = [];
    const startNode = async (id: string): Promise<TestNode> => {
      const transport = await network.transport(id);
      const inbox: RaftMessage[] = [];
      await transport.start((message) => {
        inbox.push(message);
      });
      started.push(transport);
      const node = { id, transport, inbox };
      nodes.set(id, node);
      return node;
    };
    try {
      for (const id of start) await startNode(id);
      await body({ network, nodes, startNode });
    } finally {
      await Promise.all(started.map((t) => t.stop()));
      await network.close?.();
    }
  }

  /**
   * Sends a large `message` from a to b with a heartbeat after it (which
   * must arrive too, and may overtake it), and returns what b received of
   * the message's type.
   */
  async function deliverLarge<T extends RaftMessage>(nodes: Map<string, TestNode>, message: T): Promise<T> {
    nodes.get('a')!.transport.send(message);
    nodes.get('a')!.transport.send(heartbeat('a', 'b', 1));
    const inbox = nodes.get('b')!.inbox;
    await waitFor(() => inbox.length === 2, timeoutMs, `b to receive the large ${message.type} and a heartbeat`);
    const received = inbox.find((m) => m.type === message.type);
    expect(received?.type).toBe(message.type);
    return received as T;
  }

  describe(`Transport conformance: ${options.name}`, () => {
    it(
      'delivers a message to its addressee as an equal object, and to no one else',
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        await withNetwork(['a', 'b', 'c'], ['a', 'b', 'c'], async ({ nodes }) => {
          const [a, b, c] = ['a', 'b', 'c'].map((id) => nodes.get(id)!);
          const message = heartbeat('a', 'b', 1);
          a.transport.send(message);
          await waitFor(() => b.inbox.length === 1, timeoutMs, 'b to receive the heartbeat');
          expect(b.inbox[0]).toEqual(message);
          // Messages are immutable: the transport must not have changed the original.
          expect(message).toEqual(heartbeat('a', 'b', 1));
          expect(a.inbox).toEqual([]);
          expect(c.inbox).toEqual([]);
        });
      },
    );

    it('delivers every message type with every field intact', { timeout: TEST_TIMEOUT_MS }, async () => {
      await withNetwork(['a', 'b'], ['a', 'b'], async ({ nodes }) => {
        const sent = oneOfEachType('a', 'b');
        for (const message of sent) nodes.get('a')!.transport.send(message);
        const inbox = nodes.get('b')!.inbox;
        await waitFor(() => inbox.length === sent.length, timeoutMs, `b to receive ${sent.length} messages`);
        // Order across message types is not part of the contract.
        const byType = (list: RaftMessage[]) => [...list].sort((x, y) => x.type.localeCompare(y.type));
        const received = byType(inbox);
        const expected = byType(sent);
        expect(received.map((m) => m.type)).toEqual(expected.map((m) => m.type));
        for (let i = 0; i < expected.length; i++) {
          expect(received[i]).toEqual(expected[i]);
        }
        // Entry data arrives as bytes, whatever the transport does on the way.
        const append = inbox.find((m) => m.type === 'AppendEntries');
        expect(append?.type === 'AppendEntries' && append.entries.every((e) => e.data instanceof Uint8Array)).toBe(
          true,
        );
      });
    });

    it(
      'never calls onMessage inside send, not even for a message to the sender itself',
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        let inSend = false;
        let calledInsideSend = 0;
        const network = await options.create(['a', 'b']);
        const a = await network.transport('a');
        const b = await network.transport('b');
        const received: RaftMessage[] = [];
        const handler = (message: RaftMessage) => {
          if (inSend) calledInsideSend++;
          received.push(message);
        };
        try {
          await a.start(handler);
          await b.start(handler);
          inSend = true;
          for (let i = 0; i < 50; i++) {
            a.send(heartbeat('a', 'b', i));
            a.send(heartbeat('a', 'a', i));
          }
          inSend = false;
          expect(calledInsideSend).toBe(0);
          await waitFor(
            () => received.filter((m) => m.to === 'b').length === 50,
            timeoutMs,
            'b to receive 50 heartbeats',
          );
          expect(calledInsideSend).toBe(0);
        } finally {
          await a.stop();
          await b.stop();
          await network.close?.();
        }
      },
    );

    it(
      'send to an unknown peer or a peer that is down neither throws nor blocks, and later sends still work',
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        // c is part of the network but never started: its address leads nowhere.
        await withNetwork(['a', 'b', 'c'], ['a', 'b'], async ({ nodes }) => {
          const a = nodes.get('a')!;
          const b = nodes.get('b')!;
          const started = performance.now();
          let slowest = 0;
          for (let i = 0; i < 1000; i++) {
            const t = performance.now();
            expect(() => a.transport.send(heartbeat('a', 'c', i))).not.toThrow();
            expect(() => a.transport.send(heartbeat('a', 'nobody', i))).not.toThrow();
            slowest = Math.max(slowest, performance.now() - t);
          }
          const total = performance.now() - started;
          // Connecting or waiting on a dead peer takes seconds. The bounds
          // leave room for a loaded machine (a GC pause or a preempted
          // thread took one send past 100 ms beside other test files).
          expect(total).toBeLessThan(2000);
          expect(slowest).toBeLessThan(500);
          // Give any connection attempts time to fail; nothing may blow up.
          await pause(100);
          a.transport.send(heartbeat('a', 'b', 7));
          await waitFor(() => b.inbox.length === 1, timeoutMs, 'b to receive after sends to dead peers');
          expect(b.inbox[0]).toEqual(heartbeat('a', 'b', 7));
        });
      },
    );

    it(
      `carries a large AppendEntries (${Math.round(largeBytes / 1024)} KiB of entries) intact`,
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        await withNetwork(['a', 'b'], ['a', 'b'], async ({ nodes }) => {
          const count = 8;
          const payloads = Array.from({ length: count }, (_, i) => pattern(Math.floor(largeBytes / count), i));
          const message: AppendEntries = {
            type: 'AppendEntries',
            from: 'a',
            to: 'b',
            term: 4,
            prevLogIndex: 99,
            prevLogTerm: 4,
            entries: entries(100, payloads),
            leaderCommit: 98,
          };
          const received = await deliverLarge(nodes, message);
          expect(received.entries).toHaveLength(count);
          for (let i = 0; i < count; i++) {
            const got = received.entries[i]!;
            expect({ index: got.index, term: got.term, type: got.type }).toEqual({
              index: 100 + i,
              term: 2,
              type: 'normal',
            });
            // Compared as Buffers: a per-element comparison of megabytes is slow.
            expect(Buffer.compare(Buffer.from(got.data), Buffer.from(payloads[i]!))).toBe(0);
          }
        });
      },
    );

    it(
      `carries a large InstallSnapshot chunk (${Math.round(largeBytes / 1024)} KiB) intact`,
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        await withNetwork(['a', 'b'], ['a', 'b'], async ({ nodes }) => {
          const data = pattern(largeBytes, 5);
          // The second of three chunks of a snapshot, as a leader sends it (§7).
          const message: InstallSnapshot = {
            type: 'InstallSnapshot',
            from: 'a',
            to: 'b',
            term: 4,
            snapshot: { index: 5000, term: 3, voters: ['a', 'b', 'c'], learners: ['d'] },
            offset: largeBytes,
            totalBytes: 3 * largeBytes,
            data,
          };
          const received = await deliverLarge(nodes, message);
          expect({ ...received, data: null }).toEqual({ ...message, data: null });
          expect(received.data).toBeInstanceOf(Uint8Array);
          // Compared as Buffers: a per-element comparison of megabytes is slow.
          expect(Buffer.compare(Buffer.from(received.data), Buffer.from(data))).toBe(0);
        });
      },
    );

    it('delivers between every pair of 8 peers', { timeout: TEST_TIMEOUT_MS }, async () => {
      const ids = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8'];
      await withNetwork(ids, ids, async ({ nodes }) => {
        for (const from of ids) {
          for (const to of ids)
            if (to !== from) nodes.get(from)!.transport.send(heartbeat(from, to, ids.indexOf(from)));
        }
        await waitFor(
          () => ids.every((id) => nodes.get(id)!.inbox.length === ids.length - 1),
          timeoutMs,
          'every node to hear from every other',
        );
        for (const id of ids) {
          const senders = nodes
            .get(id)!
            .inbox.map((m) => m.from)
            .sort();
          expect(senders).toEqual(ids.filter((other) => other !== id).sort());
          expect(nodes.get(id)!.inbox.every((m) => m.to === id)).toBe(true);
        }
      });
    });

    it('delivers a burst of 5,000 messages sent in one go', { timeout: TEST_TIMEOUT_MS }, async () => {
      await withNetwork(['a', 'b'], ['a', 'b'], async ({ nodes }) => {
        for (let i = 0; i < 5000; i++) nodes.get('a')!.transport.send(heartbeat('a', 'b', i));
        const inbox = nodes.get('b')!.inbox;
        await waitFor(() => inbox.length === 5000, timeoutMs, 'b to receive 5,000 heartbeats');
        const seqs = new Set(inbox.map((m) => (m.type === 'Heartbeat' ? m.readSeq : -1)));
        expect(seqs.size).toBe(5000);
      });
    });

    it(
      'after stop resolves, onMessage is never called again and send is a no-op',
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        await withNetwork(['a', 'b'], ['a', 'b'], async ({ nodes }) => {
          const a = nodes.get('a')!;
          const b = nodes.get('b')!;
          a.transport.send(heartbeat('a', 'b', 1));
          await waitFor(() => b.inbox.length === 1, timeoutMs, 'the first heartbeat');
          await b.transport.stop();
          const before = b.inbox.length;
          for (let i = 0; i < 100; i++) a.transport.send(heartbeat('a', 'b', 100 + i));
          expect(() => b.transport.send(heartbeat('b', 'a', 1))).not.toThrow();
          await pause(200);
          expect(b.inbox.length).toBe(before);
          expect(a.inbox).toEqual([]);
        });
      },
    );

    it(
      'stop resolves promptly even with messages in flight and connections open',
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        await withNetwork(['a', 'b', 'c'], ['a', 'b', 'c'], async ({ nodes }) => {
          for (let i = 0; i < 2000; i++) {
            nodes.get('a')!.transport.send(heartbeat('a', 'b', i));
            nodes.get('b')!.transport.send(heartbeat('b', 'c', i));
            nodes.get('c')!.transport.send(heartbeat('c', 'a', i));
          }
          const started = performance.now();
          await Promise.all([...nodes.values()].map((n) => n.transport.stop()));
          expect(performance.now() - started).toBeLessThan(2000);
        });
      },
    );

    it(
      'a stopped node can be replaced by a new transport for the same id, which then receives',
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        await withNetwork(['a', 'b'], ['a', 'b'], async ({ nodes, startNode }) => {
          const a = nodes.get('a')!;
          a.transport.send(heartbeat('a', 'b', 1));
          await waitFor(() => nodes.get('b')!.inbox.length === 1, timeoutMs, 'the first heartbeat');
          await nodes.get('b')!.transport.stop();
          // The replacement takes the old one's place (for a network transport: its address).
          const b2 = await startNode('b');
          // The sender may need a moment to notice its old connection is gone;
          // Raft resends, and so does this test.
          let seq = 2;
          await waitFor(
            () => {
              if (b2.inbox.length === 0) a.transport.send(heartbeat('a', 'b', seq++));
              return b2.inbox.length > 0;
            },
            timeoutMs,
            'the replacement to receive',
          );
          expect(b2.inbox[0]).toMatchObject({ type: 'Heartbeat', from: 'a', to: 'b' });
        });
      },
    );

    it('stop releases every socket, server and timer the transports opened', { timeout: TEST_TIMEOUT_MS }, async () => {
      const baseline = handleCounts();
      const ids = ['a', 'b', 'c'];
      await withNetwork([...ids, 'down'], ids, async ({ nodes }) => {
        for (const from of ids) {
          for (const to of [...ids, 'down']) if (to !== from) nodes.get(from)!.transport.send(heartbeat(from, to, 1));
        }
        await waitFor(
          () => ids.every((id) => nodes.get(id)!.inbox.length === 2),
          timeoutMs,
          'every node to hear from the others',
        );
        await Promise.all([...nodes.values()].map((n) => n.transport.stop()));
      });
      // Handles close asynchronously once asked to; allow a moment.
      const deadline = Date.now() + 2000;
      while (leakedHandles(baseline).length > 0 && Date.now() < deadline) await pause(10);
      expect(leakedHandles(baseline)).toEqual([]);
    });
  });
}
