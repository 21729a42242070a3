import type { Raft } from '../../core/raft.js';
import type { NodeId } from '../../messages.js';
import type { RaftNode } from '../../node.js';
import type { EventQueue } from './event-queue.js';
import type { Violation } from './invariants.js';
import type { KvState } from './kv.js';
import type { NodeClock } from './node-clock.js';
import type { ServerView } from './rule-checker.js';
import type { SimNetwork } from './sim-network.js';
import type { FaultOptions, RunConfig } from './sim-options.js';
import type { Random } from './sim-random.js';
import type { SimStorage } from './sim-storage.js';
import type { Trace } from './trace.js';

/** One simulated server: its disk outlives its processes; the rest is one process lifetime, null while down. */
export interface Slot extends ServerView {
  readonly id: NodeId;
  readonly storage: SimStorage;
  /** Clock rate (drift): timers fire this many times later in global virtual time. */
  readonly rate: number;
  readonly electionTimeoutMs: { readonly min: number; readonly max: number };
  node: RaftNode | null;
  core: Raft | null;
  clock: NodeClock | null;
  detach: (() => void) | null;
  kv: KvState | null;
  /** Client operations waiting on this process; resolved as unknown if it crashes. */
  readonly inflight: Set<() => void>;
}

/** What the fault injector and the workload share with the simulator's run loop. */
export interface SimContext {
  readonly queue: EventQueue;
  readonly random: Random;
  readonly network: SimNetwork;
  readonly trace: Trace;
  readonly slots: readonly Slot[];
  readonly config: RunConfig;
  readonly faults: FaultOptions;
  /** False once the liveness phase has begun: no new faults, no bursts. */
  faultsOn(): boolean;
  /** Kills the slot's process and schedules its restart. */
  crashAndRestart(slot: Slot): void;
  /** Sends `size` writes to the slot's node at once, as clients that believe it leads. */
  writeBurst(slot: Slot, size: number): void;
  /** Reports a violation (the first one is kept). */
  fail(v: Violation | null): void;
}

/** How long a client waits for any operation. */
export const OP_TIMEOUT_MS = 2000;

export function liveSlots(ctx: SimContext): Slot[] {
  return ctx.slots.filter((s) => s.node !== null);
}

export function leaderSlot(ctx: SimContext): Slot | undefined {
  return ctx.slots.find((s) => s.node?.isLeader() === true);
}
