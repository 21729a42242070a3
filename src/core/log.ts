import type { Entry } from '../messages.js';

/** Where the log starts: the index and term of the last entry folded into a snapshot (0 and 0 for none). */
export interface LogStart {
  readonly index: number;
  readonly term: number;
}

/**
 * The replicated log as one node sees it: the entries it holds after its
 * compacted prefix (§7), how far they are durable (`stable`), committed and
 * handed to the state machine.
 *
 * Invariant: firstIndex() - 1 <= handedOut <= min(committed, stable) and
 * committed <= lastIndex(), except under the test-only planted bug that
 * applies uncommitted entries. Only committed, handed-out entries are ever
 * compacted, so everything before firstIndex() is committed.
 */
export class RaftLog {
  /** entries[i] has index `offset + i`. */
  private entries: Entry[];
  /** The first index held in `entries`; everything before it is compacted. */
  private offset: number;
  /** The term of the entry at offset - 1 (the last compacted one), kept for the §5.3 consistency check. */
  private prevTerm: number;
  /** Highest index known to be committed (§5.3). */
  committed: number;
  /** Highest index the storage holds durably. */
  stable: number;
  /** Highest index handed to the shell for applying (or restored from a snapshot). */
  handedOut: number;

  /** `keepDurableMarkBug` is the test-only planted bug keepDurableMarkOnConflict. */
  constructor(
    entries: readonly Entry[],
    committed: number,
    start: LogStart = { index: 0, term: 0 },
    private readonly keepDurableMarkBug = false,
  ) {
    this.offset = start.index + 1;
    this.prevTerm = start.term;
    this.entries = entries.slice();
    for (let i = 0; i < this.entries.length; i++) {
      if (this.entries[i].index !== this.offset + i) {
        throw new Error(`stored log is not contiguous after index ${start.index} at position ${i}`);
      }
    }
    this.stable = this.lastIndex();
    // A stored commit past the stored log cannot be trusted for applying;
    // everything a snapshot holds was committed.
    this.committed = Math.max(start.index, Math.min(committed, this.lastIndex()));
    this.handedOut = start.index;
  }

  /** The first index the log holds (after its compacted prefix). */
  firstIndex(): number {
    return this.offset;
  }

  lastIndex(): number {
    return this.offset + this.entries.length - 1;
  }

  lastTerm(): number {
    return this.entries.length === 0 ? this.prevTerm : this.entries[this.entries.length - 1].term;
  }

  /**
   * The term of the entry at `index`; 0 for index 0; the snapshot's term for
   * the last compacted index; -1 when the log has no such entry (beyond its
   * end, or compacted away).
   */
  term(index: number): number {
    if (index === this.offset - 1) return this.prevTerm;
    if (index < this.offset || index > this.lastIndex()) return -1;
    return this.entries[index - this.offset].term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /**
   * §5.4.1: a log is more up-to-date if its last entry has the later term;
   * with equal last terms, the longer log is more up-to-date.
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries with index in [lo, hi), at most `maxCount` of them and about
   * `maxBytes` (at least one). The caller asks only for entries the log
   * holds: lo >= firstIndex().
   */
  slice(lo: number, hi: number, maxCount = Infinity, maxBytes = Infinity): Entry[] {
    const from = Math.max(lo, this.offset);
    const to = Math.min(hi, this.lastIndex() + 1, from + maxCount);
    if (to <= from) return [];
    if (maxBytes === Infinity) return this.entries.slice(from - this.offset, to - this.offset);
    let bytes = 0;
    let end = from;
    while (end < to) {
      bytes += this.entries[end - this.offset].data.byteLength;
      if (bytes > maxBytes && end > from) break;
      end++;
    }
    return this.entries.slice(from - this.offset, end - this.offset);
  }

  /** Leader-side append of fresh entries at the end of the log. */
  append(entries: readonly Entry[]): void {
    for (const e of entries) this.entries.push(e);
  }

  /**
   * Follower-side append after a successful consistency check (§5.3):
   * entries already present with the same term are skipped; the log is cut
   * only at the first entry whose term conflicts. A duplicated or reordered
   * AppendEntries therefore never removes entries.
   * With `truncateAlways` (a test-only planted bug) the log is cut after the
   * message's last entry even without a conflict.
   * Returns the first index removed by a conflict, or 0 when none was.
   */
  appendFromLeader(entries: readonly Entry[], truncateAlways: boolean): number {
    let i = 0;
    let truncatedFrom = 0;
    // Entries the log compacted are committed, so they match any leader's (§5.4).
    while (i < entries.length && entries[i].index < this.offset) i++;
    for (; i < entries.length; i++) {
      const e = entries[i];
      if (e.index > this.lastIndex()) break;
      if (this.term(e.index) !== e.term) {
        truncatedFrom = e.index;
        this.truncateFrom(e.index);
        break;
      }
    }
    for (; i < entries.length; i++) this.entries.push(entries[i]);
    // Stryker disable all: the planted bug is test-only; its own test (test/sim/planted-bugs.test.ts) pins it
    if (truncateAlways && entries.length > 0) {
      const lastNew = entries[entries.length - 1].index;
      if (lastNew < this.lastIndex() && lastNew >= this.offset - 1) this.truncateFrom(lastNew + 1, true);
    }
    // Stryker restore all
    return truncatedFrom;
  }

  private truncateFrom(index: number, unchecked = false): void {
    if (index <= this.committed && !unchecked) {
      // §5.4 Leader Completeness: a committed entry is never overwritten.
      throw new Error(`refusing to truncate committed entry ${index} (committed ${this.committed})`);
    }
    const durableBefore = this.stable;
    this.entries.length = index - this.offset;
    this.stable = Math.min(this.stable, index - 1);
    // Stryker disable next-line all: test-only planted bug
    if (this.keepDurableMarkBug) this.stable = durableBefore;
    this.handedOut = Math.min(this.handedOut, index - 1);
  }

  /** Index of the first entry of the term held at `index` (the §5.3 conflict hint). */
  firstIndexOfTermAt(index: number): number {
    const t = this.term(index);
    let lo = this.offset;
    let hi = index;
    // Terms never decrease along the log, so binary search for the first index with term t.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid - this.offset].term < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The last index holding an entry of exactly `term` (the last compacted one included), or 0 when there is none. */
  lastIndexOfTerm(term: number): number {
    let lo = this.offset;
    let hi = this.lastIndex() + 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid - this.offset].term <= term) lo = mid + 1;
      else hi = mid;
    }
    const candidate = lo - 1;
    return candidate >= this.offset - 1 && candidate > 0 && this.term(candidate) === term ? candidate : 0;
  }

  commitTo(index: number): boolean {
    const target = Math.min(index, this.lastIndex());
    if (target <= this.committed) return false;
    this.committed = target;
    return true;
  }

  /** Entries not yet durable. */
  unstableEntries(): Entry[] {
    return this.entries.slice(this.stable + 1 - this.offset);
  }

  /**
   * Marks entries up to `index` durable, but only if the log still holds the
   * same entry there: a truncation while the write was in flight means what
   * was written is no longer our log (the ABA case of etcd's asynchronous appends).
   */
  stableTo(index: number, term: number): void {
    if (index > this.stable && this.term(index) === term) this.stable = index;
  }

  /** Committed, durable entries not yet handed out; marks them handed out. */
  takeCommitted(upTo = this.committed): Entry[] {
    const hi = Math.min(upTo, this.stable);
    if (hi <= this.handedOut) return [];
    const out = this.entries.slice(this.handedOut + 1 - this.offset, hi + 1 - this.offset);
    this.handedOut = hi;
    return out;
  }

  hasCommittedToHandOut(upTo = this.committed): boolean {
    return Math.min(upTo, this.stable) > this.handedOut;
  }

  /** Throws unless the entry at `at.index` has `at.term` and was handed out for applying (so is committed). */
  checkApplied(at: LogStart): void {
    if (at.index > this.handedOut || this.term(at.index) !== at.term) {
      throw new Error(
        `snapshot at ${at.index} (term ${at.term}) does not match the applied log (applied ${this.handedOut})`,
      );
    }
  }

  /**
   * Drops the entries up to `index` (§7: a snapshot replaced them). Only
   * what the state machine already has may go: index <= handedOut, which is
   * committed and durable.
   */
  compact(index: number): void {
    if (index < this.offset) return;
    if (index > this.handedOut) {
      throw new Error(`refusing to compact through ${index}: only ${this.handedOut} is applied`);
    }
    this.prevTerm = this.term(index);
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  /**
   * Figure 13, InstallSnapshot steps 6 and 7: if the log holds the
   * snapshot's last entry with its term, the entries after it stay;
   * otherwise the whole log goes. Either way the log now starts after the
   * snapshot, which the state machine is restored from. With `keepConflicts`
   * (a test-only planted bug) the suffix stays even when it conflicts.
   */
  restoreSnapshot(start: LogStart, keepConflicts = false): void {
    const keep = keepConflicts || this.term(start.index) === start.term;
    if (keep && start.index <= this.lastIndex()) {
      this.entries = this.entries.slice(start.index + 1 - this.offset);
    } else {
      this.entries = [];
    }
    // The snapshot is persisted before any entry of the Ready that carries
    // it, so kept entries are as durable as before, and at least everything
    // the snapshot covers is.
    this.stable = Math.max(start.index, Math.min(this.stable, this.lastIndexAfter(start.index)));
    this.offset = start.index + 1;
    this.prevTerm = start.term;
    this.committed = Math.max(this.committed, start.index);
    this.handedOut = start.index;
  }

  /** The last index once the log starts after `index` (before `offset` is moved). */
  private lastIndexAfter(index: number): number {
    return index + this.entries.length;
  }
}
