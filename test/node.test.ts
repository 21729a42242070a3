import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  LeadershipLostError,
  NotLeaderError,
  StoppedError,
  StorageError,
  TimeoutError,
} from '../src/errors.js';
import type { Entry, HardState } from '../src/messages.js';
import { RaftNode } from '../src/node.js';
import type { LeaderChange, RoleChange } from '../src/shell/events.js';
import { MemoryStorage } from '../src/storage/memory.js';
import type { PersistedState, Storage } from '../src/storage/storage.js';
import { MemoryNetwork } from '../src/testing/memory-network.js';
import { settle, VirtualTime } from './helpers/virtual-time.js';
import { singleNode } from './shell/solo-node.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A storage whose saves wait until the test opens the gate: shows what happens before state is durable. */
class GatedStorage implements Storage {
  readonly inner = new MemoryStorage();
  gateOpen = true;
  saves = 0;
  savedEntries = 0;
  failNext: Error | null = null;
  private waiting: (() => void)[] = [];

  open(): Promise<PersistedState> {
    return this.inner.open();
  }

  save(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    const copy = entries.slice();
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        if (this.failNext !== null) {
          reject(this.failNext);
          return;
        }
        this.saves++;
        this.savedEntries += copy.length;
        this.inner.save(hardState, copy);
        resolve();
      };
      if (this.gateOpen) queueMicrotask(finish);
      else this.waiting.push(finish);
    });
  }

  release(): void {
    this.gateOpen = true;
    const w = this.waiting;
    this.waiting = [];
    for (const f of w) f();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('RaftNode options', () => {
  it('throws one ConfigError listing every problem', () => {
    let error: unknown;
    try {
      new RaftNode({
        id: '',
        peers: ['a', 'a'],
        transport: {} as never,
        electionTimeoutMs: { min: 300, max: 100 },
        heartbeatIntervalMs: -5,
      });
    } catch (e) {
      error = e;
    }
    expect(ConfigError.isInstance(error)).toBe(true);
    const paths = (error as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['id', 'transport.start', 'heartbeatIntervalMs']));
    expect((error as ConfigError).issues.length).toBeGreaterThanOrEqual(5);
  });
});

describe('RaftNode in virtual time', () => {
  it('a single node elects itself after its election timeout, not before', async () => {
    const time = new VirtualTime();
    const node = singleNode(time);
    await node.start();
    await time.advance(140);
    expect(node.role).toBe('follower');
    await time.advance(200);
    expect(node.role).toBe('leader');
    expect(node.leaderId).toBe('solo');
    expect(await node.waitForLeader()).toBe('solo');
    await node.stop();
  });

  it('reports role and leader changes only after the term and vote are durable', async () => {
    const time = new VirtualTime();
    const storage = new GatedStorage();
    const node = singleNode(time, { storage });
    const roles: RoleChange[] = [];
    const leaders: LeaderChange[] = [];
    node.on('roleChanged', (e) => roles.push(e));
    node.on('leaderChanged', (e) => leaders.push(e));
    await node.start();
    storage.gateOpen = false;
    await time.advance(400);
    // The core has won the election, but its vote for itself is not on disk yet.
    expect(node.role).toBe('follower');
    expect(roles).toEqual([]);
    expect(leaders).toEqual([]);
    storage.release();
    await time.advance(10);
    expect(roles.map((r) => r.role)).toEqual(['leader']);
    expect(leaders).toEqual([{ leaderId: 'solo', previousLeaderId: null, term: 1 }]);
    await node.stop();
  });

  it('a listener that throws does not break the node or the other listeners', async () => {
    const time = new VirtualTime();
    const node = singleNode(time);
    const seen: string[] = [];
    node.on('leaderChanged', () => {
      throw new Error('listener bug');
    });
    node.on('leaderChanged', (e) => seen.push(String(e.leaderId)));
    node.once('roleChanged', (e) => seen.push(`once:${e.role}`));
    await node.start();
    await time.advance(400);
    expect(seen).toEqual(['once:leader', 'solo']);
    const outcome = await node.propose(enc('still works'));
    expect(outcome.index).toBeGreaterThan(0);
    await node.stop();
  });

  it('batches proposals that arrive while a write is in flight into one write (group commit)', async () => {
    const time = new VirtualTime();
    const storage = new GatedStorage();
    const applied: number[] = [];
    const node = singleNode(time, { storage, stateMachine: { apply: (e) => applied.push(e.index) } });
    await node.start();
    await time.advance(400);
    expect(node.isLeader()).toBe(true);
    storage.gateOpen = false;
    const first = node.propose(enc('first'));
    await settle();
    // While the first write waits on the disk, 1,000 more proposals arrive.
    const rest = Array.from({ length: 1000 }, (_, i) => node.propose(enc(`p${i}`)));
    await settle();
    const savesBefore = storage.saves;
    storage.release();
    await time.advance(1);
    await Promise.all([first, ...rest]);
    expect(storage.saves - savesBefore).toBeLessThanOrEqual(4);
    expect(applied.length).toBe(1001);
    expect(applied).toEqual([...applied].sort((a, b) => a - b));
    await node.stop();
  });

  it('applies entries in order and never calls an async apply concurrently', async () => {
    const time = new VirtualTime();
    let running = 0;
    let maxRunning = 0;
    const order: string[] = [];
    const node = singleNode(time, {
      stateMachine: {
        apply: async (e) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await settle();
          order.push(new TextDecoder().decode(e.data));
          running--;
          return e.index * 10;
        },
      },
    });
    await node.start();
    await time.advance(400);
    const outcomes = await Promise.all(['a', 'b', 'c', 'd'].map((s) => node.propose(enc(s))));
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expect(maxRunning).toBe(1);
    expect(outcomes.map((o) => o.result)).toEqual(outcomes.map((o) => o.index * 10));
    await node.stop();
  });

  it('stop() rejects pending calls with StoppedError, is idempotent, and no apply follows it', async () => {
    const time = new VirtualTime();
    const storage = new GatedStorage();
    let applies = 0;
    const node = singleNode(time, { storage, stateMachine: { apply: () => applies++ } });
    await node.start();
    await time.advance(400);
    storage.gateOpen = false;
    const pending = node.propose(enc('never')).catch((e: unknown) => e);
    await settle();
    const appliesAtStop = applies;
    const stopping = node.stop();
    expect(node.stop()).toBe(stopping);
    storage.release();
    await stopping;
    expect(StoppedError.isInstance(await pending)).toBe(true);
    expect(applies).toBe(appliesAtStop);
    expect(StoppedError.isInstance(await node.propose(enc('late')).catch((e: unknown) => e))).toBe(true);
  });

  it('propose before start rejects StoppedError; waitForLeader honours timeoutMs and AbortSignal', async () => {
    const time = new VirtualTime();
    const net = new MemoryNetwork();
    const node = new RaftNode({ id: 'a', peers: ['a', 'b', 'c'], transport: net.transport('a'), clock: time.clock() });
    expect(StoppedError.isInstance(await node.propose(enc('x')).catch((e: unknown) => e))).toBe(true);
    await node.start();
    const timedOut = node.waitForLeader({ timeoutMs: 50 }).catch((e: unknown) => e);
    await time.advance(60);
    expect(TimeoutError.isInstance(await timedOut)).toBe(true);
    const controller = new AbortController();
    const aborted = node.waitForLeader({ signal: controller.signal }).catch((e: unknown) => e);
    controller.abort();
    expect(((await aborted) as DOMException).name).toBe('AbortError');
    // With no leader anywhere, a write is refused before anything is appended.
    const refused = await node.propose(enc('x')).catch((e: unknown) => e);
    expect(NotLeaderError.isInstance(refused)).toBe(true);
    expect((refused as NotLeaderError).leaderId).toBeNull();
    await node.stop();
  });

  it('a storage failure stops the node and emits a StorageError; pending proposals reject', async () => {
    const time = new VirtualTime();
    const storage = new GatedStorage();
    const node = singleNode(time, { storage });
    const errors: Error[] = [];
    node.on('error', (e) => errors.push(e));
    await node.start();
    await time.advance(400);
    storage.failNext = new StorageError('disk on fire');
    const pending = node.propose(enc('doomed')).catch((e: unknown) => e);
    await time.advance(10);
    await settle();
    expect(errors.map((e) => e.message)).toEqual(['disk on fire']);
    expect(StoppedError.isInstance(await pending) || LeadershipLostError.isInstance(await pending)).toBe(true);
    expect(StoppedError.isInstance(await node.propose(enc('after')).catch((e: unknown) => e))).toBe(true);
  });

  it('stop() during start() waits for the start, then stops cleanly; start() twice returns one promise', async () => {
    const time = new VirtualTime();
    const storage = new MemoryStorage();
    const node = singleNode(time, { storage });
    const starting = node.start();
    expect(node.start()).toBe(starting);
    const stopping = node.stop();
    await starting;
    await stopping;
    await time.advance(1000);
    expect(node.role).toBe('follower');
    expect(StoppedError.isInstance(await node.start().catch((e: unknown) => e))).toBe(true);
    // The storage was closed, so a restarted node can open it.
    const again = singleNode(time, { storage });
    await again.start();
    await again.stop();
  });

  it('a leader whose disk stalls keeps heartbeating: no follower starts an election meanwhile', async () => {
    const time = new VirtualTime();
    const net = new MemoryNetwork();
    const ids = ['a', 'b', 'c'];
    const storages = new Map(ids.map((id) => [id, new GatedStorage()]));
    const nodes = ids.map(
      (id, i) =>
        new RaftNode({
          id,
          peers: ids,
          transport: net.transport(id),
          storage: storages.get(id),
          clock: time.clock(),
          seed: i + 1,
        }),
    );
    for (const n of nodes) await n.start();
    await time.advance(1000);
    const leader = nodes.find((n) => n.isLeader())!;
    expect(leader).toBeDefined();
    const term = leader.term;
    storages.get(leader.id)!.gateOpen = false;
    const stuck = leader.propose(enc('waits for the disk'));
    await time.advance(3000);
    for (const n of nodes) {
      expect(n.term).toBe(term);
      expect(n.leaderId).toBe(leader.id);
    }
    storages.get(leader.id)!.release();
    await time.advance(100);
    expect((await stuck).term).toBe(term);
    for (const n of nodes) await n.stop();
  });

  it('an isolated leader reports leaderChanged(null) and rejects its proposals as soon as CheckQuorum deposes it', async () => {
    const time = new VirtualTime();
    const net = new MemoryNetwork();
    const ids = ['a', 'b', 'c'];
    const nodes = ids.map(
      (id, i) => new RaftNode({ id, peers: ids, transport: net.transport(id), clock: time.clock(), seed: i + 7 }),
    );
    for (const n of nodes) await n.start();
    await time.advance(1000);
    const leader = nodes.find((n) => n.isLeader())!;
    const changes: LeaderChange[] = [];
    leader.on('leaderChanged', (e) => changes.push(e));
    net.isolate(leader.id);
    const isolatedAt = time.now;
    const orphan = leader.propose(enc('cannot commit')).catch((e: unknown) => e);
    let reportedAt = -1;
    leader.on('leaderChanged', ({ leaderId }) => {
      if (leaderId === null && reportedAt < 0) reportedAt = time.now;
    });
    await time.advance(1000);
    expect(changes[0]).toMatchObject({ leaderId: null, previousLeaderId: leader.id });
    // CheckQuorum needs at most two windows of the minimum election timeout (150 ms) to notice.
    expect(reportedAt - isolatedAt).toBeLessThanOrEqual(2 * 150 + 20);
    expect(LeadershipLostError.isInstance(await orphan)).toBe(true);
    for (const n of nodes) await n.stop();
  });

  it('calls listeners with the context they were registered with, like eventemitter3', async () => {
    const time = new VirtualTime();
    const node = singleNode(time);
    const owner = { name: 'owner', seen: [] as string[] };
    node.on(
      'roleChanged',
      function (this: typeof owner, e) {
        this.seen.push(e.role);
      },
      owner,
    );
    await node.start();
    await time.advance(400);
    expect(owner.seen).toEqual(['leader']);
    await node.stop();
  });

  it('readIndex with timeoutMs: undefined still gets the default timeout', async () => {
    const time = new VirtualTime();
    const net = new MemoryNetwork();
    const ids = ['a', 'b', 'c'];
    const nodes = ids.map(
      (id, i) => new RaftNode({ id, peers: ids, transport: net.transport(id), clock: time.clock(), seed: i + 3 }),
    );
    for (const n of nodes) await n.start();
    await time.advance(1000);
    const leader = nodes.find((n) => n.isLeader())!;
    const follower = nodes.find((n) => !n.isLeader())!;
    // The follower's request reaches the leader, whose answers never come back.
    net.cut(leader.id, follower.id);
    const read = follower.readIndex({ timeoutMs: undefined }).catch((e: unknown) => e);
    await time.advance(3 * 300 + 50);
    const error = await read;
    expect(TimeoutError.isInstance(error) || NotLeaderError.isInstance(error)).toBe(true);
    for (const n of nodes) await n.stop();
  });
});
