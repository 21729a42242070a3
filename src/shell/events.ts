import type { NodeId, Role } from '../messages.js';

export interface LeaderChange {
  /** The leader this node now follows, or null while it knows none. */
  readonly leaderId: NodeId | null;
  readonly previousLeaderId: NodeId | null;
  /** The term of this view; applications can use it to fence stale leaders. */
  readonly term: number;
}

export interface RoleChange {
  readonly role: Role;
  readonly previousRole: Role;
  readonly term: number;
}

export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
}

export interface MembershipChange {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** A durable snapshot: the last entry it covers, and the size of the state machine's bytes. */
export interface SnapshotInfo {
  readonly index: number;
  readonly term: number;
  readonly bytes: number;
}

export interface SnapshotEvent extends SnapshotInfo {
  /** `local`: this node took it; `leader`: the leader sent it, and the state machine was restored from it. */
  readonly source: 'local' | 'leader';
}

/** The typed event map of RaftNode: one payload object per event. */
export interface RaftNodeEvents {
  leaderChanged: [LeaderChange];
  roleChanged: [RoleChange];
  applied: [AppliedEntry];
  membershipChanged: [MembershipChange];
  /** A snapshot is durable (and, from the leader, restored). */
  snapshot: [SnapshotEvent];
  /** A fatal fault (storage, state machine); the node has stopped. */
  error: [Error];
}
