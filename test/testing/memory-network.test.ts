import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import type { Heartbeat, RaftMessage, RequestVote } from '../../src/messages.js';
import { MemoryNetwork } from '../../src/testing/memory-network.js';
import type { Transport } from '../../src/transport/transport.js';

/** A heartbeat numbered by `readSeq`, so tests can tell messages apart. */
function hb(from: string, to: string, seq: number): Heartbeat {
  return { type: 'Heartbeat', from, to, term: 1, commit: 0, readSeq: seq };
}

function vote(from: string, to: string): RequestVote {
  return { type: 'RequestVote', from, to, term: 2, lastLogIndex: 0, lastLogTerm: 0, preVote: false, transfer: false };
}

interface Node {
  readonly transport: Transport;
  readonly inbox: RaftMessage[];
  /** readSeq of every heartbeat received, in order. */
  seqs(): number[];
}

function node(net: MemoryNetwork, id: string, start = true): Node {
  const transport = net.transport(id);
  const inbox: RaftMessage[] = [];
  if (start) transport.start((m) => inbox.push(m));
  return {
    transport,
    inbox,
    seqs: () => inbox.map((m) => (m as Heartbeat).readSeq),
  };
}

/** Lets every pending zero-delay flush (and flushes they schedule) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MemoryNetwork delivery', () => {
  it('delivers asynchronously, never inside send, and by reference', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    const message = hb('a', 'b', 1);
    a.transport.send(message);
    expect(b.inbox).toEqual([]);
    await settle();
    expect(b.inbox).toHaveLength(1);
    expect(b.inbox[0]).toBe(message);
  });

  it('delivers zero-delay messages in FIFO order per destination', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    const c = node(net, 'c');
    for (let i = 0; i < 1000; i++) a.transport.send(hb('a', i % 3 === 0 ? 'c' : 'b', i));
    await settle();
    const all = Array.from({ length: 1000 }, (_, i) => i);
    expect(b.seqs()).toEqual(all.filter((i) => i % 3 !== 0));
    expect(c.seqs()).toEqual(all.filter((i) => i % 3 === 0));
  });

  it('delivers a whole zero-delay batch in one turn, and replies sent meanwhile after it', async () => {
    const net = new MemoryNetwork();
    const order: string[] = [];
    const a = net.transport('a');
    const b = net.transport('b');
    a.start((m) => order.push(`a<-${(m as Heartbeat).readSeq}`));
    b.start((m) => {
      order.push(`b<-${(m as Heartbeat).readSeq}`);
      b.send(hb('b', 'a', (m as Heartbeat).readSeq + 100));
    });
    a.send(hb('a', 'b', 1));
    a.send(hb('a', 'b', 2));
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['b<-1', 'b<-2']);
    await settle();
    expect(order).toEqual(['b<-1', 'b<-2', 'a<-101', 'a<-102']);
  });

  it('a node always reaches itself, even when isolated', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    net.isolate('a');
    a.transport.send(hb('a', 'a', 1));
    await settle();
    expect(a.seqs()).toEqual([1]);
  });

  it('drops messages for ids with no transport, or whose transport is not started', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    node(net, 'b', false);
    a.transport.send(hb('a', 'b', 1));
    a.transport.send(hb('a', 'nobody', 2));
    await settle();
    expect(net.stats()).toMatchObject({ sent: 2, delivered: 0, dropped: 2 });
  });

  it('a handler that throws does not cost other receivers their messages, and its error surfaces', () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    net.transport('b').start(() => {
      throw new Error('boom');
    });
    const c = node(net, 'c');
    a.transport.send(hb('a', 'b', 1));
    a.transport.send(hb('a', 'c', 2));
    expect(() => vi.runOnlyPendingTimers()).toThrow('boom');
    expect(c.seqs()).toEqual([2]);
    expect(net.stats().delivered).toBe(2);
  });
});

describe('MemoryNetwork isolation and partitions', () => {
  it('isolate cuts every link of a node in both directions; others still talk', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    const c = node(net, 'c');
    net.isolate('a');
    a.transport.send(hb('a', 'b', 1));
    b.transport.send(hb('b', 'a', 2));
    b.transport.send(hb('b', 'c', 3));
    await settle();
    expect(a.inbox).toEqual([]);
    expect(b.inbox).toEqual([]);
    expect(c.seqs()).toEqual([3]);
    expect(net.stats()).toMatchObject({ sent: 3, delivered: 1, dropped: 2 });
  });

  it('a message in flight is dropped when its link is cut before delivery', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    a.transport.send(hb('a', 'b', 1));
    net.isolate('b');
    await settle();
    expect(b.inbox).toEqual([]);
    expect(net.stats().dropped).toBe(1);
  });

  it('rejoin restores links except to nodes that are themselves isolated', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    const c = node(net, 'c');
    net.isolate('a');
    net.isolate('b');
    net.rejoin('a');
    a.transport.send(hb('a', 'c', 1));
    c.transport.send(hb('c', 'a', 2));
    a.transport.send(hb('a', 'b', 3));
    b.transport.send(hb('b', 'a', 4));
    await settle();
    expect(c.seqs()).toEqual([1]);
    expect(a.seqs()).toEqual([2]);
    expect(b.inbox).toEqual([]);

    net.rejoin('b');
    a.transport.send(hb('a', 'b', 5));
    b.transport.send(hb('b', 'a', 6));
    await settle();
    expect(b.seqs()).toEqual([5]);
    expect(a.seqs()).toEqual([2, 6]);
  });

  it('partition lets nodes talk only within their group; unnamed nodes reach only each other', async () => {
    const net = new MemoryNetwork();
    const nodes = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((id) => [id, node(net, id)]));
    net.partition(['a', 'b'], ['c']);
    const ids = Object.keys(nodes);
    let seq = 0;
    const sentTo = new Map<number, string>();
    for (const from of ids) {
      for (const to of ids) {
        if (from === to) continue;
        sentTo.set(seq, `${from}->${to}`);
        nodes[from].transport.send(hb(from, to, seq++));
      }
    }
    await settle();
    const delivered = ids.flatMap((id) => nodes[id].seqs().map((s) => sentTo.get(s))).sort();
    expect(delivered).toEqual(['a->b', 'b->a', 'd->e', 'e->d']);
  });

  it('a new partition replaces the previous one, and partition() with no groups removes it', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    net.partition(['a'], ['b']);
    net.partition(['a', 'b']);
    a.transport.send(hb('a', 'b', 1));
    await settle();
    expect(b.seqs()).toEqual([1]);
    net.partition(['a'], ['b']);
    net.partition();
    a.transport.send(hb('a', 'b', 2));
    await settle();
    expect(b.seqs()).toEqual([1, 2]);
  });

  it('partition refuses a node named in two groups', () => {
    const net = new MemoryNetwork();
    expect(() => net.partition(['a', 'b'], ['b', 'c'])).toThrow(ConfigError);
    expect(() => net.partition(['a', 'b'], ['b', 'a'])).toThrow(
      expect.objectContaining({
        issues: [
          { path: 'groups.1.0', message: '"b" is already in group 0' },
          { path: 'groups.1.1', message: '"a" is already in group 0' },
        ],
      }),
    );
  });

  it('heal removes every partition, isolation and cut', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    const c = node(net, 'c');
    net.partition(['a'], ['b', 'c']);
    net.isolate('c');
    net.cut('b', 'a');
    net.heal();
    a.transport.send(hb('a', 'b', 1));
    b.transport.send(hb('b', 'a', 2));
    c.transport.send(hb('c', 'a', 3));
    await settle();
    expect(b.seqs()).toEqual([1]);
    expect(a.seqs()).toEqual([2, 3]);
  });

  it('cut blocks one direction only, and uncut restores it', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    net.cut('a', 'b');
    a.transport.send(hb('a', 'b', 1));
    b.transport.send(hb('b', 'a', 2));
    await settle();
    expect(b.inbox).toEqual([]);
    expect(a.seqs()).toEqual([2]);
    net.uncut('a', 'b');
    a.transport.send(hb('a', 'b', 3));
    await settle();
    expect(b.seqs()).toEqual([3]);
  });

  it("a replaced transport (restarted node) keeps its id's isolation; the old one goes deaf and mute", async () => {
    const net = new MemoryNetwork();
    const old = node(net, 'a');
    const b = node(net, 'b');
    net.isolate('a');
    const fresh = node(net, 'a');
    b.transport.send(hb('b', 'a', 1));
    await settle();
    expect(fresh.inbox).toEqual([]);

    net.rejoin('a');
    b.transport.send(hb('b', 'a', 2));
    old.transport.send(hb('a', 'b', 3));
    fresh.transport.send(hb('a', 'b', 4));
    await settle();
    expect(fresh.seqs()).toEqual([2]);
    expect(old.inbox).toEqual([]);
    expect(b.seqs()).toEqual([4]);
    // The old transport's send is a no-op, not even counted.
    expect(net.stats().sent).toBe(3);
  });
});

describe('MemoryNetwork conditions', () => {
  it('dropRate 1 drops every message and counts it', async () => {
    const net = new MemoryNetwork({ seed: 3 });
    const a = node(net, 'a');
    const b = node(net, 'b');
    net.configure({ dropRate: 1 });
    for (let i = 0; i < 50; i++) a.transport.send(hb('a', 'b', i));
    await settle();
    expect(b.inbox).toEqual([]);
    expect(net.stats()).toMatchObject({ sent: 50, delivered: 0, dropped: 50 });
  });

  it('a partial dropRate drops some and delivers the rest, reproducibly for a seed', async () => {
    const run = async (seed: number) => {
      const net = new MemoryNetwork({ seed });
      const a = node(net, 'a');
      const b = node(net, 'b');
      net.configure({ dropRate: 0.5 });
      for (let i = 0; i < 200; i++) a.transport.send(hb('a', 'b', i));
      await settle();
      expect(net.stats().delivered + net.stats().dropped).toBe(200);
      return b.seqs();
    };
    const first = await run(11);
    expect(first.length).toBeGreaterThan(50);
    expect(first.length).toBeLessThan(150);
    expect(await run(11)).toEqual(first);
    expect(await run(12)).not.toEqual(first);
  });

  it('duplicateRate 1 delivers every message twice but counts one send', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    net.configure({ duplicateRate: 1 });
    a.transport.send(hb('a', 'b', 1));
    a.transport.send(hb('a', 'b', 2));
    await settle();
    expect(b.seqs()).toEqual([1, 1, 2, 2]);
    expect(net.stats()).toMatchObject({ sent: 2, delivered: 4, dropped: 0 });
  });

  it('a fixed delay holds each message for that long', async () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    net.configure({ minDelayMs: 10, maxDelayMs: 10 });
    a.transport.send(hb('a', 'b', 1));
    await vi.advanceTimersByTimeAsync(9);
    expect(b.inbox).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(b.seqs()).toEqual([1]);
  });

  it('random delays reorder messages but deliver them all', async () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork({ seed: 5 });
    const a = node(net, 'a');
    const b = node(net, 'b');
    net.configure({ minDelayMs: 0, maxDelayMs: 50 });
    for (let i = 0; i < 100; i++) a.transport.send(hb('a', 'b', i));
    await vi.advanceTimersByTimeAsync(10);
    expect(b.inbox.length).toBeGreaterThan(0);
    expect(b.inbox.length).toBeLessThan(100);
    await vi.advanceTimersByTimeAsync(50);
    const seqs = b.seqs();
    expect(seqs).toHaveLength(100);
    expect(seqs).not.toEqual([...seqs].sort((x, y) => x - y));
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('configure merges into the current settings', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    net.configure({ dropRate: 1 });
    net.configure({ duplicateRate: 0, minDelayMs: 0 });
    a.transport.send(hb('a', 'b', 1));
    await settle();
    expect(b.inbox).toEqual([]);
    net.configure({ dropRate: 0 });
    a.transport.send(hb('a', 'b', 2));
    await settle();
    expect(b.seqs()).toEqual([2]);
  });

  it('configure rejects bad values with one ConfigError listing each, and changes nothing', async () => {
    const net = new MemoryNetwork();
    let error: unknown;
    try {
      net.configure({ dropRate: 1.5, duplicateRate: -0.1, minDelayMs: -1, maxDelayMs: Number.NaN });
    } catch (e) {
      error = e;
    }
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).issues.map((i) => i.path).sort()).toEqual([
      'dropRate',
      'duplicateRate',
      'maxDelayMs',
      'minDelayMs',
    ]);

    expect(() => net.configure({ minDelayMs: 20, maxDelayMs: 10 })).toThrow(/maxDelayMs/);
    expect(() => net.configure({ maxDelayMs: -5 })).toThrow(ConfigError);
    expect(() => net.configure({ jitter: 3 } as never)).toThrow(/jitter/);

    // Nothing was applied: the network is still reliable and immediate.
    const a = node(net, 'a');
    const b = node(net, 'b');
    a.transport.send(hb('a', 'b', 1));
    await settle();
    expect(b.seqs()).toEqual([1]);
  });

  it('rejects a non-integer seed and an empty node id', () => {
    expect(() => new MemoryNetwork({ seed: 1.5 })).toThrow(ConfigError);
    expect(() => new MemoryNetwork().transport('')).toThrow(ConfigError);
  });
});

describe('MemoryNetwork stats and lifecycle', () => {
  it('stats counts sends by message type', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    node(net, 'b');
    a.transport.send(hb('a', 'b', 1));
    a.transport.send(hb('a', 'b', 2));
    a.transport.send(vote('a', 'b'));
    await settle();
    const stats = net.stats();
    expect(stats.byType).toEqual({ Heartbeat: 2, RequestVote: 1 });
    expect(stats).toMatchObject({ sent: 3, delivered: 3, dropped: 0 });
    // stats() is a snapshot: changing it does not change the network's counters.
    stats.byType.Heartbeat = 99;
    expect(net.stats().byType.Heartbeat).toBe(2);
  });

  it('after stop nothing is delivered to the transport, in flight or later, and its send is a silent no-op', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    a.transport.send(hb('a', 'b', 1));
    await b.transport.stop();
    a.transport.send(hb('a', 'b', 2));
    expect(() => b.transport.send(hb('b', 'a', 3))).not.toThrow();
    await settle();
    expect(b.inbox).toEqual([]);
    expect(a.inbox).toEqual([]);
    expect(net.stats()).toMatchObject({ sent: 2, delivered: 0, dropped: 2 });
  });

  it('a stopped transport can be started again and receives again', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    const b = node(net, 'b');
    await b.transport.stop();
    b.transport.start((m) => b.inbox.push(m));
    a.transport.send(hb('a', 'b', 1));
    await settle();
    expect(b.seqs()).toEqual([1]);
  });

  it('starting a transport twice is refused', () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a');
    expect(() => a.transport.start(() => {})).toThrow(/already started/);
  });
});
