import { describe, expect, it } from 'vitest';
import type { HardState, NodeId, RaftMessage, Role } from '../../src/messages.js';
import { type CoreView, RuleChecker, type ServerView } from '../../src/testing/sim/rule-checker.js';

/** A core as the rules see it: `log[i]` is the term of entry i+1. */
function core(fields: {
  term: number;
  vote?: NodeId | null;
  role?: Role;
  commit?: number;
  log?: number[];
  /** Defaults to the whole log. */
  stable?: number;
  /** Entries before it are compacted into a snapshot (their terms still given in `log`); defaults to 1. */
  first?: number;
  matches?: Record<NodeId, number>;
}): CoreView {
  const log = fields.log ?? [];
  return {
    term: fields.term,
    vote: fields.vote ?? null,
    role: fields.role ?? 'follower',
    commitIndex: fields.commit ?? 0,
    stableIndex: fields.stable ?? log.length,
    firstIndex: fields.first ?? 1,
    termAt: (i) => (i === 0 ? 0 : i < (fields.first ?? 1) - 1 ? -1 : (log[i - 1] ?? -1)),
    matchIndexes: () => new Map(Object.entries(fields.matches ?? {})),
  };
}

/** A server whose disk holds `disk` (terms of entries 1..n) and `hardState`. */
function server(
  id: NodeId,
  disk: number[],
  running: CoreView | null = null,
  hardState: HardState = { term: 0, vote: null, commit: 0 },
): ServerView {
  return {
    id,
    core: running,
    storage: {
      durableTermAt: (i) => (i >= 1 && i <= disk.length ? disk[i - 1] : -1),
      durableLastIndex: () => disk.length,
      durableHardState: () => hardState,
    },
  };
}

const vote = (from: NodeId, to: NodeId, term: number, preVote = false): RaftMessage => ({
  type: 'RequestVoteResponse',
  from,
  to,
  term,
  granted: true,
  preVote,
});
const ask = (from: NodeId, term: number, preVote = false): RaftMessage => ({
  type: 'RequestVote',
  from,
  to: 'x',
  term,
  lastLogIndex: 0,
  lastLogTerm: 0,
  preVote,
  transfer: false,
});
const ack = (from: NodeId, term: number, matchIndex: number): RaftMessage => ({
  type: 'AppendEntriesResponse',
  from,
  to: 'l',
  term,
  success: true,
  matchIndex,
  rejectedIndex: 0,
  hintIndex: 0,
  hintTerm: 0,
});

const anyServer = server('s', []);

describe('RuleChecker: one vote per server per term', () => {
  it('pre-vote grants are not votes: pre-votes to two candidates and a vote to a third in one term pass', () => {
    const rules = new RuleChecker(2);
    expect(rules.sent(vote('s', 'a', 5, true), anyServer)).toBeNull();
    expect(rules.sent(vote('s', 'b', 5, true), anyServer)).toBeNull();
    expect(rules.sent(vote('s', 'c', 5), anyServer)).toBeNull();
  });

  it('a second grant in the same term to another candidate breaks the rule; the same grant again is one vote', () => {
    const rules = new RuleChecker(2);
    expect(rules.sent(vote('s', 'a', 5), anyServer)).toBeNull();
    expect(rules.sent(vote('s', 'a', 5), anyServer)).toBeNull();
    expect(rules.sent(vote('s', 'a', 6), anyServer)).toBeNull();
    expect(rules.sent(vote('s', 'b', 6), anyServer)?.property).toBe('One vote per server per term');
  });

  it("a candidate's vote request is its own vote: granting another candidate in that term breaks the rule", () => {
    const rules = new RuleChecker(2);
    expect(rules.sent(ask('s', 3, true), anyServer)).toBeNull();
    expect(rules.sent(vote('s', 'b', 4), anyServer)).toBeNull();
    expect(rules.sent(ask('s', 5), anyServer)).toBeNull();
    expect(rules.sent(vote('s', 'b', 5), anyServer)?.message).toBe('s voted for s and then for b in term 5');
  });

  it('a vote given stays the vote of its term: forgetting it breaks the rule, a new term does not', () => {
    const rules = new RuleChecker(2);
    rules.sent(vote('s', 'a', 5), anyServer);
    expect(rules.checkVoteKept('s', core({ term: 5, vote: 'a' }))).toBeNull();
    expect(rules.checkVoteKept('s', core({ term: 5, vote: null }))?.property).toBe('One vote per server per term');
    expect(rules.checkVoteKept('s', core({ term: 6, vote: null }))).toBeNull();
  });
});

describe('RuleChecker: acknowledgements and crashes', () => {
  it('an acknowledgement of entries the disk does not hold breaks "Acknowledged entries are durable"', () => {
    const rules = new RuleChecker(2);
    const f = server('f', [1, 1, 2], core({ term: 2 }));
    expect(rules.sent(ack('f', 2, 3), f)).toBeNull();
    expect(rules.sent(ack('f', 2, 4), f)?.property).toBe('Acknowledged entries are durable');
  });

  it('an acknowledgement of an earlier term than the sender is in is judged too (a deposed leader that counts it could commit what no disk holds)', () => {
    const rules = new RuleChecker(2);
    expect(rules.sent(ack('f', 2, 3), server('f', [1, 1, 3], core({ term: 3 })))).toBeNull();
    expect(rules.sent(ack('f', 2, 4), server('f', [1, 1, 3], core({ term: 3 })))?.property).toBe(
      'Acknowledged entries are durable',
    );
  });

  it('a follower answers that it holds a snapshot only once its disk holds it (Figure 13: durable before the answer)', () => {
    const rules = new RuleChecker(2);
    const done = (snapshotIndex: number, isDone = true): RaftMessage => ({
      type: 'InstallSnapshotResponse',
      from: 'f',
      to: 'l',
      term: 2,
      snapshotIndex,
      received: 64,
      done: isDone,
    });
    const f = server('f', [1, 1, 2, 2], core({ term: 2 }));
    expect(rules.sent(done(4), f)).toBeNull();
    expect(rules.sent(done(9, false), f)).toBeNull(); // a chunk received: no claim about the disk
    expect(rules.sent(done(9), f)?.message).toBe(
      'f acknowledged index 9 to l in term 2 with only 4 entries on its disk',
    );
  });

  it('a restarted server must read back the vote and the term of everything it sent', () => {
    const rules = new RuleChecker(2);
    rules.sent(vote('s', 'a', 4), anyServer);
    rules.sent(ack('s', 5, 0), server('s', [], core({ term: 5 })));
    const restart = (term: number, vote: NodeId | null) =>
      rules.restarted('s', { term, vote, commit: 0 })?.property ?? null;
    expect(restart(5, null)).toBeNull();
    expect(restart(6, 'b')).toBeNull();
    expect(restart(4, 'a')).toBe('Term and vote survive a crash');
    expect(restart(3, null)).toBe('Term and vote survive a crash');
  });

  it('a restart that lost the vote of its latest term breaks "Term and vote survive a crash"', () => {
    const rules = new RuleChecker(2);
    rules.sent(vote('s', 'a', 4), anyServer);
    expect(rules.restarted('s', { term: 4, vote: 'a', commit: 0 })).toBeNull();
    expect(rules.restarted('s', { term: 4, vote: null, commit: 0 })?.message).toBe(
      's restarted at term 4 with vote none, but before the crash it had voted for a in term 4',
    );
  });
});

describe('RuleChecker: leaders', () => {
  it('a leader needs votes given to it by a true majority; its own vote counts', () => {
    const rules = new RuleChecker(3);
    const leader = core({ term: 7, vote: 'l', role: 'leader' });
    rules.sent(vote('a', 'l', 7), anyServer);
    rules.sent(vote('b', 'l', 7, true), anyServer); // a pre-vote: no vote at all
    rules.sent(vote('c', 'l', 6), anyServer); // another term
    expect(rules.electedLeader('l', leader)?.property).toBe('Leader elected by a quorum');
    rules.sent(vote('b', 'l', 7), anyServer);
    expect(rules.electedLeader('l', leader)).toBeNull();
  });

  it("a one-node cluster's leader is elected by its own vote", () => {
    expect(new RuleChecker(1).electedLeader('l', core({ term: 1, vote: 'l', role: 'leader' }))).toBeNull();
  });

  it("a match index is compared with the follower's disk only while the follower is in the leader's term", () => {
    const rules = new RuleChecker(2);
    const leader = core({ term: 3, role: 'leader', log: [1, 3, 3], matches: { f: 3, g: 3 } });
    const servers = (f: ServerView, g: ServerView) => new Map([f, g].map((s) => [s.id, s]));
    const inTerm = server('g', [1, 3, 3], core({ term: 3 }));
    expect(rules.checkMatchIndexes('l', leader, servers(server('f', [1, 3, 3], core({ term: 3 })), inTerm))).toBeNull();
    // A later leader rewrote f's log: the stale leader's view is old, not wrong.
    expect(rules.checkMatchIndexes('l', leader, servers(server('f', [1, 4], core({ term: 4 })), inTerm))).toBeNull();
    const short = rules.checkMatchIndexes('l', leader, servers(server('f', [1, 3], core({ term: 3 })), inTerm));
    expect(short?.property).toBe("Match index within the follower's durable log");
    // A follower that is down is judged by the term on its disk.
    const down = server('f', [1, 3, 2], null, { term: 3, vote: 'l', commit: 0 });
    expect(rules.checkMatchIndexes('l', leader, servers(down, inTerm))?.message).toContain(
      'its disk holds term 2 there',
    );
  });

  it('a match index at an entry the leader compacted is compared with the committed entry there', () => {
    const committed = [0, 1, 3, 3];
    const rules = new RuleChecker(2, (i) => committed[i]);
    // The leader's log starts after index 2: termAt is -1 below.
    const leader = {
      ...core({ term: 3, role: 'leader', matches: { f: 1 } }),
      termAt: (i: number) => (i === 2 ? 3 : -1),
    };
    const servers = (f: ServerView) => new Map([[f.id, f]]);
    expect(rules.checkMatchIndexes('l', leader, servers(server('f', [1, 3, 3], core({ term: 3 }))))).toBeNull();
    expect(rules.checkMatchIndexes('l', leader, servers(server('f', [2, 3], core({ term: 3 }))))?.message).toBe(
      'l, leader of term 3, has match index 1 (term 1) for f, but its disk holds term 2 there',
    );
  });

  it('a commit index must name an entry on the disks of a true majority, counting any servers', () => {
    const rules = new RuleChecker(3);
    const l = server('l', [1, 2], core({ term: 2, role: 'leader', commit: 2, log: [1, 2] }));
    const others = [server('a', [1, 2]), server('b', [1]), server('c', [])];
    expect(rules.checkCommitIndex(l, [l, ...others])?.property).toBe('Commit only what a quorum stores');
    const l2 = server('l', [1], core({ term: 2, role: 'leader', commit: 2, log: [1, 2] }));
    // The leader's own write may come last (thesis §10.2.1).
    expect(
      new RuleChecker(3).checkCommitIndex(l2, [l2, server('a', [1, 2]), server('b', [1, 2]), server('c', [1, 2])]),
    ).toBeNull();
  });

  it("a leader's commit index only moves onto an entry of its own term", () => {
    const rules = new RuleChecker(2);
    const at = (commit: number) => core({ term: 3, role: 'leader', commit, log: [1, 2, 2, 3] });
    expect(rules.checkLeaderCommit('l', at(1))).toBeNull(); // inherited from before the election
    expect(rules.checkLeaderCommit('l', at(4))).toBeNull();
    const other = new RuleChecker(2);
    other.checkLeaderCommit('l', at(1));
    expect(other.checkLeaderCommit('l', at(3))?.property).toBe('Leader commits only entries of its term by counting');
  });

  it('a read returns at least what was committed anywhere when it was called', () => {
    const rules = new RuleChecker(2);
    expect(rules.readReturned('a', 7, 7)).toBeNull();
    expect(rules.readReturned('a', 6, 7)?.property).toBe('Read index covers prior commits');
  });
});

describe('durable prefix on disk (Figure 2)', () => {
  it('passes when every entry the core counts as durable is the one on its disk, with unsynced entries above', () => {
    const rules = new RuleChecker(2);
    const c = core({ term: 2, log: [1, 2, 2], stable: 2 });
    expect(rules.checkDurablePrefix('b', c, server('b', [1, 2]).storage)).toBeNull();
  });

  it('reports a replaced entry below the durable mark whose replacement never reached the disk', () => {
    const rules = new RuleChecker(2);
    // The log was rewritten from index 2 in term 2, but the core still counts 1..3 as durable.
    const c = core({ term: 2, log: [1, 2, 2], stable: 3 });
    expect(rules.checkDurablePrefix('b', c, server('b', [1, 1, 2]).storage)).toMatchObject({
      property: 'Durable prefix on disk',
      message: 'b counts its log up to 3 as durable, but at 2 its disk holds term 1 and its log term 2',
    });
  });

  it('checks only the log after its compacted prefix, which a snapshot on its way to the disk stands for', () => {
    const rules = new RuleChecker(2);
    // The core installed a snapshot through 2; the disk still holds the old, conflicting entries 1..2 but 3 matches.
    const c = core({ term: 3, log: [1, 3, 3], first: 3 });
    expect(rules.checkDurablePrefix('b', c, server('b', [1, 1, 3]).storage)).toBeNull();
    // From the first index on, the check still bites.
    expect(rules.checkDurablePrefix('b', c, server('b', [1, 1, 2]).storage)?.message).toContain(
      'at 3 its disk holds term 2',
    );
  });

  it('reports a durable mark above the end of the disk', () => {
    const rules = new RuleChecker(2);
    const c = core({ term: 1, log: [1, 1], stable: 2 });
    expect(rules.checkDurablePrefix('b', c, server('b', [1]).storage)?.message).toContain(
      'at 2 its disk holds nothing',
    );
  });
});
