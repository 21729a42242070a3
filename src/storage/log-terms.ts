import type { Entry } from '../messages.js';

/**
 * What FileStorage knows of its stored log without reading it back: where
 * the log starts and ends, and the term of every entry. The terms are kept
 * as runs (entries from `starts[k]` on have `terms[k]`), so a log of any
 * length costs memory only per change of term: enough to check a save
 * against the log's end and a snapshot against the entry at its index.
 */
export class LogTerms {
  /** The index before the first stored entry: the snapshot's index, or 0. */
  private baseIndex = 0;
  private baseTerm = 0;
  private last = 0;
  private lastEntryTerm = 0;
  private starts: number[] = [];
  private terms: number[] = [];

  get base(): number {
    return this.baseIndex;
  }

  get lastIndex(): number {
    return this.last;
  }

  get lastTerm(): number {
    return this.lastEntryTerm;
  }

  /** Forgets every entry: the log now holds `entries`, following `base` of `baseTerm`. */
  reset(base: number, baseTerm: number, entries: readonly Entry[]): void {
    this.baseIndex = base;
    this.baseTerm = baseTerm;
    this.last = base;
    this.lastEntryTerm = baseTerm;
    this.starts = [];
    this.terms = [];
    if (entries.length > 0) this.append(entries);
  }

  /** Records saved entries, which replace every stored entry from entries[0].index on. */
  append(entries: readonly Entry[]): void {
    const first = entries[0].index;
    const starts = this.starts;
    const terms = this.terms;
    // Entries from `first` on were replaced (§5.3).
    while (starts.length > 0 && starts[starts.length - 1] >= first) {
      starts.pop();
      terms.pop();
    }
    for (let i = 0; i < entries.length; i++) {
      const term = entries[i].term;
      if (terms.length === 0 || terms[terms.length - 1] !== term) {
        starts.push(entries[i].index);
        terms.push(term);
      }
    }
    const last = entries[entries.length - 1];
    this.last = last.index;
    this.lastEntryTerm = last.term;
  }

  /** The term of the stored entry at `index` (or of the base), or -1 when there is none. */
  termAt(index: number): number {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.baseIndex || index > this.last) return -1;
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.terms[lo] ?? -1;
  }

  /** Entries up to `index` (of `term`) are now covered by a snapshot: the log starts after it. */
  dropThrough(index: number, term: number): void {
    this.baseIndex = index;
    this.baseTerm = term;
    let k = 0;
    while (k + 1 < this.starts.length && this.starts[k + 1] <= index + 1) k++;
    this.starts = this.starts.slice(k);
    this.terms = this.terms.slice(k);
    if (this.starts.length > 0 && this.starts[0] <= index) this.starts[0] = index + 1;
    if (this.last === index) {
      this.starts = [];
      this.terms = [];
    }
  }
}
