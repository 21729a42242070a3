import { describe, expect, it } from 'vitest';
import {
  appendResponse,
  bytes,
  drain,
  ELECTION_TICKS_MIN,
  heartbeat,
  logOfTerms,
  makeLeader,
  msgs,
  newRaft,
  ofType,
  readIndexRequest,
  readyMessages,
  requestVote,
} from './harness.js';

/** What reaches the shell, and when: found by review, each once a gap. */
describe('what the core hands the shell', () => {
  it('a CheckQuorum step-down alone produces a Ready, so the shell reports it at once (thesis §6.2)', () => {
    const r = newRaft('a', ['a', 'b', 'c'], { checkQuorum: true });
    makeLeader(r);
    drain(r);
    // The voters that just elected it count as heard from in the first window; silence for the next one deposes it.
    for (let i = 0; i < 2 * ELECTION_TICKS_MIN; i++) r.tick();
    expect(r.role).toBe('follower');
    expect(r.hasReady()).toBe(true);
    expect(drain(r).softState).toEqual({ role: 'follower', term: r.term, leaderId: null });
    expect(r.hasReady()).toBe(false);
  });

  it('a pre-vote round lost at the same term produces a Ready with the follower role', () => {
    const r = newRaft('a', ['a', 'b', 'c'], { preVote: true });
    r.campaign();
    expect(drain(r).softState.role).toBe('precandidate');
    r.step({ type: 'RequestVoteResponse', from: 'b', to: 'a', term: 0, granted: false, preVote: true });
    r.step({ type: 'RequestVoteResponse', from: 'c', to: 'a', term: 0, granted: false, preVote: true });
    expect(r.role).toBe('follower');
    expect(r.hasReady()).toBe(true);
    expect(drain(r).softState.role).toBe('follower');
  });

  it("§5.3: when the leader's own write completes a quorum, followers are told the new commit index at once", () => {
    const r = newRaft('a', ['a', 'b', 'c']);
    makeLeader(r);
    drain(r);
    for (const from of ['b', 'c'])
      r.step(appendResponse({ from, to: 'a', term: r.term, success: true, matchIndex: r.lastIndex }));
    drain(r);
    r.propose([bytes('x')]);
    const rd = r.ready();
    // b acknowledges before the leader's own write of the entry is durable: no quorum yet.
    r.step(appendResponse({ from: 'b', to: 'a', term: r.term, success: true, matchIndex: r.lastIndex }));
    expect(r.commitIndex).toBe(r.lastIndex - 1);
    r.advance(rd);
    expect(r.commitIndex).toBe(r.lastIndex);
    const told = ofType(msgs(r), 'AppendEntries').filter((m) => m.leaderCommit === r.commitIndex);
    expect(told.map((m) => m.to).sort()).toEqual(['b', 'c']);
  });
});

describe('the Ready handshake', () => {
  /** A leader of a, b, c whose no-op both followers acknowledged, with nothing left to hand out. */
  function idleLeader() {
    const r = newRaft('a', ['a', 'b', 'c']);
    makeLeader(r);
    for (const from of ['b', 'c'])
      r.step(appendResponse({ from, to: 'a', term: r.term, success: true, matchIndex: r.lastIndex }));
    while (r.hasReady()) drain(r);
    expect(r.commitIndex).toBe(r.lastIndex);
    return r;
  }

  it('a read on an idle leader makes hasReady() true, for the heartbeat round that confirms it (thesis §6.4)', () => {
    const r = idleLeader();
    expect(r.readIndex('r')).toEqual({ ok: true });
    // Nothing is queued yet: the round is coalesced in the leader until the Ready is taken.
    expect(r.hasReady()).toBe(true);
    const rd = drain(r);
    const round = ofType(readyMessages(rd), 'Heartbeat');
    expect(round.map((m) => m.to).sort()).toEqual(['b', 'c']);
    for (const m of round) expect(m.readSeq).toBeGreaterThan(0);
    expect(rd.hardState).toBeNull();
  });

  it('ready() called again before advance() throws; after advance() it works', () => {
    const r = newRaft('a', ['a', 'b', 'c']);
    const rd = r.ready();
    expect(() => r.ready()).toThrow(/before advance/);
    r.advance(rd);
    expect(() => r.advance(r.ready())).not.toThrow();
  });

  it('when only the commit index advances (same term and vote), the next Ready carries the hard state with the new commit', () => {
    const r = newRaft('b', ['a', 'b', 'c'], { term: 1, vote: 'a', log: logOfTerms([1, 1]) });
    r.step(heartbeat({ from: 'a', to: 'b', term: 1, commit: 0 }));
    expect(drain(r).hardState).toBeNull();
    r.step(heartbeat({ from: 'a', to: 'b', term: 1, commit: 2 }));
    const rd = drain(r);
    expect(rd.hardState).toEqual({ term: 1, vote: 'a', commit: 2 });
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('a leader learned while a Ready is outstanding, whose answer already left with takeMessages(), still produces a Ready after advance()', () => {
    const r = newRaft('b', ['a', 'b', 'c'], { term: 1 });
    drain(r);
    const rd = r.ready();
    r.step(heartbeat({ from: 'a', to: 'b', term: 1 }));
    expect(ofType(r.takeMessages(), 'HeartbeatResponse', 'a')).toHaveLength(1);
    r.advance(rd);
    // Only the leader changed: no message, no hard state, yet the shell must hear of it.
    expect(r.hasReady()).toBe(true);
    const next = drain(r);
    expect(next.softState).toEqual({ role: 'follower', term: 1, leaderId: 'a' });
    expect(next.hardState).toBeNull();
    expect(readyMessages(next)).toEqual([]);
  });
});

describe('reads forwarded by a follower always settle (thesis §6.4.1)', () => {
  function follower() {
    const f = newRaft('f', ['l', 'f', 'g'], { checkQuorum: true, preVote: true });
    f.step(heartbeat({ from: 'l', to: 'f', term: 5 }));
    drain(f);
    expect(f.readIndex('r1')).toEqual({ ok: true });
    expect(ofType(msgs(f), 'ReadIndex')).toHaveLength(1);
    return f;
  }

  it('a leader refuses a read forwarded in an older term, so the follower can retry at once', () => {
    const l = newRaft('l', ['l', 'f', 'g'], { term: 6 });
    l.step(readIndexRequest({ from: 'f', to: 'l', term: 5, ctx: 'r1' }));
    const answers = ofType(msgs(l), 'ReadIndexResponse');
    expect(answers).toEqual([expect.objectContaining({ to: 'f', ctx: 'r1', ok: false, term: 6 })]);
  });

  it('fails when the same leader is seen in a new term: an answer from the old term will not come', () => {
    const f = follower();
    f.step(heartbeat({ from: 'l', to: 'f', term: 6 }));
    expect(drain(f).readStates).toEqual([{ ctx: 'r1', index: null }]);
  });

  it('fails when no answer came within an election timeout (the request or answer was lost)', () => {
    const f = follower();
    for (let i = 0; i < ELECTION_TICKS_MIN - 1; i++) {
      f.tick();
      f.step(heartbeat({ from: 'l', to: 'f', term: 5 }));
    }
    expect(drain(f).readStates).toEqual([]);
    f.tick();
    expect(drain(f).readStates).toEqual([{ ctx: 'r1', index: null }]);
  });
});

describe('PreVote without CheckQuorum (thesis §9.6)', () => {
  it('a follower that heard from a live leader within the election timeout refuses a pre-vote', () => {
    const r = newRaft('a', ['a', 'b', 'c'], { preVote: true, checkQuorum: false });
    r.step(heartbeat({ from: 'b', to: 'a', term: 2 }));
    drain(r);
    r.step(requestVote({ from: 'c', to: 'a', term: 3, lastLogIndex: 5, lastLogTerm: 2, preVote: true }));
    expect(ofType(msgs(r), 'RequestVoteResponse')).toEqual([]);
    for (let i = 0; i < ELECTION_TICKS_MIN; i++) r.tick();
    r.step(requestVote({ from: 'c', to: 'a', term: 3, lastLogIndex: 5, lastLogTerm: 2, preVote: true }));
    const replies = ofType(msgs(r), 'RequestVoteResponse');
    expect(replies.some((m) => m.granted)).toBe(true);
  });
});
