import type { Entry, HardState, NodeId, RaftMessage, Role, Snapshot } from '../messages.js';

/**
 * Test-only switches that each plant one known Raft bug, so the simulator can
 * show it catches them. Never set these outside tests: every one of them
 * breaks safety on purpose.
 */
export interface PlantedBugs {
  /** Grant votes without the §5.4.1 up-to-date check. */
  readonly skipUpToDateCheck?: boolean;
  /** Commit an entry of an earlier term by counting replicas (Figure 8). */
  readonly commitOldTermByCounting?: boolean;
  /** Truncate the log at prevLogIndex+entries even without a conflict. */
  readonly truncateWithoutConflict?: boolean;
  /** Send vote replies before the vote is durable. */
  readonly voteBeforePersist?: boolean;
  /** Ignore a higher term carried by a response. */
  readonly ignoreHigherTermInResponse?: boolean;
  /** Serve ReadIndex before the leader's first entry of its term commits. */
  readonly readBeforeLeaderCommit?: boolean;
  /** Hand entries to the state machine before they are committed. */
  readonly applyUncommitted?: boolean;
  /** Forget this term's vote when stepping down to follower in the same term (a lost vote: two grants in one term). */
  readonly forgetVoteOnStepDown?: boolean;
  /** Send append acknowledgements before the acknowledged entries are durable. */
  readonly ackBeforePersist?: boolean;
  /** On a successful append answer, take the last index sent as the follower's match instead of the index it acknowledged. */
  readonly optimisticMatch?: boolean;
  /** Count half the voters (rounded up) as a quorum: not a majority when the cluster size is even. */
  readonly halfQuorum?: boolean;
  /** Count a granted pre-vote as a real vote (a late pre-vote answer arriving during the real election). */
  readonly countPreVoteAsVote?: boolean;
  /** Serve ReadIndex at once, without confirming leadership with a quorum (a deposed leader then reads stale). */
  readonly readWithoutConfirmation?: boolean;
  /** Take snapshots at the last log index instead of the applied one: a snapshot then covers uncommitted entries. */
  readonly snapshotAboveCommit?: boolean;
  /** Keep the log after an installed snapshot even when it conflicts with the snapshot (Figure 13, step 6 skipped). */
  readonly keepConflictingSuffix?: boolean;
  /** Keep the durable mark when a conflict truncates durable entries: their replacements count as durable before they are written. */
  readonly keepDurableMarkOnConflict?: boolean;
}

export interface RaftConfig {
  readonly id: NodeId;
  /** Voters at bootstrap, including `id`. */
  readonly voters: readonly NodeId[];
  /** Election timeout is drawn uniformly from [electionTicksMin, electionTicksMax). */
  readonly electionTicksMin: number;
  readonly electionTicksMax: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Append messages in flight per follower in the replicate state. */
  readonly maxInflightMessages: number;
  /** Upper bounds for one AppendEntries (at least one entry is always sent). */
  readonly maxEntriesPerAppend: number;
  readonly maxBytesPerAppend: number;
  /** The size of the chunks a snapshot is sent in (§7). */
  readonly snapshotChunkBytes: number;
  /** Seeded source of uniform numbers in [0, 1); the core has no other randomness. */
  readonly random: () => number;
  readonly plantedBugs?: PlantedBugs;
}

/** What the core was persisted with: the state a restarted node resumes from. */
export interface StoredState {
  readonly hardState: HardState;
  /** The stored log, contiguous, starting at index 1, or just after the snapshot when there is one. */
  readonly entries: readonly Entry[];
  /** The newest stored snapshot; the shell restores the state machine from it. */
  readonly snapshot?: Snapshot | null;
}

/** A read that became safe to serve (index !== null) or that failed (index === null). */
export interface ReadState {
  readonly ctx: string;
  readonly index: number | null;
}

/**
 * What the shell must do, in this order: send `messages` (at once, they
 * depend on nothing unpersisted); persist `snapshot`, then `entries`, then
 * `hardState` durably; send `messagesAfterPersist`; restore the state
 * machine from `snapshot`; apply `committedEntries` in order; serve
 * `readStates` once applied reaches their index; then `advance(ready)`.
 */
export interface Ready {
  /** Role, term and leader as of this Ready; the shell reports changes once `hardState` is durable. */
  readonly softState: SoftState;
  readonly messages: readonly RaftMessage[];
  /** null when unchanged since the last Ready. */
  readonly hardState: HardState | null;
  /** A snapshot installed from the leader (Figure 13), to persist first and restore the state machine from; or null. */
  readonly snapshot: Snapshot | null;
  /** To append durably; any stored entry at index >= entries[0].index is replaced. */
  readonly entries: readonly Entry[];
  readonly messagesAfterPersist: readonly RaftMessage[];
  /** Committed and locally durable, not yet applied, in log order. */
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

export interface SoftState {
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId | null;
}

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly leaderId: NodeId | null };

export interface CoreStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastLogIndex: number;
  readonly voters: readonly NodeId[];
  /** The index and term of the newest snapshot this node holds (0 and 0 for none). */
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
}
