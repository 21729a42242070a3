import { describe, expect, it } from 'vitest';
import { drain, newRaft, readyMessages, requestVote } from './harness.js';

/** Bugs other Raft libraries shipped, for rules that no paper section states outright. */
describe('pitfalls other Raft libraries shipped', () => {
  for (const preVote of [false, true]) {
    it(`a ${preVote ? 'pre-vote' : 'vote'} request from a node outside the configuration is refused and leaves the term unchanged (removed or stray nodes, thesis §4.2.3)`, () => {
      const r = newRaft('a', ['a', 'b', 'c'], { term: 2 });
      drain(r);
      r.step(requestVote({ from: 'z', to: 'a', term: 5, lastLogIndex: 10, lastLogTerm: 4, preVote }));
      const rd = drain(r);
      expect(readyMessages(rd)).toEqual([
        { type: 'RequestVoteResponse', from: 'a', to: 'z', term: 2, granted: false, preVote },
      ]);
      expect(rd.hardState).toBeNull();
      expect(r.term).toBe(2);
      expect(r.vote).toBeNull();
      expect(r.role).toBe('follower');
    });
  }

  it('a message addressed to another node, or claiming to come from this node, changes nothing', () => {
    const r = newRaft('a', ['a', 'b', 'c']);
    drain(r);
    r.step(requestVote({ from: 'b', to: 'c', term: 9, lastLogIndex: 0, lastLogTerm: 0 }));
    r.step(requestVote({ from: 'a', to: 'a', term: 9, lastLogIndex: 0, lastLogTerm: 0 }));
    expect(r.term).toBe(0);
    expect(r.hasReady()).toBe(false);
  });
});
