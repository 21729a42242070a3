import { describe, expect, it } from 'vitest';
import { bytes, ELECTION_TICKS_MIN, makeLeader, msgs, Network, newRaft, ofType } from './harness.js';

describe('leadership transfer (thesis §3.10)', () => {
  it('hands leadership to an up-to-date follower, which wins at once despite leader stickiness', () => {
    const net = Network.create(['a', 'b', 'c']);
    const a = net.electLeader('a');
    const term = a.term;
    expect(a.transferLeader('c')).toBe('c');
    net.stabilize();
    expect(net.node('c').role).toBe('leader');
    expect(net.node('c').term).toBe(term + 1);
    expect(a.role).toBe('follower');
    expect(a.leaderId).toBe('c');
    expect(net.electionSafetyViolations()).toEqual([]);
  });

  it('brings a lagging target up to date first and refuses proposals meanwhile', () => {
    const net = Network.create(['a', 'b', 'c']);
    const a = net.electLeader('a');
    net.isolate('c');
    a.propose([bytes('x'), bytes('y')]);
    net.stabilize();
    const last = a.lastIndex;
    expect(net.node('c').lastIndex).toBeLessThan(last);
    net.rejoin('c');
    expect(a.transferLeader('c')).toBe('c');
    // No new entries while handing over: the caller is pointed at the target.
    expect(a.propose([bytes('z')])).toEqual({ ok: false, leaderId: 'c' });
    net.stabilize();
    const c = net.node('c');
    expect(c.role).toBe('leader');
    // The new leader holds everything the old one had, plus its own no-op.
    expect(c.termAt(last)).toBe(a.termAt(last));
    expect(c.lastIndex).toBe(last + 1);
  });

  it('picks the most up-to-date follower when no target is named; a follower cannot transfer', () => {
    const net = Network.create(['a', 'b', 'c']);
    const a = net.electLeader('a');
    net.isolate('b');
    a.propose([bytes('x')]);
    net.stabilize();
    net.rejoin('b');
    expect(a.transferLeader()).toBe('c');
    expect(net.node('b').transferLeader('c')).toBeNull();
  });

  // The voter list is a, b, c, so b comes before c in the leader's progress:
  // both orders are tried, so neither "first" nor "last" passes for "most up to date".
  for (const [behind, ahead] of [
    ['c', 'b'],
    ['b', 'c'],
  ] as const) {
    it(`with no target named, picks the follower with the highest match index (${ahead} ahead of ${behind})`, () => {
      const net = Network.create(['a', 'b', 'c']);
      const a = net.electLeader('a');
      net.isolate(behind);
      a.propose([bytes('x')]);
      net.stabilize();
      expect(a.matchIndexes().get(ahead)).toBeGreaterThan(a.matchIndexes().get(behind)!);
      net.rejoin(behind);
      expect(a.transferLeader()).toBe(ahead);
      expect(a.leadTransferee).toBe(ahead);
    });
  }

  it('with no target named and no follower acknowledged yet (every match index 0), still picks a follower', () => {
    const a = newRaft('a', ['a', 'b', 'c']);
    makeLeader(a);
    expect([...a.matchIndexes().values()]).toEqual([0, 0]);
    const target = a.transferLeader();
    expect(['b', 'c']).toContain(target);
    expect(a.leadTransferee).toBe(target);
  });

  it('with PreVote and CheckQuorum on, the target of TimeoutNow campaigns at once in term+1 with a real vote request, skipping the pre-vote that stickiness would refuse', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const net = Network.create(ids, { preVote: true, checkQuorum: true });
    const a = net.electLeader('a');
    const term = a.term;
    const sentBefore = net.sent.length;
    // Every follower has just heard from a: none of them would grant a pre-vote now.
    expect(a.transferLeader('c')).toBe('c');
    net.stabilize();
    const c = net.node('c');
    expect(c.role).toBe('leader');
    expect(c.term).toBe(term + 1);
    const requests = ofType(net.sent.slice(sentBefore), 'RequestVote').filter((m) => m.from === 'c');
    expect(requests.length).toBe(ids.length - 1);
    for (const m of requests) expect(m).toMatchObject({ preVote: false, transfer: true, term: term + 1 });
    expect(a.role).toBe('follower');
    expect(net.electionSafetyViolations()).toEqual([]);
  });

  it('keeps refusing proposals for exactly an election timeout (electionTicksMin ticks) of a stuck transfer, then resumes', () => {
    const net = Network.create(['a', 'b', 'c']);
    const a = net.electLeader('a');
    net.isolate('c');
    a.propose([bytes('x')]);
    net.stabilize();
    expect(a.transferLeader('c')).toBe('c');
    net.tick(ELECTION_TICKS_MIN - 1, ['a', 'b']);
    expect(a.leadTransferee).toBe('c');
    expect(a.propose([bytes('still refused')])).toEqual({ ok: false, leaderId: 'c' });
    net.tick(1, ['a', 'b']);
    expect(a.leadTransferee).toBeNull();
    expect(a.propose([bytes('accepted')]).ok).toBe(true);
  });

  it('at the start of a transfer resends from the target match when everything was already sent but not acknowledged', () => {
    const net = Network.create(['a', 'b', 'c']);
    const a = net.electLeader('a');
    const matched = a.lastIndex;
    // Appends to c are lost: its pipeline holds everything, acknowledged nothing.
    net.isolate('c');
    a.propose([bytes('x'), bytes('y')]);
    net.stabilize();
    net.rejoin('c');
    expect(a.transferLeader('c')).toBe('c');
    const appends = ofType(msgs(a), 'AppendEntries', 'c');
    expect(appends.length).toBeGreaterThan(0);
    expect(appends[0].prevLogIndex).toBe(matched);
    expect(appends[0].entries.map((e) => e.index)).toEqual([matched + 1, matched + 2]);
  });

  it('a transfer to the leader itself is a no-op that names the leader; proposals keep flowing', () => {
    const net = Network.create(['a', 'b', 'c']);
    const a = net.electLeader('a');
    expect(a.transferLeader('a')).toBe('a');
    expect(a.leadTransferee).toBeNull();
    expect(a.propose([bytes('x')]).ok).toBe(true);
  });

  it('a transfer to an id outside the configuration is refused (null) and does not stop proposals', () => {
    const net = Network.create(['a', 'b', 'c']);
    const a = net.electLeader('a');
    expect(a.transferLeader('z')).toBeNull();
    expect(a.leadTransferee).toBeNull();
    expect(a.propose([bytes('x')]).ok).toBe(true);
  });
});
