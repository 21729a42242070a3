import { describe, expect, it } from 'vitest';
import { drain, msgs, newRaft, ofType, requestVote } from './harness.js';

/** Rules from shared/PITFALLS.md that no paper section states outright. */
describe('pitfalls other Raft libraries shipped', () => {
  it('a vote request from a node outside the configuration is never granted (removed or stray nodes)', () => {
    const r = newRaft('a', ['a', 'b', 'c']);
    r.step(requestVote({ from: 'z', to: 'a', term: 5, lastLogIndex: 10, lastLogTerm: 4 }));
    const replies = ofType(msgs(r), 'RequestVoteResponse');
    expect(replies).toHaveLength(1);
    expect(replies[0].granted).toBe(false);
    expect(r.vote).toBeNull();
  });

  it('a message addressed to another node, or claiming to come from this node, changes nothing', () => {
    const r = newRaft('a', ['a', 'b', 'c']);
    drain(r);
    r.step(requestVote({ from: 'b', to: 'c', term: 9, lastLogIndex: 0, lastLogTerm: 0 }));
    r.step(requestVote({ from: 'a', to: 'a', term: 9, lastLogIndex: 0, lastLogTerm: 0 }));
    expect(r.term).toBe(0);
    expect(r.hasReady()).toBe(false);
  });
});
