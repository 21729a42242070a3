/**
 * Snapshots on one node, in virtual time (§7): automatic ones at the
 * threshold, `node.snapshot()`, the restart from a stored snapshot, and
 * what a node without a state machine, or with one that cannot snapshot,
 * does.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, LeadershipLostError, StoppedError, StorageError } from '../../src/errors.js';
import type { Logger, RaftNodeOptions } from '../../src/options.js';
import type { SnapshotEvent } from '../../src/shell/events.js';
import { coreOf } from '../../src/shell/internal.js';
import { Requests } from '../../src/shell/requests.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { VirtualTime } from '../helpers/virtual-time.js';
import { enc, KvMachine, LogOnlyStorage, RecordingStorage, type StorageOp } from './snapshot-rig.js';
import { singleNode } from './solo-node.js';

/** A one-node cluster that has elected itself, with a recording storage and a KvMachine unless given. */
async function leaderAlone(extra: Partial<RaftNodeOptions> = {}) {
  const time = new VirtualTime();
  const storage = new RecordingStorage(time);
  const machine = new KvMachine();
  const node = singleNode(time, { storage, stateMachine: machine, ...extra });
  const events: SnapshotEvent[] = [];
  node.on('snapshot', (e) => events.push(e));
  await time.wait(node.start(), 'start');
  await time.advance(400);
  expect(node.isLeader()).toBe(true);
  /** Proposes `count` writes one after the other; resolves with the last index. */
  const write = async (count: number, prefix = 'k'): Promise<number> => {
    let last = 0;
    for (let i = 0; i < count; i++) {
      last = (await time.wait(node.propose(enc(`${prefix}${i}=${i}`)), `write ${i}`)).index;
    }
    return last;
  };
  return { time, storage, machine, node, events, write };
}

const snapshotOps = (ops: readonly StorageOp[]): StorageOp[] => ops.filter((o) => o.op !== 'save');

/** A logger that keeps its warnings. */
function warningsLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const quiet = (): void => undefined;
  return { logger: { debug: quiet, info: quiet, error: quiet, warn: (_o, msg) => warnings.push(msg ?? '') }, warnings };
}

describe('automatic snapshots', () => {
  it('are taken at the applied index once threshold entries were applied since the last one; saveSnapshot, then compact keeping trailing entries', async () => {
    const { node, machine, storage, events, write } = await leaderAlone({
      snapshots: { threshold: 10, trailing: 3 },
    });
    // The leader's empty entry is index 1; the writes take 2 to 26, one per Ready.
    expect(await write(25)).toBe(26);
    expect(machine.callsOf('snapshot')).toEqual([10, 20]);
    expect(snapshotOps(storage.ops)).toEqual([
      { op: 'saveSnapshot', index: 10, bytes: expect.any(Number) },
      { op: 'compact', through: 7 },
      { op: 'saveSnapshot', index: 20, bytes: expect.any(Number) },
      { op: 'compact', through: 17 },
    ]);
    expect(storage.maxInFlight).toBe(1);
    expect(events).toEqual([
      { index: 10, term: 1, bytes: expect.any(Number), source: 'local' },
      { index: 20, term: 1, bytes: expect.any(Number), source: 'local' },
    ]);
    expect(events[1].bytes).toBeGreaterThan(events[0].bytes);
    expect(node.status()).toMatchObject({ snapshotIndex: 20, snapshotTerm: 1, appliedIndex: 26 });
    // The core keeps the trailing entries behind the snapshot, and drops the rest.
    expect(coreOf.get(node)!.firstIndex).toBe(18);
    await node.stop();
  });

  it('pause apply while the state machine takes its snapshot; the storage calls of the snapshot never overlap a save', async () => {
    const { time, node, machine, storage, write } = await leaderAlone({ snapshots: { threshold: 5, trailing: 0 } });
    let release!: () => void;
    machine.snapshotGate = new Promise((resolve) => (release = resolve));
    await write(4); // applied 5: the snapshot starts, and waits at the gate
    expect(machine.callsOf('snapshot')).toEqual([5]);
    const later = ['x=1', 'y=2', 'z=3'].map((w) => node.propose(enc(w)));
    await time.advance(200);
    expect(machine.lastApplied).toBe(5);
    expect(snapshotOps(storage.ops)).toEqual([]);
    release();
    const outcomes = await time.wait(Promise.all(later), 'the writes made during the snapshot');
    expect(outcomes.map((o) => o.index)).toEqual([6, 7, 8]);
    expect(machine.appliesDuringSnapshot).toBe(0);
    const snapshotAt = storage.ops.findIndex((o) => o.op === 'saveSnapshot');
    expect(storage.ops.slice(snapshotAt, snapshotAt + 2)).toEqual([
      { op: 'saveSnapshot', index: 5, bytes: expect.any(Number) },
      { op: 'compact', through: 5 },
    ]);
    // The entries proposed meanwhile were saved only after the snapshot's calls.
    expect(storage.ops.slice(0, snapshotAt).some((o) => o.op === 'save' && o.last >= 6)).toBe(false);
    expect(storage.maxInFlight).toBe(1);
    await node.stop();
  });

  it('with no state machine are empty, and keep the log in memory bounded (a pure election cluster)', async () => {
    const { node, storage, events, write } = await leaderAlone({
      stateMachine: undefined,
      snapshots: { threshold: 5, trailing: 2 },
    });
    await write(40);
    expect(events.length).toBeGreaterThanOrEqual(7);
    expect(events.every((e) => e.bytes === 0 && e.source === 'local')).toBe(true);
    expect(
      storage.ops.filter((o) => o.op === 'saveSnapshot').every((o) => o.op === 'saveSnapshot' && o.bytes === 0),
    ).toBe(true);
    const core = coreOf.get(node)!;
    expect(core.lastIndex - core.firstIndex + 1).toBeLessThanOrEqual(5 + 2);
    await node.stop();
  });

  it('never happen with a state machine that has no snapshot(): the log is kept whole, and one warning says so', async () => {
    const { logger, warnings } = warningsLogger();
    const applied: number[] = [];
    const { node, storage, write } = await leaderAlone({
      logger,
      stateMachine: { apply: (e) => applied.push(e.index) },
      snapshots: { threshold: 5, trailing: 0 },
    });
    await write(30);
    expect(applied).toHaveLength(30);
    expect(node.status().snapshotIndex).toBe(0);
    expect(coreOf.get(node)!.firstIndex).toBe(1);
    expect(snapshotOps(storage.ops)).toEqual([]);
    const about = warnings.filter((w) => w.includes('never compacted'));
    expect(about).toHaveLength(1);
    expect(about[0]).toContain('stateMachine.snapshot');
    await node.stop();
  });

  it('never happen with a storage that has no saveSnapshot(): one warning says so', async () => {
    const { logger, warnings } = warningsLogger();
    const { node, machine, write } = await leaderAlone({
      logger,
      storage: new LogOnlyStorage(),
      snapshots: { threshold: 5, trailing: 0 },
    });
    await write(30);
    expect(machine.callsOf('snapshot')).toEqual([]);
    expect(node.status().snapshotIndex).toBe(0);
    const about = warnings.filter((w) => w.includes('never compacted'));
    expect(about).toHaveLength(1);
    expect(about[0]).toContain('storage.saveSnapshot');
    await node.stop();
  });

  it('are off with snapshots: false', async () => {
    const { node, machine, storage, write } = await leaderAlone({ snapshots: false });
    await write(30);
    expect(machine.callsOf('snapshot')).toEqual([]);
    expect(snapshotOps(storage.ops)).toEqual([]);
    await node.stop();
  });
});

describe('node.snapshot()', () => {
  it('takes one at the applied index below the threshold, resolves { index, term, bytes } once durable, and compacts', async () => {
    const { time, node, machine, storage, events, write } = await leaderAlone({
      snapshots: { threshold: 1000, trailing: 1 },
    });
    await write(3);
    const taking = node.snapshot();
    // A second call while the first is pending shares its snapshot.
    const again = node.snapshot();
    const info = await time.wait(taking, 'the snapshot');
    expect(info).toEqual({ index: 4, term: 1, bytes: machine.snapshotBytes() });
    expect(await time.wait(again, 'the second call')).toEqual(info);
    expect(snapshotOps(storage.ops)).toEqual([
      { op: 'saveSnapshot', index: 4, bytes: info.bytes },
      { op: 'compact', through: 3 },
    ]);
    expect(events).toEqual([{ ...info, source: 'local' }]);
    expect(node.status()).toMatchObject({ snapshotIndex: 4, snapshotTerm: 1 });
    // Nothing applied since: the newest snapshot is the answer, and no other is taken.
    expect(await time.wait(node.snapshot(), 'a third call')).toEqual(info);
    expect(machine.callsOf('snapshot')).toEqual([4]);
    await node.stop();
  });

  it('works with automatic snapshots off', async () => {
    const { time, node, write } = await leaderAlone({ snapshots: false });
    const last = await write(5);
    expect((await time.wait(node.snapshot(), 'the snapshot')).index).toBe(last);
    await node.stop();
  });

  it('rejects StoppedError before start and when the node stops while it is pending', async () => {
    const idle = singleNode(new VirtualTime(), { stateMachine: new KvMachine() });
    expect(StoppedError.isInstance(await idle.snapshot().catch((e: unknown) => e))).toBe(true);

    const { time, node, machine, write } = await leaderAlone({ snapshots: false });
    await write(2);
    let release!: () => void;
    machine.snapshotGate = new Promise((resolve) => (release = resolve));
    const pending = node.snapshot().catch((e: unknown) => e);
    await time.advance(10);
    expect(machine.callsOf('snapshot')).toEqual([3]);
    const stopping = node.stop();
    expect(StoppedError.isInstance(await pending)).toBe(true);
    // stop() waits for the state machine's snapshot, as it waits for an apply in progress.
    release();
    await time.wait(stopping, 'stop');
  });

  it('rejects ConfigError when the state machine has no snapshot() or the storage no saveSnapshot()', async () => {
    const noSnapshot = await leaderAlone({ stateMachine: { apply: () => undefined } });
    const e1 = await noSnapshot.node.snapshot().catch((e: unknown) => e);
    expect(ConfigError.isInstance(e1)).toBe(true);
    expect((e1 as ConfigError).issues.map((i) => i.path)).toEqual(['stateMachine.snapshot']);
    await noSnapshot.node.stop();

    const noStore = await leaderAlone({ storage: new LogOnlyStorage() });
    const e2 = await noStore.node.snapshot().catch((e: unknown) => e);
    expect((e2 as ConfigError).issues.map((i) => i.path)).toEqual(['storage.saveSnapshot']);
    await noStore.node.stop();
  });

  it("rejects with the storage's error when saveSnapshot fails, and the node stops with it", async () => {
    const { time, node, storage, write } = await leaderAlone({ snapshots: false });
    const errors: Error[] = [];
    node.on('error', (e) => errors.push(e));
    await write(2);
    const fault = new StorageError('disk full');
    storage.failSnapshot = fault;
    expect(
      await time.wait(
        node.snapshot().catch((e: unknown) => e),
        'the failed snapshot',
      ),
    ).toBe(fault);
    await time.advance(10);
    expect(errors).toEqual([fault]);
    expect(StoppedError.isInstance(await node.propose(enc('a=1')).catch((e: unknown) => e))).toBe(true);
  });

  it('rejects with a TypeError, and stops the node, when the state machine gives something else than bytes', async () => {
    const { time, node, write } = await leaderAlone({
      stateMachine: {
        apply: () => undefined,
        snapshot: () => 'state' as unknown as Uint8Array,
        restore: () => undefined,
      },
      snapshots: false,
    });
    const errors: Error[] = [];
    node.on('error', (e) => errors.push(e));
    await write(1);
    const error = await time.wait(
      node.snapshot().catch((e: unknown) => e),
      'the refused snapshot',
    );
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('stateMachine.snapshot() must return a Uint8Array, got "state"');
    await time.advance(10);
    expect(errors).toEqual([error]);
  });
});

describe('restart from a snapshot', () => {
  it('restores the newest snapshot once, before any apply, then applies only the log after it', async () => {
    const time = new VirtualTime();
    const storage = new RecordingStorage(time);
    const first = new KvMachine();
    const before = singleNode(time, { storage, stateMachine: first, snapshots: { threshold: 10, trailing: 2 } });
    await time.wait(before.start(), 'start');
    await time.advance(400);
    for (let i = 0; i < 25; i++) await time.wait(before.propose(enc(`k${i}=${i}`)), `write ${i}`);
    expect(before.status()).toMatchObject({ snapshotIndex: 20, appliedIndex: 26 });
    await time.wait(before.stop(), 'stop');

    const second = new KvMachine();
    const after = singleNode(time, { storage, stateMachine: second, snapshots: { threshold: 10, trailing: 2 } });
    await time.wait(after.start(), 'restart');
    expect(after.status()).toMatchObject({ snapshotIndex: 20, snapshotTerm: 1 });
    await time.until(() => after.status().appliedIndex >= 26, 'the log after the snapshot to be applied');
    // The stored commit covers the log after the snapshot, so it is applied at once, after the restore.
    expect(second.calls).toEqual([
      { op: 'restore', index: 20 },
      ...[21, 22, 23, 24, 25, 26].map((index) => ({ op: 'apply', index })),
    ]);
    expect(second.dump()).toBe(first.dump());
    await time.wait(after.stop(), 'stop');
  });

  it('with no state machine, restarts from its snapshot (nothing to restore) and applies the log after it', async () => {
    const time = new VirtualTime();
    const storage = new MemoryStorage();
    const before = singleNode(time, { storage, snapshots: { threshold: 5, trailing: 0 } });
    await time.wait(before.start(), 'start');
    await time.advance(400);
    for (let i = 0; i < 6; i++) await time.wait(before.propose(enc(`${i}`)), `write ${i}`);
    expect(before.status()).toMatchObject({ snapshotIndex: 5, appliedIndex: 7 });
    await time.wait(before.stop(), 'stop');
    const after = singleNode(time, { storage });
    await time.wait(after.start(), 'restart');
    expect(after.status().snapshotIndex).toBe(5);
    // The stored commit covers the log after the snapshot: it is applied again.
    await time.until(() => after.status().appliedIndex === 7, 'the log after the snapshot');
    await time.wait(after.stop(), 'stop');
  });

  it('fails start with a StorageError when the state machine has no restore() for the stored snapshot', async () => {
    const time = new VirtualTime();
    const storage = new MemoryStorage();
    const before = singleNode(time, { storage, stateMachine: new KvMachine(), snapshots: false });
    await time.wait(before.start(), 'start');
    await time.advance(400);
    await time.wait(before.propose(enc('a=1')), 'write');
    await time.wait(before.snapshot(), 'snapshot');
    await time.wait(before.stop(), 'stop');
    const applied: number[] = [];
    const after = singleNode(time, { storage, stateMachine: { apply: (e) => applied.push(e.index) } });
    const error = await after.start().catch((e: unknown) => e);
    expect(StorageError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe(
      'Storage holds a snapshot (index 2, term 1) that the state machine cannot restore: it has no restore()',
    );
    expect(applied).toEqual([]);
    // The failed start closed the storage: a node that can restore starts on it.
    const able = new KvMachine();
    const third = singleNode(time, { storage, stateMachine: able });
    await time.wait(third.start(), 'start');
    expect(able.dump()).toBe('[["a","1"]]');
    await time.wait(third.stop(), 'stop');
  });
});

describe('a proposal a snapshot from the leader covers', () => {
  it('rejects LeadershipLostError (outcome unknown: it was never applied here), and one past the snapshot still waits', async () => {
    let next = 7;
    const core = {
      role: 'leader' as const,
      voters: ['solo'],
      propose: (datas: readonly Uint8Array[]) => {
        const index = next;
        next += datas.length;
        return { ok: true as const, index, term: 2 };
      },
      readIndex: () => ({ ok: true as const }),
      transferLeader: () => null,
    };
    const requests = new Requests({
      id: 'solo',
      clock: new VirtualTime().clock(),
      maxProposalBatch: 10,
      defaultTimeoutMs: 1000,
      view: { current: { role: 'leader', term: 2, leaderId: 'solo' }, isLeader: () => true },
      lifecycle: { isRunning: true, isOver: false, notRunningError: () => new StoppedError() },
      core: () => core,
      kick: () => undefined,
    });
    const covered = requests.propose(enc('a=1')).catch((e: unknown) => e);
    let pastSettled = false;
    const past = requests.propose(enc('b=2')).finally(() => (pastSettled = true));
    await Promise.resolve(); // the proposals are appended together, at 7 and 8
    requests.restored(7);
    expect(LeadershipLostError.isInstance(await covered)).toBe(true);
    await Promise.resolve();
    expect(pastSettled).toBe(false);
    requests.applied({ index: 8, term: 2, type: 'normal', data: enc('b=2') }, 'ok');
    expect(await past).toEqual({ index: 8, term: 2, result: 'ok' });
  });
});
