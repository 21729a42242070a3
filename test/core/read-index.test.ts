/**
 * ReadIndex (Ongaro's thesis §6.4): a linearizable read is served at the
 * leader's commit index once (1) the leader has committed an entry of its
 * own term and (2) a quorum confirmed, after the read arrived, that it is
 * still the leader.
 */
import { describe, expect, it } from 'vitest';
import type { RaftMessage } from '../../src/messages.js';
import { ELECTION_TICKS_MIN, Network, drain, heartbeat, msgs, newRaft, ofType, readIndexRequest } from './harness.js';

const ABC = ['a', 'b', 'c'];
const FIVE = ['a', 'b', 'c', 'd', 'e'];

describe('ReadIndex on the leader', () => {
  it('§6.4 (etcd #7331): a read on a new leader waits until the leader’s first entry of its term is committed', () => {
    const net = Network.create(ABC);
    net.electLeader('a');
    // b takes over, but the acknowledgements of its no-op are held back.
    const held: RaftMessage[] = [];
    const release = net.drop((m) => {
      if (m.type !== 'AppendEntriesResponse' || m.to !== 'b') return false;
      held.push(m);
      return true;
    });
    const b = net.electLeader('b', { settle: false });
    const noop = b.lastIndex;
    expect(b.termAt(noop)).toBe(b.term);
    expect(b.commitIndex).toBeLessThan(noop);

    expect(b.readIndex('r1')).toEqual({ ok: true });
    net.tick(3, ['b']); // heartbeat rounds do not help while the no-op is uncommitted
    expect(net.readStates.get('b')).toEqual([]);

    release();
    net.send(...held);
    net.stabilize();
    expect(b.commitIndex).toBe(noop);
    net.tickUntil(() => net.readStates.get('b')!.length > 0, 5, ['b']);
    expect(net.readStates.get('b')).toEqual([{ ctx: 'r1', index: noop }]);
  });

  it('§6.4: a read is confirmed only by a quorum of heartbeat answers sent after the read arrived', () => {
    const net = Network.create(FIVE);
    const a = net.electLeader('a');
    const answer = (m: RaftMessage) => {
      net.deliver(m);
      for (const r of net.drainNode(m.to)) a.step(r);
      net.drainNode('a');
    };

    a.tick();
    const before = ofType(net.drainNode('a'), 'Heartbeat');
    expect(before.map((m) => m.to).sort()).toEqual(['b', 'c', 'd', 'e']);

    expect(a.readIndex('r')).toEqual({ ok: true });
    let after = ofType(net.drainNode('a'), 'Heartbeat');
    if (after.length === 0) {
      a.tick();
      after = ofType(net.drainNode('a'), 'Heartbeat');
    }
    expect(after.map((m) => m.to).sort()).toEqual(['b', 'c', 'd', 'e']);

    // Every follower answers the heartbeats that left before the read: no confirmation.
    for (const m of before) answer(m);
    expect(net.readStates.get('a')).toEqual([]);
    // One answer to a later heartbeat: the leader and b are two of five.
    answer(after.find((m) => m.to === 'b')!);
    expect(net.readStates.get('a')).toEqual([]);
    // A second: three of five.
    answer(after.find((m) => m.to === 'c')!);
    expect(net.readStates.get('a')).toEqual([{ ctx: 'r', index: a.commitIndex }]);
  });

  it('§6.4: a single-voter leader serves a read at once, at its commit index', () => {
    const solo = newRaft('solo', ['solo']);
    solo.campaign();
    drain(solo);
    expect(solo.commitIndex).toBe(1);
    expect(solo.readIndex('s')).toEqual({ ok: true });
    expect(drain(solo).readStates).toEqual([{ ctx: 's', index: 1 }]);
  });

  it('§6.4: a leader that steps down fails its pending reads with index null', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    net.isolate('a');
    expect(a.readIndex('x')).toEqual({ ok: true });
    net.tick(1, ['a']);
    expect(net.readStates.get('a')).toEqual([]);
    a.step(heartbeat({ from: 'b', to: 'a', term: a.term + 1 }));
    expect(a.role).toBe('follower');
    expect(drain(a).readStates).toEqual([{ ctx: 'x', index: null }]);
  });

  it('§6.4: a leader that steps down refuses a read a follower forwarded, to that follower, with no read state of its own', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    net.isolate('a');
    a.step(readIndexRequest({ from: 'b', to: 'a', term: a.term, ctx: 'from-b' }));
    drain(a);
    a.step(heartbeat({ from: 'c', to: 'a', term: a.term + 1 }));
    const rd = drain(a);
    expect(rd.readStates).toEqual([]);
    const refusals = ofType([...rd.messages, ...rd.messagesAfterPersist], 'ReadIndexResponse', 'b');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ ctx: 'from-b', ok: false, term: a.term });
  });

  it('§6.4 + §6.2: a leader that steps down for lack of a quorum fails its pending reads', () => {
    const net = Network.create(ABC, { checkQuorum: true });
    const a = net.electLeader('a');
    net.isolate('a');
    expect(a.readIndex('y')).toEqual({ ok: true });
    net.tickUntil(() => a.role !== 'leader', 3 * ELECTION_TICKS_MIN, ['a']);
    expect(net.readStates.get('a')).toEqual([{ ctx: 'y', index: null }]);
  });
});

describe('ReadIndex from outside the configuration', () => {
  it('a leader refuses a read forwarded by a node outside the configuration (ok: false), yet serves its own read and a voter’s', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    a.step(readIndexRequest({ from: 'z', to: 'a', term: a.term, ctx: 'stray' }));
    expect(ofType(net.drainNode('a'), 'ReadIndexResponse')).toEqual([
      { type: 'ReadIndexResponse', from: 'a', to: 'z', term: a.term, ctx: 'stray', index: 0, ok: false },
    ]);

    expect(a.readIndex('own')).toEqual({ ok: true });
    expect(net.node('b').readIndex('voter')).toEqual({ ok: true });
    net.tickUntil(() => net.readStates.get('a')!.length > 0 && net.readStates.get('b')!.length > 0, 5, ['a']);
    expect(net.readStates.get('a')).toEqual([{ ctx: 'own', index: a.commitIndex }]);
    expect(net.readStates.get('b')).toEqual([{ ctx: 'voter', index: a.commitIndex }]);
    // Nothing more went to the stray node.
    expect(ofType(net.sent, 'ReadIndexResponse', 'z')).toHaveLength(1);
  });
});

describe('ReadIndex on a follower', () => {
  it('§6.4.1: a duplicated or late answer to a forwarded read, or one for a read never asked, yields no read state', () => {
    const b = newRaft('b', ABC);
    b.step(heartbeat({ from: 'a', to: 'b', term: 1 }));
    drain(b);
    expect(b.readIndex('fr')).toEqual({ ok: true });
    drain(b);
    const answer = { type: 'ReadIndexResponse', from: 'a', to: 'b', term: 1, ctx: 'fr', index: 4, ok: true } as const;
    b.step(answer);
    expect(drain(b).readStates).toEqual([{ ctx: 'fr', index: 4 }]);
    b.step(answer);
    b.step({ ...answer, index: 5 });
    b.step({ ...answer, ctx: 'never-asked' });
    expect(b.hasReady()).toBe(false);
    expect(drain(b).readStates).toEqual([]);
  });

  it('§6.4: a follower read goes through the leader and comes back with the leader’s commit index', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    const b = net.node('b');
    expect(b.readIndex('fr')).toEqual({ ok: true });
    net.stabilize();
    expect(ofType(net.sent, 'ReadIndex')).toEqual([expect.objectContaining({ from: 'b', to: 'a', ctx: 'fr' })]);
    net.tickUntil(() => net.readStates.get('b')!.length > 0, 5, ['a']);
    expect(net.readStates.get('b')).toEqual([{ ctx: 'fr', index: a.commitIndex }]);
    expect(net.readStates.get('a')).toEqual([]);
  });

  it('§6.4: a follower read that its supposed leader refuses fails with index null', () => {
    const b = newRaft('b', ABC);
    b.step(heartbeat({ from: 'a', to: 'b', term: 1 }));
    expect(b.readIndex('f')).toEqual({ ok: true });
    const requests = ofType(msgs(b), 'ReadIndex', 'a');
    expect(requests).toHaveLength(1);
    // a is in fact no leader.
    const a = newRaft('a', ABC);
    a.step(heartbeat({ from: 'c', to: 'a', term: 1 }));
    a.step(requests[0]);
    const replies = ofType(msgs(a), 'ReadIndexResponse', 'b');
    expect(replies).toHaveLength(1);
    expect(replies[0].ok).toBe(false);
    b.step(replies[0]);
    expect(drain(b).readStates).toEqual([{ ctx: 'f', index: null }]);
  });

  it('§6.4: with no known leader, readIndex refuses at once', () => {
    const r = newRaft('a', ABC);
    expect(r.readIndex('q')).toEqual({ ok: false, leaderId: null });
    r.campaign();
    expect(r.role).toBe('candidate');
    expect(r.readIndex('q')).toEqual({ ok: false, leaderId: null });
    expect(ofType(msgs(r), 'ReadIndex')).toHaveLength(0);
  });
});
