import type { MessageType } from '../../messages.js';
import { leaderSlot, liveSlots, OP_TIMEOUT_MS, type SimContext, type Slot } from './context.js';
import { between, pick } from './sim-random.js';
import type { SimWrite } from './sim-storage.js';

const HEARTBEATS: readonly MessageType[] = ['Heartbeat', 'HeartbeatResponse'];
const APPENDS: readonly MessageType[] = ['AppendEntries', 'AppendEntriesResponse'];

/**
 * Injects the faults and fault patterns a run has on, at random moments
 * drawn from the seed, and aims some of them at the moments where bugs hide:
 * the leader, a write not yet synced, a leader just elected.
 */
export class FaultInjector {
  constructor(private readonly ctx: SimContext) {}

  /** Sets the network's base conditions and schedules the first fault. */
  start(): void {
    const { ctx } = this;
    const f = ctx.faults;
    ctx.network.faults = { dropRate: 0, duplicateRate: 0, minDelayMs: 0.5, maxDelayMs: f.reorders ? 10 : 0.5 };
    if (ctx.config.patterns.farBehind && ctx.slots.length > 1) {
      ctx.queue.schedule(200 + ctx.random() * 400, () => this.leaveBehind());
    }
    if (!Object.values(f).some((on) => on)) return;
    const tick = (): void => {
      if (!ctx.faultsOn()) return;
      this.injectOne();
      ctx.queue.schedule(ctx.random() * 2 * ctx.config.profile.faultIntervalMs, tick);
    };
    ctx.queue.schedule(200 + ctx.random() * 300, tick);
  }

  /** A leader that dies right after its election leaves its first entries half replicated (Figure 8). */
  leaderElected(slot: Slot): void {
    const { ctx } = this;
    if (!ctx.faultsOn() || !ctx.faults.crashes || ctx.random() >= ctx.config.profile.newLeaderCrashRate) return;
    const node = slot.node;
    ctx.queue.schedule(ctx.random() * 10, () => {
      if (ctx.faultsOn() && slot.node === node) {
        ctx.trace.add(ctx.queue.now, `${slot.id} crashes just after its election`);
        ctx.crashAndRestart(slot);
      }
    });
  }

  /**
   * Sometimes a process dies after a write reached the OS but before its
   * fsync finished. `installing`: the write stores a snapshot the leader sent.
   */
  writing(slot: Slot, syncMs: number, write: SimWrite, installing: boolean): void {
    const { ctx } = this;
    // Where a lost write hurts most, crash more often: a vote (a second vote
    // in one term), a snapshot being installed (the log it replaces), and a
    // snapshot being taken (the compaction that follows it).
    const base = ctx.config.profile.crashBeforeSyncRate;
    const at = write.kind === 'log' ? (write.recordsVote ? 0.25 : 0) : write.kind === 'snapshot' ? 0.05 : 0;
    const rate = Math.max(installing ? 0.25 : at, base);
    if (!ctx.faultsOn() || !ctx.faults.crashes || ctx.random() >= rate) return;
    const node = slot.node;
    const what = write.kind === 'snapshot' ? (installing ? "the leader's snapshot" : 'its snapshot') : write.kind;
    ctx.queue.schedule(ctx.random() * syncMs, () => {
      if (ctx.faultsOn() && slot.node === node && slot.storage.hasUnsyncedWrite()) {
        ctx.trace.add(ctx.queue.now, `${slot.id} crashes between writing ${what} and its fsync`);
        ctx.crashAndRestart(slot);
      }
    });
  }

  private injectOne(): void {
    const { ctx } = this;
    const f = ctx.faults;
    const p = ctx.config.patterns;
    const kinds: (() => void)[] = [() => this.transferLeadership(), () => this.heal()];
    if (f.crashes) kinds.push(() => this.crash());
    if (f.partitions) kinds.push(() => this.partition());
    if (f.oneWayLinks) kinds.push(() => this.cutLink());
    if (f.oneWayLinks && p.linkFlaps) kinds.push(() => this.flapLink());
    if (f.drops && p.heartbeatLoss) kinds.push(() => this.toggleLoss('heartbeats', HEARTBEATS));
    if (f.drops && p.appendLoss) kinds.push(() => this.toggleLoss('appends', APPENDS));
    if (f.drops || f.duplicates || f.reorders) kinds.push(() => this.redrawNetwork());
    if (ctx.config.snapshots !== false) kinds.push(() => this.snapshotNow());
    pick(ctx.random, kinds)();
  }

  /**
   * The far-behind pattern, a cycle of its own beside the other faults: one
   * node is cut off from all the others, through heals and partitions,
   * until another node has compacted its log past what the isolated one
   * has committed (or for at most a few seconds); it rejoins and catches up through a
   * snapshot (§7), and a while later the next one goes. Often the leader,
   * which is first handed a burst of writes it will never commit: the
   * snapshot must then replace that conflicting log (Figure 13).
   */
  private leaveBehind(): void {
    const { ctx } = this;
    if (!ctx.faultsOn()) return;
    const leader = leaderSlot(ctx);
    const slot = leader !== undefined && ctx.random() < 0.4 ? leader : pick(ctx.random, ctx.slots);
    const until = ctx.queue.now + 500 + ctx.random() * 2500;
    ctx.network.isolate(slot.id);
    ctx.trace.add(ctx.queue.now, `${slot.id} isolated`);
    if (slot === leader) ctx.writeBurst(slot, between(ctx.random, 3, 12));
    // Entries past its commit index may be the burst that others never took: they do not count.
    const behind = (): boolean => {
      const held = slot.core?.commitIndex ?? slot.storage.durableHardState().commit;
      return ctx.slots.some((s) => s !== slot && s.core !== null && s.core.firstIndex > held + 1);
    };
    const poll = (): void => {
      if (!ctx.network.isIsolated(slot.id)) return; // the liveness phase ended it
      if (!behind() && ctx.queue.now < until) {
        ctx.queue.schedule(25, poll);
        return;
      }
      ctx.network.rejoin(slot.id);
      ctx.trace.add(ctx.queue.now, `${slot.id} rejoins`);
      ctx.queue.schedule(200 + ctx.random() * 600, () => this.leaveBehind());
    };
    ctx.queue.schedule(100, poll);
  }

  /** Not a fault but a disturbance: a node takes a snapshot now (`node.snapshot()`), whatever its threshold. */
  private snapshotNow(): void {
    const { ctx } = this;
    const live = liveSlots(ctx);
    if (live.length === 0) return;
    const slot = pick(ctx.random, live);
    ctx.trace.add(ctx.queue.now, `${slot.id} is asked for a snapshot`);
    slot.node!.snapshot({ timeoutMs: OP_TIMEOUT_MS }).catch(() => undefined);
  }

  private crash(): void {
    const { ctx } = this;
    const live = liveSlots(ctx);
    if (live.length === 0) return;
    // Bias toward the interesting moments: the leader (to force elections
    // with divergent logs, Figure 8) and a node whose write is not yet
    // synced (a crash between write and fsync).
    const leader = leaderSlot(ctx);
    const writing = live.filter((s) => s.storage.hasUnsyncedWrite());
    const r = ctx.random();
    let slot = pick(ctx.random, live);
    if (r < 0.3 && leader !== undefined) slot = leader;
    else if (r < 0.6 && writing.length > 0) slot = pick(ctx.random, writing);
    ctx.crashAndRestart(slot);
  }

  private partition(): void {
    const { ctx } = this;
    const ids = ctx.slots.map((s) => s.id);
    const leader = leaderSlot(ctx);
    // Often the leader alone: a stale leader that does not know it was
    // replaced is where reads and commits go wrong (thesis §6.4).
    const isolateLeader = ctx.random() < 0.3 && leader !== undefined;
    const a = isolateLeader ? [leader.id] : ids.filter(() => ctx.random() < 0.5);
    const b = ids.filter((id) => !a.includes(id));
    ctx.network.partition([a, b]);
    ctx.trace.add(ctx.queue.now, `partition [${a.join(',')}] | [${b.join(',')}]`);
  }

  private cutLink(): void {
    const { ctx } = this;
    const from = pick(ctx.random, ctx.slots).id;
    const to = pick(ctx.random, ctx.slots).id;
    if (from === to) return;
    ctx.network.block(from, to);
    ctx.trace.add(ctx.queue.now, `cut ${from} -> ${to}`);
  }

  /**
   * Cuts one link, mostly from the leader to a follower, for about the
   * follower's election timeout, then restores it: the follower campaigns,
   * and then hears its leader again while a pre-candidate or candidate of
   * the leader's term.
   */
  private flapLink(): void {
    const { ctx } = this;
    const leader = leaderSlot(ctx);
    const from = leader !== undefined && ctx.random() < 0.7 ? leader : pick(ctx.random, ctx.slots);
    const to = pick(ctx.random, ctx.slots);
    if (from === to || ctx.network.isBlocked(from.id, to.id)) return;
    const forMs = to.electionTimeoutMs.min * to.rate * (0.8 + ctx.random() * 1.2);
    ctx.network.block(from.id, to.id);
    ctx.trace.add(ctx.queue.now, `cut ${from.id} -> ${to.id} for ${forMs.toFixed(1)}ms`);
    ctx.queue.schedule(forMs, () => {
      ctx.network.unblock(from.id, to.id);
      ctx.trace.add(ctx.queue.now, `restore ${from.id} -> ${to.id}`);
    });
  }

  /** Starts or ends a spell in which one kind of message is lost while the others get through. */
  private toggleLoss(what: string, types: readonly MessageType[]): void {
    const { ctx } = this;
    const on = ctx.network.typeDropRate(types[0]) === 0;
    const rate = on ? pick(ctx.random, [0.5, 0.9, 1]) : 0;
    ctx.network.dropTypes(types, rate);
    ctx.trace.add(ctx.queue.now, on ? `${what} lost at rate ${rate}` : `${what} get through again`);
  }

  private transferLeadership(): void {
    const { ctx } = this;
    // Not a fault but a disturbance: a leader hands over to a random voter (thesis §3.10).
    const leader = leaderSlot(ctx);
    if (leader === undefined) return;
    const to = ctx.slots[between(ctx.random, 0, ctx.slots.length)].id;
    ctx.trace.add(ctx.queue.now, `${leader.id} transfers leadership to ${to}`);
    leader.node!.transferLeadership(to, { timeoutMs: OP_TIMEOUT_MS }).catch(() => undefined);
  }

  private heal(): void {
    this.ctx.network.heal();
    this.ctx.trace.add(this.ctx.queue.now, 'heal');
  }

  private redrawNetwork(): void {
    const { ctx } = this;
    const f = ctx.faults;
    const n = ctx.network.faults;
    n.dropRate = f.drops ? ctx.random() * 0.2 : 0;
    n.duplicateRate = f.duplicates ? ctx.random() * 0.1 : 0;
    n.maxDelayMs = f.reorders ? 0.5 + ctx.random() * 40 : 0.5;
    ctx.trace.add(
      ctx.queue.now,
      `network drop=${n.dropRate.toFixed(3)} dup=${n.duplicateRate.toFixed(3)} delay<=${n.maxDelayMs.toFixed(1)}ms`,
    );
  }
}
