import type { Entry } from '../messages.js';

/**
 * The replicated log as one node sees it: every entry it holds, how far it
 * is durable (`stable`), committed and handed to the state machine.
 *
 * Invariant: handedOut <= min(committed, stable) and committed <= lastIndex(),
 * except under the test-only planted bug that applies uncommitted entries.
 */
export class RaftLog {
  /** entries[i] has index `offset + i`. */
  private entries: Entry[];
  private readonly offset = 1;
  /** Highest index known to be committed (§5.3). */
  committed: number;
  /** Highest index the storage holds durably. */
  stable: number;
  /** Highest index handed to the shell for applying. */
  handedOut = 0;

  /** `keepDurableMarkBug` is the test-only planted bug keepDurableMarkOnConflict. */
  constructor(
    entries: readonly Entry[],
    committed: number,
    private readonly keepDurableMarkBug = false,
  ) {
    this.entries = entries.slice();
    for (let i = 0; i < this.entries.length; i++) {
      if (this.entries[i].index !== this.offset + i) {
        throw new Error(`stored log is not contiguous at position ${i}`);
      }
    }
    this.stable = this.lastIndex();
    // A stored commit past the stored log cannot be trusted for applying.
    this.committed = Math.min(committed, this.lastIndex());
  }

  lastIndex(): number {
    return this.offset + this.entries.length - 1;
  }

  lastTerm(): number {
    return this.entries.length === 0 ? 0 : this.entries[this.entries.length - 1].term;
  }

  /** The term of the entry at `index`; 0 for index 0; -1 when the log has no such entry. */
  term(index: number): number {
    if (index === this.offset - 1) return 0;
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

  /** Entries with index in [lo, hi), at most `maxCount` of them and about `maxBytes` (at least one). */
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
      if (lastNew < this.lastIndex()) this.truncateFrom(lastNew + 1, true);
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

  /** The last index holding an entry of exactly `term`, or 0 when there is none. */
  lastIndexOfTerm(term: number): number {
    let lo = this.offset;
    let hi = this.lastIndex() + 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid - this.offset].term <= term) lo = mid + 1;
      else hi = mid;
    }
    const candidate = lo - 1;
    return candidate >= this.offset && this.term(candidate) === term ? candidate : 0;
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
}
