import { afterEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { FileStorage } from '../../src/storage/file.js';
import { MemoryNetwork } from '../../src/testing/memory-network.js';
import { encode, TestCluster, type TransportFactory, waitUntil } from '../helpers/cluster.js';
import { PATIENCE } from '../helpers/wait.js';
import { FaultyFs, systemError } from './faulty-fs.js';
import { RecordingLogger, TempDirs } from './support.js';

const dirs = new TempDirs();
let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
  dirs.cleanup();
});

function memoryTransports(): TransportFactory {
  const net = new MemoryNetwork({ seed: 3 });
  return {
    name: 'MemoryNetwork',
    create: (id) => net.transport(id),
    isolate: (id) => net.isolate(id),
    rejoin: (id) => net.rejoin(id),
  };
}

/** A new FileStorage object on `dir`, as a restarted process would make. */
function fileStorage(dir: string, fileSystem?: FaultyFs): FileStorage {
  return new FileStorage({ dir, segmentBytes: 256 * 1024, logger: new RecordingLogger(), fileSystem });
}

/**
 * FileStorage does real disk I/O, so these clusters run on real timers. Election timeouts far above the
 * heartbeat keep a loaded machine (a stalled event loop) from starting an election nobody planned.
 */
const SLOW_ELECTIONS = { electionTimeoutMs: { min: 500, max: 1000 }, heartbeatIntervalMs: 50 };

async function startFileCluster(): Promise<{ c: TestCluster; dirOf: Map<string, string> }> {
  const c = new TestCluster(['a', 'b', 'c'], memoryTransports(), SLOW_ELECTIONS);
  cluster = c;
  const dirOf = new Map<string, string>();
  for (const id of c.ids) {
    const dir = dirs.make(`bellwether-restart-${id}-`);
    dirOf.set(id, dir);
    c.storages.set(id, fileStorage(dir));
  }
  await c.start();
  return { c, dirOf };
}

describe('a cluster on FileStorage', () => {
  it('a restarted follower replays its log, re-applies committed entries and rejoins without a new election', async () => {
    const { c, dirOf } = await startFileCluster();
    const leader = await c.waitForStableLeader();
    const follower = c.followers(leader)[0];
    for (let i = 0; i < 30; i++) await leader.propose(encode(`p${i}`));
    const commit = leader.status().commitIndex;
    const term = leader.term;
    await waitUntil(() => follower.status().appliedIndex >= commit, PATIENCE.timeout, 'follower applied');

    await c.stopNode(follower.id);
    c.storages.set(follower.id, fileStorage(dirOf.get(follower.id)!));
    const restarted = await c.startNode(follower.id);
    // Straight from disk, before hearing from anyone: the log and the term.
    expect(restarted.status().lastLogIndex).toBeGreaterThanOrEqual(commit);
    expect(restarted.term).toBe(term);

    await waitUntil(() => restarted.status().appliedIndex >= commit, PATIENCE.timeout, 'restart re-applied');
    expect(c.applied.get(follower.id)!.map((r) => r.text)).toEqual(Array.from({ length: 30 }, (_, i) => `p${i}`));
    await leader.propose(encode('later'));
    await waitUntil(
      () => c.applied.get(follower.id)!.some((r) => r.text === 'later'),
      PATIENCE.timeout,
      'restarted node follows',
    );

    // The leader stayed healthy, so nobody needed an election: same leader, same term, everywhere.
    expect(leader.isLeader()).toBe(true);
    expect(restarted.leaderId).toBe(leader.id);
    for (const n of c.nodes.values()) expect(n.term).toBe(term);
    for (const events of c.leaderEvents.values()) {
      for (const e of events) expect(e.term).toBe(term);
    }
  });

  it('a whole cluster restarted from disk keeps every committed entry and goes on under a new leader', async () => {
    const { c, dirOf } = await startFileCluster();
    const leader = await c.waitForStableLeader();
    const outcomes = await Promise.all(Array.from({ length: 200 }, (_, i) => leader.propose(encode(`v${i}`))));
    const lastIndex = outcomes[outcomes.length - 1].index;
    const oldTerm = leader.term;
    for (const id of c.ids) await c.stopNode(id);

    for (const id of c.ids) c.storages.set(id, fileStorage(dirOf.get(id)!));
    for (const id of c.ids) await c.startNode(id);
    const next = await c.waitForStableLeader();
    expect(next.term).toBeGreaterThan(oldTerm);
    const after = await next.propose(encode('after restart'));
    expect(after.index).toBeGreaterThan(lastIndex);
    await waitUntil(
      () => [...c.nodes.values()].every((n) => n.status().appliedIndex >= after.index),
      PATIENCE.timeout,
      'every node applied the new entry',
    );
    const expected = [...Array.from({ length: 200 }, (_, i) => `v${i}`), 'after restart'];
    for (const id of c.ids) expect(c.applied.get(id)!.map((r) => r.text)).toEqual(expected);
  });

  it('a leader whose disk fills up stops with a StorageError event, and the others elect a new leader', async () => {
    const c = new TestCluster(['a', 'b', 'c'], memoryTransports(), SLOW_ELECTIONS);
    cluster = c;
    const faulty = new Map<string, FaultyFs>();
    for (const id of c.ids) {
      const fs = new FaultyFs();
      faulty.set(id, fs);
      c.storages.set(id, fileStorage(dirs.make(`bellwether-full-${id}-`), fs));
    }
    await c.start();
    const leader = await c.waitForStableLeader();
    await leader.propose(encode('fits'));
    const errors: unknown[] = [];
    leader.on('error', (e) => errors.push(e));
    faulty.get(leader.id)!.fault = (call) =>
      call.op === 'write' ? systemError('ENOSPC', 'no space left on device') : undefined;

    const outcome = await leader.propose(encode('does not fit')).catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(Error);
    await waitUntil(() => errors.length > 0, PATIENCE.timeout, 'the error event');
    expect(StorageError.isInstance(errors[0])).toBe(true);
    expect((errors[0] as Error).message).toMatch(/disk is full/);

    const survivors = c.followers(leader).map((n) => n.id);
    await c.stopNode(leader.id);
    const next = await c.waitForStableLeader(survivors);
    expect(next.id).not.toBe(leader.id);
    const ok = await next.propose(encode('on the survivors'));
    expect(ok.result).toBe('applied:on the survivors');
  });
});
