/**
 * Test harness for the pure Raft core: builds cores, drains their Ready
 * output with instant "persistence", builds messages by hand, and passes
 * messages between several cores with partitions and filters. No timers:
 * time moves only when a test calls `tick()`.
 */
import { Raft } from '../../src/core/raft.js';
import { createRandom } from '../../src/core/random.js';
import type { PlantedBugs, RaftConfig, Ready, ReadState, StoredState } from '../../src/core/types.js';
import type {
  AppendEntries,
  AppendEntriesResponse,
  Entry,
  EntryType,
  Heartbeat,
  HeartbeatResponse,
  MessageType,
  NodeId,
  RaftMessage,
  ReadIndexRequest,
  RequestVote,
  RequestVoteResponse,
  Snapshot,
} from '../../src/messages.js';

export const ELECTION_TICKS_MIN = 10;
export const ELECTION_TICKS_MAX = 20;

export interface RaftOptions {
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly electionTicksMin?: number;
  readonly electionTicksMax?: number;
  readonly heartbeatTicks?: number;
  readonly maxInflightMessages?: number;
  readonly maxEntriesPerAppend?: number;
  readonly maxBytesPerAppend?: number;
  readonly snapshotChunkBytes?: number;
  /** Mixed with the node id, so that nodes of one cluster draw different timeouts. */
  readonly seed?: number;
  /** Stored state the core starts from (a restarted node). */
  readonly term?: number;
  readonly vote?: NodeId | null;
  readonly commit?: number;
  readonly log?: readonly Entry[];
  /** A stored snapshot; `log` then starts just after it. */
  readonly snapshot?: Snapshot;
  readonly plantedBugs?: PlantedBugs;
}

function hashId(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619) >>> 0;
  return h;
}

export function config(id: NodeId, voters: readonly NodeId[], opts: RaftOptions = {}): RaftConfig {
  const seed = (Math.imul(opts.seed ?? 1, 0x9e3779b1) ^ hashId(id)) >>> 0;
  return {
    id,
    voters,
    electionTicksMin: opts.electionTicksMin ?? ELECTION_TICKS_MIN,
    electionTicksMax: opts.electionTicksMax ?? ELECTION_TICKS_MAX,
    heartbeatTicks: opts.heartbeatTicks ?? 1,
    preVote: opts.preVote ?? false,
    checkQuorum: opts.checkQuorum ?? false,
    maxInflightMessages: opts.maxInflightMessages ?? 256,
    maxEntriesPerAppend: opts.maxEntriesPerAppend ?? 1000,
    maxBytesPerAppend: opts.maxBytesPerAppend ?? 1 << 20,
    snapshotChunkBytes: opts.snapshotChunkBytes ?? 1 << 20,
    random: createRandom(seed),
    ...(opts.plantedBugs ? { plantedBugs: opts.plantedBugs } : {}),
  };
}

export function stored(opts: RaftOptions = {}): StoredState {
  return {
    hardState: { term: opts.term ?? 0, vote: opts.vote ?? null, commit: opts.commit ?? 0 },
    entries: opts.log ?? [],
    snapshot: opts.snapshot ?? null,
  };
}

export function newRaft(id: NodeId, voters: readonly NodeId[], opts: RaftOptions = {}): Raft {
  return new Raft(config(id, voters, opts), stored(opts));
}

/** Takes the Ready and acknowledges it at once, as if persisting and applying were instant. */
export function drain(r: Raft): Ready {
  const rd = r.ready();
  r.advance(rd);
  return rd;
}

/** Every message of a Ready, the ones to send now and the ones sent after persisting. */
export function readyMessages(rd: Ready): RaftMessage[] {
  return [...rd.messages, ...rd.messagesAfterPersist];
}

/** Drains the core and returns all the messages it wanted sent. */
export function msgs(r: Raft): RaftMessage[] {
  return readyMessages(drain(r));
}

export type MessageOf<T extends MessageType> = Extract<RaftMessage, { type: T }>;

/** The messages of one type, optionally only those to one node. */
export function ofType<T extends MessageType>(ms: readonly RaftMessage[], type: T, to?: NodeId): MessageOf<T>[] {
  return ms.filter((m): m is MessageOf<T> => m.type === type && (to === undefined || m.to === to));
}

export function entry(index: number, term: number, type: EntryType = 'normal', data?: Uint8Array): Entry {
  return { index, term, type, data: data ?? new Uint8Array([index & 0xff]) };
}

/** A log starting at index 1 whose entries have the given terms (Figure 7 style). */
export function logOfTerms(terms: readonly number[]): Entry[] {
  return terms.map((t, i) => entry(i + 1, t));
}

/** A log of `count` entries of `term`, starting at `from`. */
export function run(from: number, count: number, term: number): Entry[] {
  return Array.from({ length: count }, (_, i) => entry(from + i, term));
}

/** The terms of a core's whole log, index 1 first. */
export function termsOf(r: Raft): number[] {
  return r.entries(1, r.lastIndex + 1).map((e) => e.term);
}

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

// ---- hand-built messages ----------------------------------------------------

export function appendEntries(
  p: Pick<AppendEntries, 'from' | 'to' | 'term'> & Partial<Omit<AppendEntries, 'type'>>,
): AppendEntries {
  return {
    type: 'AppendEntries',
    prevLogIndex: 0,
    prevLogTerm: 0,
    entries: [],
    leaderCommit: 0,
    ...p,
  };
}

export function appendResponse(
  p: Pick<AppendEntriesResponse, 'from' | 'to' | 'term' | 'success'> & Partial<Omit<AppendEntriesResponse, 'type'>>,
): AppendEntriesResponse {
  return { type: 'AppendEntriesResponse', matchIndex: 0, rejectedIndex: 0, hintIndex: 0, hintTerm: 0, ...p };
}

export function requestVote(
  p: Pick<RequestVote, 'from' | 'to' | 'term'> & Partial<Omit<RequestVote, 'type'>>,
): RequestVote {
  return { type: 'RequestVote', lastLogIndex: 0, lastLogTerm: 0, preVote: false, transfer: false, ...p };
}

export function voteResponse(
  p: Pick<RequestVoteResponse, 'from' | 'to' | 'term' | 'granted'> & Partial<Omit<RequestVoteResponse, 'type'>>,
): RequestVoteResponse {
  return { type: 'RequestVoteResponse', preVote: false, ...p };
}

export function heartbeat(p: Pick<Heartbeat, 'from' | 'to' | 'term'> & Partial<Omit<Heartbeat, 'type'>>): Heartbeat {
  return { type: 'Heartbeat', commit: 0, readSeq: 0, ...p };
}

export function heartbeatResponse(
  p: Pick<HeartbeatResponse, 'from' | 'to' | 'term'> & Partial<Omit<HeartbeatResponse, 'type'>>,
): HeartbeatResponse {
  return { type: 'HeartbeatResponse', readSeq: 0, ...p };
}

export function readIndexRequest(p: Pick<ReadIndexRequest, 'from' | 'to' | 'term' | 'ctx'>): ReadIndexRequest {
  return { type: 'ReadIndex', ...p };
}

/**
 * Drives one isolated core to leadership by answering its (pre-)vote
 * requests with grants, and returns every message it emitted since it
 * became leader (the drained output is already advanced).
 */
export function makeLeader(r: Raft): RaftMessage[] {
  const isLeader = () => r.role === 'leader';
  if (!isLeader()) r.campaign();
  for (let round = 0; round < 3 && !isLeader(); round++) {
    const requests = ofType(msgs(r), 'RequestVote');
    for (const m of requests) {
      if (isLeader()) break;
      r.step(voteResponse({ from: m.to, to: r.id, term: m.term, granted: true, preVote: m.preVote }));
    }
  }
  if (!isLeader()) throw new Error(`${r.id} did not become leader (role ${r.role})`);
  return msgs(r);
}

// ---- the network ----------------------------------------------------------

/** Returns true for a message that must be dropped. */
export type DropRule = (m: RaftMessage) => boolean;

/**
 * A tiny in-process network of cores. Delivery is synchronous and in FIFO
 * order; `stabilize()` passes messages until nobody has anything to say.
 * Every drained Ready is recorded: messages sent, entries applied, reads.
 */
export class Network {
  readonly nodes = new Map<NodeId, Raft>();
  /** committedEntries handed out per node, in the order received. */
  readonly applied = new Map<NodeId, Entry[]>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  /** Snapshots handed out for installing (Ready.snapshot) per node. */
  readonly installed = new Map<NodeId, Snapshot[]>();
  /** Every message emitted by any core (drained from a Ready). */
  readonly sent: RaftMessage[] = [];
  /** Every message stepped into a core. */
  readonly delivered: RaftMessage[] = [];
  /** Every message lost to isolation, cuts, drop rules or an unknown recipient. */
  readonly dropped: RaftMessage[] = [];
  /** Every node seen in the leader role, per term (Election Safety: at most one). */
  readonly leadersByTerm = new Map<number, Set<NodeId>>();
  private pending: RaftMessage[] = [];
  private readonly isolated = new Set<NodeId>();
  private readonly cuts = new Set<string>();
  private readonly rules = new Set<DropRule>();
  private readonly options = new Map<NodeId, RaftOptions>();
  /** The newest snapshot each node stored, for restarts. */
  private readonly snapshots = new Map<NodeId, Snapshot>();

  constructor(rafts: readonly Raft[]) {
    for (const r of rafts) {
      this.nodes.set(r.id, r);
      this.applied.set(r.id, []);
      this.readStates.set(r.id, []);
      this.observe(r.id);
    }
  }

  /** A cluster of fresh cores; `opts` may differ per node. */
  static create(ids: readonly NodeId[], opts: RaftOptions | ((id: NodeId) => RaftOptions) = {}): Network {
    const optionsOf = (id: NodeId) => (typeof opts === 'function' ? opts(id) : opts);
    const net = new Network(ids.map((id) => newRaft(id, ids, optionsOf(id))));
    for (const id of ids) net.options.set(id, optionsOf(id));
    return net;
  }

  /**
   * Crash and restart a node: a new core built from what the old one had
   * persisted (term, vote, commit, log — everything, since `drain` persists
   * at once) with the same options. Its state machine starts empty.
   */
  restart(id: NodeId, opts: RaftOptions = this.options.get(id) ?? {}): Raft {
    const old = this.node(id);
    const voters = old.status().voters;
    const r = newRaft(id, voters, {
      ...opts,
      term: old.term,
      vote: old.vote,
      commit: old.commitIndex,
      log: old.entries(old.snapshotIndex + 1, old.lastIndex + 1),
      snapshot: this.snapshots.get(id),
    });
    this.nodes.set(id, r);
    this.applied.set(id, []);
    this.readStates.set(id, []);
    return r;
  }

  get ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  node(id: NodeId): Raft {
    const r = this.nodes.get(id);
    if (!r) throw new Error(`no node ${id}`);
    return r;
  }

  /**
   * The shell's part of a local snapshot (§7): the snapshot of node `id` at
   * its applied index is "stored", and its log compacted through
   * `compactThrough` (default: the snapshot's index). Returns the snapshot.
   */
  takeSnapshot(id: NodeId, data: Uint8Array, compactThrough?: number): Snapshot {
    const r = this.node(id);
    const index = r.status().appliedIndex;
    const snapshot: Snapshot = { index, term: r.termAt(index), voters: r.voters, learners: [], data };
    r.snapshotTaken(snapshot, compactThrough ?? index);
    this.snapshots.set(id, snapshot);
    return snapshot;
  }

  /** Cut every link of one node. */
  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  rejoin(id: NodeId): void {
    this.isolated.delete(id);
  }

  /** Cut the link between two nodes, both ways. */
  cut(a: NodeId, b: NodeId): void {
    this.cuts.add(`${a}\u0000${b}`);
    this.cuts.add(`${b}\u0000${a}`);
  }

  /** Drop every message matching `rule` until the returned function is called (or `heal`). */
  drop(rule: DropRule): () => void {
    this.rules.add(rule);
    return () => this.rules.delete(rule);
  }

  /** Remove every isolation, cut and drop rule. */
  heal(): void {
    this.isolated.clear();
    this.cuts.clear();
    this.rules.clear();
  }

  blocked(m: RaftMessage): boolean {
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return true;
    if (this.cuts.has(`${m.from}\u0000${m.to}`)) return true;
    for (const rule of this.rules) if (rule(m)) return true;
    return false;
  }

  /** Drains one core (instant persistence), records what it produced and returns its messages unsent. */
  drainNode(id: NodeId): RaftMessage[] {
    const rd = drain(this.node(id));
    if (rd.snapshot !== null) {
      this.installed.set(id, [...(this.installed.get(id) ?? []), rd.snapshot]);
      this.snapshots.set(id, rd.snapshot);
      // The state machine is replaced by the snapshot's.
      this.applied.set(id, []);
    }
    this.applied.get(id)!.push(...rd.committedEntries);
    this.readStates.get(id)!.push(...rd.readStates);
    const out = readyMessages(rd);
    this.sent.push(...out);
    this.observe(id);
    return out;
  }

  /** Queue messages for the next `stabilize()`. */
  send(...ms: readonly RaftMessage[]): void {
    this.pending.push(...ms);
  }

  /** Step one message into its recipient now, unless the network blocks it. Returns whether it arrived. */
  deliver(m: RaftMessage): boolean {
    const r = this.nodes.get(m.to);
    if (!r || this.blocked(m)) {
      this.dropped.push(m);
      return false;
    }
    r.step(m);
    this.delivered.push(m);
    this.observe(m.to);
    return true;
  }

  /** Drain every core with output into the pending queue; returns whether any core had output. */
  collect(): boolean {
    let any = false;
    for (const [id, r] of this.nodes) {
      if (!r.hasReady()) continue;
      any = true;
      this.pending.push(...this.drainNode(id));
    }
    return any;
  }

  /** Deliver messages until no core has anything more to say. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; ; round++) {
      if (round >= maxRounds) throw new Error('network did not settle');
      const any = this.collect();
      if (!any && this.pending.length === 0) return;
      const batch = this.pending;
      this.pending = [];
      for (const m of batch) this.deliver(m);
    }
  }

  /** Tick the given nodes (default: all) `times` times, settling the network after each tick. */
  tick(times = 1, ids: readonly NodeId[] = this.ids): void {
    for (let t = 0; t < times; t++) {
      for (const id of ids) {
        this.node(id).tick();
        this.observe(id);
      }
      this.stabilize();
    }
  }

  /** Tick every node until `done()` holds; returns the ticks taken, throws after `max`. */
  tickUntil(done: () => boolean, max: number, ids: readonly NodeId[] = this.ids): number {
    for (let t = 0; t < max; t++) {
      if (done()) return t;
      this.tick(1, ids);
    }
    if (done()) return max;
    throw new Error(`condition not reached within ${max} ticks`);
  }

  /**
   * Make `id` leader by calling `campaign()` until it wins (a lost vote
   * can take a second round), then let it spread its commit index with
   * heartbeats so the reachable followers are up to date.
   */
  electLeader(id: NodeId, opts: { settle?: boolean; maxAttempts?: number } = {}): Raft {
    const r = this.node(id);
    for (let attempt = 0; attempt < (opts.maxAttempts ?? 10) && r.role !== 'leader'; attempt++) {
      r.campaign();
      this.stabilize();
    }
    if (r.role !== 'leader') throw new Error(`${id} did not win an election (role ${r.role}, term ${r.term})`);
    if (opts.settle ?? true) this.settle(id);
    return r;
  }

  /** Tick only the leader until every follower it can reach holds its log and commit index. */
  settle(leaderId: NodeId, maxTicks = 50): void {
    const leader = this.node(leaderId);
    const caughtUp = () =>
      this.ids.every((id) => {
        if (id === leaderId) return true;
        if (this.blocked(heartbeat({ from: leaderId, to: id, term: leader.term }))) return true;
        const f = this.node(id);
        return f.lastIndex === leader.lastIndex && f.commitIndex === leader.commitIndex;
      });
    this.stabilize();
    for (let t = 0; t < maxTicks && !caughtUp(); t++) {
      leader.tick();
      this.stabilize();
    }
  }

  /** Ids of the nodes currently in the leader role. */
  leaders(): NodeId[] {
    return this.ids.filter((id) => this.node(id).role === 'leader');
  }

  /** Terms in which more than one node was seen as leader (must be empty). */
  electionSafetyViolations(): Array<{ term: number; leaders: NodeId[] }> {
    return [...this.leadersByTerm].filter(([, s]) => s.size > 1).map(([term, s]) => ({ term, leaders: [...s] }));
  }

  private observe(id: NodeId): void {
    const r = this.node(id);
    if (r.role !== 'leader') return;
    let s = this.leadersByTerm.get(r.term);
    if (!s) this.leadersByTerm.set(r.term, (s = new Set()));
    s.add(id);
  }
}
