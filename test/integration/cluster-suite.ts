import { afterEach, expect, it } from 'vitest';
import { LeadershipLostError, NotLeaderError, TimeoutError } from '../../src/errors.js';
import type { RaftNode } from '../../src/node.js';
import type { RaftNodeOptions } from '../../src/options.js';
import { encode, expectOneLeaderPerTerm, TestCluster, type TransportFactory } from '../helpers/cluster.js';
import type { TestTime } from '../helpers/test-time.js';
import { WriteLedger } from '../helpers/writes.js';

/** Where one run of the suite happens: a fresh one per test. */
export interface ClusterEnvironment {
  readonly transports: TransportFactory;
  readonly time: TestTime;
  readonly nodeOptions?: Partial<RaftNodeOptions>;
  /**
   * True where nothing but the test can disturb a leader (virtual time):
   * then every write must succeed at its first attempt and leadership moves
   * only when the test moves it. On real timers a loaded machine may cause
   * an election at any moment, and the suite's assertions are written to
   * hold across one.
   */
  readonly steady: boolean;
}

/**
 * The integration suite, defined once and run over every transport and
 * time (MemoryNetwork's cousin in virtual time, TCP on real timers), so all
 * are held to the same behaviour.
 */
export function defineClusterSuite(environment: () => ClusterEnvironment): void {
  let cluster: TestCluster | null = null;
  let ledger = new WriteLedger();
  let steady = false;

  afterEach(async () => {
    await cluster?.stop();
    cluster = null;
    // In a steady environment no write may need a second attempt.
    if (steady) expect(ledger.refused).toEqual([]);
    ledger = new WriteLedger();
  });

  async function startCluster(size: number): Promise<TestCluster> {
    const env = environment();
    steady = env.steady;
    const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, size);
    cluster = new TestCluster(ids, env.transports, env.nodeOptions, env.time);
    await cluster.start();
    return cluster;
  }

  /**
   * `found` is `expected`; on real timers, it may also be a leader of a later
   * term (an election the test did not ask for), never one of the same term.
   */
  function expectLeader(found: RaftNode, expected: { readonly id: string; readonly term: number }): void {
    if (steady || found.term === expected.term) {
      expect(found.id).toBe(expected.id);
      expect(found.term).toBe(expected.term);
    } else {
      expect(found.term).toBeGreaterThan(expected.term);
    }
  }

  /** readIndex on `node`, asked again if leadership was missing at the time. */
  async function readIndex(c: TestCluster, node: RaftNode): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await c.wait(node.readIndex(), `readIndex on ${node.id}`);
      } catch (error) {
        const noLeader = NotLeaderError.isInstance(error) || TimeoutError.isInstance(error);
        if (steady || !noLeader || attempt === 5) throw error;
        await c.waitForStableLeader();
      }
    }
  }

  for (const size of [3, 5]) {
    it(`elects exactly one leader per term in a ${size}-node cluster, and every node learns it`, async () => {
      const c = await startCluster(size);
      // Every node follows it at one moment: agreement, not one read per node.
      const leader = await c.waitForStableLeader();
      const elected = { id: leader.id, term: leader.term };
      for (const id of c.ids) {
        expect(c.leaderEvents.get(id), `${id} reported the leader`).toContainEqual(
          expect.objectContaining({ leaderId: elected.id, term: elected.term }),
        );
      }
      for (const node of c.nodes.values()) {
        const seen = await c.wait(node.waitForLeader(), `${node.id} to know a leader`);
        expect(seen === elected.id || node.term > elected.term, `${node.id} names ${seen}`).toBe(true);
      }
      expectOneLeaderPerTerm(c);
    });
  }

  it('commits proposals on the leader and applies them in the same order on every node', async () => {
    const c = await startCluster(3);
    const leader = await c.waitForStableLeader();
    const writes = await ledger.proposeAll(
      c,
      leader,
      Array.from({ length: 200 }, (_, i) => `v${i}`),
    );
    const acknowledged = writes.filter((w) => w !== null);
    // Only a lost leadership may refuse some (never on a steady cluster, see afterEach).
    expect(acknowledged.length).toBeGreaterThan(0);
    // Proposals from one caller are applied in the order propose was called.
    const indexes = acknowledged.map((w) => w.index);
    expect(indexes).toEqual([...indexes].sort((x, y) => x - y));
    expect(new Set(indexes).size).toBe(acknowledged.length);
    expect(acknowledged.map((w) => w.result)).toEqual(acknowledged.map((w) => `applied:${w.text}`));
    const last = Math.max(...indexes);
    await c.until(
      () => [...c.nodes.values()].every((n) => n.status().appliedIndex >= last),
      'every node to apply them',
    );
    for (const id of c.ids) ledger.expectApplied(c.applied.get(id)!, id);
  });

  it('rejects propose on a follower with NotLeaderError naming the leader', async () => {
    const c = await startCluster(3);
    const leader = await c.waitForStableLeader();
    const follower = c.followers(leader)[0];
    // The follower is checked at the call, in the same turn as the agreement above.
    const error = await c.wait(follower.propose(encode('x')).catch((e: unknown) => e));
    expect(NotLeaderError.isInstance(error)).toBe(true);
    expect((error as NotLeaderError).leaderId).toBe(leader.id);
  });

  it('replaces an isolated leader, discards its uncommitted entries on rejoin, and tells every node', async () => {
    const c = await startCluster(3);
    const before = await ledger.write(c, 'before');
    expect(before.result).toBe('applied:before');

    const oldLeader = await c.waitForStableLeader();
    const isolatedTerm = oldLeader.term;
    c.transports.isolate(oldLeader.id);
    // Appended on the isolated leader: can never reach a majority. Not in
    // the ledger, so a node that applied it fails expectApplied below.
    const orphan = oldLeader.propose(encode('orphan')).catch((e: unknown) => e);

    const survivors = c.followers(oldLeader).map((n) => n.id);
    const newLeader = await c.waitForStableLeader(survivors);
    expect(newLeader.id).not.toBe(oldLeader.id);
    expect(newLeader.term).toBeGreaterThan(isolatedTerm);
    const elected = { id: newLeader.id, term: newLeader.term };
    await ledger.write(c, 'after', survivors);

    // CheckQuorum: the isolated leader steps down and its proposal's outcome is unknown.
    expect(LeadershipLostError.isInstance(await c.wait(orphan, 'the orphan proposal to fail'))).toBe(true);

    c.transports.rejoin(oldLeader.id);
    // PreVote: the returning node does not depose the leader elected without it.
    expectLeader(await c.waitForStableLeader(), elected);
    const lastIndex = Math.max(...c.ids.map((id) => c.node(id).status().commitIndex));
    await c.until(() => oldLeader.status().appliedIndex >= lastIndex, 'the old leader to catch up');
    for (const id of c.ids) ledger.expectApplied(c.applied.get(id)!, id);

    const current = await c.waitForStableLeader();
    for (const id of c.ids) {
      const events = c.leaderEvents.get(id)!;
      // Every node stopped knowing the old leader at some point (null), then learned the current one.
      const sawNull = events.some((e) => e.leaderId === null && e.previousLeaderId === oldLeader.id);
      expect(sawNull, `${id} reported null after losing ${oldLeader.id}`).toBe(true);
      expect(events[events.length - 1]).toMatchObject({ leaderId: current.id, term: current.term });
    }
    expectOneLeaderPerTerm(c);
  });

  it('readIndex on a follower returns only after it applied everything committed before the call', async () => {
    const c = await startCluster(3);
    const leader = await c.waitForStableLeader();
    const follower = c.followers(leader)[0];
    // Make the follower lag: nothing below forces it to have applied these yet.
    const writes = await ledger.proposeAll(
      c,
      leader,
      Array.from({ length: 50 }, (_, i) => `r${i}`),
    );
    const acknowledged = writes.filter((w) => w !== null);
    expect(acknowledged.length).toBeGreaterThan(0);
    const lastWrite = acknowledged[acknowledged.length - 1];
    const committedAtCall = leader.status().commitIndex;
    expect(committedAtCall).toBeGreaterThanOrEqual(lastWrite.index);
    const index = await readIndex(c, follower);
    expect(index).toBeGreaterThanOrEqual(committedAtCall);
    expect(follower.status().appliedIndex).toBeGreaterThanOrEqual(index);
    expect(c.applied.get(follower.id)!.map((r) => r.text)).toContain(lastWrite.text);
    // The leader serves its own reads too.
    expect(await readIndex(c, leader)).toBeGreaterThanOrEqual(committedAtCall);
  });

  it('a restarted node replays its storage, re-applies committed entries and rejoins', async () => {
    const c = await startCluster(3);
    const leader = await c.waitForStableLeader();
    const follower = c.followers(leader)[0];
    for (let i = 0; i < 20; i++) await ledger.write(c, `p${i}`);
    const commit = ledger.acknowledged[ledger.acknowledged.length - 1].index;
    await c.until(() => follower.status().appliedIndex >= commit, `${follower.id} to apply`);
    await c.stopNode(follower.id);
    const restarted = await c.startNode(follower.id);
    await c.until(() => restarted.status().appliedIndex >= commit, `${follower.id} to re-apply after its restart`);
    ledger.expectApplied(c.applied.get(follower.id)!, follower.id);
    const later = await ledger.write(c, 'later');
    await c.until(() => restarted.status().appliedIndex >= later.index, `${follower.id} to apply a new write`);
    ledger.expectApplied(c.applied.get(follower.id)!, follower.id);
  });

  it('transfers leadership to a named follower, and every node follows the new leader', async () => {
    const c = await startCluster(3);
    await ledger.write(c, 'before transfer');
    const leader = await c.waitForStableLeader();
    const target = c.followers(leader)[1];
    expect(await c.wait(leader.transferLeadership(target.id), 'the transfer')).toBe(target.id);
    const transferred = { id: target.id, term: target.term };
    expectLeader(await c.waitForStableLeader(), transferred);
    const outcome = await ledger.write(c, 'after transfer');
    expect(outcome.result).toBe(`applied:${outcome.text}`);
    // Checked at the call, so no election can slip in between.
    const notLeader = [...c.nodes.values()].find((n) => !n.isLeader())!;
    const error = await c.wait(notLeader.transferLeadership().catch((e: unknown) => e));
    expect(NotLeaderError.isInstance(error)).toBe(true);
  });
}
