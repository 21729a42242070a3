/**
 * CheckQuorum and leader stickiness (Ongaro's thesis §6.2 and §4.2.3): a
 * leader that cannot reach a quorum steps down, and a follower that heard
 * from a live leader recently does not help anyone depose it.
 */
import { describe, expect, it } from 'vitest';
import { ELECTION_TICKS_MAX, ELECTION_TICKS_MIN, Network, bytes, drain, msgs, ofType, requestVote } from './harness.js';

const ABC = ['a', 'b', 'c'];
const FIVE = ['a', 'b', 'c', 'd', 'e'];

describe('CheckQuorum: a leader without a quorum steps down', () => {
  it('§6.2: a leader that hears from no quorum for electionTicksMin ticks steps down to follower of the same term', () => {
    const net = Network.create(ABC, { checkQuorum: true });
    const a = net.electLeader('a');
    const term = a.term;
    net.isolate('a');
    let ticks = 0;
    while (a.role === 'leader' && ticks <= 3 * ELECTION_TICKS_MIN) {
      net.tick(1, ['a']);
      ticks++;
    }
    expect(a.role).toBe('follower');
    // Not before a whole window without contact, and at the latest at the end of the next one.
    expect(ticks).toBeGreaterThanOrEqual(ELECTION_TICKS_MIN);
    expect(ticks).toBeLessThanOrEqual(2 * ELECTION_TICKS_MIN);
    expect(a.term).toBe(term);
    expect(a.leaderId).toBeNull();
  });

  it('§6.2: a leader that keeps hearing from a quorum (itself and one of two followers) stays leader', () => {
    const net = Network.create(ABC, { checkQuorum: true });
    const a = net.electLeader('a');
    net.isolate('c');
    net.tick(10 * ELECTION_TICKS_MAX, ['a', 'b']);
    expect(a.role).toBe('leader');
    expect(a.term).toBe(1);
  });

  it('§6.2: in five nodes, a leader that reaches only one follower (two of five) steps down', () => {
    const net = Network.create(FIVE, { checkQuorum: true });
    const a = net.electLeader('a');
    for (const id of ['c', 'd', 'e']) net.cut('a', id);
    net.tick(2 * ELECTION_TICKS_MIN + 1, ['a', 'b']);
    expect(a.role).toBe('follower');
  });

  it('§6.2: a leader that stepped down accepts no proposals', () => {
    const net = Network.create(ABC, { checkQuorum: true });
    const a = net.electLeader('a');
    net.isolate('a');
    net.tick(2 * ELECTION_TICKS_MIN + 1, ['a']);
    expect(a.role).toBe('follower');
    const last = a.lastIndex;
    expect(a.propose([bytes('x')])).toEqual({ ok: false, leaderId: null });
    expect(a.lastIndex).toBe(last);
  });
});

describe('Leader stickiness', () => {
  function followerOfA(preVote: boolean) {
    const net = Network.create(ABC, { checkQuorum: true, preVote });
    net.electLeader('a');
    const b = net.node('b');
    expect(b.leaderId).toBe('a');
    return { net, b };
  }

  for (const preVote of [false, true]) {
    const kind = preVote ? 'pre-vote' : 'vote';
    it(`§4.2.3: a follower that heard from its leader recently ignores a ${kind} request entirely, without raising its term`, () => {
      const { b } = followerOfA(preVote);
      b.step(requestVote({ from: 'c', to: 'b', term: 2, lastLogIndex: b.lastIndex, lastLogTerm: b.lastTerm, preVote }));
      const out = msgs(b);
      expect(ofType(out, 'RequestVoteResponse')).toHaveLength(0);
      expect(b.term).toBe(1);
      expect(b.vote).toBe('a');
      expect(b.leaderId).toBe('a');
      expect(b.role).toBe('follower');
    });
  }

  it('§4.2.3: once electionTicksMin ticks pass without the leader, the follower grants a vote', () => {
    const { b } = followerOfA(false);
    // Without the leader b may itself campaign at its timeout (term 2); ask for term 3 so either way it can vote.
    for (let i = 0; i < ELECTION_TICKS_MIN; i++) {
      b.tick();
      drain(b);
    }
    b.step(requestVote({ from: 'c', to: 'b', term: 3, lastLogIndex: b.lastIndex, lastLogTerm: b.lastTerm }));
    const grants = ofType(msgs(b), 'RequestVoteResponse', 'c');
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ granted: true, term: 3 });
    expect(b.term).toBe(3);
    expect(b.vote).toBe('c');
  });

  it('§4.2.3: one tick short of electionTicksMin the follower still ignores the request', () => {
    const { b } = followerOfA(false);
    for (let i = 0; i < ELECTION_TICKS_MIN - 1; i++) {
      b.tick();
      drain(b);
    }
    b.step(requestVote({ from: 'c', to: 'b', term: 3, lastLogIndex: b.lastIndex, lastLogTerm: b.lastTerm }));
    expect(ofType(msgs(b), 'RequestVoteResponse')).toHaveLength(0);
    expect(b.term).toBe(1);
  });

  it('§4.2.3: the leader itself ignores a vote request while it leads', () => {
    const net = Network.create(ABC, { checkQuorum: true });
    const a = net.electLeader('a');
    a.step(requestVote({ from: 'c', to: 'a', term: 5, lastLogIndex: a.lastIndex, lastLogTerm: a.lastTerm }));
    expect(a.role).toBe('leader');
    expect(a.term).toBe(1);
    expect(ofType(msgs(a), 'RequestVoteResponse')).toHaveLength(0);
  });

  it('§3.10: a vote request marked as a leadership transfer is not subject to stickiness', () => {
    const { b } = followerOfA(false);
    b.step(
      requestVote({ from: 'c', to: 'b', term: 2, lastLogIndex: b.lastIndex, lastLogTerm: b.lastTerm, transfer: true }),
    );
    const grants = ofType(msgs(b), 'RequestVoteResponse', 'c');
    expect(grants).toHaveLength(1);
    expect(grants[0].granted).toBe(true);
    expect(b.term).toBe(2);
    expect(b.vote).toBe('c');
  });

  it('§4.2.3: a node whose own timer fires while the others hear from the leader cannot win and the leader keeps its term', () => {
    const net = Network.create(ABC, { checkQuorum: true });
    const a = net.electLeader('a');
    const c = net.node('c');
    // c alone does not hear the leader (a one-way cut: leader → c), so it campaigns.
    net.drop((m) => m.from === 'a' && m.to === 'c');
    net.tickUntil(() => c.role === 'candidate', 2 * ELECTION_TICKS_MAX, ['a', 'b', 'c']);
    net.tick(5 * ELECTION_TICKS_MAX);
    expect(c.term).toBeGreaterThan(2);
    expect(a.role).toBe('leader');
    expect(a.term).toBe(1);
    expect(net.node('b').term).toBe(1);
  });
});
