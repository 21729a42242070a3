import { describe, expect, it } from 'vitest';
import type { Raft } from '../../src/core/raft.js';
import type { Entry, Role, Snapshot } from '../../src/messages.js';
import { SafetyChecker } from '../../src/testing/sim/invariants.js';
import { encodeKvWrite, KvState } from '../../src/testing/sim/kv.js';
import { type CommittedLog, SnapshotChecker } from '../../src/testing/sim/snapshot-rules.js';

const COVERS = 'Snapshots cover only committed entries';

/** A committed log of key-value writes (and a leader's empty entry at index 1). */
function committedLog(): CommittedLog & { entries: Entry[] } {
  const put = (index: number, term: number, key: string, value: string): Entry => ({
    index,
    term,
    type: 'normal',
    data: encodeKvWrite({ kind: 'put', key, value }),
  });
  const entries: Entry[] = [
    { index: 1, term: 1, type: 'noop', data: new Uint8Array(0) },
    put(2, 1, 'x', 'a'),
    put(3, 1, 'y', 'b'),
    put(4, 2, 'x', 'c'),
  ];
  return {
    entries,
    committedIndex: entries.length,
    committedTermAt: (i) => (i === 0 ? 0 : entries[i - 1]?.term),
    committedEntries: (lo, hi) => entries.slice(Math.max(1, lo) - 1, hi - 1),
  };
}

const snapshot = (index: number, term: number): Snapshot => ({
  index,
  term,
  voters: ['a'],
  learners: [],
  data: new Uint8Array(0),
});

/** The bytes a KvState holds after `writes`. */
function state(...writes: [string, string][]): Uint8Array {
  const kv = new KvState();
  for (const [key, value] of writes) kv.apply({ kind: 'put', key, value });
  return kv.snapshot();
}

describe('SnapshotChecker: snapshots cover only committed entries', () => {
  it('a snapshot a node takes above its own commit index is reported when it is stored', () => {
    const rules = new SnapshotChecker(committedLog());
    const v = rules.saving('n1', snapshot(4, 2), 'local', 3);
    expect(v?.property).toBe(COVERS);
    expect(v?.message).toBe('n1 took a snapshot at index 4 (term 2) above its commit index 3');
  });

  it('a snapshot taken at a committed index passes only with the committed entry’s term', () => {
    const rules = new SnapshotChecker(committedLog());
    expect(rules.saving('n1', snapshot(3, 1), 'local', 4)).toBeNull();
    expect(rules.saving('n1', snapshot(4, 1), 'local', 4)?.message).toBe(
      'n1 took a snapshot at index 4 of term 1; the committed entry there is of term 2',
    );
    // Committed by this node in the step being checked: the commit rules judge that commit.
    expect(rules.saving('n1', snapshot(6, 3), 'local', 6)).toBeNull();
  });

  it("a leader's snapshot being installed must end on an entry known committed", () => {
    const rules = new SnapshotChecker(committedLog());
    expect(rules.saving('n2', snapshot(4, 2), 'leader', 4)).toBeNull();
    expect(rules.saving('n2', snapshot(5, 2), 'leader', 5)?.message).toBe(
      'n2 is installing a snapshot at index 5 (term 2), but only 4 is known committed',
    );
  });
});

describe('SnapshotChecker: a restored state equals the committed log applied through its index', () => {
  it('passes the state of the normal entries through the index (the empty entry applies nothing)', () => {
    const rules = new SnapshotChecker(committedLog());
    expect(rules.restored('n1', state(['x', 'a'], ['y', 'b']), 3, 1, 'start')).toBeNull();
    expect(rules.restored('n1', state(['x', 'c'], ['y', 'b']), 4, 2, 'leader')).toBeNull();
    // An older index after a newer one: the reference starts over.
    expect(rules.restored('n2', state(['x', 'a']), 2, 1, 'start')).toBeNull();
    expect(rules.restored('n2', state(), 1, 1, 'start')).toBeNull();
  });

  it('reports a state that lacks an entry or holds one beyond the index, with both states', () => {
    const rules = new SnapshotChecker(committedLog());
    const stale = rules.restored('n3', state(['x', 'a'], ['y', 'b']), 4, 2, 'leader');
    expect(stale?.property).toBe('A restored state equals the committed log applied');
    expect(stale?.message).toBe(
      'n3 restored (leader) the snapshot at 4 (term 2) to [["x","a"],["y","b"]]; applying the committed log through 4 gives [["x","c"],["y","b"]]',
    );
    expect(rules.restored('n3', state(['x', 'c']), 2, 1, 'start')?.property).toBe(
      'A restored state equals the committed log applied',
    );
    expect(rules.restored('n3', state(), 5, 2, 'start')?.property).toBe(COVERS);
  });
});

/**
 * A core as the SafetyChecker reads it: a log of `terms` from `first`, after
 * an entry of `prevTerm`, and a snapshot. Entry data derive from index and
 * term, so equal entries on two nodes hold equal commands.
 */
class LogView {
  role: Role = 'follower';
  term = 2;
  commitIndex = 0;
  first = 1;
  prevTerm = 0;
  terms: number[] = [];
  snapshotIndex = 0;
  snapshotTerm = 0;

  get firstIndex(): number {
    return this.first;
  }
  get lastIndex(): number {
    return this.first + this.terms.length - 1;
  }
  get lastTerm(): number {
    return this.terms.length === 0 ? this.prevTerm : this.terms[this.terms.length - 1];
  }
  termAt(i: number): number {
    if (i === this.first - 1) return this.prevTerm;
    return i < this.first || i > this.lastIndex ? -1 : this.terms[i - this.first];
  }
  entries(lo: number, hi: number): Entry[] {
    const out: Entry[] = [];
    for (let i = Math.max(lo, this.first); i < Math.min(hi, this.lastIndex + 1); i++) {
      out.push({ index: i, term: this.termAt(i), type: 'normal', data: Uint8Array.of(i, this.termAt(i)) });
    }
    return out;
  }
  /** Moves the log to start after `index` (of `term`), keeping `suffix` after it. */
  startAfter(index: number, term: number, suffix: number[]): this {
    this.first = index + 1;
    this.prevTerm = term;
    this.terms = suffix;
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    return this;
  }
  get raft(): Raft {
    return this as unknown as Raft;
  }
}

function view(fields: Partial<LogView>): LogView {
  return Object.assign(new LogView(), fields);
}

/** A checker that knows entries 1..5 of terms 1,1,2,2,2 committed (from a leader holding them), and a follower `b` that diverged at 3. */
function divergedFollower(): { checker: SafetyChecker; b: LogView } {
  const checker = new SafetyChecker();
  const leader = view({ role: 'leader', terms: [1, 1, 2, 2, 2], commitIndex: 5 });
  checker.startLifetime('a', leader.raft);
  expect(checker.check('a', leader.raft, 0)).toBeNull();
  const b = view({ terms: [1, 1, 1, 1, 1, 1], commitIndex: 2 });
  checker.startLifetime('b', b.raft);
  expect(checker.check('b', b.raft, 0)).toBeNull();
  return { checker, b };
}

describe('SafetyChecker over a log that starts after a snapshot', () => {
  it('Figure 13: a snapshot installed over a conflicting entry that keeps the entries after it is reported', () => {
    const { checker, b } = divergedFollower();
    b.commitIndex = 4;
    b.startAfter(4, 2, [1, 1]);
    const v = checker.check('b', b.raft, 4);
    expect(v?.property).toBe('An installed snapshot replaces a conflicting log (Figure 13)');
    expect(v?.message).toBe(
      'b installed a snapshot at 4 (term 2) over its entry of term 1 there, and kept entries 5..6 that followed that entry',
    );
  });

  it('the same snapshot installed by discarding the conflicting log passes, and the log after it is registered anew', () => {
    const { checker, b } = divergedFollower();
    b.commitIndex = 4;
    b.startAfter(4, 2, []);
    expect(checker.check('b', b.raft, 4)).toBeNull();
    b.terms = [2];
    b.commitIndex = 5;
    expect(checker.check('b', b.raft, 5)).toBeNull();
  });

  it('a log compacted past every entry known committed is reported', () => {
    const { checker } = divergedFollower();
    const c = view({ commitIndex: 6 }).startAfter(6, 2, []);
    checker.startLifetime('c', c.raft);
    const v = checker.check('c', c.raft, 6);
    expect(v?.property).toBe('Every compacted entry was committed');
    expect(v?.message).toBe('c compacted its log through 6, but only 5 is known committed');
  });

  it('Leader Completeness: a new leader holds the committed entries after its snapshot, and the snapshot ends on the committed entry', () => {
    const { checker } = divergedFollower();
    const good = view({ role: 'leader', term: 3, commitIndex: 5 }).startAfter(3, 2, [2, 2]);
    checker.startLifetime('c', good.raft);
    expect(checker.check('c', good.raft, 3)).toBeNull();
    const bad = view({ role: 'leader', term: 4, commitIndex: 5 }).startAfter(3, 2, [2, 2]);
    bad.snapshotTerm = 1;
    checker.startLifetime('d', bad.raft);
    const v = checker.check('d', bad.raft, 3);
    expect(v?.property).toBe('Leader Completeness');
    expect(v?.message).toBe(
      'd became leader of term 4 with a log compacted through 3 and a snapshot at 3 (term 1), not the committed entry there',
    );
  });
});
