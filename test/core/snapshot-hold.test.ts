/**
 * What a leader keeps of its log for followers that still need it (§7):
 * a transfer goes on with the snapshot it began with while the log holds
 * the entries after it, and compactionFloor says how far the log can be
 * compacted without taking entries a live follower needs next.
 */
import { describe, expect, it } from 'vitest';
import type { InstallSnapshot, Snapshot } from '../../src/messages.js';
import { bytes, ELECTION_TICKS_MIN, Network, ofType } from './harness.js';

const ABC = ['a', 'b', 'c'];
const counting = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i);
const chunksTo = (net: Network, to: string): InstallSnapshot[] => ofType(net.sent, 'InstallSnapshot', to);

/** A leader `a` that committed 10 entries c did not get, with a snapshot of them and nothing of its log kept. */
function leaderAheadOfC(): { net: Network; first: Snapshot } {
  const net = Network.create(ABC, { snapshotChunkBytes: 4 });
  const a = net.electLeader('a');
  net.isolate('c');
  for (let i = 0; i < 10; i++) a.propose([bytes(`v${i}`)]);
  net.stabilize();
  net.tick(1, ['a']);
  return { net, first: net.takeSnapshot('a', counting(10)) };
}

describe('§7 a transfer in progress', () => {
  it('goes on with the snapshot it began with when a newer one is taken but the log still holds the entries after it', () => {
    const { net, first } = leaderAheadOfC();
    const a = net.node('a');
    net.rejoin('c');
    // The first chunk's answer is lost, so the transfer is in progress when the newer snapshot comes.
    const stop = net.drop((m) => m.type === 'InstallSnapshotResponse');
    net.tickUntil(() => chunksTo(net, 'c').length > 0, 10, ['a']);
    stop();
    for (let i = 0; i < 5; i++) a.propose([bytes(`w${i}`)]);
    net.stabilize();
    // Compacted only through the snapshot being sent: the entries after it stay.
    const newer = net.takeSnapshot('a', counting(6), first.index);
    expect(newer.index).toBeGreaterThan(first.index);
    net.settle('a');

    expect(new Set(chunksTo(net, 'c').map((m) => m.snapshot.index))).toEqual(new Set([first.index]));
    expect(net.installed.get('c')).toEqual([first]);
    // Then from the log: everything after the snapshot, as appends.
    expect(net.node('c').lastIndex).toBe(a.lastIndex);
    expect(net.node('c').commitIndex).toBe(a.commitIndex);
  });
});

describe('§7 compactionFloor: what the leader keeps for live followers', () => {
  it('is the index of the snapshot a live follower is being sent, so that it can go on from the log once installed', () => {
    const { net, first } = leaderAheadOfC();
    const a = net.node('a');
    net.rejoin('c');
    // c answers the first chunk (so it is live), and the rest of the transfer waits.
    const stop = net.drop((m) => m.type === 'InstallSnapshotResponse' && m.received > 4);
    net.tickUntil(() => chunksTo(net, 'c').length >= 2, 10, ['a']);
    for (let i = 0; i < 5; i++) a.propose([bytes(`w${i}`)]);
    net.stabilize();
    expect(a.compactionFloor).toBe(first.index);
    stop();
    net.settle('a');
    expect(a.compactionFloor).toBe(a.lastIndex);
  });

  it('leaves out a live follower whose snapshot the log was compacted past anyway: it gets the newest next', () => {
    const { net, first } = leaderAheadOfC();
    const a = net.node('a');
    net.rejoin('c');
    const stop = net.drop((m) => m.type === 'InstallSnapshotResponse' && m.received > 4);
    net.tickUntil(() => chunksTo(net, 'c').length >= 2, 10, ['a']);
    for (let i = 0; i < 5; i++) a.propose([bytes(`w${i}`)]);
    net.stabilize();
    // Compacted through the newer snapshot, past the one being sent (as the shell's bound may).
    const newer = net.takeSnapshot('a', counting(6));
    expect(a.firstIndex - 1).toBeGreaterThan(first.index);
    expect(a.compactionFloor).toBe(a.lastIndex);
    stop();
    net.settle('a');
    expect(net.installed.get('c')!.at(-1)).toEqual(newer);
  });

  it('is the match of a live follower behind the others, and no longer holds for it two election timeouts after it falls silent', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    const matched = a.lastIndex;
    // b answers heartbeats but gets no appends: live, and behind.
    const stop = net.drop((m) => m.type === 'AppendEntries' && m.to === 'b');
    for (let i = 0; i < 5; i++) a.propose([bytes(`w${i}`)]);
    net.stabilize();
    net.tick(1, ['a']);
    expect(a.commitIndex).toBe(a.lastIndex);
    expect(a.compactionFloor).toBe(matched);

    stop();
    net.isolate('b');
    // Rounds (CheckQuorum's) last ELECTION_TICKS_MIN ticks. One round ended in silence: heard from in the one before, still held for.
    net.tick(ELECTION_TICKS_MIN, ['a']);
    expect(a.compactionFloor).toBe(matched);
    // Two rounds: stopped or cut off, it holds nothing.
    net.tick(ELECTION_TICKS_MIN, ['a']);
    expect(a.compactionFloor).toBe(a.lastIndex);
  });

  it('is the last index on a follower, and on a leader whose followers are all up to date', () => {
    const net = Network.create(ABC);
    const a = net.electLeader('a');
    a.propose([bytes('x')]);
    net.stabilize();
    net.tick(1, ['a']);
    expect(a.compactionFloor).toBe(a.lastIndex);
    expect(net.node('b').compactionFloor).toBe(net.node('b').lastIndex);
  });
});
