import type { SoftState } from '../core/types.js';
import type { NodeId } from '../messages.js';
import type { Logger } from '../options.js';
import type { RaftNodeEvents } from './events.js';

/** What the view tells the rest of the node when it changes. */
export interface ViewHooks {
  readonly id: NodeId;
  readonly logger: Logger;
  /** Emits an event, isolated from the listeners' faults. */
  emit<K extends 'roleChanged' | 'leaderChanged'>(event: K, ...args: RaftNodeEvents[K]): void;
  /** This node stopped leading; entries past `committedUpTo` have an unknown outcome. */
  leadershipLost(committedUpTo: number): void;
  /** A leader is known: a new one, or the same one in a new term. */
  leaderKnown(leaderId: NodeId): void;
}

/** The part of the view that requests read. */
export interface LeaderView {
  readonly current: SoftState;
  isLeader(): boolean;
}

/**
 * The role, term and leader that users see: the core's, but only once the
 * state behind them is durable (a vote or a new term is reported after it is
 * on disk, so no listener acts on a view a crash could take back).
 */
export class NodeView implements LeaderView {
  private state: SoftState = { role: 'follower', term: 0, leaderId: null };

  constructor(private readonly hooks: ViewHooks) {}

  /** Role, term and leader as last reported. */
  get current(): SoftState {
    return this.state;
  }

  isLeader(): boolean {
    return this.state.role === 'leader';
  }

  /** Takes the state loaded from storage as the starting view, reporting nothing. */
  load(state: SoftState): void {
    this.state = state;
  }

  /** State is durable: reports what changed. `committedUpTo` is the last index the same Ready commits. */
  report(soft: SoftState, committedUpTo: number): void {
    const before = this.state;
    if (before.role === soft.role && before.leaderId === soft.leaderId && before.term === soft.term) return;
    this.state = soft;
    const { id, logger } = this.hooks;
    // The outcome of entries appended while leader is now unknown, except
    // for those this very Ready commits: applying them gives a definite answer.
    if (before.role === 'leader' && soft.role !== 'leader') this.hooks.leadershipLost(committedUpTo);
    if (before.role !== soft.role) {
      logger.info({ id, role: soft.role, term: soft.term }, 'role changed');
      this.hooks.emit('roleChanged', { role: soft.role, previousRole: before.role, term: soft.term });
    }
    // A new term under the same leader is reported too: applications fence on the term.
    if (before.leaderId !== soft.leaderId || (soft.leaderId !== null && before.term !== soft.term)) {
      logger.info({ id, leaderId: soft.leaderId, term: soft.term }, 'leader changed');
      this.hooks.emit('leaderChanged', { leaderId: soft.leaderId, previousLeaderId: before.leaderId, term: soft.term });
      if (soft.leaderId !== null) this.hooks.leaderKnown(soft.leaderId);
    }
  }
}
