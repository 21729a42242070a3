/**
 * A steady stream of writes into a ProcessCluster, with the bookkeeping to
 * prove afterwards that none was lost: every write is a unique string, and
 * every one whose propose resolved ("acknowledged") must be found when the
 * nodes' state machines are read back.
 */
import { NodeRequestError, type ProcessCluster } from './process-cluster.js';

export interface Ack {
  readonly seq: number;
  readonly index: number;
  readonly term: number;
  readonly leader: string;
  /** performance.now() when the acknowledgement arrived. */
  readonly at: number;
}

export interface Verification {
  /** Acknowledged writes missing from some node's state machine (must be 0). */
  readonly lost: number;
  /** The first few lost writes, for the report. */
  readonly lostExamples: readonly string[];
  /** Writes applied on the leader (acknowledged, plus any of unknown outcome that did commit). */
  readonly applied: number;
  /** Every node applied the same writes in the same order. */
  readonly identical: boolean;
  /** No write was applied twice. */
  readonly noDuplicates: boolean;
  /** Which node read what, for the report. */
  readonly perNode: Readonly<Record<string, number>>;
}

export class WriteLoad {
  readonly acks: Ack[] = [];
  /** Writes whose outcome is unknown (the leader died or lost leadership meanwhile): they may or may not have committed. */
  unknown = 0;
  private next = 0;
  private running = false;
  private workers: Promise<void>[] = [];
  private listeners: ((ack: Ack) => void)[] = [];

  constructor(
    private readonly cluster: ProcessCluster,
    private readonly concurrency = 8,
    /** Pause between one worker's writes; 0 writes as fast as the cluster commits. */
    private readonly pauseMs = 0,
  ) {}

  get acknowledged(): number {
    return this.acks.length;
  }

  start(): void {
    this.running = true;
    this.workers = Array.from({ length: this.concurrency }, () => this.work());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  /** Resolves with the first acknowledgement that satisfies `predicate`. */
  nextAck(predicate: (ack: Ack) => boolean): Promise<Ack> {
    return new Promise((resolve) => {
      const listener = (ack: Ack) => {
        if (!predicate(ack)) return;
        this.listeners = this.listeners.filter((l) => l !== listener);
        resolve(ack);
      };
      this.listeners.push(listener);
    });
  }

  private async work(): Promise<void> {
    while (this.running) {
      const seq = this.next++;
      try {
        const { index, term, leader } = await this.cluster.propose(`w${seq}`);
        const ack: Ack = { seq, index, term, leader, at: performance.now() };
        this.acks.push(ack);
        for (const listener of [...this.listeners]) listener(ack);
        if (this.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.pauseMs));
      } catch (error) {
        // NOT_LEADER/NO_LEADER past the deadline: never appended. Anything else: unknown.
        const code = error instanceof NodeRequestError ? error.code : 'ERROR';
        if (code !== 'NOT_LEADER' && code !== 'NO_LEADER') this.unknown++;
        if (!this.running) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }

  /**
   * Reads every running node's state machine through a linearizable read
   * (readIndex: it returns once the node applied everything committed when
   * the read began) and checks that each holds every acknowledged write,
   * that they all hold the same writes in the same order, and that no write
   * was applied twice. Call after stop(), with every node running.
   */
  async verify(ids: readonly string[]): Promise<Verification> {
    const reads = new Map<string, readonly string[]>();
    for (const id of ids) {
      const { applied } = await this.readBack(id);
      reads.set(id, applied);
    }
    const lists = [...reads.values()];
    const reference = lists[0] ?? [];
    const identical = lists.every((l) => l.length === reference.length && l.every((w, i) => w === reference[i]));
    const lostSeqs = new Set<number>();
    for (const list of lists) {
      const present = new Set(list);
      for (const ack of this.acks) if (!present.has(`w${ack.seq}`)) lostSeqs.add(ack.seq);
    }
    return {
      lost: lostSeqs.size,
      lostExamples: [...lostSeqs].slice(0, 5).map((s) => `w${s}`),
      applied: reference.length,
      identical,
      noDuplicates: lists.every((l) => new Set(l).size === l.length),
      perNode: Object.fromEntries([...reads].map(([id, l]) => [id, l.length])),
    };
  }

  private async readBack(id: string): Promise<{ applied: readonly string[] }> {
    // A read can fail while an election settles; it is safe to retry.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.cluster.request<{ applied: string[] }>(id, { op: 'read' });
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}
