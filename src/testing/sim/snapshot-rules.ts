import type { Entry, NodeId, Snapshot } from '../../messages.js';
import { sameBytes, type Violation } from './invariants.js';
import { decodeKvWrite, KvState } from './kv.js';

/** What the snapshot rules read of the committed log the SafetyChecker has seen. */
export interface CommittedLog {
  readonly committedIndex: number;
  committedTermAt(index: number): number | undefined;
  committedEntries(lo: number, hi: number): readonly Entry[];
}

const COVERS_COMMITTED = 'Snapshots cover only committed entries';

/**
 * The rules of §7 checked at the moment they apply: a snapshot, when it is
 * taken or installed, covers only committed entries and ends on the
 * committed entry at its index; a state machine restored from a snapshot
 * (on start, or from the leader) holds exactly the state that applying the
 * committed log up to the snapshot's index gives, replayed here on a
 * reference copy of the key-value state machine.
 */
export class SnapshotChecker {
  /** The reference state machine, and the index it has applied the committed log through. */
  private reference = new KvState();
  private referenceIndex = 0;

  constructor(private readonly log: CommittedLog) {}

  /**
   * A snapshot is about to be stored: `local`, taken by `id` at an index it
   * must have committed (`commitIndex`); or from the leader, whose snapshot
   * must cover only what is known committed anywhere.
   */
  saving(id: NodeId, snapshot: Snapshot, source: 'local' | 'leader', commitIndex: number): Violation | null {
    const { index, term } = snapshot;
    if (source === 'leader') return this.endsOnCommitted(id, 'is installing', index, term);
    if (index > commitIndex) {
      return {
        property: COVERS_COMMITTED,
        message: `${id} took a snapshot at index ${index} (term ${term}) above its commit index ${commitIndex}`,
      };
    }
    // A commit this node made in this very step is checked against the disks after it (RuleChecker).
    return index > this.log.committedIndex ? null : this.endsOnCommitted(id, 'took', index, term);
  }

  /**
   * `state` is what the state machine of `id` holds right after restoring
   * the snapshot at `index` (on start, or from the leader): it must equal
   * the committed log applied through `index`.
   */
  restored(id: NodeId, state: Uint8Array, index: number, term: number, why: 'start' | 'leader'): Violation | null {
    const known = this.endsOnCommitted(id, `restored (${why})`, index, term);
    if (known !== null) return known;
    const expected = this.stateAt(index);
    if (sameBytes(state, expected)) return null;
    const text = new TextDecoder();
    return {
      property: 'A restored state equals the committed log applied',
      message: `${id} restored (${why}) the snapshot at ${index} (term ${term}) to ${text.decode(state)}; applying the committed log through ${index} gives ${text.decode(expected)}`,
    };
  }

  private endsOnCommitted(id: NodeId, what: string, index: number, term: number): Violation | null {
    const known = this.log.committedIndex;
    if (index > known) {
      return {
        property: COVERS_COMMITTED,
        message: `${id} ${what} a snapshot at index ${index} (term ${term}), but only ${known} is known committed`,
      };
    }
    const committedTerm = this.log.committedTermAt(index);
    if (committedTerm === term) return null;
    return {
      property: COVERS_COMMITTED,
      message: `${id} ${what} a snapshot at index ${index} of term ${term}; the committed entry there is of term ${committedTerm}`,
    };
  }

  /** The reference state machine's state after the committed entries through `index` (at most the known committed index). */
  private stateAt(index: number): Uint8Array {
    if (index < this.referenceIndex) {
      this.reference = new KvState();
      this.referenceIndex = 0;
    }
    for (const e of this.log.committedEntries(this.referenceIndex + 1, index + 1)) {
      // Only `normal` entries reach a state machine; a leader's empty entry takes an index but no command.
      if (e.type === 'normal') this.reference.apply(decodeKvWrite(e.data));
    }
    this.referenceIndex = index;
    return this.reference.snapshot();
  }
}
