/**
 * PreVote (Ongaro's thesis §9.6): a node first asks whether it could win,
 * without changing anybody's term, so that a node that cannot win does not
 * disrupt the cluster. Together with CheckQuorum it is known to deadlock if
 * done carelessly (etcd #8243, #9586, #10355); the cross product is tested.
 */
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/messages.js';
import {
  ELECTION_TICKS_MAX,
  ELECTION_TICKS_MIN,
  Network,
  bytes,
  drain,
  heartbeat,
  logOfTerms,
  msgs,
  newRaft,
  ofType,
  requestVote,
  voteResponse,
} from './harness.js';

const ABC = ['a', 'b', 'c'];
const FIVE = ['a', 'b', 'c', 'd', 'e'];

describe('PreVote: nobody changes term', () => {
  it('§9.6: a pre-candidate keeps its term and vote and sends pre-vote requests for the next term at once', () => {
    const r = newRaft('a', ABC, { preVote: true, term: 4, log: logOfTerms([1, 4]) });
    r.campaign();
    expect(r.role).toBe('precandidate');
    expect(r.term).toBe(4);
    expect(r.vote).toBeNull();
    const rd = drain(r);
    expect(rd.hardState).toBeNull();
    // Nothing needs persisting first, so the requests go out now.
    const requests = ofType(rd.messages, 'RequestVote');
    expect(requests.map((m) => m.to).sort()).toEqual(['b', 'c']);
    for (const m of requests) {
      expect(m).toMatchObject({ term: 5, preVote: true, lastLogIndex: 2, lastLogTerm: 4 });
    }
  });

  it('§9.6: a pre-candidate also starts after its election timeout, not just on campaign()', () => {
    const r = newRaft('a', ABC, { preVote: true });
    let ticks = 0;
    while (r.role === 'follower' && ticks < ELECTION_TICKS_MAX) {
      r.tick();
      ticks++;
    }
    expect(r.role).toBe('precandidate');
    expect(ticks).toBeGreaterThanOrEqual(ELECTION_TICKS_MIN);
    expect(r.term).toBe(0);
  });

  it('§9.6: a voter answers a pre-vote request without changing its term or vote', () => {
    const r = newRaft('b', ABC, { preVote: true });
    r.step(requestVote({ from: 'a', to: 'b', term: 5, preVote: true }));
    expect(r.term).toBe(0);
    expect(r.vote).toBeNull();
    const rd = drain(r);
    expect(rd.hardState).toBeNull();
    const replies = ofType(rd.messages, 'RequestVoteResponse', 'a');
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ granted: true, preVote: true, term: 5 });
  });

  it('§9.6: a granted pre-vote response does not change the pre-candidate term', () => {
    const r = newRaft('a', FIVE, { preVote: true });
    r.campaign();
    drain(r);
    r.step(voteResponse({ from: 'b', to: 'a', term: 1, granted: true, preVote: true }));
    expect(r.role).toBe('precandidate');
    expect(r.term).toBe(0);
    expect(r.vote).toBeNull();
  });

  it('§9.6: a quorum of granted pre-votes makes a real candidate of the next term, whose requests wait for the persist', () => {
    const r = newRaft('a', ABC, { preVote: true });
    r.campaign();
    drain(r);
    r.step(voteResponse({ from: 'b', to: 'a', term: 1, granted: true, preVote: true }));
    expect(r.role).toBe('candidate');
    expect(r.term).toBe(1);
    expect(r.vote).toBe('a');
    const rd = drain(r);
    expect(rd.hardState).toMatchObject({ term: 1, vote: 'a' });
    expect(ofType(rd.messages, 'RequestVote')).toHaveLength(0);
    const requests = ofType(rd.messagesAfterPersist, 'RequestVote');
    expect(requests.map((m) => m.to).sort()).toEqual(['b', 'c']);
    for (const m of requests) expect(m).toMatchObject({ term: 1, preVote: false });
  });

  it('§9.6: a quorum of refused pre-votes sends the pre-candidate back to follower at its old term', () => {
    const r = newRaft('a', ABC, { preVote: true, term: 2 });
    r.campaign();
    drain(r);
    r.step(voteResponse({ from: 'b', to: 'a', term: 2, granted: false, preVote: true }));
    expect(r.role).toBe('precandidate');
    r.step(voteResponse({ from: 'c', to: 'a', term: 2, granted: false, preVote: true }));
    expect(r.role).toBe('follower');
    expect(r.term).toBe(2);
    expect(r.vote).toBeNull();
  });

  it('§9.6: a pre-candidate forgets its leader (etcd #8243)', () => {
    const r = newRaft('b', ABC, { preVote: true, checkQuorum: true });
    r.step(heartbeat({ from: 'a', to: 'b', term: 1 }));
    expect(r.leaderId).toBe('a');
    r.campaign();
    expect(r.role).toBe('precandidate');
    expect(r.leaderId).toBeNull();
    expect(r.term).toBe(1);
  });
});

describe('PreVote: a rejoining node does not disrupt a stable leader', () => {
  it('§9.6: a partitioned node whose log fell behind rejoins without raising anyone’s term (PreVote alone)', () => {
    const net = Network.create(ABC, { preVote: true });
    const a = net.electLeader('a');
    net.isolate('c');
    a.propose([bytes('x')]);
    net.tick(3, ['a', 'b']);
    expect(a.commitIndex).toBe(2);
    // c times out again and again, but its pre-votes reach nobody and its term stays.
    net.tick(10 * ELECTION_TICKS_MAX, ['c']);
    expect(net.node('c').term).toBe(1);
    net.heal();
    net.tick(10 * ELECTION_TICKS_MAX);
    expect(a.role).toBe('leader');
    for (const id of ABC) expect(net.node(id).term, id).toBe(1);
    expect(net.node('c').leaderId).toBe('a');
    expect(net.leadersByTerm.size).toBe(1);
  });

  it('§9.6 + §4.2.3: a partitioned node with an up-to-date log rejoins without raising anyone’s term (PreVote and CheckQuorum)', () => {
    const net = Network.create(ABC, { preVote: true, checkQuorum: true });
    const a = net.electLeader('a');
    net.isolate('c');
    net.tick(10 * ELECTION_TICKS_MAX); // a and b keep in touch; c keeps pre-campaigning alone
    expect(net.node('c').term).toBe(1);
    expect(net.node('c').role).not.toBe('leader');
    net.heal();
    net.tick(10 * ELECTION_TICKS_MAX);
    expect(a.role).toBe('leader');
    for (const id of ABC) expect(net.node(id).term, id).toBe(1);
    expect(net.node('c').leaderId).toBe('a');
    expect(net.leadersByTerm.size).toBe(1);
  });

  it('§9.6 (etcd #8243): with CheckQuorum, the followers of a lost leader still elect a new one, because pre-candidates forget it', () => {
    const net = Network.create(ABC, { preVote: true, checkQuorum: true });
    net.electLeader('a');
    net.isolate('a');
    net.tickUntil(() => net.leaders().some((id) => id !== 'a'), 20 * ELECTION_TICKS_MAX, ['b', 'c']);
    const next = net.leaders().find((id) => id !== 'a')!;
    expect(net.node(next).term).toBeGreaterThanOrEqual(2);
    expect(net.electionSafetyViolations()).toEqual([]);
  });
});

describe('PreVote: a node with a smaller term can still win', () => {
  it('§9.6 (etcd #9586): a lower-term pre-vote is refused with the higher term, and the pre-candidate catches up and wins later', () => {
    // History: b led term 3 and crashed before its no-op reached anyone; c
    // was partitioned since term 1. Both a and c hold the same log.
    const a = newRaft('a', ABC, { preVote: true, checkQuorum: true, term: 3, vote: 'b', log: logOfTerms([1]) });
    const c = newRaft('c', ABC, { preVote: true, checkQuorum: true, term: 1, log: logOfTerms([1]) });
    const net = new Network([a, c]);

    c.campaign();
    expect(c.role).toBe('precandidate');
    const requests = ofType(msgs(c), 'RequestVote', 'a');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ term: 2, preVote: true });
    a.step(requests[0]);
    expect(a.term).toBe(3);
    const replies = ofType(msgs(a), 'RequestVoteResponse', 'c');
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ granted: false, preVote: true, term: 3 });
    c.step(replies[0]);
    // The refusal carries the higher term, which c adopts without voting.
    expect(c.term).toBe(3);
    expect(c.role).toBe('follower');

    // Its next attempt is for term 4, which a (no leader, same log) grants.
    c.campaign();
    net.stabilize();
    expect(c.role).toBe('leader');
    expect(c.term).toBe(4);
    expect(a.leaderId).toBe('c');
  });

  it('§9.6 (etcd TestNodeWithSmallerTermCanCompleteElection): a cluster whose leader fails just as a lagging node returns still elects a leader', () => {
    const net = Network.create(ABC, { preVote: true });
    net.cut('a', 'c');
    net.cut('b', 'c');
    net.electLeader('a');
    net.node('c').campaign(); // c alone: stays a pre-candidate at term 0
    net.stabilize();
    expect(net.node('c').role).toBe('precandidate');
    // a restarts (forgetting it led), so b can win a's vote: §9.6 lets no
    // node that hears from a live leader grant a pre-vote.
    net.restart('a');
    net.electLeader('b');
    expect(net.node('c').term).toBe(0);
    const bTerm = net.node('b').term;
    // b crashes as c returns.
    net.heal();
    net.isolate('b');
    net.node('c').campaign();
    net.stabilize();
    net.node('a').campaign();
    net.stabilize();
    // Whatever the order, someone other than b leads within a few timeouts.
    net.tickUntil(() => net.leaders().some((id) => id !== 'b'), 20 * ELECTION_TICKS_MAX, ['a', 'c']);
    const leader = net.node(net.leaders().find((id) => id !== 'b')!);
    expect(leader.term).toBeGreaterThan(bTerm);
    expect(net.electionSafetyViolations()).toEqual([]);
  });
});

describe('PreVote × CheckQuorum: exactly one leader per term', () => {
  for (const size of [3, 5]) {
    for (const preVote of [false, true]) {
      for (const checkQuorum of [false, true]) {
        const label = `${size} nodes, preVote ${preVote ? 'on' : 'off'}, checkQuorum ${checkQuorum ? 'on' : 'off'}`;
        it(`§5.2 Election Safety with ${label}: elect, lose the leader, elect again, heal and converge`, () => {
          const ids: NodeId[] = Array.from({ length: size }, (_, i) => `n${i + 1}`);
          const net = Network.create(ids, {
            preVote,
            checkQuorum,
            seed: size * 10 + (preVote ? 2 : 0) + (checkQuorum ? 1 : 0),
          });
          net.tickUntil(() => net.leaders().length > 0, 30 * ELECTION_TICKS_MAX);
          const first = net.leaders()[0];
          const firstTerm = net.node(first).term;
          net.node(first).propose([bytes('before')]);
          net.tick(3);

          net.isolate(first);
          net.tickUntil(() => net.leaders().some((id) => id !== first), 30 * ELECTION_TICKS_MAX);
          const second = net.leaders().find((id) => id !== first)!;
          expect(net.node(second).term).toBeGreaterThan(firstTerm);
          if (preVote) {
            // Its pre-votes reached nobody, so the isolated node's term never moved.
            expect(net.node(first).term).toBe(firstTerm);
          }

          net.heal();
          net.tick(20 * ELECTION_TICKS_MAX);
          const leaders = net.leaders();
          expect(leaders).toHaveLength(1);
          const leader = net.node(leaders[0]);
          for (const id of ids) {
            const r = net.node(id);
            expect(r.term, id).toBe(leader.term);
            expect(r.leaderId, id).toBe(leader.id);
            expect(r.commitIndex, id).toBe(leader.commitIndex);
          }
          expect(net.electionSafetyViolations()).toEqual([]);
          // The entry proposed before the partition survives everywhere.
          for (const id of ids) {
            expect(
              net.applied.get(id)!.some((e) => e.type === 'normal' && new TextDecoder().decode(e.data) === 'before'),
              id,
            ).toBe(true);
          }
        });
      }
    }
  }
});
