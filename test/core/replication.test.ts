/**
 * Log replication beyond the paper's one-line rules: the conflict hint
 * (§5.3, "the follower can include the term of the conflicting entry and the
 * first index it stores for that term"), tolerance of duplicated and
 * reordered messages, batching, the in-flight window, and the leader's own
 * durability counting toward commit.
 */
import { describe, expect, it } from 'vitest';
import type { Raft } from '../../src/core/raft.js';
import type { Entry, RaftMessage } from '../../src/messages.js';
import {
  Network,
  appendEntries,
  appendResponse,
  bytes,
  drain,
  logOfTerms,
  makeLeader,
  msgs,
  newRaft,
  ofType,
  readyMessages,
  run,
  termsOf,
  text,
} from './harness.js';

const ABC = ['a', 'b', 'c'];

describe('the conflict hint', () => {
  const cases = [
    {
      name: 'the follower has a long suffix of a term the leader never had',
      leader: [...logOfTerms([1]), ...run(2, 20, 3)],
      follower: [...logOfTerms([1]), ...run(2, 30, 2)],
    },
    {
      name: 'the follower has a long suffix of a term the leader also has, but shorter',
      leader: [...logOfTerms([1]), ...run(2, 4, 2), ...run(6, 15, 3)],
      follower: [...logOfTerms([1]), ...run(2, 29, 2)],
    },
    {
      name: 'the follower is missing a long suffix',
      leader: [...logOfTerms([1]), ...run(2, 30, 3)],
      follower: logOfTerms([1]),
    },
  ];
  for (const { name, leader, follower } of cases) {
    it(`§5.3: the leader skips back a whole term per rejection when ${name}`, () => {
      const a = newRaft('a', ABC, { term: 4, log: leader });
      const b = newRaft('b', ABC, { term: 2, log: follower });
      const net = new Network([a, b]); // c is down; b's vote suffices
      a.campaign();
      net.stabilize();
      expect(a.role).toBe('leader');
      const rejections = ofType(net.sent, 'AppendEntriesResponse', 'a').filter((m) => !m.success);
      // Decrementing nextIndex one by one would take 20 or more round trips here.
      expect(rejections).toHaveLength(1);
      expect(termsOf(b)).toEqual(termsOf(a));
      expect(a.commitIndex).toBe(a.lastIndex);
    });
  }
});

describe('duplicated and reordered AppendEntries', () => {
  it('§5.3: a late duplicate or a shorter reordered AppendEntries never truncates the follower log', () => {
    const b = newRaft('b', ABC);
    const e = logOfTerms([1, 1, 1]);
    const first = appendEntries({ from: 'a', to: 'b', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [e[0]] });
    const both = appendEntries({ from: 'a', to: 'b', term: 1, prevLogIndex: 1, prevLogTerm: 1, entries: [e[1], e[2]] });
    const shorter = appendEntries({ from: 'a', to: 'b', term: 1, prevLogIndex: 1, prevLogTerm: 1, entries: [e[1]] });
    const stored: Entry[] = [];
    const step = (m: RaftMessage) => {
      b.step(m);
      const rd = drain(b);
      if (rd.entries.length > 0) stored.splice(rd.entries[0].index - 1, Infinity, ...rd.entries);
      return ofType(readyMessages(rd), 'AppendEntriesResponse', 'a');
    };
    step(first);
    step(both);
    expect(termsOf(b)).toEqual([1, 1, 1]);
    for (const [m, matchIndex] of [
      [first, 1],
      [shorter, 2],
      [both, 3],
      [first, 1],
    ] as const) {
      const replies = step(m);
      expect(replies).toHaveLength(1);
      expect(replies[0]).toMatchObject({ success: true, matchIndex });
      expect(b.lastIndex).toBe(3);
      // Storage, following the Ready contract, keeps all three too.
      expect(stored.map((x) => x.index)).toEqual([1, 2, 3]);
    }
    // Once committed, a stale append below the commit index is acknowledged up to the commit.
    step(appendEntries({ from: 'a', to: 'b', term: 1, prevLogIndex: 3, prevLogTerm: 1, leaderCommit: 3 }));
    expect(b.commitIndex).toBe(3);
    const late = step(first);
    expect(late[0]).toMatchObject({ success: true, matchIndex: 3 });
    expect(b.lastIndex).toBe(3);
  });

  it('Figure 2 (durable before responding): an acknowledgement whose entries a later leader truncated before they were persisted is withdrawn', () => {
    const a = newRaft('a', ['a', 'b', 'c', 'd', 'e'], { term: 1, log: logOfTerms([1]) });
    drain(a);
    // The leader of term 1 appends 2 and 3; the acknowledgement waits for the persist...
    a.step(appendEntries({ from: 'b', to: 'a', term: 1, prevLogIndex: 1, prevLogTerm: 1, entries: run(2, 2, 1) }));
    // ...and before it happens, the leader of term 2 replaces them.
    a.step(appendEntries({ from: 'c', to: 'a', term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: run(2, 1, 2) }));
    const rd = drain(a);
    expect(rd.entries.map((e) => e.term)).toEqual([2]);
    // Only the acknowledgement of what this persist really stores leaves: b must not count entries 2-3 of
    // term 1 as stored here, for they never reach this disk.
    expect(ofType(readyMessages(rd), 'AppendEntriesResponse')).toEqual([
      expect.objectContaining({ to: 'c', term: 2, success: true, matchIndex: 2 }),
    ]);
  });

  it('§5.3 (etcd TestLogReplicationWithReorderedMessage): appends and their answers arriving out of order still converge', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    const b = net.node('b');
    const base = a.lastIndex;
    a.propose([bytes('x')]);
    const out1 = net.drainNode('a');
    a.propose([bytes('y')]);
    const out2 = net.drainNode('a');
    const toB = (ms: RaftMessage[]) => ofType(ms, 'AppendEntries', 'b');
    expect(toB(out1).length).toBeGreaterThan(0);
    expect(toB(out2).length).toBeGreaterThan(0);
    for (const m of [...out1, ...out2]) if (m.to === 'c') net.deliver(m);

    // b sees the second append first, then the first, then both again.
    const order = [...toB(out2), ...toB(out1), ...toB(out2), ...toB(out1)];
    let lastIndex = b.lastIndex;
    const answers: RaftMessage[] = [];
    for (const m of order) {
      net.deliver(m);
      expect(b.lastIndex).toBeGreaterThanOrEqual(lastIndex);
      lastIndex = b.lastIndex;
      answers.push(...net.drainNode('b'));
    }
    expect(b.lastIndex).toBe(base + 2);
    // a hears the answers in reverse order.
    for (const m of answers.reverse()) net.deliver(m);
    net.stabilize();
    net.settle('a');
    expect(a.commitIndex).toBe(base + 2);
    for (const id of ABC) {
      const r = net.node(id);
      expect(r.entries(1, r.lastIndex + 1), id).toEqual(a.entries(1, a.lastIndex + 1));
      expect(
        net.applied.get(id)!.map((e) => e.index),
        id,
      ).toEqual(Array.from({ length: base + 2 }, (_, i) => i + 1));
    }
  });
});

describe('a new leader', () => {
  it('§5.4.2: its first Ready carries an AppendEntries with its no-op entry to every follower at once, before any heartbeat', () => {
    const a = newRaft('a', ABC);
    const out = makeLeader(a); // no tick: nothing has waited for a heartbeat interval
    for (const id of ['b', 'c']) {
      const appends = ofType(out, 'AppendEntries', id);
      expect(appends, id).toHaveLength(1);
      expect(appends[0].entries).toEqual([{ index: 1, term: a.term, type: 'noop', data: new Uint8Array(0) }]);
    }
  });
});

describe('batching and flow control', () => {
  it('§5.3: a batch of proposals reaches each follower in a single AppendEntries', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    const base = a.lastIndex;
    const datas = Array.from({ length: 100 }, (_, i) => bytes(`v${i}`));
    expect(a.propose(datas)).toEqual({ ok: true, index: base + 1, term: a.term });
    expect(a.lastIndex).toBe(base + 100);
    const out = net.drainNode('a');
    for (const id of ['b', 'c']) {
      const appends = ofType(out, 'AppendEntries', id);
      expect(appends, id).toHaveLength(1);
      expect(appends[0].entries.map((e) => e.index)).toEqual(Array.from({ length: 100 }, (_, i) => base + 1 + i));
    }
    net.send(...out);
    net.stabilize();
    expect(a.commitIndex).toBe(base + 100);
    expect(
      net.applied
        .get('a')!
        .slice(-100)
        .map((e) => text(e.data)),
    ).toEqual(datas.map((d) => text(d)));
  });

  it('§5.3: AppendEntries respect maxEntriesPerAppend and maxBytesPerAppend, yet always carry at least one entry', () => {
    const net = Network.create(ABC, { maxEntriesPerAppend: 10, maxBytesPerAppend: 1000 });
    const a = net.electLeader('a');
    const small = Array.from({ length: 95 }, (_, i) => bytes(`s${i}`));
    const big = Array.from({ length: 10 }, () => new Uint8Array(300));
    const huge = new Uint8Array(5000);
    a.propose(small);
    a.propose(big);
    a.propose([huge]);
    net.stabilize();
    net.settle('a');
    const appends = ofType(net.sent, 'AppendEntries').filter((m) => m.entries.length > 0);
    for (const m of appends) {
      expect(m.entries.length).toBeLessThanOrEqual(10);
      const size = m.entries.reduce((n, e) => n + e.data.length, 0);
      if (m.entries.length > 1) expect(size).toBeLessThanOrEqual(1000);
    }
    expect(appends.some((m) => m.entries.some((e) => e.data.length === 5000))).toBe(true);
    for (const id of ['b', 'c']) expect(termsOf(net.node(id)), id).toEqual(termsOf(a));
    expect(a.commitIndex).toBe(a.lastIndex);
  });

  it('§5.3: the in-flight window bounds unacknowledged AppendEntries per follower, and is used in full', () => {
    const net = Network.create(ABC, { maxInflightMessages: 3, maxEntriesPerAppend: 1 });
    const a = net.electLeader('a');
    const b = net.node('b');
    net.cut('a', 'c');
    a.propose(Array.from({ length: 10 }, (_, i) => bytes(`v${i}`)));
    const target = a.lastIndex;
    // Answer b's appends one at a time, oldest first, and watch how many are outstanding.
    const inFlight: RaftMessage[] = [...ofType(net.drainNode('a'), 'AppendEntries', 'b')];
    let most = inFlight.length;
    for (let step = 0; step < 100 && inFlight.length > 0; step++) {
      expect(inFlight.length).toBeLessThanOrEqual(3);
      b.step(inFlight.shift()!);
      for (const answer of net.drainNode('b')) a.step(answer);
      inFlight.push(...ofType(net.drainNode('a'), 'AppendEntries', 'b'));
      most = Math.max(most, inFlight.length);
    }
    expect(most).toBe(3);
    expect(b.lastIndex).toBe(target);
    expect(a.commitIndex).toBe(target);
  });

  it('§5.3: the leader counts its own replica toward commit only once it is persisted (after advance)', () => {
    // Three nodes: the leader and b make a majority only if the leader's own copy counts.
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    const b = net.node('b');
    net.cut('a', 'c');
    const base = a.commitIndex;
    a.propose([bytes('x')]);
    const rd = a.ready(); // not yet persisted
    expect(rd.entries.map((e) => e.index)).toEqual([base + 1]);
    for (const m of ofType(readyMessages(rd), 'AppendEntries', 'b')) b.step(m);
    for (const m of net.drainNode('b')) a.step(m);
    expect(a.commitIndex).toBe(base);
    a.advance(rd);
    expect(a.commitIndex).toBe(base + 1);
    expect(drain(a).committedEntries.map((e) => e.index)).toEqual([base + 1]);
  });

  it('§5.3: a single-node leader commits its proposals when they are persisted, not before', () => {
    const solo = newRaft('solo', ['solo']);
    solo.campaign();
    expect(solo.role).toBe('leader');
    let rd = solo.ready();
    expect(solo.commitIndex).toBe(0);
    expect(rd.committedEntries).toEqual([]);
    solo.advance(rd);
    expect(solo.commitIndex).toBe(1);
    solo.propose([bytes('x')]);
    rd = solo.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1]);
    expect(solo.commitIndex).toBe(1);
    solo.advance(rd);
    expect(solo.commitIndex).toBe(2);
    expect(drain(solo).committedEntries.map((e) => text(e.data))).toEqual(['x']);
  });

  it('§5.3: a heartbeat never lets a follower commit beyond what the leader knows it holds', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    const matchC = net.node('c').lastIndex;
    net.drop((m) => m.type === 'AppendEntries' && m.to === 'c');
    a.propose([bytes('x')]);
    a.propose([bytes('y')]);
    net.stabilize();
    expect(a.commitIndex).toBe(matchC + 2);
    a.tick();
    const heartbeats = ofType(net.drainNode('a'), 'Heartbeat', 'c');
    expect(heartbeats.length).toBeGreaterThan(0);
    for (const m of heartbeats) expect(m.commit).toBeLessThanOrEqual(matchC);
  });
});

// §5.3: when network packets are lost, the leader retries AppendEntries until every follower stores every entry.
describe('a stalled pipeline', () => {
  const HEARTBEAT_TICKS = 3;

  /** A leader a with followers b and c caught up and replicating, its heartbeat clock just restarted. */
  function replicatingCluster(): { net: Network; a: Raft } {
    const net = Network.create(ABC, { heartbeatTicks: HEARTBEAT_TICKS });
    const a = net.electLeader('a');
    for (let t = 0; t < HEARTBEAT_TICKS; t++) {
      const before = net.sent.length;
      net.tick(1, ['a']);
      if (ofType(net.sent.slice(before), 'Heartbeat').some((m) => m.from === 'a')) return { net, a };
    }
    throw new Error('no heartbeat within one interval');
  }

  /** AppendEntries to b that carry entries, out of `ms`. */
  const appendsToB = (ms: readonly RaftMessage[]) =>
    ofType(ms, 'AppendEntries', 'b').filter((m) => m.entries.length > 0);

  it('a follower whose appends are all lost is re-probed from its match index after exactly two heartbeat intervals without progress, with no new proposal', () => {
    const { net, a } = replicatingCluster();
    const match = a.matchIndexes().get('b')!;
    expect(match).toBe(a.lastIndex);
    net.drop((m) => m.type === 'AppendEntries' && m.to === 'b');
    a.propose([bytes('lost')]);
    net.stabilize();
    expect(appendsToB(net.dropped)).toHaveLength(1);
    // One interval without progress is not yet a stall: the append may still be on its way.
    for (let t = 1; t < 2 * HEARTBEAT_TICKS; t++) {
      net.tick(1, ['a']);
      expect(appendsToB(net.dropped), `tick ${t}`).toHaveLength(1);
    }
    net.tick(1, ['a']);
    // The re-probe; b's answer to the heartbeat of the same tick may ask for the entry again, from the same place.
    const resent = appendsToB(net.dropped).slice(1);
    expect(resent.length).toBeGreaterThan(0);
    for (const m of resent) {
      expect(m).toMatchObject({ prevLogIndex: match, prevLogTerm: a.termAt(match) });
      expect(m.entries.map((e) => e.index)).toEqual([match + 1]);
    }
  });

  it('a follower that acknowledges appends between heartbeats, with more always in flight, is never re-probed', () => {
    const { net, a } = replicatingCluster();
    const b = net.node('b');
    const held: RaftMessage[] = [];
    net.drop((m) => {
      if (m.type !== 'AppendEntries' || m.to !== 'b' || m.entries.length === 0) return false;
      held.push(m);
      return true;
    });
    for (let interval = 0; interval < 4; interval++) {
      a.propose([bytes(`v${interval}`)]);
      net.stabilize();
      // b answers the previous append only: its match moves, yet one append is always outstanding.
      if (held.length > 1) {
        b.step(held[held.length - 2]);
        net.stabilize();
      }
      net.tick(HEARTBEAT_TICKS, ['a']);
    }
    // Each entry went to b exactly once: no retry from an old match index.
    const sentIndexes = appendsToB(held).flatMap((m) => m.entries.map((e) => e.index));
    expect(sentIndexes).toEqual([a.lastIndex - 3, a.lastIndex - 2, a.lastIndex - 1, a.lastIndex]);
    expect(a.matchIndexes().get('b')).toBe(a.lastIndex - 1);
  });

  it("§5.3: a late rejection for an index at or below the follower's known match is ignored: no back-up, no resend", () => {
    const net = Network.create(['a', 'b', 'c']);
    const a = net.electLeader('a');
    a.propose([bytes('x')]);
    net.stabilize();
    const match = a.lastIndex;
    a.step(appendResponse({ from: 'b', to: 'a', term: a.term, success: false, rejectedIndex: match, hintIndex: 1 }));
    expect(ofType(msgs(a), 'AppendEntries', 'b')).toEqual([]);
    // Still replicating: the next proposal goes to b at once, after its match.
    a.propose([bytes('y')]);
    const next = ofType(msgs(a), 'AppendEntries', 'b');
    expect(next.map((m) => m.prevLogIndex)).toEqual([match]);
  });
});
