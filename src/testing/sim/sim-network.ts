import type { MessageType, NodeId, RaftMessage } from '../../messages.js';
import type { MessageHandler, Transport } from '../../transport/transport.js';
import type { EventQueue } from './event-queue.js';

export interface SimNetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Each copy is delayed uniformly in [minDelayMs, maxDelayMs]; different delays reorder. */
  minDelayMs: number;
  maxDelayMs: number;
}

/**
 * The simulator's network: every message is an event on the virtual-time
 * queue, and every fault decision comes from the simulator's seeded PRNG.
 * Links are directed, so one-way partitions are possible, and losses can
 * single out message types (heartbeats lost while appends get through).
 */
export class SimNetwork {
  faults: SimNetworkFaults = { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 1 };
  private readonly handlers = new Map<NodeId, MessageHandler>();
  private readonly blocked = new Set<string>();
  /** Nodes cut off from every other, whatever partitions come and go (see `isolate`). */
  private readonly isolated = new Set<NodeId>();
  /** Loss rates for single message types, on top of `faults.dropRate`. */
  private readonly typeDrops = new Map<MessageType, number>();
  sent = 0;
  delivered = 0;
  dropped = 0;
  /** InstallSnapshot chunks handed to the network. */
  chunksSent = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly random: () => number,
    /** Called after the receiver stepped the message, for invariant checks. */
    private readonly onDelivered: (message: RaftMessage) => void,
    /** Called when a live process hands a message to the network (it has left the sender), for invariant checks. */
    private readonly onSent: (message: RaftMessage) => void = () => undefined,
  ) {}

  /** A transport for one process lifetime of `id`; `detach()` models the process dying. */
  transport(id: NodeId): Transport & { detach(): void } {
    let handler: MessageHandler | null = null;
    let attached = true;
    return {
      start: (onMessage) => {
        if (!attached) return;
        handler = onMessage;
        this.handlers.set(id, onMessage);
      },
      send: (message) => {
        if (attached && handler !== null) this.send(message);
      },
      stop: () => {
        if (handler !== null && this.handlers.get(id) === handler) this.handlers.delete(id);
        handler = null;
      },
      detach: () => {
        attached = false;
        if (handler !== null && this.handlers.get(id) === handler) this.handlers.delete(id);
        handler = null;
      },
    };
  }

  block(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  unblock(from: NodeId, to: NodeId): void {
    this.blocked.delete(`${from}>${to}`);
  }

  /** Loses messages of `types` at `rate` (0 restores them), whatever the general loss rate. */
  dropTypes(types: readonly MessageType[], rate: number): void {
    for (const t of types) {
      if (rate > 0) this.typeDrops.set(t, rate);
      else this.typeDrops.delete(t);
    }
  }

  /** The loss rate set for `type` alone, 0 if none. */
  typeDropRate(type: MessageType): number {
    return this.typeDrops.get(type) ?? 0;
  }

  /** Splits `ids` into `groups`: no link between different groups, both ways. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.block(x, y);
      }
    }
  }

  /** Heals every partition and cut link; isolated nodes stay isolated until `rejoin`. */
  heal(): void {
    this.blocked.clear();
  }

  /** Cuts `id` off from every other node, both ways, until `rejoin(id)`: a heal in between does not end it. */
  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  /** Ends an isolation; pass no id to end them all. */
  rejoin(id?: NodeId): void {
    if (id === undefined) this.isolated.clear();
    else this.isolated.delete(id);
  }

  isIsolated(id: NodeId): boolean {
    return this.isolated.has(id);
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(`${from}>${to}`) || this.isolated.has(from) || this.isolated.has(to);
  }

  describeLinks(): string {
    const cut = [...[...this.blocked].sort(), ...[...this.isolated].sort().map((id) => `${id}:isolated`)];
    return cut.length === 0 ? 'all links up' : `blocked ${cut.join(' ')}`;
  }

  private send(message: RaftMessage): void {
    this.sent++;
    if (message.type === 'InstallSnapshot') this.chunksSent++;
    this.onSent(message);
    const f = this.faults;
    const dropRate = this.typeDrops.size === 0 ? f.dropRate : Math.max(f.dropRate, this.typeDropRate(message.type));
    if (this.isBlocked(message.from, message.to) || this.random() < dropRate) {
      this.dropped++;
      return;
    }
    const copies = this.random() < f.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = f.minDelayMs + this.random() * (f.maxDelayMs - f.minDelayMs);
      this.queue.schedule(delay, () => this.deliver(message));
    }
  }

  private deliver(message: RaftMessage): void {
    const handler = this.handlers.get(message.to);
    if (handler === undefined || this.isBlocked(message.from, message.to)) {
      this.dropped++;
      return;
    }
    this.delivered++;
    handler(message);
    this.onDelivered(message);
  }
}
