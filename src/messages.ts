/**
 * The vocabulary shared by every layer: log entries, hard state and the Raft
 * messages that cross a Transport. Plain, immutable data; no behaviour.
 */

/** A node's id: a non-empty string, unique in the cluster and never reused. */
export type NodeId = string;

/**
 * What an entry carries. Only `normal` entries (made by `propose`) reach the
 * state machine; `noop` is a new leader's empty entry (§5.4.2, §8) and
 * `config` a membership change.
 */
export type EntryType = 'normal' | 'noop' | 'config';

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must survive a crash before a node answers anyone (Figure 2, "Persistent state"). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/**
 * RequestVote (§5.2). With `preVote` it is a PreVote probe (thesis §9.6): the
 * term is the one the sender *would* use, and nobody's state changes.
 * `transfer` marks a campaign started by TimeoutNow, which may override
 * leader stickiness (thesis §3.10).
 */
export interface RequestVote extends Envelope {
  readonly type: 'RequestVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  readonly preVote: boolean;
  readonly transfer: boolean;
}

export interface RequestVoteResponse extends Envelope {
  readonly type: 'RequestVoteResponse';
  readonly granted: boolean;
  readonly preVote: boolean;
}

/** AppendEntries (§5.3). An empty `entries` still carries the consistency check. */
export interface AppendEntries extends Envelope {
  readonly type: 'AppendEntries';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly leaderCommit: number;
}

/**
 * The answer to AppendEntries. On success `matchIndex` is the last index the
 * follower now holds that matches the leader. On rejection `rejectedIndex` is
 * the prevLogIndex that failed and the hint (`hintIndex`, `hintTerm`) lets the
 * leader skip back a whole term at a time (§5.3, "the follower can include
 * the term of the conflicting entry and the first index it stores for that
 * term").
 */
export interface AppendEntriesResponse extends Envelope {
  readonly type: 'AppendEntriesResponse';
  readonly success: boolean;
  readonly matchIndex: number;
  readonly rejectedIndex: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/**
 * A leader's heartbeat. `commit` is capped at what the follower is known to
 * hold, so a follower never commits past its match. `readSeq` lets the
 * leader confirm ReadIndex requests with the same round trip.
 */
export interface Heartbeat extends Envelope {
  readonly type: 'Heartbeat';
  readonly commit: number;
  readonly readSeq: number;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'HeartbeatResponse';
  readonly readSeq: number;
}

/** A follower asks the leader for a read index on behalf of its own client (thesis §6.4). */
export interface ReadIndexRequest extends Envelope {
  readonly type: 'ReadIndex';
  readonly ctx: string;
}

/** The leader's answer; `index` is meaningful only when `ok`. */
export interface ReadIndexResponse extends Envelope {
  readonly type: 'ReadIndexResponse';
  readonly ctx: string;
  readonly index: number;
  readonly ok: boolean;
}

/**
 * What a snapshot is (§7): the state machine as of `index`, with every
 * entry up to it folded in, and the configuration of that index, so that a
 * node restored from it knows its members without the entries that made
 * them.
 */
export interface SnapshotMetadata {
  /** The last log index the snapshot covers. */
  readonly index: number;
  /** The term of the entry at `index`. */
  readonly term: number;
  /** The voters as of `index`. */
  readonly voters: readonly NodeId[];
  /** The learners (non-voting members) as of `index`. */
  readonly learners: readonly NodeId[];
}

/** A snapshot with the state machine's bytes. */
export interface Snapshot extends SnapshotMetadata {
  readonly data: Uint8Array;
}

/**
 * One chunk of the leader's snapshot, for a follower whose next entry the
 * leader has compacted away (§7, Figure 13). `data` holds bytes
 * [offset, offset + data.length) of the `totalBytes` of the snapshot's data.
 */
export interface InstallSnapshot extends Envelope {
  readonly type: 'InstallSnapshot';
  readonly snapshot: SnapshotMetadata;
  readonly offset: number;
  readonly totalBytes: number;
  readonly data: Uint8Array;
}

/**
 * The follower's answer to a chunk of the snapshot at `snapshotIndex`:
 * `received` bytes have arrived in order (where the next chunk must start),
 * or, with `done`, the snapshot is durable here (or the follower already
 * held everything it covers), so the leader goes on from `snapshotIndex`.
 */
export interface InstallSnapshotResponse extends Envelope {
  readonly type: 'InstallSnapshotResponse';
  readonly snapshotIndex: number;
  readonly received: number;
  readonly done: boolean;
}

/** Leadership transfer: the leader tells a caught-up follower to campaign now (thesis §3.10). */
export interface TimeoutNow extends Envelope {
  readonly type: 'TimeoutNow';
}

export type RaftMessage =
  | RequestVote
  | RequestVoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | Heartbeat
  | HeartbeatResponse
  | ReadIndexRequest
  | ReadIndexResponse
  | InstallSnapshot
  | InstallSnapshotResponse
  | TimeoutNow;

export type MessageType = RaftMessage['type'];

export const MESSAGE_TYPES: readonly MessageType[] = [
  'RequestVote',
  'RequestVoteResponse',
  'AppendEntries',
  'AppendEntriesResponse',
  'Heartbeat',
  'HeartbeatResponse',
  'ReadIndex',
  'ReadIndexResponse',
  'InstallSnapshot',
  'InstallSnapshotResponse',
  'TimeoutNow',
];

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';
