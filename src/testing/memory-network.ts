import { createRandom } from '../core/random.js';
import { ConfigError, type ConfigIssue } from '../errors.js';
import type { NodeId, RaftMessage } from '../messages.js';
import type { MessageHandler, Transport } from '../transport/transport.js';

export interface MemoryNetworkOptions {
  /**
   * Seeds every random choice the network makes (drops, duplicates, delays),
   * so a run with the same seed and the same sends makes the same choices.
   * Default 1.
   */
  readonly seed?: number;
}

/** How the network mistreats messages. The default is reliable with no added delay. */
export interface NetworkConditions {
  /** Probability in [0, 1] that a sent message is lost. */
  readonly dropRate: number;
  /** Each delivered message waits a delay drawn uniformly from [minDelayMs, maxDelayMs]. */
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Probability in [0, 1] that a sent message is delivered twice (each copy with its own delay). */
  readonly duplicateRate: number;
}

export interface NetworkStats {
  /** Every `send` call on a live transport. */
  readonly sent: number;
  /** Every message handed to a receiver (a duplicated message counts twice). */
  readonly delivered: number;
  /**
   * Messages lost: to isolation, partitions or cuts (at send or at delivery
   * time), to `dropRate`, or because the receiver had no started transport
   * when the message arrived.
   */
  readonly dropped: number;
  /** `send` calls by message type. */
  readonly byType: Record<string, number>;
}

const DEFAULT_SEED = 1;

const RELIABLE: NetworkConditions = Object.freeze({
  dropRate: 0,
  minDelayMs: 0,
  maxDelayMs: 0,
  duplicateRate: 0,
});

const CONDITION_KEYS: ReadonlySet<string> = new Set(Object.keys(RELIABLE));

/** Wiring between a transport and the network that owns it. */
interface Router {
  send(from: MemoryTransport, message: RaftMessage): void;
}

/** One node's end of a MemoryNetwork. */
class MemoryTransport implements Transport {
  /** Non-null exactly while started and not stopped: what delivery checks. */
  handler: MessageHandler | null = null;
  /** Set once `net.transport(id)` made a newer transport for the same id. */
  replaced = false;
  private stopped = false;

  constructor(
    readonly id: NodeId,
    private readonly router: Router,
  ) {}

  start(onMessage: MessageHandler): void {
    if (this.handler !== null) {
      throw new Error(`MemoryNetwork: the transport of "${this.id}" is already started`);
    }
    // A stopped transport may be started again (a node restarted on the same
    // transport object); a replaced one stays deaf because delivery goes to
    // the newest transport of the id.
    this.stopped = false;
    this.handler = onMessage;
  }

  send(message: RaftMessage): void {
    if (this.stopped || this.replaced) return;
    this.router.send(this, message);
  }

  stop(): void {
    this.stopped = true;
    this.handler = null;
  }
}

/**
 * An in-process network for tests: each node gets a Transport from
 * `net.transport(id)`, and the test cuts links, partitions the cluster, and
 * makes the network lossy, slow, duplicating and reordering.
 *
 * Delivery is always asynchronous, never inside `send`. With no delay,
 * messages are queued and the whole queue is delivered in FIFO order in one
 * `setImmediate` turn (this path carries benchmark traffic, so it costs no
 * timer and no closure per message); delayed messages use timers, and random
 * delays reorder them. Messages are delivered by reference: they are
 * immutable.
 *
 * Connectivity belongs to node ids, not to transports, and is the product of
 * three independent layers; a link from `a` to `b` works only if none of
 * them blocks it:
 * - isolation (`isolate`, `rejoin`): an isolated node reaches nobody and
 *   nobody reaches it;
 * - the partition (`partition`): nodes in different groups cannot talk. A
 *   node named in no group belongs to an implicit extra group of all unnamed
 *   nodes, so it reaches only other unnamed nodes;
 * - one-way cuts (`cut`, `uncut`).
 * A node always reaches itself. `heal()` clears all three layers. A link is
 * checked when a message is sent and again when it is delivered, so cutting a
 * link also loses the messages already in flight on it.
 */
export class MemoryNetwork {
  private readonly random: () => number;
  private readonly transports = new Map<NodeId, MemoryTransport>();
  private conditions: NetworkConditions = RELIABLE;

  private readonly isolated = new Set<NodeId>();
  /** The group of each node named by `partition`; null when there is no partition. */
  private groups: Map<NodeId, number> | null = null;
  /** One-way cuts: from → set of unreachable destinations. */
  private readonly cuts = new Map<NodeId, Set<NodeId>>();
  /** True when no layer blocks anything: the common case, checked first. */
  private fullyConnected = true;

  private sent = 0;
  private delivered = 0;
  private dropped = 0;
  private byType: Record<string, number> = {};

  /** Zero-delay messages awaiting the next flush, with their senders alongside. */
  private queue: RaftMessage[] = [];
  private queueFrom: NodeId[] = [];
  private flushScheduled = false;

  private readonly router: Router = { send: (from, message) => this.route(from.id, message) };

  constructor(options: MemoryNetworkOptions = {}) {
    const seed = options.seed ?? DEFAULT_SEED;
    if (!Number.isSafeInteger(seed)) {
      throw new ConfigError([{ path: 'seed', message: `must be an integer, got ${String(seed)}` }]);
    }
    this.random = createRandom(seed);
  }

  /**
   * The transport of node `id`. Calling it again for the same id (a
   * restarted node) replaces the previous transport, which then neither
   * sends nor receives; the id keeps its isolation, partition group and cuts.
   */
  transport(id: NodeId): Transport {
    if (typeof id !== 'string' || id === '') {
      throw new ConfigError([{ path: 'id', message: 'must be a non-empty string' }]);
    }
    const previous = this.transports.get(id);
    if (previous !== undefined) {
      previous.replaced = true;
      previous.handler = null;
    }
    const transport = new MemoryTransport(id, this.router);
    this.transports.set(id, transport);
    return transport;
  }

  /** Cut every link to and from `id`. */
  isolate(id: NodeId): void {
    this.isolated.add(id);
    this.updateConnectivity();
  }

  /**
   * Lift `id`'s isolation: its links work again, except those to nodes that
   * are themselves isolated (and those still blocked by a partition or cut).
   */
  rejoin(id: NodeId): void {
    this.isolated.delete(id);
    this.updateConnectivity();
  }

  /**
   * Replace the current partition: nodes in different groups cannot talk,
   * and nodes named in no group can reach only one another. `partition()`
   * with no groups removes the partition. A node may appear in one group only.
   */
  partition(...groups: NodeId[][]): void {
    const groupOf = new Map<NodeId, number>();
    const issues: ConfigIssue[] = [];
    groups.forEach((group, g) => {
      group.forEach((id, i) => {
        const earlier = groupOf.get(id);
        if (earlier !== undefined) {
          issues.push({ path: `groups.${g}.${i}`, message: `"${id}" is already in group ${earlier}` });
        } else {
          groupOf.set(id, g);
        }
      });
    });
    if (issues.length > 0) throw new ConfigError(issues);
    this.groups = groups.length === 0 ? null : groupOf;
    this.updateConnectivity();
  }

  /** Remove every partition, isolation and cut. */
  heal(): void {
    this.isolated.clear();
    this.groups = null;
    this.cuts.clear();
    this.updateConnectivity();
  }

  /** Cut the one-way link from `from` to `to` (messages the other way still pass). */
  cut(from: NodeId, to: NodeId): void {
    let targets = this.cuts.get(from);
    if (targets === undefined) {
      targets = new Set();
      this.cuts.set(from, targets);
    }
    targets.add(to);
    this.updateConnectivity();
  }

  /** Restore the one-way link from `from` to `to` cut by `cut`. */
  uncut(from: NodeId, to: NodeId): void {
    const targets = this.cuts.get(from);
    if (targets === undefined) return;
    targets.delete(to);
    if (targets.size === 0) this.cuts.delete(from);
    this.updateConnectivity();
  }

  /**
   * Merge `changes` into the current conditions. Throws one ConfigError
   * listing every bad value, and then changes nothing.
   */
  configure(changes: Partial<NetworkConditions>): void {
    const issues: ConfigIssue[] = [];
    if (typeof changes !== 'object' || changes === null) {
      throw new ConfigError([{ path: '', message: 'must be an object' }]);
    }
    const next: Record<string, number> = { ...this.conditions };
    for (const [key, value] of Object.entries(changes)) {
      if (!CONDITION_KEYS.has(key)) {
        issues.push({ path: key, message: 'is not a network condition' });
        continue;
      }
      if (value === undefined) continue;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        issues.push({ path: key, message: `must be a finite number, got ${String(value)}` });
        continue;
      }
      const isRate = key === 'dropRate' || key === 'duplicateRate';
      if (isRate && (value < 0 || value > 1)) {
        issues.push({ path: key, message: `must be between 0 and 1, got ${value}` });
        continue;
      }
      if (!isRate && value < 0) {
        issues.push({ path: key, message: `must be >= 0, got ${value}` });
        continue;
      }
      next[key] = value;
    }
    if (issues.length === 0 && next.maxDelayMs < next.minDelayMs) {
      issues.push({
        path: 'maxDelayMs',
        message: `must be >= minDelayMs (${next.minDelayMs}), got ${next.maxDelayMs}`,
      });
    }
    if (issues.length > 0) throw new ConfigError(issues);
    this.conditions = Object.freeze(next as unknown as NetworkConditions);
  }

  /** Counters since the network was made. */
  stats(): NetworkStats {
    return {
      sent: this.sent,
      delivered: this.delivered,
      dropped: this.dropped,
      byType: { ...this.byType },
    };
  }

  private updateConnectivity(): void {
    this.fullyConnected = this.isolated.size === 0 && this.groups === null && this.cuts.size === 0;
  }

  private linkUp(from: NodeId, to: NodeId): boolean {
    if (this.fullyConnected || from === to) return true;
    if (this.isolated.has(from) || this.isolated.has(to)) return false;
    if (this.groups !== null && (this.groups.get(from) ?? -1) !== (this.groups.get(to) ?? -1)) {
      return false;
    }
    const cut = this.cuts.get(from);
    return cut === undefined || !cut.has(to);
  }

  private route(from: NodeId, message: RaftMessage): void {
    this.sent++;
    const type = message.type;
    this.byType[type] = (this.byType[type] ?? 0) + 1;
    if (!this.linkUp(from, message.to)) {
      this.dropped++;
      return;
    }
    const { dropRate, duplicateRate } = this.conditions;
    if (dropRate > 0 && this.random() < dropRate) {
      this.dropped++;
      return;
    }
    this.dispatch(from, message);
    if (duplicateRate > 0 && this.random() < duplicateRate) this.dispatch(from, message);
  }

  private dispatch(from: NodeId, message: RaftMessage): void {
    const { minDelayMs, maxDelayMs } = this.conditions;
    const delay = maxDelayMs === minDelayMs ? minDelayMs : minDelayMs + this.random() * (maxDelayMs - minDelayMs);
    if (delay > 0) {
      // Extra setTimeout arguments instead of a closure per message.
      setTimeout(this.deliverOne, delay, from, message);
      return;
    }
    this.queue.push(message);
    this.queueFrom.push(from);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Delivers the zero-delay queue in FIFO order; sends made meanwhile go to the next flush. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const messages = this.queue;
    const froms = this.queueFrom;
    this.queue = [];
    this.queueFrom = [];
    let failed = false;
    let failure: unknown;
    for (let i = 0; i < messages.length; i++) {
      try {
        this.deliver(froms[i], messages[i]);
      } catch (error) {
        // A throwing receiver must not cost the other receivers their messages;
        // its error still surfaces, once the batch is delivered.
        if (!failed) {
          failed = true;
          failure = error;
        }
      }
    }
    if (failed) throw failure;
  };

  private readonly deliverOne = (from: NodeId, message: RaftMessage): void => {
    this.deliver(from, message);
  };

  private deliver(from: NodeId, message: RaftMessage): void {
    const to = message.to;
    const receiver = this.transports.get(to);
    if (!this.linkUp(from, to) || receiver === undefined || receiver.handler === null) {
      this.dropped++;
      return;
    }
    this.delivered++;
    receiver.handler(message);
  }
}
