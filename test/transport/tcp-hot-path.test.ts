/**
 * Work TcpTransport.send must not do: here, encoding messages that are
 * dropped anyway. encodeMessage is wrapped in a spy (calling the real one)
 * so the tests can count how often the transport encodes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeMessage } from '../../src/codec/codec.js';
import type { AppendEntries } from '../../src/messages.js';
import { TcpTransport } from '../../src/tcp.js';
import { PATIENCE } from '../helpers/wait.js';
import { freePorts, HOST } from './tcp-network.js';

vi.mock('../../src/codec/codec.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/codec/codec.js')>();
  return { ...actual, encodeMessage: vi.fn(actual.encodeMessage) };
});

const encodeCalls = () => vi.mocked(encodeMessage).mock.calls.length;

function append(seq: number, bytes: number): AppendEntries {
  return {
    type: 'AppendEntries',
    from: 'a',
    to: 'b',
    term: 1,
    prevLogIndex: seq,
    prevLogTerm: 1,
    entries: [{ index: seq + 1, term: 1, type: 'normal', data: new Uint8Array(bytes) }],
    leaderCommit: 0,
  };
}

const toStop: TcpTransport[] = [];
afterEach(async () => {
  await Promise.all(toStop.splice(0).map((t) => t.stop()));
});

describe('TcpTransport hot path', () => {
  it('does not encode messages for a peer it is backing off from (they are dropped unencoded)', async () => {
    // Nothing listens at b's port: the first message fails to connect, and
    // the lane then waits out a long backoff. A leader keeps sending a down
    // follower large appends; copying each into a frame only to drop it is
    // wasted work on the hot path.
    const [aPort, bPort] = await freePorts(2);
    const a = new TcpTransport({
      id: 'a',
      listen: { host: HOST, port: aPort! },
      peers: { b: `${HOST}:${bPort}` },
      clusterId: 'c',
      reconnect: { minDelayMs: 10_000, maxDelayMs: 20_000 },
    });
    await a.start(() => undefined);
    toStop.push(a);
    a.send(append(0, 1024));
    // The failed connection drops the first message.
    await vi.waitFor(() => expect(a.stats().messagesDropped).toBe(1), PATIENCE);
    const before = encodeCalls();
    for (let seq = 1; seq <= 100; seq++) a.send(append(seq, 256 * 1024));
    expect(a.stats().messagesDropped).toBe(101);
    expect(encodeCalls() - before).toBe(0);
  });
});
