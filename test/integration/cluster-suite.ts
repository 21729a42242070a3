import { afterEach, describe, expect, it } from 'vitest';
import { LeadershipLostError, NotLeaderError } from '../../src/errors.js';
import { encode, TestCluster, type TransportFactory, waitUntil } from '../helpers/cluster.js';

/**
 * The integration suite over real timers. It is defined once and run over
 * every transport (MemoryNetwork now, TCP too), so all transports are held
 * to the same behaviour.
 */
export function defineClusterSuite(makeTransports: () => TransportFactory): void {
  let cluster: TestCluster | null = null;

  afterEach(async () => {
    await cluster?.stop();
    cluster = null;
  });

  async function startCluster(size: number): Promise<TestCluster> {
    const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, size);
    cluster = new TestCluster(ids, makeTransports());
    await cluster.start();
    return cluster;
  }

  /** Asserts that no two nodes ever reported different leaders for one term (Election Safety, §5.2). */
  function expectOneLeaderPerTerm(c: TestCluster): void {
    const leaderOfTerm = new Map<number, string>();
    for (const events of c.leaderEvents.values()) {
      for (const e of events) {
        if (e.leaderId === null) continue;
        const seen = leaderOfTerm.get(e.term);
        if (seen !== undefined) expect(e.leaderId, `two leaders in term ${e.term}`).toBe(seen);
        leaderOfTerm.set(e.term, e.leaderId);
      }
    }
    expect(leaderOfTerm.size).toBeGreaterThan(0);
  }

  for (const size of [3, 5]) {
    it(`elects exactly one leader per term in a ${size}-node cluster, and every node learns it`, async () => {
      const c = await startCluster(size);
      const leader = await c.waitForStableLeader();
      for (const node of c.nodes.values()) {
        expect(node.leaderId).toBe(leader.id);
        expect(await node.waitForLeader()).toBe(leader.id);
      }
      expectOneLeaderPerTerm(c);
    });
  }

  it('commits proposals on the leader and applies them in the same order on every node', async () => {
    const c = await startCluster(3);
    const leader = await c.waitForStableLeader();
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) => leader.propose(encode(`v${i}`))),
    );
    // Proposals from one caller are applied in the order propose was called.
    const indexes = outcomes.map((o) => o.index);
    expect(indexes).toEqual([...indexes].sort((x, y) => x - y));
    expect(new Set(indexes).size).toBe(200);
    expect(outcomes[0].result).toBe('applied:v0');
    const last = outcomes[outcomes.length - 1].index;
    await waitUntil(() => [...c.nodes.values()].every((n) => n.status().appliedIndex >= last), 5000, 'all nodes applied');
    const expected = Array.from({ length: 200 }, (_, i) => `v${i}`);
    for (const id of c.ids) {
      expect(c.applied.get(id)!.map((r) => r.text)).toEqual(expected);
    }
  });

  it('rejects propose on a follower with NotLeaderError naming the leader', async () => {
    const c = await startCluster(3);
    const leader = await c.waitForStableLeader();
    const follower = c.followers(leader)[0];
    const error = await follower.propose(encode('x')).catch((e: unknown) => e);
    expect(NotLeaderError.isInstance(error)).toBe(true);
    expect((error as NotLeaderError).leaderId).toBe(leader.id);
  });

  it('replaces an isolated leader, discards its uncommitted entries on rejoin, and tells every node', async () => {
    const c = await startCluster(3);
    const oldLeader = await c.waitForStableLeader();
    const committed = await oldLeader.propose(encode('before'));
    expect(committed.result).toBe('applied:before');

    const transports = c.transports;
    transports.isolate(oldLeader.id);
    // Appended on the isolated leader: can never reach a majority.
    const orphan = oldLeader.propose(encode('orphan')).catch((e: unknown) => e);

    const survivors = c.followers(oldLeader).map((n) => n.id);
    const newLeader = await c.waitForStableLeader(survivors);
    expect(newLeader.id).not.toBe(oldLeader.id);
    expect(newLeader.term).toBeGreaterThan(committed.term);
    await newLeader.propose(encode('after'));

    // CheckQuorum: the isolated leader steps down and its proposal's outcome is unknown.
    expect(LeadershipLostError.isInstance(await orphan)).toBe(true);

    transports.rejoin(oldLeader.id);
    await c.waitForStableLeader();
    expect(oldLeader.leaderId).toBe(newLeader.id);
    const lastIndex = newLeader.status().commitIndex;
    await waitUntil(() => oldLeader.status().appliedIndex >= lastIndex, 5000, 'old leader caught up');
    for (const id of c.ids) {
      expect(c.applied.get(id)!.map((r) => r.text)).toEqual(['before', 'after']);
    }
    // Every node stopped knowing the old leader at some point (null), then learned the new one.
    for (const id of c.ids) {
      const events = c.leaderEvents.get(id)!;
      const sawNull = events.some((e) => e.leaderId === null && e.previousLeaderId === oldLeader.id);
      expect(sawNull, `${id} reported null after losing ${oldLeader.id}`).toBe(true);
      expect(events[events.length - 1]).toMatchObject({ leaderId: newLeader.id, term: newLeader.term });
    }
    expectOneLeaderPerTerm(c);
  });

  it('readIndex on a follower returns only after it applied everything committed before the call', async () => {
    const c = await startCluster(3);
    const leader = await c.waitForStableLeader();
    const follower = c.followers(leader)[0];
    // Make the follower lag: nothing below forces it to have applied these yet.
    const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => leader.propose(encode(`r${i}`))));
    const committedAtCall = leader.status().commitIndex;
    expect(committedAtCall).toBeGreaterThanOrEqual(outcomes[49].index);
    const index = await follower.readIndex();
    expect(index).toBeGreaterThanOrEqual(committedAtCall);
    expect(follower.status().appliedIndex).toBeGreaterThanOrEqual(index);
    const texts = c.applied.get(follower.id)!.map((r) => r.text);
    expect(texts).toContain('r49');
    // The leader serves its own reads too.
    expect(await leader.readIndex()).toBeGreaterThanOrEqual(committedAtCall);
  });

  it('a restarted node replays its storage, re-applies committed entries and rejoins', async () => {
    const c = await startCluster(3);
    const leader = await c.waitForStableLeader();
    const follower = c.followers(leader)[0];
    for (let i = 0; i < 20; i++) await leader.propose(encode(`p${i}`));
    const commit = leader.status().commitIndex;
    await waitUntil(() => follower.status().appliedIndex >= commit, 5000, 'follower applied');
    await c.stopNode(follower.id);
    const restarted = await c.startNode(follower.id);
    await waitUntil(() => restarted.status().appliedIndex >= commit, 5000, 'restart re-applied');
    expect(c.applied.get(follower.id)!.map((r) => r.text)).toEqual(Array.from({ length: 20 }, (_, i) => `p${i}`));
    await leader.propose(encode('later'));
    await waitUntil(() => c.applied.get(follower.id)!.some((r) => r.text === 'later'), 5000, 'restarted node follows');
  });

  it('transfers leadership to a named follower, and every node follows the new leader', async () => {
    const c = await startCluster(3);
    const leader = await c.waitForStableLeader();
    await leader.propose(encode('before transfer'));
    const target = c.followers(leader)[1];
    expect(await leader.transferLeadership(target.id)).toBe(target.id);
    const next = await c.waitForStableLeader();
    expect(next.id).toBe(target.id);
    const outcome = await next.propose(encode('after transfer'));
    expect(outcome.result).toBe('applied:after transfer');
    const error = await c.followers(next)[0].transferLeadership().catch((e: unknown) => e);
    expect(NotLeaderError.isInstance(error)).toBe(true);
  });
}
