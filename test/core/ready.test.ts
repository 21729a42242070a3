import { describe, expect, it } from 'vitest';
import {
  appendResponse,
  bytes,
  drain,
  ELECTION_TICKS_MIN,
  heartbeat,
  makeLeader,
  msgs,
  newRaft,
  ofType,
  readIndexRequest,
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
