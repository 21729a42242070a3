import { randomInt } from 'node:crypto';
import { z } from 'zod';
import type { ConfigIssue } from './errors.js';
import type { Logger } from './logger.js';
import type { NodeId } from './messages.js';
import { type Clock, systemClock } from './shell/clock.js';
import { MemoryStorage } from './storage/memory.js';
import type { Storage } from './storage/storage.js';
import type { Transport } from './transport/transport.js';
import {
  describe,
  implementation,
  intAtLeast,
  loggerOption,
  mustBe,
  nonEmptyString,
  optionsObject,
  parseOptions,
} from './validation.js';

export { type Logger, silentLogger } from './logger.js';

/**
 * A committed entry made by `propose`, as `StateMachine.apply` receives it.
 * (Not the `applied` event's payload, which reports only index and term.)
 */
export interface CommittedEntry {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/** Where a snapshot stands in the log: the last entry it covers. */
export interface SnapshotPosition {
  readonly index: number;
  readonly term: number;
}

/**
 * The user's replicated state. `apply` is called in log order, once per entry
 * per RaftNode, on every node, only with committed entries, and never
 * concurrently; what it returns resolves the leader's `propose`. A restarted
 * node (a new RaftNode on the same storage) first `restore`s its newest
 * snapshot, then applies the log after it, so it should be given a fresh
 * state machine.
 *
 * `snapshot` returns the state after the last applied entry; `apply` is not
 * called until it resolves. `restore` replaces the whole state with a
 * snapshot's (one this node took, or one the leader sent), as of `index`.
 * Without `snapshot` the log is never compacted; a state machine with
 * `snapshot` must have `restore` too, or the node could not restart from
 * its own snapshots.
 */
export interface StateMachine {
  apply(entry: CommittedEntry): unknown | Promise<unknown>;
  snapshot?(): Uint8Array | Promise<Uint8Array>;
  restore?(snapshot: Uint8Array, position: SnapshotPosition): void | Promise<void>;
}

/** When snapshots are taken and how they travel (§7). */
export interface SnapshotSettings {
  /** Take a snapshot once this many log entries (of any kind) were applied since the last one. */
  readonly threshold: number;
  /** Entries kept in the log behind a snapshot, so that slightly slow followers catch up from the log. */
  readonly trailing: number;
  /** The size of the pieces a snapshot is sent to a follower in. */
  readonly chunkBytes: number;
}

export const DEFAULT_SNAPSHOT_SETTINGS: SnapshotSettings = Object.freeze({
  threshold: 8192,
  trailing: 1024,
  chunkBytes: 1 << 20,
});

/** What users pass to `new RaftNode(...)`. */
export interface RaftNodeOptions {
  /** This node's id: a non-empty string, unique in the cluster and never reused. */
  readonly id: NodeId;
  /**
   * The voters, including `id`; unique, non-empty strings. Storage keeps no
   * configuration yet, so every start takes the voters from here: give every
   * node the same list each time (membership changes are still to come).
   */
  readonly peers: readonly NodeId[];
  /** Carries messages to and from the other nodes. */
  readonly transport: Transport;
  /** Where term, vote and log are kept. Default: a new `MemoryStorage`. */
  readonly storage?: Storage;
  /** Receives committed entries. Without one, entries are committed but not applied anywhere. */
  readonly stateMachine?: StateMachine;
  /**
   * A follower that hears nothing from a leader for a time drawn uniformly
   * from [min, max) starts an election (§5.2). Positive integers, min < max.
   * Default { min: 150, max: 300 }.
   */
  readonly electionTimeoutMs?: { readonly min: number; readonly max: number };
  /** How often a leader heartbeats; a positive integer below electionTimeoutMs.min. Default 50. */
  readonly heartbeatIntervalMs?: number;
  /** Probe with PreVote before a real election, so a node that cannot win does not disrupt the cluster (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** A leader that has not heard from a quorum within an election timeout steps down (thesis §6.2). Default true. */
  readonly checkQuorum?: boolean;
  /** Pino-compatible logger. Default: silent. */
  readonly logger?: Logger;
  /** Advanced: the source of time, replaced by tests to run in virtual time. Default: the system clock. */
  readonly clock?: Clock;
  /** Advanced: seeds the election-timeout jitter, for reproducible runs. Default: random. */
  readonly seed?: number;
  /** Advanced: AppendEntries in flight per follower (an integer >= 1). Default 64. */
  readonly maxInflightMessages?: number;
  /** Advanced: most entries in one AppendEntries (an integer >= 1). Default 4096. */
  readonly maxEntriesPerAppend?: number;
  /** Advanced: most payload bytes in one AppendEntries (an integer >= 1024); one entry is always sent. Default 1 MiB. */
  readonly maxBytesPerAppend?: number;
  /** Advanced: most proposals appended as one batch (an integer >= 1). Default 4096. */
  readonly maxProposalBatch?: number;
  /**
   * Automatic snapshots and log compaction: integers, threshold >= 1,
   * trailing >= 0, chunkBytes >= 1; fields left out take their defaults
   * { threshold: 8192, trailing: 1024, chunkBytes: 1 MiB }. `false` turns
   * automatic snapshots off (`node.snapshot()` still takes one).
   */
  readonly snapshots?: Partial<SnapshotSettings> | false;
}

/** The options after validation, with every default filled in. */
export interface NodeOptions {
  readonly id: NodeId;
  readonly peers: readonly NodeId[];
  readonly transport: Transport;
  readonly storage: Storage;
  readonly stateMachine: StateMachine | undefined;
  readonly electionTimeoutMs: { readonly min: number; readonly max: number };
  readonly heartbeatIntervalMs: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly seed: number;
  readonly maxInflightMessages: number;
  readonly maxEntriesPerAppend: number;
  readonly maxBytesPerAppend: number;
  readonly maxProposalBatch: number;
  readonly snapshots: SnapshotSettings | false;
}

export const DEFAULT_ELECTION_TIMEOUT_MS = Object.freeze({ min: 150, max: 300 });
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 50;

const flag = z.boolean({ error: mustBe('a boolean') });

const electionTimeoutSchema = z
  .strictObject({ min: intAtLeast(1), max: intAtLeast(1) }, { error: mustBe('an object { min, max }') })
  .refine((timeout) => timeout.min < timeout.max, {
    path: ['min'],
    error: (issue) => {
      const timeout = issue.input as { min: number; max: number };
      return `must be less than electionTimeoutMs.max (${timeout.max}), got ${timeout.min}`;
    },
  });

const snapshotSettingsSchema = z.strictObject(
  {
    threshold: intAtLeast(1).default(DEFAULT_SNAPSHOT_SETTINGS.threshold),
    trailing: intAtLeast(0).default(DEFAULT_SNAPSHOT_SETTINGS.trailing),
    chunkBytes: intAtLeast(1).default(DEFAULT_SNAPSHOT_SETTINGS.chunkBytes),
  },
  { error: mustBe('an object { threshold, trailing, chunkBytes } or false') },
);

/**
 * `false`, or the settings object with its defaults. Not a zod union: a
 * union reports one vague issue for an object with several bad fields,
 * where this reports each at its own path.
 */
function snapshotsOption() {
  return z
    .unknown()
    .default(() => ({}))
    .transform((value, ctx): SnapshotSettings | false => {
      if (value === false) return false;
      const parsed = snapshotSettingsSchema.safeParse(value);
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue });
      return z.NEVER;
    });
}

const fields = {
  id: nonEmptyString,
  peers: z
    .array(nonEmptyString, { error: mustBe('an array of node ids') })
    .min(1, { error: 'must list at least this node' }),
  transport: implementation<Transport>('a Transport', ['start', 'send', 'stop']),
  storage: implementation<Storage>('a Storage', ['open', 'save', 'close']).default(() => new MemoryStorage()),
  stateMachine: implementation<StateMachine>('a StateMachine', ['apply'], ['snapshot', 'restore']).optional(),
  electionTimeoutMs: electionTimeoutSchema.default(() => ({ ...DEFAULT_ELECTION_TIMEOUT_MS })),
  heartbeatIntervalMs: intAtLeast(1).default(DEFAULT_HEARTBEAT_INTERVAL_MS),
  preVote: flag.default(true),
  checkQuorum: flag.default(true),
  logger: loggerOption(),
  clock: implementation<Clock>('a Clock', ['now', 'every', 'after']).default(() => systemClock),
  seed: z.int({ error: mustBe('an integer') }).default(() => randomInt(0x1_0000_0000)),
  maxInflightMessages: intAtLeast(1).default(64),
  maxEntriesPerAppend: intAtLeast(1).default(4096),
  maxBytesPerAppend: intAtLeast(1024).default(1 << 20),
  maxProposalBatch: intAtLeast(1).default(4096),
  snapshots: snapshotsOption(),
};

const optionsSchema = optionsObject(fields);

/**
 * Rules that span fields. Checked on the raw input, each only when the
 * fields it compares are themselves valid, so that one ConfigError reports
 * these together with every per-field problem.
 */
function crossFieldIssues(input: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];

  const peers = input.peers;
  if (Array.isArray(peers)) {
    // Checked here rather than in the peers schema so that duplicates are
    // reported even when another element is invalid.
    const firstAt = new Map<unknown, number>();
    peers.forEach((peer: unknown, i) => {
      if (typeof peer !== 'string' || peer === '') return;
      const first = firstAt.get(peer);
      if (first === undefined) firstAt.set(peer, i);
      else issues.push({ path: `peers.${i}`, message: `duplicates peers.${first} (${describe(peer)})` });
    });
    const id = fields.id.safeParse(input.id);
    if (id.success && peers.length > 0 && !peers.includes(id.data)) {
      issues.push({ path: 'peers', message: `must include this node's id (${describe(id.data)})` });
    }
  }

  // A snapshot the node takes is what it restarts from: it must be able to load it.
  const sm = input.stateMachine;
  if (typeof sm === 'object' && sm !== null) {
    const methods = sm as Record<string, unknown>;
    if (typeof methods.snapshot === 'function' && methods.restore === undefined) {
      issues.push({
        path: 'stateMachine.restore',
        message: 'is required with snapshot(): the node restores its snapshots on restart and from the leader',
      });
    }
  }

  // Heartbeats must come well inside the election timeout, or followers
  // time out between heartbeats and depose a healthy leader (§5.2).
  const heartbeat = fields.heartbeatIntervalMs.safeParse(input.heartbeatIntervalMs);
  const timeout = input.electionTimeoutMs;
  const electionMin =
    timeout === undefined
      ? DEFAULT_ELECTION_TIMEOUT_MS.min
      : typeof timeout === 'object' && timeout !== null
        ? (timeout as Record<string, unknown>).min
        : undefined;
  if (
    heartbeat.success &&
    typeof electionMin === 'number' &&
    Number.isSafeInteger(electionMin) &&
    electionMin >= 1 &&
    heartbeat.data >= electionMin
  ) {
    const which = input.heartbeatIntervalMs === undefined ? ' (the default)' : '';
    issues.push({
      path: 'heartbeatIntervalMs',
      message: `must be less than electionTimeoutMs.min (${electionMin}), got ${heartbeat.data}${which}`,
    });
  }
  return issues;
}

/**
 * Validates `RaftNode` options and fills in defaults. Throws one ConfigError
 * listing every problem found, each with its dotted path.
 */
export function parseNodeOptions(input: unknown): NodeOptions {
  const options = parseOptions(optionsSchema, input, () =>
    typeof input === 'object' && input !== null && !Array.isArray(input)
      ? crossFieldIssues(input as Record<string, unknown>)
      : [],
  );
  return Object.freeze({
    ...options,
    stateMachine: options.stateMachine,
    peers: Object.freeze([...options.peers]),
    electionTimeoutMs: Object.freeze({ ...options.electionTimeoutMs }),
    snapshots: options.snapshots === false ? false : Object.freeze({ ...options.snapshots }),
  });
}
