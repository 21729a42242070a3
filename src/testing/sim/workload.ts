import { NotLeaderError } from '../../errors.js';
import type { NodeId } from '../../messages.js';
import type { RaftNode } from '../../node.js';
import type { KvInput, KvOperation, KvOutput } from '../linearizability.js';
import { liveSlots, OP_TIMEOUT_MS, type SimContext, type Slot } from './context.js';
import { encodeKvWrite, type KvWrite } from './kv.js';
import type { RuleChecker } from './rule-checker.js';
import { between, pick } from './sim-random.js';

interface Client {
  readonly id: number | string;
  leaderHint: NodeId | null;
  next: number;
  /** Reads only, through any node (the roaming reader). */
  readonly roams?: boolean;
}

const KEYS = ['x', 'y', 'z'];

/**
 * The key-value clients: each runs one operation at a time (put, append or
 * a ReadIndex read) against the node it believes leads, and records the
 * history the linearizability check reads at the end. With the burst
 * pattern, each new leader also receives a volley of writes right after its
 * election, while its first entry is still uncommitted.
 */
export class Workload {
  readonly history: KvOperation[] = [];
  burstProposals = 0;
  private bursts = 0;

  constructor(
    private readonly ctx: SimContext,
    private readonly rules: RuleChecker,
    /** The highest index known committed anywhere, as of the last check. */
    private readonly committedIndex: () => number,
  ) {}

  start(clients: number): void {
    for (let c = 0; c < clients; c++) this.loop({ id: c, leaderHint: null, next: 0 });
    if (this.ctx.config.patterns.roamingReader) this.loop({ id: 'reader', leaderHint: null, next: 0, roams: true });
  }

  /** A new leader was seen: with the burst pattern, a volley of writes reaches it within a few milliseconds. */
  leaderElected(slot: Slot): void {
    const { ctx } = this;
    if (!ctx.config.patterns.proposalBursts || !ctx.faultsOn() || ctx.random() >= 0.7) return;
    this.burst(slot, between(ctx.random, 2, 12), true);
  }

  /**
   * A volley of `size` writes reaches the slot's node within a few
   * milliseconds, from clients that believe it leads. `counted`: a burst to
   * a new leader (the burst pattern), counted in `burstProposals`.
   */
  burst(slot: Slot, size: number, counted = false): void {
    const { ctx } = this;
    const node = slot.node;
    const burst = ++this.bursts;
    ctx.queue.schedule(ctx.random() * 5, () => {
      if (!ctx.faultsOn() || slot.node !== node || node === null) return;
      ctx.trace.add(ctx.queue.now, `burst of ${size} proposals to ${slot.id}`);
      for (let i = 0; i < size; i++) {
        if (counted) this.burstProposals++;
        const client: Client = { id: `b${burst}.${i}`, leaderHint: slot.id, next: 0 };
        this.write(client, slot, node, pick(ctx.random, KEYS), () => undefined);
      }
    });
  }

  private loop(client: Client): void {
    this.ctx.queue.schedule(this.ctx.random() * 30, () => this.operation(client));
  }

  private pickNode(client: Client): Slot | null {
    const { ctx } = this;
    const hinted = ctx.slots.find((s) => s.id === client.leaderHint && s.node !== null);
    if (hinted !== undefined && ctx.random() < 0.8 && client.roams !== true) return hinted;
    const live = liveSlots(ctx);
    return live.length === 0 ? null : pick(ctx.random, live);
  }

  private operation(client: Client): void {
    const slot = this.pickNode(client);
    if (slot === null || slot.node === null) {
      this.loop(client);
      return;
    }
    const key = pick(this.ctx.random, KEYS);
    const next = (): void => this.loop(client);
    if (this.ctx.random() < 0.6 && client.roams !== true) this.write(client, slot, slot.node, key, next);
    else this.read(client, slot, slot.node, key, next);
  }

  /**
   * Watches an operation on `slot`'s process: `onCrash` runs if the process
   * dies before `finish()` (its outcome is then unknown to the client), and
   * `settled()` tells a late answer that the operation is already over.
   */
  private track(slot: Slot, onCrash: () => void): { settled: () => boolean; finish: () => void } {
    let settled = false;
    const crash = (): void => {
      if (!settled) onCrash();
    };
    slot.inflight.add(crash);
    return {
      settled: () => settled,
      finish: () => {
        settled = true;
        slot.inflight.delete(crash);
      },
    };
  }

  private write(client: Client, slot: Slot, node: RaftNode, key: string, done: () => void): void {
    const { ctx } = this;
    const value = `${client.id}.${client.next++}`;
    const write: KvWrite =
      ctx.random() < 0.5 ? { kind: 'put', key, value } : { kind: 'append', key, value: `<${value}>` };
    const call = ctx.queue.now;
    const record = (output: KvOutput | null, ret: number): void => {
      this.history.push({ client: client.id, input: write, call, return: ret, output });
      const outcome = output === null ? 'unknown' : 'ok';
      ctx.trace.add(
        ctx.queue.now,
        `client ${client.id} ${write.kind} ${key}=${write.value} via ${slot.id}: ${outcome}`,
      );
    };
    const op = this.track(slot, () => {
      record(null, Infinity);
      op.finish();
      done();
    });
    node.propose(encodeKvWrite(write), { timeoutMs: OP_TIMEOUT_MS }).then(
      () => {
        if (op.settled()) return;
        record({ kind: write.kind } as KvOutput, ctx.queue.now);
        op.finish();
        done();
      },
      (error: unknown) => {
        if (op.settled()) return;
        // A NotLeaderError came before anything was appended: the write did not happen.
        if (NotLeaderError.isInstance(error)) client.leaderHint = (error as NotLeaderError).leaderId;
        else record(null, Infinity);
        op.finish();
        done();
      },
    );
  }

  private read(client: Client, slot: Slot, node: RaftNode, key: string, done: () => void): void {
    const { ctx } = this;
    const input: KvInput = { kind: 'get', key };
    const call = ctx.queue.now;
    const committedAtCall = this.committedIndex();
    const op = this.track(slot, () => {
      op.finish();
      done();
    });
    node.readIndex({ timeoutMs: OP_TIMEOUT_MS }).then(
      (index) => {
        if (op.settled()) return;
        op.finish();
        done();
        ctx.fail(this.rules.readReturned(slot.id, index, committedAtCall));
        if (slot.node !== node || slot.kv === null) return;
        const value = slot.kv.get(key);
        this.history.push({ client: client.id, input, call, return: ctx.queue.now, output: { kind: 'get', value } });
        ctx.trace.add(ctx.queue.now, `client ${client.id} get ${key} via ${slot.id} = ${value ?? 'null'}`);
      },
      (error: unknown) => {
        if (op.settled()) return;
        if (NotLeaderError.isInstance(error)) client.leaderHint = (error as NotLeaderError).leaderId;
        op.finish(); // a failed read has no effect
        done();
      },
    );
  }
}
