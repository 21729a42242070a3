/**
 * Snapshots and log compaction in the core (§7, Figure 13): the leader
 * sends a follower whose next entry it compacted away its snapshot, in
 * chunks with one in flight, and the follower installs it on the last
 * chunk; a log that starts after a snapshot; a restart from one.
 */
import { describe, expect, it } from 'vitest';
import type { InstallSnapshot, InstallSnapshotResponse, Snapshot } from '../../src/messages.js';
import {
  Network,
  appendEntries,
  bytes,
  drain,
  logOfTerms,
  msgs,
  newRaft,
  ofType,
  readyMessages,
  run,
} from './harness.js';

const ABC = ['a', 'b', 'c'];
const counting = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i);
const snapshotOf = (index: number, term: number, data = counting(10)): Snapshot => ({
  index,
  term,
  voters: ABC,
  learners: [],
  data,
});
const chunk = (p: Partial<InstallSnapshot> & Pick<InstallSnapshot, 'offset' | 'data'>): InstallSnapshot => ({
  type: 'InstallSnapshot',
  from: 'b',
  to: 'a',
  term: 2,
  snapshot: { index: 5, term: 2, voters: ABC, learners: [] },
  totalBytes: 10,
  ...p,
});

/** A leader `a` with 10 committed entries that c did not get (c isolated), compacted through its applied index. */
function leaderAheadOfC(chunkBytes = 4, trailing = 0): { net: Network; snapshot: Snapshot } {
  const net = Network.create(ABC, { snapshotChunkBytes: chunkBytes });
  const a = net.electLeader('a');
  net.isolate('c');
  for (let i = 0; i < 10; i++) a.propose([bytes(`v${i}`)]);
  net.stabilize();
  net.tick(1, ['a']);
  const snapshot = net.takeSnapshot('a', counting(10), a.status().appliedIndex - trailing);
  return { net, snapshot };
}

const chunksTo = (net: Network, to: string): InstallSnapshot[] => ofType(net.sent, 'InstallSnapshot', to);

/** Ticks the leader until its first chunk to c leaves (it first notices that c's append pipeline stalled). */
function untilFirstChunk(net: Network): void {
  net.tickUntil(() => chunksTo(net, 'c').length > 0, 10, ['a']);
}

describe('§7 log compaction on the leader', () => {
  it('a snapshot at the applied index compacts the log through the point asked, keeping the trailing entries', () => {
    const { net, snapshot } = leaderAheadOfC(4, 3);
    const a = net.node('a');
    expect(snapshot.index).toBe(a.commitIndex);
    expect(a.snapshotIndex).toBe(snapshot.index);
    expect(a.firstIndex).toBe(snapshot.index - 3 + 1);
    expect(a.termAt(snapshot.index - 3)).toBe(snapshot.term);
    expect(a.termAt(snapshot.index - 4)).toBe(-1);
    expect(a.status()).toMatchObject({ snapshotIndex: snapshot.index, snapshotTerm: snapshot.term });
  });

  it('a snapshot above the applied index is refused: a snapshot never covers an uncommitted entry', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    net.isolate('b');
    net.isolate('c');
    a.propose([bytes('uncommitted')]);
    drain(a);
    const last = a.lastIndex;
    expect(a.commitIndex).toBeLessThan(last);
    expect(() => a.snapshotTaken(snapshotOf(last, a.term), last)).toThrow(/does not match the applied log/);
    expect(a.firstIndex).toBe(1);
  });
});

describe('§7 InstallSnapshot', () => {
  it('a follower whose next entry was compacted away gets the snapshot in chunks of snapshotChunkBytes, then the entries after it', () => {
    const { net, snapshot } = leaderAheadOfC(4);
    const a = net.node('a');
    net.rejoin('c');
    net.settle('a');
    const c = net.node('c');
    expect(chunksTo(net, 'c').map((m) => [m.offset, m.data.byteLength, m.totalBytes])).toEqual([
      [0, 4, 10],
      [4, 4, 10],
      [8, 2, 10],
    ]);
    expect(net.installed.get('c')).toEqual([snapshot]);
    expect(c.snapshotIndex).toBe(snapshot.index);
    expect(c.lastIndex).toBe(a.lastIndex);
    expect(c.commitIndex).toBe(a.commitIndex);
    expect(c.status().appliedIndex).toBe(a.commitIndex);
  });

  it('one chunk is in flight per follower: the next leaves only when the last is answered', () => {
    const { net } = leaderAheadOfC(4);
    net.rejoin('c');
    const stop = net.drop((m) => m.type === 'InstallSnapshotResponse');
    untilFirstChunk(net);
    net.tick(1, ['a']);
    expect(chunksTo(net, 'c').map((m) => m.offset)).toEqual([0]);
    stop();
    net.settle('a');
    expect(chunksTo(net, 'c').map((m) => m.offset)).toEqual([0, 0, 4, 8]);
  });

  it('a lost chunk is sent again from the last byte the follower confirmed, after two heartbeat intervals', () => {
    const { net } = leaderAheadOfC(4);
    net.rejoin('c');
    let dropped = 0;
    const stop = net.drop((m) => m.type === 'InstallSnapshot' && m.offset === 4 && dropped++ === 0);
    untilFirstChunk(net);
    expect(chunksTo(net, 'c').map((m) => m.offset)).toEqual([0, 4]);
    net.tick(1, ['a']);
    expect(chunksTo(net, 'c').map((m) => m.offset)).toEqual([0, 4]);
    net.tick(1, ['a']);
    expect(chunksTo(net, 'c').map((m) => m.offset)).toEqual([0, 4, 4, 8]);
    stop();
    net.settle('a');
    expect(net.node('c').lastIndex).toBe(net.node('a').lastIndex);
  });

  it('a follower that lost the chunks it had (it restarted) answers that it holds nothing, and the leader starts over from the first byte', () => {
    // Simulator seed 3820: the leader kept resending the chunk after the follower's last confirmed byte, and
    // ignored the follower's "received 0" as a stale answer, so the follower never caught up.
    const { net, snapshot } = leaderAheadOfC(4);
    net.rejoin('c');
    const stop = net.drop((m) => m.type === 'InstallSnapshot' && m.offset === 8);
    untilFirstChunk(net);
    net.stabilize();
    // The chunk at 8 is lost; c holds bytes 0..7 in memory only.
    expect(chunksTo(net, 'c').map((m) => m.offset)).toEqual([0, 4, 8]);
    net.restart('c');
    stop();
    net.settle('a');
    // The lost chunk is sent again; c, restarted, holds nothing and says so; the leader starts over.
    expect(chunksTo(net, 'c').map((m) => m.offset)).toEqual([0, 4, 8, 8, 0, 4, 8]);
    expect(net.installed.get('c')).toEqual([snapshot]);
    expect(net.node('c').lastIndex).toBe(net.node('a').lastIndex);
  });

  it('a stale answer naming fewer bytes than the follower confirmed is ignored (reordered, not a lost transfer)', () => {
    const { net, snapshot } = leaderAheadOfC(4);
    net.rejoin('c');
    const stop = net.drop((m) => m.type === 'InstallSnapshot' && m.offset === 8);
    untilFirstChunk(net);
    net.stabilize();
    stop();
    const stale: InstallSnapshotResponse = {
      type: 'InstallSnapshotResponse',
      from: 'c',
      to: 'a',
      term: net.node('a').term,
      snapshotIndex: snapshot.index,
      received: 4,
      done: false,
    };
    net.send(stale);
    net.stabilize();
    // No chunk from byte 4 again: the leader still waits for its chunk at 8 to be answered.
    expect(chunksTo(net, 'c').map((m) => m.offset)).toEqual([0, 4, 8]);
    net.settle('a');
    expect(chunksTo(net, 'c').map((m) => m.offset)).toEqual([0, 4, 8, 8]);
  });

  it('while a follower receives the snapshot, heartbeats and appends to the other followers go on', () => {
    const { net } = leaderAheadOfC(1);
    const a = net.node('a');
    net.rejoin('c');
    const stop = net.drop((m) => m.type === 'InstallSnapshotResponse');
    untilFirstChunk(net);
    a.propose([bytes('during the transfer')]);
    net.stabilize();
    const b = net.node('b');
    expect(b.lastIndex).toBe(a.lastIndex);
    expect(b.commitIndex).toBe(a.commitIndex);
    expect(chunksTo(net, 'c')).toHaveLength(1);
    stop();
  });

  it('a snapshot taken during a transfer restarts it with the newest snapshot', () => {
    const { net } = leaderAheadOfC(4);
    const a = net.node('a');
    net.rejoin('c');
    const stop = net.drop((m) => m.type === 'InstallSnapshotResponse');
    untilFirstChunk(net);
    stop();
    a.propose([bytes('more')]);
    net.stabilize();
    const newer = net.takeSnapshot('a', counting(6));
    net.settle('a');
    const sent = chunksTo(net, 'c');
    expect(sent.at(-1)!.snapshot.index).toBe(newer.index);
    expect(sent.filter((m) => m.snapshot.index === newer.index).map((m) => m.offset)).toEqual([0, 4]);
    expect(net.installed.get('c')).toEqual([newer]);
    expect(net.node('c').lastIndex).toBe(a.lastIndex);
  });
});

describe('§7 the follower installing a snapshot (Figure 13)', () => {
  it('chunks are kept in order until the last; a gap or a duplicate is answered with the bytes received', () => {
    const a = newRaft('a', ABC, { term: 2 });
    const answers = (m: InstallSnapshot): InstallSnapshotResponse[] => {
      a.step(m);
      return ofType(msgs(a), 'InstallSnapshotResponse');
    };
    expect(answers(chunk({ offset: 0, data: counting(4) }))).toEqual([
      expect.objectContaining({ snapshotIndex: 5, received: 4, done: false }),
    ]);
    expect(answers(chunk({ offset: 8, data: counting(2) }))).toEqual([
      expect.objectContaining({ received: 4, done: false }),
    ]);
    expect(answers(chunk({ offset: 0, data: counting(4) }))).toEqual([
      expect.objectContaining({ received: 4, done: false }),
    ]);
    expect(answers(chunk({ offset: 4, data: Uint8Array.of(4, 5, 6, 7) }))).toEqual([
      expect.objectContaining({ received: 8, done: false }),
    ]);
    a.step(chunk({ offset: 8, data: Uint8Array.of(8, 9) }));
    const rd = drain(a);
    expect(rd.snapshot).toEqual({ index: 5, term: 2, voters: ABC, learners: [], data: counting(10) });
    // Durable first, like every acknowledgement: "done" leaves only after the persist.
    expect(rd.messages.filter((m) => m.type === 'InstallSnapshotResponse')).toEqual([]);
    expect(ofType(rd.messagesAfterPersist, 'InstallSnapshotResponse')).toEqual([
      expect.objectContaining({ snapshotIndex: 5, received: 10, done: true }),
    ]);
    expect(a.snapshotIndex).toBe(5);
    expect(a.commitIndex).toBe(5);
    expect(a.lastIndex).toBe(5);
    expect(a.status().appliedIndex).toBe(5);
  });

  it('Figure 13 step 6: a log holding the snapshot’s last entry with its term keeps the entries after it', () => {
    const a = newRaft('a', ABC, { term: 2, log: logOfTerms([1, 1, 2, 2, 2, 2, 2]) });
    a.step(chunk({ offset: 0, data: counting(10) }));
    const rd = drain(a);
    expect(rd.snapshot?.index).toBe(5);
    expect(a.firstIndex).toBe(6);
    expect(a.lastIndex).toBe(7);
    expect(a.termAt(7)).toBe(2);
  });

  it('Figure 13 step 7: a log whose entry at the snapshot’s index conflicts is discarded whole (hashicorp/raft #697)', () => {
    const a = newRaft('a', ABC, { term: 2, log: logOfTerms([1, 1, 1, 1, 1, 1, 1]) });
    a.step(chunk({ offset: 0, data: counting(10) }));
    drain(a);
    expect(a.firstIndex).toBe(6);
    expect(a.lastIndex).toBe(5);
    expect(a.lastTerm).toBe(2);
    // The next append after the snapshot matches at its index.
    a.step(appendEntries({ from: 'b', to: 'a', term: 2, prevLogIndex: 5, prevLogTerm: 2, entries: run(6, 1, 2) }));
    expect(ofType(msgs(a), 'AppendEntriesResponse')).toEqual([
      expect.objectContaining({ success: true, matchIndex: 6 }),
    ]);
  });

  it('acknowledgements waiting for the persist that name entries the snapshot discarded are withdrawn', () => {
    const a = newRaft('a', ABC, { term: 2, log: logOfTerms([1]) });
    drain(a);
    a.step(appendEntries({ from: 'b', to: 'a', term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: run(2, 6, 1) }));
    a.step(chunk({ offset: 0, data: counting(10) }));
    const acks = ofType(readyMessages(drain(a)), 'AppendEntriesResponse');
    expect(acks.filter((m) => m.success && m.matchIndex > 5)).toEqual([]);
  });

  it('a snapshot covering only what is committed here is not installed: the follower answers done at once', () => {
    const a = newRaft('a', ABC, { term: 2, log: logOfTerms([1, 1, 2, 2, 2, 2]), commit: 6 });
    a.step(chunk({ offset: 0, data: counting(4) }));
    const rd = drain(a);
    expect(rd.snapshot).toBeNull();
    expect(ofType(readyMessages(rd), 'InstallSnapshotResponse')).toEqual([
      expect.objectContaining({ snapshotIndex: 5, done: true }),
    ]);
    expect(a.firstIndex).toBe(1);
  });

  it('a candidate that receives a chunk from a leader of its term becomes its follower', () => {
    const a = newRaft('a', ABC, { term: 1 });
    a.campaign();
    drain(a);
    expect(a.role).toBe('candidate');
    a.step(chunk({ offset: 0, data: counting(10) }));
    expect(a.role).toBe('follower');
    expect(a.leaderId).toBe('b');
    expect(drain(a).snapshot?.index).toBe(5);
  });
});

describe('§7 a node restarted from a snapshot', () => {
  it('starts its log after the snapshot, with commit and applied at its index', () => {
    const a = newRaft('a', ABC, {
      term: 3,
      commit: 7,
      snapshot: snapshotOf(5, 2),
      log: run(6, 3, 3),
    });
    expect(a.snapshotIndex).toBe(5);
    expect(a.firstIndex).toBe(6);
    expect(a.lastIndex).toBe(8);
    const rd = drain(a);
    // Only the log after the snapshot is applied; the snapshot restores the rest.
    expect(rd.committedEntries.map((e) => e.index)).toEqual([6, 7]);
  });

  it('a follower restarted from a snapshot is brought up to date by the leader', () => {
    const { net } = leaderAheadOfC(4);
    net.rejoin('c');
    net.settle('a');
    const c = net.restart('c');
    expect(c.snapshotIndex).toBe(net.node('a').snapshotIndex);
    net.node('a').propose([bytes('after restart')]);
    net.settle('a');
    expect(c.lastIndex).toBe(net.node('a').lastIndex);
  });
});
