import { describe, expect, it } from 'vitest';
import type { RaftMessage } from '../../src/messages.js';
import { EventQueue } from '../../src/testing/sim/event-queue.js';
import { SimNetwork } from '../../src/testing/sim/sim-network.js';
import { simRandom } from '../../src/testing/sim/sim-random.js';

function network(): { net: SimNetwork; queue: EventQueue; received: RaftMessage[]; sent: RaftMessage[] } {
  const queue = new EventQueue();
  const sent: RaftMessage[] = [];
  const net = new SimNetwork(
    queue,
    simRandom(1),
    () => undefined,
    (m) => sent.push(m),
  );
  const received: RaftMessage[] = [];
  net.transport('b').start((m) => received.push(m));
  return { net, queue, received, sent };
}

const heartbeat: RaftMessage = { type: 'Heartbeat', from: 'a', to: 'b', term: 1, commit: 0, readSeq: 0 };
const append: RaftMessage = {
  type: 'AppendEntries',
  from: 'a',
  to: 'b',
  term: 1,
  prevLogIndex: 0,
  prevLogTerm: 0,
  entries: [],
  leaderCommit: 0,
};

function drain(queue: EventQueue): void {
  for (let run = queue.next(); run !== null; run = queue.next()) run();
}

describe('SimNetwork', () => {
  it('loses one message type while the others get through, and restores it', () => {
    const { net, queue, received } = network();
    const a = net.transport('a');
    a.start(() => undefined);
    net.dropTypes(['Heartbeat', 'HeartbeatResponse'], 1);
    for (let i = 0; i < 20; i++) {
      a.send(heartbeat);
      a.send(append);
    }
    drain(queue);
    expect(received.map((m) => m.type)).toEqual(Array(20).fill('AppendEntries'));
    net.dropTypes(['Heartbeat', 'HeartbeatResponse'], 0);
    a.send(heartbeat);
    drain(queue);
    expect(received.at(-1)?.type).toBe('Heartbeat');
  });

  it('reports every message a live process sends, even one the network then loses', () => {
    const { net, queue, sent, received } = network();
    const a = net.transport('a');
    a.start(() => undefined);
    net.block('a', 'b');
    a.send(append);
    net.unblock('a', 'b');
    a.send(heartbeat);
    drain(queue);
    expect(sent.map((m) => m.type)).toEqual(['AppendEntries', 'Heartbeat']);
    expect(received.map((m) => m.type)).toEqual(['Heartbeat']);
  });

  it('an isolated node stays cut off through heals until it rejoins, both ways, and a chunk in flight is lost', () => {
    const { net, queue, received } = network();
    const a = net.transport('a');
    const atA: RaftMessage[] = [];
    a.start((m) => atA.push(m));
    const chunk: RaftMessage = {
      type: 'InstallSnapshot',
      from: 'a',
      to: 'b',
      term: 1,
      snapshot: { index: 5, term: 1, voters: ['a', 'b'], learners: [] },
      offset: 0,
      totalBytes: 4,
      data: Uint8Array.of(1, 2, 3, 4),
    };
    a.send(chunk);
    net.isolate('b');
    net.heal();
    drain(queue);
    a.send(heartbeat);
    const b = net.transport('b');
    b.start((m) => received.push(m));
    b.send({ type: 'HeartbeatResponse', from: 'b', to: 'a', term: 1, readSeq: 0 });
    drain(queue);
    expect(received).toEqual([]);
    expect(atA).toEqual([]);
    expect(net.isIsolated('b')).toBe(true);
    expect(net.describeLinks()).toBe('blocked b:isolated');
    net.rejoin('b');
    a.send(heartbeat);
    b.send({ type: 'HeartbeatResponse', from: 'b', to: 'a', term: 1, readSeq: 0 });
    drain(queue);
    expect(received.map((m) => m.type)).toEqual(['Heartbeat']);
    expect(atA.map((m) => m.type)).toEqual(['HeartbeatResponse']);
    expect(net.chunksSent).toBe(1);
  });
});
