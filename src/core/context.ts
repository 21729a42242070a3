import type { NodeId, RaftMessage, Snapshot } from '../messages.js';
import type { RaftLog } from './log.js';
import type { VoterSet } from './quorum.js';
import type { PlantedBugs, RaftConfig } from './types.js';

/**
 * What a role's state (leader.ts, election.ts) may use of its node: the
 * log, the voters and a way to speak. Deliberately not the term, the vote or
 * the role: only raft.ts changes those, so a role cannot change its own
 * term or role underneath the node (a role that must end says so in its
 * return value and raft.ts makes the transition).
 */
export interface NodeContext {
  readonly id: NodeId;
  readonly config: RaftConfig;
  readonly bugs: PlantedBugs;
  readonly log: RaftLog;
  readonly voters: VoterSet;
  /** Queues a message; what depends on the disk is held back until the persist. */
  send(m: RaftMessage): void;
  /** A local read became safe at `index`, or failed (null). */
  readState(ctx: string, index: number | null): void;
  /** The newest snapshot this node holds (taken here or installed from a leader), or null. */
  snapshot(): Snapshot | null;
}
