/**
 * One test per rule of §5.1–§5.4 of the Raft paper ("In Search of an
 * Understandable Consensus Algorithm", extended version), in the manner of
 * etcd-io/raft's raft_paper_test.go. Each test drives the pure core message
 * by message; nothing here uses a timer.
 */
import { describe, expect, it } from 'vitest';
import { Raft } from '../../src/core/raft.js';
import type { Ready } from '../../src/core/types.js';
import type { Entry, NodeId, RaftMessage, Role } from '../../src/messages.js';
import {
  ELECTION_TICKS_MAX,
  ELECTION_TICKS_MIN,
  Network,
  appendEntries,
  appendResponse,
  bytes,
  config,
  drain,
  heartbeat,
  heartbeatResponse,
  logOfTerms,
  makeLeader,
  msgs,
  newRaft,
  ofType,
  readyMessages,
  requestVote,
  stored,
  termsOf,
  text,
  voteResponse,
} from './harness.js';

const ABC = ['a', 'b', 'c'];
const FIVE = ['a', 'b', 'c', 'd', 'e'];

function idsOf(n: number): NodeId[] {
  return Array.from({ length: n }, (_, i) => `n${i + 1}`);
}

/** What storage holds after persisting `rd.entries` over `before` (the Ready contract: replace from entries[0].index on). */
function persistedTerms(before: readonly Entry[], rd: Ready): number[] {
  if (rd.entries.length === 0) return before.map((e) => e.term);
  const from = rd.entries[0].index;
  return [...before.filter((e) => e.index < from), ...rd.entries].map((e) => e.term);
}

describe('§5.1 Raft basics: terms', () => {
  const roles: Array<{ role: Role; setup: () => Raft }> = [
    { role: 'follower', setup: () => newRaft('a', ABC) },
    {
      role: 'precandidate',
      setup: () => {
        const r = newRaft('a', ABC, { preVote: true });
        r.campaign();
        drain(r);
        return r;
      },
    },
    {
      role: 'candidate',
      setup: () => {
        const r = newRaft('a', ABC);
        r.campaign();
        drain(r);
        return r;
      },
    },
    {
      role: 'leader',
      setup: () => {
        const r = newRaft('a', ABC);
        makeLeader(r);
        return r;
      },
    },
  ];
  const kinds: Array<{ kind: RaftMessage['type']; message: (term: number) => RaftMessage; leader: NodeId | null }> = [
    { kind: 'AppendEntries', message: (term) => appendEntries({ from: 'b', to: 'a', term }), leader: 'b' },
    { kind: 'Heartbeat', message: (term) => heartbeat({ from: 'b', to: 'a', term }), leader: 'b' },
    {
      kind: 'RequestVote',
      message: (term) => requestVote({ from: 'b', to: 'a', term, lastLogIndex: 9, lastLogTerm: term - 1 }),
      leader: null,
    },
    {
      kind: 'RequestVoteResponse',
      message: (term) => voteResponse({ from: 'b', to: 'a', term, granted: false }),
      leader: null,
    },
    {
      kind: 'AppendEntriesResponse',
      message: (term) => appendResponse({ from: 'b', to: 'a', term, success: false }),
      leader: null,
    },
    { kind: 'HeartbeatResponse', message: (term) => heartbeatResponse({ from: 'b', to: 'a', term }), leader: null },
  ];
  const table = roles.flatMap((r) => kinds.map((k) => ({ ...r, ...k })));

  for (const { role, kind, setup, message, leader } of table) {
    it(`§5.1: a ${role} that sees ${/^[AEIOU]/.test(kind) ? 'an' : 'a'} ${kind} with a higher term becomes a follower of that term`, () => {
      const r = setup();
      const newTerm = r.term + 2;
      r.step(message(newTerm));
      expect(r.role).toBe('follower');
      expect(r.term).toBe(newTerm);
      expect(r.leaderId).toBe(leader);
      // The new term is persisted before anything else happens (Figure 2, "Persistent state").
      expect(drain(r).hardState?.term).toBe(newTerm);
    });
  }

  it('§5.1: a RequestVote with a stale term is not granted and changes nothing', () => {
    const r = newRaft('a', ABC, { term: 3, log: logOfTerms([1]) });
    drain(r);
    r.step(requestVote({ from: 'b', to: 'a', term: 2, lastLogIndex: 5, lastLogTerm: 2 }));
    // Like etcd, a stale real vote request gets no answer at all (only a
    // stale pre-vote is answered, so the pre-candidate learns our term); the
    // stale candidate learns the term from the leader's next heartbeat.
    expect(r.hasReady()).toBe(false);
    const rd = drain(r);
    expect(readyMessages(rd)).toEqual([]);
    expect(rd.hardState).toBeNull();
    expect(r.vote).toBeNull();
    expect(r.term).toBe(3);
  });

  it('§5.1: a candidate does not count a vote granted in an earlier term', () => {
    const r = newRaft('a', ABC, { term: 2 });
    r.campaign();
    drain(r);
    expect(r.term).toBe(3);
    r.step(voteResponse({ from: 'b', to: 'a', term: 2, granted: true }));
    r.step(voteResponse({ from: 'c', to: 'a', term: 1, granted: true }));
    expect(r.role).toBe('candidate');
    expect(r.term).toBe(3);
  });

  // Figure 2: AppendEntries "reply false if term < currentTerm", and the reply
  // carries currentTerm "for leader to update itself" — whatever the options.
  const optionSets = [
    { preVote: false, checkQuorum: false },
    { preVote: true, checkQuorum: false },
    { preVote: false, checkQuorum: true },
    { preVote: true, checkQuorum: true },
  ];
  for (const opts of optionSets) {
    const label = `(preVote ${opts.preVote ? 'on' : 'off'}, checkQuorum ${opts.checkQuorum ? 'on' : 'off'})`;

    it(`§5.1: a stale AppendEntries is rejected with the current term so the stale leader learns it ${label}`, () => {
      const r = newRaft('a', ABC, { ...opts, term: 3, log: logOfTerms([1]) });
      r.step(
        appendEntries({ from: 'b', to: 'a', term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: [], leaderCommit: 1 }),
      );
      r.step(
        appendEntries({
          from: 'b',
          to: 'a',
          term: 2,
          prevLogIndex: 1,
          prevLogTerm: 1,
          entries: logOfTerms([1, 2]).slice(1),
          leaderCommit: 2,
        }),
      );
      const out = ofType(msgs(r), 'AppendEntriesResponse', 'b');
      expect(out).toHaveLength(2);
      for (const m of out) {
        expect(m.success).toBe(false);
        expect(m.term).toBe(3);
      }
      expect(r.term).toBe(3);
      expect(r.role).toBe('follower');
      expect(r.leaderId).toBeNull();
      expect(termsOf(r)).toEqual([1]);
      expect(r.commitIndex).toBe(0);
    });

    it(`§5.1: a stale Heartbeat is rejected with the current term and does not move the commit index ${label}`, () => {
      const r = newRaft('a', ABC, { ...opts, term: 3, log: logOfTerms([1]) });
      r.step(heartbeat({ from: 'b', to: 'a', term: 2, commit: 1 }));
      const out = msgs(r);
      const rejections = ofType(out, 'AppendEntriesResponse', 'b');
      expect(rejections).toHaveLength(1);
      expect(rejections[0].success).toBe(false);
      expect(rejections[0].term).toBe(3);
      expect(ofType(out, 'HeartbeatResponse')).toHaveLength(0);
      expect(r.commitIndex).toBe(0);
      expect(r.leaderId).toBeNull();
    });

    it(`§5.1: a leader cut off while the others elected a new one steps down at its next heartbeat ${label}`, () => {
      const net = Network.create(ABC, opts);
      const a = net.electLeader('a');
      expect(a.term).toBe(1);
      net.isolate('a');
      // Only b and c see time pass, so a, hearing nothing, keeps believing it leads.
      net.tickUntil(() => net.leaders().some((id) => id !== 'a'), 20 * ELECTION_TICKS_MAX, ['b', 'c']);
      const next = net.node(net.leaders().find((id) => id !== 'a')!);
      expect(next.term).toBeGreaterThan(1);
      expect(a.role).toBe('leader');
      net.heal();
      net.tick(1, ['a']); // its heartbeat is answered with the higher term
      expect(a.role).toBe('follower');
      expect(a.term).toBe(next.term);
      expect(net.electionSafetyViolations()).toEqual([]);
    });
  }
});

describe('§5.2 Leader election', () => {
  it('§5.2: a follower that hears from no leader for its election timeout becomes a candidate and asks for votes', () => {
    const r = newRaft('a', ABC);
    for (let i = 1; i < ELECTION_TICKS_MIN; i++) {
      r.tick();
      expect(r.role).toBe('follower');
    }
    let ticks = ELECTION_TICKS_MIN - 1;
    while (r.role === 'follower' && ticks < ELECTION_TICKS_MAX) {
      r.tick();
      ticks++;
    }
    expect(r.role).toBe('candidate');
    expect(ticks).toBeGreaterThanOrEqual(ELECTION_TICKS_MIN);
    expect(ticks).toBeLessThan(ELECTION_TICKS_MAX);
    expect(r.term).toBe(1);
    expect(r.vote).toBe('a');
    const rd = drain(r);
    expect(rd.hardState).toMatchObject({ term: 1, vote: 'a' });
    // The requests carry the new term and the self-vote, so they leave only after these are durable.
    const requests = ofType(rd.messagesAfterPersist, 'RequestVote');
    expect(requests.map((m) => m.to).sort()).toEqual(['b', 'c']);
    expect(ofType(rd.messages, 'RequestVote')).toHaveLength(0);
    for (const m of requests) expect(m).toMatchObject({ term: 1, lastLogIndex: 0, lastLogTerm: 0, preVote: false });
  });

  it('§5.2: a follower that keeps hearing from the leader never starts an election', () => {
    const r = newRaft('a', ABC);
    for (let t = 1; t <= 10 * ELECTION_TICKS_MAX; t++) {
      r.tick();
      if (t % (ELECTION_TICKS_MIN - 1) === 0) r.step(heartbeat({ from: 'b', to: 'a', term: 1 }));
      drain(r);
      expect(r.role).toBe('follower');
    }
    expect(r.term).toBe(1);
    expect(r.leaderId).toBe('b');
  });

  it('§5.2: a candidate votes for itself and sends RequestVote with its last log entry to every other server', () => {
    const r = newRaft('a', FIVE, { term: 2, log: logOfTerms([1, 2]) });
    r.campaign();
    expect(r.role).toBe('candidate');
    expect(r.term).toBe(3);
    expect(r.vote).toBe('a');
    const requests = ofType(msgs(r), 'RequestVote');
    expect(requests.map((m) => m.to).sort()).toEqual(['b', 'c', 'd', 'e']);
    for (const m of requests) {
      expect(m).toMatchObject({ from: 'a', term: 3, lastLogIndex: 2, lastLogTerm: 2, preVote: false });
    }
  });

  const wins: Array<{ size: number; grants: number; rejects: number; outcome: 'leader' | 'candidate' | 'not leader' }> =
    [
      { size: 1, grants: 0, rejects: 0, outcome: 'leader' },
      { size: 3, grants: 1, rejects: 0, outcome: 'leader' },
      { size: 3, grants: 2, rejects: 0, outcome: 'leader' },
      { size: 3, grants: 0, rejects: 1, outcome: 'candidate' },
      { size: 3, grants: 0, rejects: 2, outcome: 'not leader' },
      { size: 5, grants: 4, rejects: 0, outcome: 'leader' },
      { size: 5, grants: 2, rejects: 2, outcome: 'leader' },
      { size: 5, grants: 1, rejects: 0, outcome: 'candidate' },
      { size: 5, grants: 1, rejects: 1, outcome: 'candidate' },
      { size: 5, grants: 0, rejects: 0, outcome: 'candidate' },
      { size: 5, grants: 1, rejects: 3, outcome: 'not leader' },
    ];
  for (const { size, grants, rejects, outcome } of wins) {
    it(`§5.2: a candidate in a ${size}-node cluster with ${grants} grants and ${rejects} rejections ends ${outcome} (it wins only with a majority)`, () => {
      const ids = idsOf(size);
      const r = newRaft('n1', ids);
      r.campaign();
      drain(r);
      // Rejections first, so that a win depends on the grants alone.
      for (const id of ids.slice(1 + grants, 1 + grants + rejects)) {
        r.step(voteResponse({ from: id, to: 'n1', term: 1, granted: false }));
      }
      for (const id of ids.slice(1, 1 + grants)) {
        r.step(voteResponse({ from: id, to: 'n1', term: 1, granted: true }));
      }
      if (outcome === 'not leader') expect(r.role).not.toBe('leader');
      else expect(r.role).toBe(outcome);
      expect(r.term).toBe(1);
    });
  }

  it('§5.2: a new leader at once sends every follower a message of its term to establish its authority', () => {
    const r = newRaft('a', FIVE);
    const out = makeLeader(r);
    for (const id of ['b', 'c', 'd', 'e']) {
      const toPeer = out.filter((m) => m.to === id && (m.type === 'AppendEntries' || m.type === 'Heartbeat'));
      expect(toPeer.length, `message to ${id}`).toBeGreaterThan(0);
      for (const m of toPeer) expect(m.term).toBe(r.term);
    }
  });

  for (const kind of ['AppendEntries', 'Heartbeat'] as const) {
    it(`§5.2: a candidate that receives ${kind} from a leader of its own term returns to follower`, () => {
      const r = newRaft('a', ABC);
      r.campaign();
      drain(r);
      const m =
        kind === 'AppendEntries'
          ? appendEntries({ from: 'b', to: 'a', term: 1 })
          : heartbeat({ from: 'b', to: 'a', term: 1 });
      r.step(m);
      expect(r.role).toBe('follower');
      expect(r.term).toBe(1);
      expect(r.leaderId).toBe('b');
    });
  }

  it('§5.2: a candidate that neither wins nor loses starts a new election with a higher term when its timeout passes', () => {
    const r = newRaft('a', ABC);
    r.campaign();
    drain(r);
    let ticks = 0;
    while (r.term === 1 && ticks < ELECTION_TICKS_MAX) {
      r.tick();
      ticks++;
    }
    expect(r.role).toBe('candidate');
    expect(r.term).toBe(2);
    expect(ticks).toBeGreaterThanOrEqual(ELECTION_TICKS_MIN);
    // Term-1 requests were retried meanwhile (§5.1); the new round asks everyone once.
    const requests = ofType(msgs(r), 'RequestVote').filter((m) => m.term === 2);
    expect(requests.map((m) => m.to).sort()).toEqual(['b', 'c']);
  });

  it('§5.1: a candidate retries its vote request to voters that have not answered, every heartbeat interval', () => {
    const r = newRaft('a', ['a', 'b', 'c', 'd', 'e'], { preVote: false });
    r.campaign();
    drain(r);
    r.step(voteResponse({ from: 'b', to: 'a', term: 1, granted: true }));
    drain(r);
    r.tick(); // heartbeatTicks is 1 in these tests
    const retried = ofType(msgs(r), 'RequestVote');
    expect(retried.map((m) => m.to).sort()).toEqual(['c', 'd', 'e']);
    for (const m of retried) expect(m).toMatchObject({ term: 1, preVote: false });
  });

  it('§5.2: after a split vote the cluster elects a leader in a later term', () => {
    const ids = ['a', 'b', 'c', 'd'];
    const net = Network.create(ids);
    // a can reach only b, c only d: both candidates get two of four votes.
    net.cut('a', 'c');
    net.cut('a', 'd');
    net.cut('c', 'b');
    net.node('a').campaign();
    net.node('c').campaign();
    net.stabilize();
    expect(net.node('a').role).toBe('candidate');
    expect(net.node('c').role).toBe('candidate');
    expect(net.leaders()).toEqual([]);
    net.heal();
    net.tickUntil(() => net.leaders().length === 1, 20 * ELECTION_TICKS_MAX);
    const leader = net.node(net.leaders()[0]);
    expect(leader.term).toBeGreaterThan(1);
    expect(net.electionSafetyViolations()).toEqual([]);
  });

  it('§5.2: election timeouts are drawn at random from [electionTicksMin, electionTicksMax)', () => {
    const r = newRaft('a', ABC, { seed: 7 });
    const timeouts: number[] = [];
    for (let round = 0; round < 60; round++) {
      const term = r.term;
      let ticks = 0;
      while (r.term === term && ticks <= 2 * ELECTION_TICKS_MAX) {
        r.tick();
        ticks++;
      }
      drain(r);
      timeouts.push(ticks);
    }
    for (const t of timeouts) {
      expect(t).toBeGreaterThanOrEqual(ELECTION_TICKS_MIN);
      expect(t).toBeLessThan(ELECTION_TICKS_MAX);
    }
    // 60 draws from 10 values: a fixed or barely varying timeout would not reach 6 distinct ones.
    expect(new Set(timeouts).size).toBeGreaterThanOrEqual(6);

    // Different nodes draw different first timeouts, so they rarely campaign together.
    const firsts = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const n = newRaft(`node${i}`, [`node${i}`, 'x', 'y'], { seed: i + 1 });
      let ticks = 0;
      while (n.role === 'follower' && ticks <= 2 * ELECTION_TICKS_MAX) {
        n.tick();
        ticks++;
      }
      firsts.add(ticks);
    }
    expect(firsts.size).toBeGreaterThanOrEqual(4);
  });

  it('§5.2: a server votes for at most one candidate per term, first come first served', () => {
    const r = newRaft('a', ['a', 'b', 'c', 'd']);
    r.step(requestVote({ from: 'b', to: 'a', term: 1 }));
    r.step(requestVote({ from: 'c', to: 'a', term: 1 }));
    // A retried request from the candidate it already voted for is granted again (its reply may have been lost).
    r.step(requestVote({ from: 'b', to: 'a', term: 1 }));
    const out = ofType(msgs(r), 'RequestVoteResponse');
    expect(out.filter((m) => m.to === 'b').every((m) => m.granted)).toBe(true);
    expect(out.filter((m) => m.to === 'b')).toHaveLength(2);
    expect(out.filter((m) => m.to === 'c' && m.granted)).toHaveLength(0);
    expect(r.vote).toBe('b');
    expect(r.term).toBe(1);
  });

  it('§5.2: a follower that knows the leader of its term grants no vote in that term', () => {
    const r = newRaft('b', ABC);
    r.step(heartbeat({ from: 'a', to: 'b', term: 1 }));
    drain(r);
    r.step(requestVote({ from: 'c', to: 'b', term: 1 }));
    expect(ofType(msgs(r), 'RequestVoteResponse').filter((m) => m.granted)).toHaveLength(0);
    expect(r.vote).toBeNull();
    expect(r.leaderId).toBe('a');
  });

  it('§5.2: granting a vote restarts the follower’s election timer', () => {
    const r = newRaft('a', ABC);
    for (let i = 0; i < ELECTION_TICKS_MIN - 1; i++) r.tick();
    r.step(requestVote({ from: 'b', to: 'a', term: 1 }));
    expect(r.vote).toBe('b');
    for (let i = 0; i < ELECTION_TICKS_MIN - 1; i++) {
      r.tick();
      expect(r.role).toBe('follower');
    }
    expect(r.term).toBe(1);
  });

  it('§5.2 / Figure 2: a refused vote request does not restart the election timer, even when its higher term is adopted (a stale candidate with a short timeout cannot hold off every election)', () => {
    // A fixed timeout of 10 ticks, PreVote off: the stale candidate's term is adopted, its vote refused.
    const r = newRaft('a', ABC, { term: 2, log: logOfTerms([1, 2]), electionTicksMin: 10, electionTicksMax: 11 });
    drain(r);
    for (let i = 0; i < 6; i++) r.tick();
    r.step(requestVote({ from: 'b', to: 'a', term: 3, lastLogIndex: 1, lastLogTerm: 1 }));
    expect(r.term).toBe(3);
    expect(r.vote).toBeNull();
    expect(ofType(msgs(r), 'RequestVoteResponse')).toEqual([
      expect.objectContaining({ to: 'b', term: 3, granted: false }),
    ]);
    // "If election timeout elapses without receiving AppendEntries RPC from current leader or granting vote to
    // candidate: convert to candidate": 10 ticks after the last of those, not 10 after the refused request.
    for (let i = 0; i < 3; i++) r.tick();
    expect(r.role).toBe('follower');
    r.tick();
    expect(r.role).toBe('candidate');
    expect(r.term).toBe(4);
  });

  it('§5.2: granting a vote draws a fresh election timeout (the one kept from before was the long side of a race this node lost)', () => {
    // Timeouts in [10, 30): the first draw gives 29 ticks, the second 10.
    const draws = [0.99, 0];
    const random = (): number => draws.shift() ?? 0.5;
    const r = new Raft({ ...config('a', ABC, { electionTicksMin: 10, electionTicksMax: 30 }), random }, stored());
    r.step(requestVote({ from: 'b', to: 'a', term: 1 }));
    expect(r.vote).toBe('b');
    for (let i = 0; i < 9; i++) r.tick();
    expect(r.role).toBe('follower');
    r.tick();
    expect(r.role).toBe('candidate');
  });

  it('§5.2 / Figure 2: a vote is persisted before the reply that grants it is sent', () => {
    const r = newRaft('a', ABC);
    r.step(requestVote({ from: 'b', to: 'a', term: 1 }));
    const rd = drain(r);
    expect(rd.hardState).toMatchObject({ term: 1, vote: 'b' });
    expect(ofType(rd.messages, 'RequestVoteResponse')).toHaveLength(0);
    const grants = ofType(rd.messagesAfterPersist, 'RequestVoteResponse');
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ to: 'b', term: 1, granted: true, preVote: false });
  });

  it('§5.2: a leader sends heartbeats to every follower every heartbeatTicks ticks', () => {
    const r = newRaft('a', ABC, { heartbeatTicks: 3 });
    makeLeader(r);
    const ticksWithHeartbeat: number[] = [];
    for (let t = 1; t <= 12; t++) {
      r.tick();
      const hbs = ofType(msgs(r), 'Heartbeat');
      if (hbs.length === 0) continue;
      ticksWithHeartbeat.push(t);
      expect(hbs.map((m) => m.to).sort()).toEqual(['b', 'c']);
      for (const m of hbs) {
        expect(m.term).toBe(1);
        // No follower has acknowledged anything, so no heartbeat may let it commit anything.
        expect(m.commit).toBe(0);
      }
    }
    expect(ticksWithHeartbeat).toEqual([3, 6, 9, 12]);
    expect(r.role).toBe('leader');
  });
});

describe('§5.3 Log replication', () => {
  it('§5.3: the leader appends a proposal to its log and sends it to every follower with the consistency check', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    const last = a.lastIndex;
    const result = a.propose([bytes('x')]);
    expect(result).toEqual({ ok: true, index: last + 1, term: a.term });
    expect(a.lastIndex).toBe(last + 1);
    const rd = drain(a);
    expect(rd.entries.map((e) => [e.index, e.term, e.type])).toContainEqual([last + 1, a.term, 'normal']);
    for (const id of ['b', 'c']) {
      const carrying = ofType(readyMessages(rd), 'AppendEntries', id).filter((m) =>
        m.entries.some((e) => e.index === last + 1),
      );
      expect(carrying, `append to ${id}`).toHaveLength(1);
      const m = carrying[0];
      expect(m.term).toBe(a.term);
      expect(m.prevLogIndex).toBe(m.entries[0].index - 1);
      expect(m.prevLogTerm).toBe(a.termAt(m.prevLogIndex));
      expect(text(m.entries.find((e) => e.index === last + 1)!.data)).toBe('x');
    }
  });

  it('§5.3: a proposal to a follower is refused with the leader it knows, and appends nothing', () => {
    const net = Network.create(ABC);
    net.electLeader('a');
    const b = net.node('b');
    const last = b.lastIndex;
    expect(b.propose([bytes('x')])).toEqual({ ok: false, leaderId: 'a' });
    expect(b.lastIndex).toBe(last);
    const lonely = newRaft('z', ['z', 'y', 'x']);
    expect(lonely.propose([bytes('x')])).toEqual({ ok: false, leaderId: null });
    expect(lonely.lastIndex).toBe(0);
  });

  const commits: Array<{ size: number; acks: number; committed: boolean }> = [
    { size: 1, acks: 0, committed: true },
    { size: 3, acks: 0, committed: false },
    { size: 3, acks: 1, committed: true },
    { size: 3, acks: 2, committed: true },
    { size: 5, acks: 0, committed: false },
    { size: 5, acks: 1, committed: false },
    { size: 5, acks: 2, committed: true },
    { size: 5, acks: 4, committed: true },
  ];
  for (const { size, acks, committed } of commits) {
    it(`§5.3: in a ${size}-node cluster an entry stored by the leader and ${acks} followers is ${committed ? '' : 'not '}committed`, () => {
      const ids = idsOf(size);
      const net = Network.create(ids);
      const leader = net.electLeader('n1');
      const acceptors = new Set(ids.slice(1, 1 + acks));
      net.drop((m) => m.type === 'AppendEntries' && !acceptors.has(m.to));
      const { index } = leader.propose([bytes('x')]) as { index: number };
      net.stabilize();
      expect(leader.commitIndex >= index).toBe(committed);
      expect(net.applied.get('n1')!.some((e) => e.index === index)).toBe(committed);
    });
  }

  it('§5.3: followers learn the commit index from the leader and apply the entry', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    const { index } = a.propose([bytes('x')]) as { index: number };
    net.stabilize();
    expect(a.commitIndex).toBe(index);
    net.tick(1, ['a']); // a heartbeat at the latest tells everyone
    for (const id of ['b', 'c']) {
      expect(net.node(id).commitIndex, id).toBe(index);
      const applied = net.applied.get(id)!.find((e) => e.index === index);
      expect(applied && text(applied.data)).toBe('x');
    }
  });

  it('§5.3: every server applies each committed entry once, in log order', () => {
    const net = Network.create(FIVE);
    const a = net.electLeader('a');
    for (const word of ['x', 'y', 'z']) {
      a.propose([bytes(word)]);
      net.stabilize();
    }
    a.propose([bytes('u'), bytes('v')]);
    net.stabilize();
    net.settle('a');
    for (const id of FIVE) {
      const applied = net.applied.get(id)!;
      expect(
        applied.map((e) => e.index),
        id,
      ).toEqual([1, 2, 3, 4, 5, 6]);
      expect(applied[0].type).toBe('noop');
      expect(applied.slice(1).map((e) => text(e.data))).toEqual(['x', 'y', 'z', 'u', 'v']);
    }
  });

  it('§5.3: the leader keeps retrying AppendEntries until a follower that lost them catches up', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    net.isolate('c');
    a.propose([bytes('x')]);
    a.propose([bytes('y')]);
    net.stabilize();
    expect(net.node('c').lastIndex).toBe(1);
    net.rejoin('c');
    const ticks = net.tickUntil(() => net.node('c').lastIndex === a.lastIndex, 5 * ELECTION_TICKS_MIN, ['a']);
    expect(ticks).toBeLessThanOrEqual(5 * ELECTION_TICKS_MIN);
    expect(termsOf(net.node('c'))).toEqual(termsOf(a));
  });

  // Follower log [1:1, 2:2]; what it answers to AppendEntries with various prevLogIndex/prevLogTerm.
  const checks = [
    { prevLogIndex: 0, prevLogTerm: 0, success: true, matchIndex: 0 },
    { prevLogIndex: 1, prevLogTerm: 1, success: true, matchIndex: 1 },
    { prevLogIndex: 2, prevLogTerm: 2, success: true, matchIndex: 2 },
    // Entry at prevLogIndex has another term: hint the term we have there and its first index.
    { prevLogIndex: 2, prevLogTerm: 3, success: false, hintTerm: 2, hintIndex: 2 },
    { prevLogIndex: 1, prevLogTerm: 2, success: false, hintTerm: 1, hintIndex: 1 },
    // No entry at prevLogIndex at all: hint where our log ends.
    { prevLogIndex: 3, prevLogTerm: 2, success: false, hintTerm: 0, hintIndex: 3 },
    { prevLogIndex: 7, prevLogTerm: 3, success: false, hintTerm: 0, hintIndex: 3 },
  ];
  for (const { prevLogIndex, prevLogTerm, success, ...expected } of checks) {
    it(`§5.3: the consistency check on log [1:1, 2:2] ${success ? 'accepts' : 'rejects'} prevLogIndex=${prevLogIndex} prevLogTerm=${prevLogTerm}`, () => {
      const r = newRaft('b', ABC, { term: 3, log: logOfTerms([1, 2]) });
      r.step(appendEntries({ from: 'a', to: 'b', term: 3, prevLogIndex, prevLogTerm, entries: [], leaderCommit: 0 }));
      const rd = drain(r);
      const replies = ofType(rd.messagesAfterPersist, 'AppendEntriesResponse', 'a');
      expect(replies).toHaveLength(1);
      const reply = replies[0];
      expect(reply.success).toBe(success);
      expect(reply.term).toBe(3);
      if (success) {
        expect(reply.matchIndex).toBe(expected.matchIndex);
      } else {
        expect(reply.rejectedIndex).toBe(prevLogIndex);
        expect(reply.hintTerm).toBe(expected.hintTerm);
        expect(reply.hintIndex).toBe(expected.hintIndex);
      }
      expect(termsOf(r)).toEqual([1, 2]);
      expect(r.leaderId).toBe('a');
    });
  }

  // Follower log [1:1, 2:2]; AppendEntries from a leader of term 3.
  const appends = [
    { name: 'new entries after a match are appended', prev: [2, 2], ents: [[3, 3]], want: [1, 2, 3] },
    {
      name: 'a conflicting entry and all after it are replaced',
      prev: [1, 1],
      ents: [
        [2, 3],
        [3, 3],
      ],
      want: [1, 3, 3],
    },
    { name: 'a conflict at the first index replaces the whole log', prev: [0, 0], ents: [[1, 3]], want: [3] },
    { name: 'entries already present are kept, nothing is truncated', prev: [0, 0], ents: [[1, 1]], want: [1, 2] },
    { name: 'an empty append truncates nothing', prev: [1, 1], ents: [] as number[][], want: [1, 2] },
  ];
  for (const { name, prev, ents, want } of appends) {
    it(`§5.3: AppendEntries on a follower: ${name}`, () => {
      const before = logOfTerms([1, 2]);
      const r = newRaft('b', ABC, { term: 2, log: before });
      const entries = ents.map(([index, term]) => ({
        index,
        term,
        type: 'normal' as const,
        data: bytes(`${index}/${term}`),
      }));
      r.step(
        appendEntries({
          from: 'a',
          to: 'b',
          term: 3,
          prevLogIndex: prev[0],
          prevLogTerm: prev[1],
          entries,
          leaderCommit: 0,
        }),
      );
      const rd = drain(r);
      expect(termsOf(r)).toEqual(want);
      // Storage, given this Ready, ends up with exactly the same log as memory.
      expect(persistedTerms(before, rd)).toEqual(want);
      const reply = ofType(rd.messagesAfterPersist, 'AppendEntriesResponse', 'a')[0];
      expect(reply).toMatchObject({ success: true, term: 3, matchIndex: prev[0] + ents.length });
    });
  }

  it('§5.3 / Figure 2: a follower commits only up to the last entry the leader has vouched for', () => {
    // Entries 2 and 3 are leftovers from an old leader that this leader has not checked yet.
    const r = newRaft('b', ABC, { term: 1, log: logOfTerms([1, 1, 1]) });
    r.step(
      appendEntries({ from: 'a', to: 'b', term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: [], leaderCommit: 3 }),
    );
    expect(r.commitIndex).toBe(1);
    r.step(
      appendEntries({
        from: 'a',
        to: 'b',
        term: 2,
        prevLogIndex: 1,
        prevLogTerm: 1,
        entries: logOfTerms([1, 1]).slice(1),
        leaderCommit: 3,
      }),
    );
    expect(r.commitIndex).toBe(2);
    const rd = drain(r);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2]);
  });

  // Figure 7: the leader of term 8 and six possible follower logs (a)–(f).
  const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const figure7 = [
    { name: '(a) missing one entry', log: [1, 1, 1, 4, 4, 5, 5, 6, 6] },
    { name: '(b) missing many entries', log: [1, 1, 1, 4] },
    { name: '(c) one extra entry of term 6', log: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6] },
    { name: '(d) two extra entries of term 7', log: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7] },
    { name: '(e) missing entries and extra entries of term 4', log: [1, 1, 1, 4, 4, 4, 4] },
    { name: '(f) extra entries of terms 2 and 3', log: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3] },
  ];
  for (const { name, log } of figure7) {
    it(`§5.3 (Figure 7): the leader backs up nextIndex until it brings follower ${name} in line with its log`, () => {
      const a = newRaft('a', ABC, { term: 7, log: logOfTerms(leaderLog) });
      const b = newRaft('b', ABC, { term: 7, log: logOfTerms(log) });
      // c is down; only its vote is delivered by hand, since b may hold a log more up to date than a's.
      const net = new Network([a, b]);
      a.campaign();
      net.stabilize();
      if (a.role !== 'leader') {
        a.step(voteResponse({ from: 'c', to: 'a', term: a.term, granted: true }));
        net.stabilize();
      }
      expect(a.role).toBe('leader');
      expect(a.term).toBe(8);
      a.propose([bytes('after')]);
      net.stabilize();
      net.settle('a');
      expect(termsOf(b)).toEqual([...leaderLog, 8, 8]);
      expect(b.entries(1, b.lastIndex + 1)).toEqual(a.entries(1, a.lastIndex + 1));
      // With a and b holding the new term's entries, everything up to them is committed.
      expect(a.commitIndex).toBe(a.lastIndex);
      expect(b.commitIndex).toBe(a.lastIndex);
    });
  }
});

describe('§5.4 Safety', () => {
  // Voter log [1:1, 2:2]. Rows mark which broken comparisons would get them wrong.
  const upToDate = [
    {
      lastLogTerm: 3,
      lastLogIndex: 1,
      granted: true,
      why: 'higher last term, shorter log (the liferaft-style && of index and term wrongly refuses)',
    },
    { lastLogTerm: 3, lastLogIndex: 3, granted: true, why: 'higher last term, longer log' },
    { lastLogTerm: 2, lastLogIndex: 2, granted: true, why: 'same last term, same length' },
    { lastLogTerm: 2, lastLogIndex: 3, granted: true, why: 'same last term, longer log' },
    {
      lastLogTerm: 2,
      lastLogIndex: 1,
      granted: false,
      why: 'same last term, shorter log (an || of index and term wrongly grants)',
    },
    {
      lastLogTerm: 1,
      lastLogIndex: 2,
      granted: false,
      why: 'lower last term, same length (the skiff-style index-only check wrongly grants)',
    },
    {
      lastLogTerm: 1,
      lastLogIndex: 5,
      granted: false,
      why: 'lower last term, longer log (the skiff-style index-only check wrongly grants)',
    },
    { lastLogTerm: 0, lastLogIndex: 0, granted: false, why: 'empty log' },
  ];
  for (const preVote of [false, true]) {
    for (const { lastLogTerm, lastLogIndex, granted, why } of upToDate) {
      it(`§5.4.1: a voter with last entry (term 2, index 2) ${granted ? 'grants' : 'refuses'} a ${preVote ? 'pre-vote' : 'vote'} for last entry (term ${lastLogTerm}, index ${lastLogIndex}): ${why}`, () => {
        const r = newRaft('a', ABC, { term: 2, log: logOfTerms([1, 2]), preVote: true });
        r.step(requestVote({ from: 'b', to: 'a', term: 3, lastLogIndex, lastLogTerm, preVote }));
        const rd = drain(r);
        const replies = ofType(readyMessages(rd), 'RequestVoteResponse', 'b');
        expect(replies).toHaveLength(1);
        expect(replies[0].granted).toBe(granted);
        expect(replies[0].preVote).toBe(preVote);
        if (preVote) {
          // A pre-vote changes nothing on the voter.
          expect(r.term).toBe(2);
          expect(r.vote).toBeNull();
        } else {
          // A real request's higher term is adopted whether or not the vote is granted (§5.1).
          expect(r.term).toBe(3);
          expect(r.vote).toBe(granted ? 'b' : null);
        }
      });
    }
  }

  it('§5.4.1: the up-to-date check is enforced by voters in a real election (a stale log cannot win)', () => {
    const net = new Network([
      newRaft('a', ABC, { term: 2, log: logOfTerms([1, 1]) }),
      newRaft('b', ABC, { term: 2, log: logOfTerms([1, 2]) }),
      newRaft('c', ABC, { term: 2, log: logOfTerms([1, 2]) }),
    ]);
    for (let i = 0; i < 5; i++) {
      net.node('a').campaign();
      net.stabilize();
      expect(net.node('a').role).not.toBe('leader');
    }
    const b = net.electLeader('b');
    expect(termsOf(net.node('a')).slice(0, 2)).toEqual([1, 2]);
    expect(b.term).toBeGreaterThan(2);
  });

  it('§5.4.2 / §8: a new leader appends a no-op entry of its term at once', () => {
    const r = newRaft('a', ABC, { term: 2, log: logOfTerms([1, 2]) });
    r.campaign();
    drain(r);
    r.step(voteResponse({ from: 'b', to: 'a', term: 3, granted: true }));
    expect(r.role).toBe('leader');
    expect(r.lastIndex).toBe(3);
    expect(r.entries(3, 4)).toEqual([expect.objectContaining({ index: 3, term: 3, type: 'noop' })]);
    const rd = drain(r);
    expect(rd.entries.map((e) => [e.index, e.term, e.type])).toEqual([[3, 3, 'noop']]);

    const single = newRaft('solo', ['solo']);
    single.campaign();
    expect(single.role).toBe('leader');
    expect(single.entries(1, 2)).toEqual([expect.objectContaining({ index: 1, term: 1, type: 'noop' })]);
  });

  it('§5.4.2: the leader never commits an entry of an earlier term by counting replicas, only by committing one of its own term above it', () => {
    const r = newRaft('a', FIVE, { term: 3, log: logOfTerms([1, 2]), commit: 1 });
    const committed: number[] = [];
    const take = () => committed.push(...drain(r).committedEntries.map((e) => e.index));
    take();
    expect(committed).toEqual([1]); // re-delivered after the restart
    makeLeader(r);
    take();
    expect(r.term).toBe(4);
    expect(termsOf(r)).toEqual([1, 2, 4]);
    // Entry 2 (term 2) is now on a, b and c: a majority of five, but not of the leader's term.
    r.step(appendResponse({ from: 'b', to: 'a', term: 4, success: true, matchIndex: 2 }));
    r.step(appendResponse({ from: 'c', to: 'a', term: 4, success: true, matchIndex: 2 }));
    take();
    expect(r.commitIndex).toBe(1);
    expect(committed).toEqual([1]);
    // The no-op of term 4 on a and b only: still no majority for anything new.
    r.step(appendResponse({ from: 'b', to: 'a', term: 4, success: true, matchIndex: 3 }));
    take();
    expect(r.commitIndex).toBe(1);
    // On c too: the no-op commits, and with it every entry before it (§5.3).
    r.step(appendResponse({ from: 'c', to: 'a', term: 4, success: true, matchIndex: 3 }));
    take();
    expect(r.commitIndex).toBe(3);
    expect(committed).toEqual([1, 2, 3]);
  });

  describe('§5.4.2 Figure 8, played out on five servers', () => {
    const S = ['s1', 's2', 's3', 's4', 's5'];

    /**
     * Figure 8 (a)–(c): s1 leads term 1 and gets entry 2 only to s2; s5
     * wins the next term with s3 and s4 and appends entry 2 of its term,
     * which reaches nobody; s1 comes back, wins a later term T and its
     * entry 2 (term 1) reaches s3, a majority, while its own no-op of
     * term T reaches nobody yet.
     */
    function figure8abc(): { net: Network; s1: Raft } {
      const net = Network.create(S, { maxEntriesPerAppend: 1 });
      const first = net.electLeader('s1');
      expect(first.term).toBe(1);
      // (a)
      net.cut('s1', 's3');
      net.cut('s1', 's4');
      net.cut('s1', 's5');
      first.propose([bytes('x')]);
      net.stabilize();
      expect(termsOf(net.node('s2'))).toEqual([1, 1]);
      expect(first.commitIndex).toBe(1);
      // (b)
      net.heal();
      net.isolate('s1');
      net.drop((m) => m.from === 's5' && m.type === 'AppendEntries');
      const s5 = net.electLeader('s5', { settle: false });
      expect(termsOf(s5)).toEqual([1, s5.term]);
      // (c) s1 restarts from what it persisted.
      net.heal();
      net.isolate('s5');
      net.drop((m) => m.from === 's1' && m.type === 'AppendEntries');
      const s1 = net.restart('s1');
      expect(s1.role).toBe('follower');
      net.electLeader('s1', { settle: false });
      expect(s1.term).toBeGreaterThan(s5.term);
      expect(termsOf(s1)).toEqual([1, 1, s1.term]);
      // What s1 sends once it has backed up to s3's log: entry 2 alone.
      for (const [to, m] of [
        [
          's3',
          appendEntries({
            from: 's1',
            to: 's3',
            term: s1.term,
            prevLogIndex: 1,
            prevLogTerm: 1,
            entries: s1.entries(2, 3),
            leaderCommit: s1.commitIndex,
          }),
        ],
        [
          's2',
          appendEntries({
            from: 's1',
            to: 's2',
            term: s1.term,
            prevLogIndex: 2,
            prevLogTerm: 1,
            entries: [],
            leaderCommit: s1.commitIndex,
          }),
        ],
      ] as const) {
        net.node(to).step(m);
      }
      net.stabilize();
      for (const id of ['s1', 's2', 's3']) expect(net.node(id).termAt(2), id).toBe(1);
      return { net, s1 };
    }

    it('§5.4.2 (Figure 8 c–d): an entry of term 1 on a majority is not committed by the term-T leader, and indeed a later leader overwrites it', () => {
      const { net, s1 } = figure8abc();
      expect(s1.commitIndex).toBe(1);
      // (d) s1 crashes; s5 restarts and, its last term beating everyone else's, wins and overwrites entry 2.
      net.heal();
      net.isolate('s1');
      net.restart('s5');
      net.electLeader('s5');
      for (const id of ['s2', 's3', 's4', 's5']) expect(net.node(id).termAt(2), id).toBe(net.node('s5').termAt(2));
      expect(net.node('s5').termAt(2)).not.toBe(1);
      // No server ever applied the overwritten entry.
      for (const id of S) {
        expect(
          net.applied.get(id)!.some((e) => e.index === 2 && e.term === 1),
          id,
        ).toBe(false);
      }
      expect(net.electionSafetyViolations()).toEqual([]);
    });

    it('§5.4.2 (Figure 8 e): once the leader replicates an entry of its own term on a majority, both commit and s5 can no longer win', () => {
      const { net, s1 } = figure8abc();
      net.heal();
      net.isolate('s5');
      net.tickUntil(() => s1.commitIndex === 3, 5 * ELECTION_TICKS_MIN, ['s1']);
      expect(net.applied.get('s1')!.map((e) => [e.index, e.term])).toEqual([
        [1, 1],
        [2, 1],
        [3, s1.term],
      ]);
      net.heal();
      net.isolate('s1');
      const s5 = net.restart('s5');
      for (let i = 0; i < 5; i++) {
        s5.campaign();
        net.stabilize();
        expect(s5.role).not.toBe('leader');
      }
      for (const id of ['s2', 's3']) expect(net.node(id).termAt(2), id).toBe(1);
    });
  });
});
