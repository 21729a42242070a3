/**
 * A follower catching up by snapshot while the leader keeps taking writes,
 * in virtual time (§7): the leader finishes the transfer it began and keeps
 * the log after that snapshot while the follower is live, so one install
 * is enough, however many snapshots the leader takes meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RaftNode } from '../../src/node.js';
import { coreOf } from '../../src/shell/internal.js';
import { enc, RecordingStorage, SnapshotCluster } from './snapshot-rig.js';

const ABC = ['a', 'b', 'c'];
let cluster: SnapshotCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** Keeps `window` proposals in flight on `leader` until the returned function is called. */
function keepWriting(leader: RaftNode, window: number): () => void {
  let stopped = false;
  let i = 0;
  const next = (): void => {
    if (stopped) return;
    const n = i++;
    leader.propose(enc(`w${n}=${n}`)).then(next, () => undefined);
  };
  for (let k = 0; k < window; k++) next();
  return () => {
    stopped = true;
  };
}

describe('a follower catching up under continuous writes', () => {
  it('installs one snapshot, then goes on from the log, while the leader takes several snapshots meanwhile', async () => {
    const threshold = 50;
    const c = new SnapshotCluster(ABC, { snapshots: { threshold, trailing: 5, chunkBytes: 128 } });
    cluster = c;
    await c.start();
    await c.applied(await c.write(10, 'early'));
    const leader = await c.leader();
    const lagging = ABC.find((id) => id !== leader.id)!;
    const others = ABC.filter((id) => id !== lagging);
    c.isolate(lagging);
    // Two election timeouts: the leader stops keeping the log for a follower it no longer hears from.
    await c.time.advance(450);
    await c.applied(await c.write(300, 'late', others), others);
    expect(coreOf.get(leader)!.firstIndex).toBeGreaterThan(c.node(lagging).status().lastLogIndex + 1);

    const taken = (): number => c.events.get(leader.id)!.filter((e) => e.source === 'local').length;
    const takenBefore = taken();
    c.rejoin(lagging);
    const stop = keepWriting(leader, 10);
    const target = leader.status().commitIndex;
    await c.applied(target, [lagging]);
    const caughtUpAt = leader.status().commitIndex;
    // And a while longer under the same writes: it keeps up from the log.
    await c.applied(caughtUpAt + 4 * threshold, [lagging]);
    stop();

    const installs = c.events.get(lagging)!.filter((e) => e.source === 'leader');
    expect(installs).toHaveLength(1);
    // The leader did take newer snapshots while the follower caught up: the case this is about.
    expect(taken() - takenBefore).toBeGreaterThanOrEqual(2);
    const machine = c.machines.get(lagging)!;
    expect(machine.callsOf('restore')).toEqual([installs[0].index]);
  });

  it('a live follower slower than the writes holds the log back at most 4 x threshold entries beyond trailing', async () => {
    const threshold = 20;
    const trailing = 3;
    const c = new SnapshotCluster(ABC, { snapshots: { threshold, trailing } });
    cluster = c;
    // c's every storage call takes 25 ms: it answers heartbeats, but its log falls further and further behind.
    c.storages.set('c', new RecordingStorage(c.time, 25));
    await c.start();
    let leader = await c.leader();
    if (leader.id === 'c') {
      await c.time.wait(leader.transferLeadership('a'), 'a transfer');
      leader = await c.leader();
    }
    const stop = keepWriting(leader, 10);
    await c.time.until(() => leader.status().commitIndex > 40 * threshold, 'the writes');
    stop();

    const ops = c.storages.get(leader.id)!.ops;
    const compactions = ops.flatMap((op, i) => {
      const before = ops[i - 1];
      return op.op === 'compact' && before?.op === 'saveSnapshot' ? [{ index: before.index, through: op.through }] : [];
    });
    expect(compactions.length).toBeGreaterThan(10);
    // Held for c: some compactions stopped short of the trailing entries' start.
    expect(compactions.some((x) => x.through < x.index - trailing)).toBe(true);
    // But never further back than the bound, which some reached: the log stays bounded however far behind c falls.
    const bound = (x: { index: number }): number => x.index - trailing - 4 * threshold;
    for (const x of compactions) expect(x.through).toBeGreaterThanOrEqual(bound(x));
    expect(compactions.some((x) => x.through === bound(x))).toBe(true);
    const core = coreOf.get(leader)!;
    expect(core.lastIndex - core.firstIndex + 1).toBeLessThanOrEqual(10 + threshold + trailing + 4 * threshold);
  });
});
