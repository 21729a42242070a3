/**
 * Snapshots across a cluster, in virtual time (§7, Figure 13): a follower
 * too far behind catches up from the leader's snapshot, in chunks, over a
 * network that loses, duplicates and reorders them; snapshots under a
 * heavy write load; a node restarted from an installed snapshot.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, LeadershipLostError, StoppedError, StorageError } from '../../src/errors.js';
import { coreOf } from '../../src/shell/internal.js';
import { enc, LogOnlyStorage, SnapshotCluster } from './snapshot-rig.js';

const ABC = ['a', 'b', 'c'];
let cluster: SnapshotCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

function startCluster(options: ConstructorParameters<typeof SnapshotCluster>[1]): SnapshotCluster {
  cluster = new SnapshotCluster(ABC, options);
  return cluster;
}

/**
 * Waits two election timeouts (the rig's longest is 200 ms) after cutting a
 * follower off: until then the leader still counts it as live and keeps the
 * log it needs (Leader.compactionFloor), so it would catch up from the log.
 */
async function outlastHold(c: SnapshotCluster): Promise<void> {
  await c.time.advance(2 * 200 + 50);
}

/**
 * Elects a leader, writes a little, cuts one follower off and writes
 * `behind` entries without it, so that the others snapshot and compact past
 * everything it has. Returns the leader, the lagging follower and what it
 * had applied when it was cut off.
 */
async function followerLeftBehind(c: SnapshotCluster, behind: number) {
  await c.start();
  const first = await c.write(10, 'early');
  await c.applied(first);
  const leader = await c.leader();
  const lagging = ABC.find((id) => id !== leader.id)!;
  const appliedBefore = c.node(lagging).status().appliedIndex;
  c.isolate(lagging);
  await outlastHold(c);
  const others = ABC.filter((id) => id !== lagging);
  const last = await c.write(behind, 'late', others);
  await c.applied(last, others);
  // Lets a snapshot the last writes started become durable.
  await c.time.advance(50);
  return { leader, lagging, others, appliedBefore, last };
}

describe('a follower too far behind', () => {
  it('catches up from the leader’s snapshot, in chunks; its state machine then equals the leader’s', async () => {
    const c = startCluster({ snapshots: { threshold: 20, trailing: 5, chunkBytes: 64 } });
    const { leader, lagging, appliedBefore, last } = await followerLeftBehind(c, 100);
    const snapshotIndex = leader.status().snapshotIndex;
    // The leader no longer holds what the follower needs next.
    expect(snapshotIndex - 5).toBeGreaterThan(appliedBefore);
    const restoredAtEvent: number[] = [];
    c.node(lagging).on('snapshot', (e) => {
      if (e.source === 'leader') restoredAtEvent.push(c.machines.get(lagging)!.lastApplied);
    });

    c.rejoin(lagging);
    await c.applied(last, [lagging]);

    const machine = c.machines.get(lagging)!;
    expect(machine.dump()).toBe(c.machines.get(leader.id)!.dump());
    const installed = c.events.get(lagging)!.filter((e) => e.source === 'leader');
    expect(installed.map((e) => e.index)).toEqual([snapshotIndex]);
    expect(installed[0].bytes).toBeGreaterThan(64 * 10);
    // The event came once the state machine held the snapshot.
    expect(restoredAtEvent).toEqual([snapshotIndex]);
    expect(machine.callsOf('restore')).toEqual([snapshotIndex]);
    // The entries the snapshot covers were never applied on the follower.
    expect(machine.callsOf('apply').filter((i) => i > appliedBefore && i <= snapshotIndex)).toEqual([]);
    // Then the log after it, from the next index on.
    const more = await c.write(5, 'more');
    await c.applied(more, [lagging]);
    expect(machine.callsOf('apply').filter((i) => i > snapshotIndex)).toEqual(
      Array.from({ length: more - snapshotIndex }, (_, i) => snapshotIndex + 1 + i),
    );
    // In chunks of 64 bytes.
    expect(c.delivered.get('InstallSnapshot')).toBeGreaterThanOrEqual(Math.ceil(installed[0].bytes / 64));
    // Figure 13: the snapshot is stored first, in the step that persists the Ready carrying it.
    const ops = c.storages.get(lagging)!.ops;
    const at = ops.findIndex((o) => o.op === 'saveSnapshot');
    expect(ops[at]).toMatchObject({ op: 'saveSnapshot', index: snapshotIndex });
    expect(ops[at + 1]).toMatchObject({ op: 'save', hardState: true });
    for (const id of ABC) expect(c.storages.get(id)!.maxInFlight, id).toBe(1);
    expect(c.node(lagging).status()).toMatchObject({ snapshotIndex, snapshotTerm: leader.term });
  });

  it('serves a read whose index the snapshot reaches, once it is restored', async () => {
    const c = startCluster({ snapshots: { threshold: 20, trailing: 5, chunkBytes: 64 } });
    const { leader, lagging, last } = await followerLeftBehind(c, 100);
    const follower = c.node(lagging);
    c.rejoin(lagging);
    await c.time.until(() => follower.leaderId === leader.id, 'the follower to hear from the leader');
    expect(follower.status().appliedIndex).toBeLessThan(leader.status().snapshotIndex);
    const index = await c.time.wait(follower.readIndex(), 'the read on the follower');
    expect(index).toBeGreaterThanOrEqual(last);
    expect(follower.status().appliedIndex).toBeGreaterThanOrEqual(index);
    expect(c.machines.get(lagging)!.callsOf('restore')).toHaveLength(1);
  });

  it('converges when chunks are lost, duplicated and reordered', async () => {
    const c = startCluster({ snapshots: { threshold: 20, trailing: 0, chunkBytes: 32 } });
    const { leader, lagging, last } = await followerLeftBehind(c, 120);
    c.net.faults = { dropRate: 0, duplicateRate: 0.3, minDelayMs: 1, maxDelayMs: 8 };
    c.net.dropTypes(['InstallSnapshot', 'InstallSnapshotResponse'], 0.3);
    c.rejoin(lagging);
    await c.applied(last, [lagging]);
    expect(c.machines.get(lagging)!.dump()).toBe(c.machines.get(leader.id)!.dump());
    expect(c.machines.get(lagging)!.callsOf('restore').length).toBeGreaterThanOrEqual(1);
    // The faults did hit the transfer: more chunks than the snapshot has went out.
    const bytes = c.events.get(lagging)!.find((e) => e.source === 'leader')!.bytes;
    expect(c.net.dropped).toBeGreaterThan(0);
    expect(c.delivered.get('InstallSnapshot')).toBeGreaterThan(Math.ceil(bytes / 32));
  });

  it('restarted, restores the snapshot it installed, then applies the log after it', async () => {
    const c = startCluster({ snapshots: { threshold: 20, trailing: 5, chunkBytes: 256 } });
    const { leader, lagging, last } = await followerLeftBehind(c, 60);
    c.rejoin(lagging);
    await c.applied(last, [lagging]);
    const installedAt = c.machines.get(lagging)!.callsOf('restore')[0];
    await c.stopNode(lagging);
    const restarted = await c.startNode(lagging);
    const machine = c.machines.get(lagging)!;
    expect(machine.calls[0]).toEqual({ op: 'restore', index: expect.any(Number) });
    expect(machine.calls[0].index).toBeGreaterThanOrEqual(installedAt);
    await c.applied(last, [lagging]);
    expect(machine.callsOf('apply').every((i) => i > machine.calls[0].index)).toBe(true);
    expect(machine.dump()).toBe(c.machines.get(leader.id)!.dump());
    expect(restarted.status().snapshotIndex).toBe(machine.calls[0].index);
  });

  it('that led and was cut off learns that its pending proposal has an unknown outcome, and catches up from a snapshot', async () => {
    const c = startCluster({ checkQuorum: false, snapshots: { threshold: 20, trailing: 0 } });
    await c.start();
    const old = await c.leader();
    c.isolate(old.id);
    const orphan = old.propose(enc('orphan=1')).catch((e: unknown) => e);
    const others = ABC.filter((id) => id !== old.id);
    const last = await c.write(60, 'new', others);
    const newLeader = await c.leader(others);
    expect(newLeader.status().snapshotIndex).toBeGreaterThan(old.status().lastLogIndex);
    c.rejoin(old.id);
    expect(LeadershipLostError.isInstance(await c.time.wait(orphan, 'the orphan proposal'))).toBe(true);
    await c.applied(last, [old.id]);
    const machine = c.machines.get(old.id)!;
    expect(machine.callsOf('restore')).toHaveLength(1);
    expect(machine.state.has('orphan')).toBe(false);
    expect(machine.dump()).toBe(c.machines.get(newLeader.id)!.dump());
  });
});

describe('snapshots under a heavy write load', () => {
  it('every node snapshots and compacts, a follower cut off meanwhile catches up, and all state machines end equal', async () => {
    const c = startCluster({ snapshots: { threshold: 50, trailing: 10, chunkBytes: 1024 } });
    await c.start();
    await c.write(1000, 'a', undefined, 200);
    const leader = await c.leader();
    const lagging = ABC.find((id) => id !== leader.id)!;
    c.isolate(lagging);
    const others = ABC.filter((id) => id !== lagging);
    await c.write(1000, 'b', others, 200);
    c.rejoin(lagging);
    const last = await c.write(1000, 'c', undefined, 200);
    await c.applied(last);
    const dump = c.machines.get(leader.id)!.dump();
    expect(JSON.parse(dump)).toHaveLength(3000);
    for (const id of ABC) {
      expect(c.machines.get(id)!.dump(), id).toBe(dump);
      // One snapshot at most per Ready, and a Ready applies up to a batch of 200 writes.
      expect(c.events.get(id)!.filter((e) => e.source === 'local').length, id).toBeGreaterThanOrEqual(5);
      expect(c.storages.get(id)!.maxInFlight, id).toBe(1);
      // The log in memory stays within a batch, the threshold and the trailing entries.
      const core = coreOf.get(c.node(id))!;
      expect(core.lastIndex - core.firstIndex + 1, id).toBeLessThanOrEqual(200 + 50 + 10);
    }
    expect(c.events.get(lagging)!.some((e) => e.source === 'leader')).toBe(true);
  });
});

describe('a snapshot a node cannot take in', () => {
  it.each([
    [
      'a state machine without restore(): ConfigError',
      { stateMachine: { apply: () => undefined } },
      (e: Error) => ConfigError.isInstance(e) && e.issues.map((i) => i.path).join() === 'stateMachine.restore',
    ],
    [
      'a storage without saveSnapshot(): StorageError',
      { storage: new LogOnlyStorage() },
      (e: Error) => StorageError.isInstance(e) && e.message.includes('no saveSnapshot()'),
    ],
  ])('stops the follower, with %s; the others go on', async (_name, own, expected) => {
    const c = new SnapshotCluster(ABC, { snapshots: { threshold: 20, trailing: 0 } }, (id) => (id === 'c' ? own : {}));
    cluster = c;
    await c.start();
    await c.write(5, 'early');
    const leader = await c.leader();
    // c must be a follower for the test: move leadership off it.
    if (leader.id === 'c') await c.time.wait(leader.transferLeadership('a'), 'a transfer');
    const errors: Error[] = [];
    c.node('c').on('error', (e) => errors.push(e));
    c.isolate('c');
    await outlastHold(c);
    const last = await c.write(60, 'late', ['a', 'b']);
    await c.time.advance(50);
    c.rejoin('c');
    await c.time.until(() => errors.length > 0, 'c to fail');
    expect(errors).toHaveLength(1);
    expect(expected(errors[0])).toBe(true);
    expect(
      StoppedError.isInstance(
        await c
          .node('c')
          .propose(enc('x=1'))
          .catch((e: unknown) => e),
      ),
    ).toBe(true);
    c.nodes.delete('c');
    expect(await c.write(5, 'after', ['a', 'b'])).toBeGreaterThan(last);
  });
});

describe('the planted bug snapshotAboveCommit (test only)', () => {
  it('labels a snapshot with the last log index, past the commit index; without it, the applied index', async () => {
    for (const planted of [false, true]) {
      const c = new SnapshotCluster(ABC, { snapshots: false }, () => ({
        plantedBugs: planted ? { snapshotAboveCommit: true } : undefined,
      }));
      cluster = c;
      await c.start();
      await c.write(3, 'k');
      const leader = await c.leader();
      for (const id of ABC) if (id !== leader.id) c.isolate(id);
      // Appended, never committed: no follower hears of it.
      void leader.propose(enc('uncommitted=1')).catch(() => undefined);
      await c.time.advance(5);
      const { appliedIndex, lastLogIndex, commitIndex } = leader.status();
      expect(lastLogIndex).toBeGreaterThan(commitIndex);
      const info = await c.time.wait(leader.snapshot(), 'the snapshot');
      expect(info.index).toBe(planted ? lastLogIndex : appliedIndex);
      await c.stop();
      cluster = null;
    }
  });
});
