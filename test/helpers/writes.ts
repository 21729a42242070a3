import { expect } from 'vitest';
import { LeadershipLostError, NotLeaderError } from '../../src/errors.js';
import type { RaftNode } from '../../src/node.js';
import { type AppliedRecord, encode, type TestCluster } from './cluster.js';

type ProposeOutcome = Awaited<ReturnType<RaftNode['propose']>>;

export interface AcknowledgedWrite {
  readonly text: string;
  readonly index: number;
  readonly term: number;
  readonly result: unknown;
}

/**
 * Writes into a TestCluster, and what is needed to judge the state machines
 * afterwards even if leadership moved meanwhile (on real timers, a loaded
 * machine can cost a leader its term at any moment).
 *
 * A write refused with NotLeaderError appended nothing; one rejected with
 * LeadershipLostError may still commit (its outcome is unknown). Either way
 * `write` tries again at the leader of the moment, under a new text, so a
 * write is never applied twice. `expectApplied` then checks what must hold
 * whatever happened: every acknowledged write applied exactly at its index,
 * nothing applied twice, nothing applied that nobody wrote. When no write
 * had to be retried that is exactly "the acknowledged writes, in order".
 */
export class WriteLedger {
  private readonly attempted = new Set<string>();
  readonly acknowledged: AcknowledgedWrite[] = [];
  /** Attempts that were refused or whose outcome is unknown. */
  readonly refused: string[] = [];

  /**
   * Proposes every text on `node` at once (one caller), and waits for all of
   * them. Each resolves to its acknowledgement, or to null when leadership
   * was missing or lost; any other error rejects.
   */
  async proposeAll(
    cluster: TestCluster,
    node: RaftNode,
    texts: readonly string[],
  ): Promise<(AcknowledgedWrite | null)[]> {
    for (const text of texts) this.attempted.add(text);
    const settled = await cluster.wait(
      Promise.allSettled(texts.map((text) => node.propose(encode(text)))),
      `${texts.length} proposal(s) on ${node.id} to settle`,
    );
    return settled.map((result, i) => this.record(texts[i], result));
  }

  /** Proposes one text on `node`: its acknowledgement, or null when leadership was missing or lost. */
  async propose(cluster: TestCluster, node: RaftNode, text: string): Promise<AcknowledgedWrite | null> {
    return (await this.proposeAll(cluster, node, [text]))[0];
  }

  /** Writes `text` through the leader agreed on by `among` (default: every running node), retrying a few times. */
  async write(cluster: TestCluster, text: string, among?: readonly string[]): Promise<AcknowledgedWrite> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const leader = await cluster.waitForStableLeader(among);
      const written = await this.propose(cluster, leader, attempt === 0 ? text : `${text} (attempt ${attempt + 1})`);
      if (written !== null) return written;
    }
    throw new Error(`"${text}" was refused 5 times: ${this.refused.join(', ')}`);
  }

  private record(text: string, result: PromiseSettledResult<ProposeOutcome>): AcknowledgedWrite | null {
    if (result.status === 'fulfilled') {
      const { index, term, result: applied } = result.value;
      const write = { text, index, term, result: applied };
      this.acknowledged.push(write);
      return write;
    }
    const error: unknown = result.reason;
    if (!NotLeaderError.isInstance(error) && !LeadershipLostError.isInstance(error)) throw error;
    this.refused.push(text);
    return null;
  }

  /** Asserts what one node's state machine applied (see the class comment). */
  expectApplied(records: readonly AppliedRecord[], who: string): void {
    const texts = records.map((r) => r.text);
    expect(new Set(texts).size, `${who} applied a write twice: ${texts.join(', ')}`).toBe(texts.length);
    expect(
      texts.filter((t) => !this.attempted.has(t)),
      `${who} applied writes nobody made`,
    ).toEqual([]);
    const indexes = records.map((r) => r.index);
    expect(indexes, `${who} applied out of log order`).toEqual([...indexes].sort((x, y) => x - y));
    const atIndex = new Map(records.map((r) => [r.index, r.text]));
    expect(
      this.acknowledged.map((w) => atIndex.get(w.index)),
      `${who}: the acknowledged writes at their indexes`,
    ).toEqual(this.acknowledged.map((w) => w.text));
  }
}
