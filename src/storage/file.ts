import { join } from 'node:path';
import { CorruptionError, StorageError } from '../errors.js';
import type { Entry, HardState } from '../messages.js';
import { errorCode, nodeFileSystem, type StorageFileHandle, type StorageFileSystem } from './fs.js';
import { DirLock } from './lock.js';
import { decodeSnapshotFile, encodeSnapshotFile, parseSnapshotName, snapshotName } from './snapshot-file.js';
import type { PersistedState, Snapshot, Storage, StorageLogger } from './storage.js';
import { encodeResetRecord, encodeSaveRecord, encodeStartRecord } from './wal/payload.js';
import { replaySegments, type ReplayedSegment, type SegmentFile } from './wal/replay.js';
import { NEXT_SEGMENT_NAME, parseSegmentName, segmentName } from './wal/segment.js';

export interface FileStorageOptions {
  /** The directory that holds this node's log, snapshots and lock; created if missing. One node per directory. */
  readonly dir: string;
  /**
   * Size at which the log moves on to a new segment file. Default 16 MiB.
   * Compaction deletes whole segments, so smaller segments free space
   * sooner; a save larger than this still goes into one segment.
   */
  readonly segmentBytes?: number;
  /**
   * Write each new segment full of zeros (in the background, before it is
   * needed). Overwriting blocks that already exist lets `fdatasync` skip
   * the file-size and block-allocation metadata, which roughly halves its
   * cost on ext4 and xfs. Default true.
   */
  readonly preallocate?: boolean;
  /** Where torn tails, stale locks and skipped snapshots are reported. Default: process warnings. */
  readonly logger?: StorageLogger;
  /** Replaces node:fs; for fault injection in tests. */
  readonly fileSystem?: StorageFileSystem;
}

/** What `open` found and repaired; see `FileStorage.lastOpen`. */
export interface OpenReport {
  /** A torn record at the end of the log, zeroed: the save it belonged to had not returned. */
  readonly tornTail: { readonly file: string; readonly offset: number; readonly bytes: number; readonly reason: string } | null;
  /** A newest segment that held no complete record (a crash while it was started), removed. */
  readonly removedSegment: string | null;
  /** Damaged snapshot files passed over for an older valid one. */
  readonly skippedSnapshots: readonly string[];
  /** The log was discarded for a newer snapshot (a crash came between saving the snapshot and recording that). */
  readonly logResetToSnapshot: boolean;
}

const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;
const MIN_SEGMENT_BYTES = 1024;
const ZEROS = Buffer.alloc(1024 * 1024);
const INITIAL_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });
const ENTRY_TYPES: ReadonlySet<string> = new Set(['normal', 'noop', 'config']);

const processWarnings: StorageLogger = {
  info() {},
  warn(obj, msg) {
    process.emitWarning(`${msg ?? 'bellwether storage'} ${JSON.stringify(obj)}`, { code: 'BELLWETHER_STORAGE' });
  },
};

interface ActiveSegment {
  readonly handle: StorageFileHandle;
  readonly seq: number;
  readonly name: string;
  /** Where the next record goes. */
  offset: number;
  /** Where the first record after the START record begins: a segment this empty is never rotated. */
  readonly firstRecord: number;
  /** Bytes written but not yet synced (only saves that change nothing but commit leave any). */
  dirty: boolean;
}

interface PreparedSegment {
  readonly handle: StorageFileHandle;
  readonly path: string;
}

type Prepared = { readonly ok: PreparedSegment } | { readonly error: unknown };

type Phase = 'closed' | 'opening' | 'open' | 'closing';

/**
 * A durable Storage: a segmented write-ahead log in a directory.
 *
 * - Every `save` is one checksummed record (CRC-32C over a framed header and
 *   payload), encoded into one buffer and written with one write call, then
 *   made durable with exactly one `fdatasync`, however many entries it holds:
 *   the node's group commit. Truncating a conflicting suffix is part of the
 *   same record, so a crash cannot separate it from the entries replacing it.
 * - Hard state (term, vote, commit) is in the same records; each segment
 *   starts with a record repeating the current hard state, so old segments
 *   can be deleted (compaction) without losing it.
 * - On open, a torn record at the end of the newest segment (a crash during
 *   a save that never returned) is zeroed and reported; damage anywhere
 *   else is a CorruptionError naming the file and offset.
 * - Snapshots go to a temporary file that is synced, renamed into place,
 *   and the directory synced; the newest valid one wins on open.
 * - A LOCK file keeps a second process (or a second FileStorage in this
 *   process) out of the directory; a lock whose process died is taken over.
 * - A write that fails (disk full, I/O error) fails the storage for good:
 *   after an fsync error the kernel may have dropped the unwritten pages, so
 *   retrying could report durable what is not. Close and open it again to
 *   recover every save that had resolved.
 */
export class FileStorage implements Storage {
  readonly dir: string;
  private readonly segmentBytes: number;
  private readonly preallocate: boolean;
  private readonly logger: StorageLogger;
  private readonly fs: StorageFileSystem;

  private phase: Phase = 'closed';
  private failure: StorageError | null = null;
  private busy = false;
  /** The write operation in progress, which close waits for. */
  private inFlight: Promise<void> = Promise.resolve();
  private lock: DirLock | null = null;
  private active: ActiveSegment | null = null;
  /** Segments on disk, oldest first; the last is the active one. */
  private segments: ReplayedSegment[] = [];
  private next: Promise<Prepared> | null = null;
  private report: OpenReport | null = null;

  private hardState: HardState = INITIAL_HARD_STATE;
  /** The index before the first entry `open` would return: the snapshot's index, or 0. */
  private base = 0;
  private baseTerm = 0;
  private lastIndex = 0;
  private lastTerm = 0;
  /** Terms of the stored entries as runs: entries from runStarts[k] on have runTerms[k]. */
  private runStarts: number[] = [];
  private runTerms: number[] = [];
  private snapshotIndex = 0;

  constructor(options: FileStorageOptions) {
    if (options === null || typeof options !== 'object' || typeof options.dir !== 'string' || options.dir === '') {
      throw new StorageError('FileStorage needs { dir }: the directory that holds the log');
    }
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < MIN_SEGMENT_BYTES) {
      throw new StorageError(`FileStorage segmentBytes must be an integer of at least ${MIN_SEGMENT_BYTES}`);
    }
    this.dir = options.dir;
    this.segmentBytes = segmentBytes;
    this.preallocate = options.preallocate ?? true;
    this.logger = options.logger ?? processWarnings;
    this.fs = options.fileSystem ?? nodeFileSystem;
  }

  /** What the last successful `open` found and repaired (null before the first). */
  get lastOpen(): OpenReport | null {
    return this.report;
  }

  // ---------------------------------------------------------------- open

  async open(): Promise<PersistedState> {
    if (this.phase !== 'closed') {
      throw new StorageError(`FileStorage ${this.dir} is already open: two live nodes cannot share one storage`);
    }
    this.phase = 'opening';
    try {
      const state = await this.load();
      this.phase = 'open';
      return state;
    } catch (error) {
      await this.releaseAll();
      this.phase = 'closed';
      throw describeFailure(error, 'open the storage in', this.dir);
    }
  }

  private async load(): Promise<PersistedState> {
    const fs = this.fs;
    await fs.mkdir(this.dir);
    this.lock = await DirLock.acquire(fs, this.dir, this.logger);
    this.failure = null;

    const names = await fs.readdir(this.dir);
    // Leftovers of writes a crash interrupted: never renamed, so never part of the state.
    for (const name of names) {
      if (name === NEXT_SEGMENT_NAME || (name.startsWith('snapshot-') && name.endsWith('.tmp'))) {
        await fs.unlink(join(this.dir, name));
      }
    }
    const seqs = names
      .map(parseSegmentName)
      .filter((seq): seq is number => seq !== null)
      .sort((a, b) => a - b);
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] !== seqs[i - 1] + 1) {
        throw new CorruptionError(`Write-ahead log segment ${segmentName(seqs[i - 1] + 1)} is missing`, {
          file: join(this.dir, segmentName(seqs[i - 1] + 1)),
        });
      }
    }
    const files: SegmentFile[] = [];
    for (const seq of seqs) {
      const name = segmentName(seq);
      const path = join(this.dir, name);
      files.push({ seq, name, path, bytes: await fs.readFile(path) });
    }
    const replay = replaySegments(files);
    const { snapshot, skipped } = await this.loadNewestSnapshot(names);

    let removedSegment: string | null = null;
    let tornTail: OpenReport['tornTail'] = null;
    let logResetToSnapshot = false;

    if (replay === null) {
      if (snapshot !== null || skipped.length > 0) {
        throw new CorruptionError('Snapshot files exist but the write-ahead log is missing', { file: this.dir });
      }
      if (files.length > 0) {
        removedSegment = files[0].name;
        await fs.unlink(join(this.dir, removedSegment));
        await this.syncDir();
      }
      this.resetMemory(INITIAL_HARD_STATE, 0, 0, []);
      this.snapshotIndex = 0;
      this.segments = [];
      this.active = await this.startSegment(1, null);
      this.report = { tornTail, removedSegment, skippedSnapshots: skipped, logResetToSnapshot };
      this.logRepairs();
      this.prepareNext();
      return { hardState: this.hardState, entries: [], snapshot: null };
    }

    if (replay.emptyLastSegment !== null) {
      removedSegment = replay.emptyLastSegment;
      await fs.unlink(join(this.dir, removedSegment));
      await this.syncDir();
    }
    const last = replay.segments[replay.segments.length - 1];
    const handle = await fs.open(join(this.dir, last.name), 'r+');
    this.active = {
      handle,
      seq: last.seq,
      name: last.name,
      offset: replay.end,
      firstRecord: replay.startRecordEnd,
      dirty: false,
    };
    this.segments = replay.segments;
    if (replay.torn !== null) {
      const { offset, garbageEnd, reason } = replay.torn;
      await zeroRange(handle, offset, garbageEnd);
      await handle.datasync();
      tornTail = { file: join(this.dir, last.name), offset, bytes: garbageEnd - offset, reason };
    }

    // Which entries the snapshot leaves, by Figure 13's rule (see saveSnapshot).
    let entries = replay.entries;
    let base = replay.base;
    let baseTerm = replay.baseTerm;
    if (snapshot === null) {
      if (replay.base !== 0) {
        throw new CorruptionError(
          `The log starts after index ${replay.base}, but no snapshot covers the entries before it`,
          { file: join(this.dir, replay.segments[0].name) },
        );
      }
    } else {
      if (snapshot.index < replay.base) {
        throw new CorruptionError(
          `The newest valid snapshot ends at index ${snapshot.index}, but the log starts after ${replay.base}: ` +
            'the entries between are lost',
          { file: join(this.dir, snapshotName(snapshot.index, snapshot.term)) },
        );
      }
      const at = snapshot.index - replay.base;
      const termThere = at === 0 ? replay.baseTerm : at <= entries.length ? entries[at - 1].term : -1;
      if (termThere === snapshot.term) {
        entries = entries.slice(at);
      } else {
        entries = [];
        logResetToSnapshot = true;
      }
      base = snapshot.index;
      baseTerm = snapshot.term;
    }
    this.resetMemory(replay.hardState, base, baseTerm, entries);
    this.snapshotIndex = snapshot?.index ?? 0;
    if (logResetToSnapshot) {
      // Record the discard, so that the next save's entries (after the
      // snapshot's index) do not look like a gap on the next open.
      await this.append(encodeResetRecord(base, baseTerm), true);
    }
    this.report = { tornTail, removedSegment, skippedSnapshots: skipped, logResetToSnapshot };
    this.logRepairs();
    this.prepareNext();
    return { hardState: this.hardState, entries, snapshot };
  }

  private async loadNewestSnapshot(names: readonly string[]): Promise<{ snapshot: Snapshot | null; skipped: string[] }> {
    const candidates = names
      .map((name) => ({ name, parsed: parseSnapshotName(name) }))
      .filter((c): c is { name: string; parsed: { index: number; term: number } } => c.parsed !== null)
      .sort((a, b) => b.parsed.index - a.parsed.index || b.parsed.term - a.parsed.term);
    const skipped: string[] = [];
    for (const { name, parsed } of candidates) {
      const decoded = decodeSnapshotFile(await this.fs.readFile(join(this.dir, name)));
      if (typeof decoded === 'string' || decoded.index !== parsed.index || decoded.term !== parsed.term) {
        skipped.push(join(this.dir, name));
        continue;
      }
      return { snapshot: decoded, skipped };
    }
    return { snapshot: null, skipped };
  }

  private logRepairs(): void {
    const report = this.report;
    if (report === null) return;
    if (report.tornTail !== null) {
      this.logger.warn(
        { ...report.tornTail },
        'truncated a torn record at the end of the write-ahead log (a crash interrupted a save that had not returned)',
      );
    }
    if (report.removedSegment !== null) {
      this.logger.warn({ dir: this.dir, file: report.removedSegment }, 'removed an empty write-ahead log segment left by a crash');
    }
    for (const file of report.skippedSnapshots) {
      this.logger.warn({ file }, 'skipped a damaged snapshot; an older one is used');
    }
    if (report.logResetToSnapshot) {
      this.logger.warn({ dir: this.dir }, 'discarded the log for a newer snapshot, as the interrupted snapshot save would have');
    }
  }

  // ---------------------------------------------------------------- save

  async save(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    this.assertUsable('save');
    const count = entries.length;
    if (count > 0) this.validateEntries(entries);
    let termOrVoteChanged = false;
    if (hardState !== null) {
      validateHardState(hardState);
      termOrVoteChanged = hardState.term !== this.hardState.term || hardState.vote !== this.hardState.vote;
      if (count === 0 && !termOrVoteChanged && hardState.commit === this.hardState.commit) return;
    } else if (count === 0) {
      return;
    }
    const record = encodeSaveRecord(hardState, entries);
    // A save that changes only commit is not synced (see Storage.save): commit may go back after a power failure, safely.
    await this.append(record, count > 0 || termOrVoteChanged);
    if (count > 0) this.rememberEntries(entries);
    if (hardState !== null) {
      this.hardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
    }
  }

  private validateEntries(entries: readonly Entry[]): void {
    const first = entries[0]?.index;
    if (!Number.isSafeInteger(first) || first <= this.base || first > this.lastIndex + 1) {
      throw new StorageError(
        `FileStorage.save: entries start at index ${first}, but the log ends at ${this.lastIndex}; ` +
          `the first entry must be in ${this.base + 1}..${this.lastIndex + 1} ` +
          (first <= this.base && first >= 1 ? '(entries up to the snapshot cannot be replaced)' : '(a gap would lose data)'),
      );
    }
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      if (entry.index !== first + i) {
        throw new StorageError(
          `FileStorage.save: entries are not contiguous (index ${entry.index} follows ${first + i - 1})`,
        );
      }
      if (!Number.isSafeInteger(entry.term) || entry.term < 0 || !(entry.data instanceof Uint8Array) || !ENTRY_TYPES.has(entry.type)) {
        throw new StorageError(`FileStorage.save: entry ${entry.index} has an invalid term, type or data`);
      }
    }
  }

  private rememberEntries(entries: readonly Entry[]): void {
    const first = entries[0].index;
    const starts = this.runStarts;
    const terms = this.runTerms;
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
    this.lastIndex = last.index;
    this.lastTerm = last.term;
  }

  /** The term of the stored entry at `index`, or -1 when there is none. */
  private termAt(index: number): number {
    if (index === this.base) return this.baseTerm;
    if (index < this.base || index > this.lastIndex) return -1;
    const starts = this.runStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.runTerms[lo] ?? -1;
  }

  private resetMemory(hardState: HardState, base: number, baseTerm: number, entries: readonly Entry[]): void {
    this.hardState = hardState;
    this.base = base;
    this.baseTerm = baseTerm;
    this.lastIndex = base;
    this.lastTerm = baseTerm;
    this.runStarts = [];
    this.runTerms = [];
    if (entries.length > 0) this.rememberEntries(entries);
  }

  // ---------------------------------------------------------------- snapshots and compaction

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.assertUsable('saveSnapshot');
    validateSnapshot(snapshot);
    if (snapshot.index < this.snapshotIndex) {
      throw new StorageError(
        `FileStorage.saveSnapshot: snapshot at index ${snapshot.index} is older than the stored one at ${this.snapshotIndex}`,
      );
    }
    const bytes = encodeSnapshotFile(snapshot);
    const name = snapshotName(snapshot.index, snapshot.term);
    const path = join(this.dir, name);
    const temp = `${path}.tmp`;
    await this.exclusively('write a snapshot in', async () => {
      const handle = await this.fs.open(temp, 'w');
      try {
        await writeFully(handle, bytes, 0);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.fs.rename(temp, path);
      await this.syncDir();
    });
    const previous = this.snapshotIndex;
    this.snapshotIndex = snapshot.index;
    // Figure 13 steps 6-7: keep the entries after a matching entry, else discard the whole log.
    if (this.termAt(snapshot.index) === snapshot.term) {
      this.dropThrough(snapshot.index, snapshot.term);
    } else {
      await this.append(encodeResetRecord(snapshot.index, snapshot.term), true);
      this.resetMemory(this.hardState, snapshot.index, snapshot.term, []);
    }
    await this.removeOldSnapshots(name, previous);
  }

  /** Entries up to `index` are now covered by the snapshot and not returned by open. */
  private dropThrough(index: number, term: number): void {
    this.base = index;
    this.baseTerm = term;
    const starts = this.runStarts;
    const terms = this.runTerms;
    let k = 0;
    while (k + 1 < starts.length && starts[k + 1] <= index + 1) k++;
    this.runStarts = starts.slice(k);
    this.runTerms = terms.slice(k);
    if (this.runStarts.length > 0 && this.runStarts[0] <= index) this.runStarts[0] = index + 1;
    if (this.lastIndex === index) {
      this.runStarts = [];
      this.runTerms = [];
    }
  }

  /** Keeps the new snapshot and the one before it (the fallback if the new one is ever damaged). */
  private async removeOldSnapshots(keep: string, previousIndex: number): Promise<void> {
    try {
      for (const name of await this.fs.readdir(this.dir)) {
        const parsed = parseSnapshotName(name);
        if (parsed === null || name === keep || parsed.index >= previousIndex) continue;
        await this.fs.unlink(join(this.dir, name));
      }
    } catch (error) {
      this.logger.warn({ dir: this.dir, err: error }, 'could not remove old snapshots');
    }
  }

  async compact(throughIndex: number): Promise<void> {
    this.assertUsable('compact');
    if (!Number.isSafeInteger(throughIndex) || throughIndex < 0) {
      throw new StorageError(`FileStorage.compact: ${throughIndex} is not an index`);
    }
    if (throughIndex > this.snapshotIndex) {
      throw new StorageError(
        `FileStorage.compact: cannot drop entries through ${throughIndex}; the newest snapshot covers only ${this.snapshotIndex}`,
      );
    }
    await this.exclusively('compact the log in', async () => {
      let removed = 0;
      // A segment can go once the next one starts at or before throughIndex: all its entries are covered.
      while (this.segments.length >= 2 && this.segments[1].startIndex <= throughIndex) {
        await this.fs.unlink(join(this.dir, this.segments[0].name));
        this.segments.shift();
        removed++;
      }
      if (removed > 0) await this.syncDir();
    });
  }

  // ---------------------------------------------------------------- close

  async close(): Promise<void> {
    if (this.phase !== 'open') return;
    this.phase = 'closing';
    // The node closes only after its last save settled; a careless caller still gets a clean close.
    await this.inFlight;
    let failure: unknown = null;
    const next = this.next;
    this.next = null;
    if (next !== null) {
      const prepared = await next;
      if ('ok' in prepared) {
        await prepared.ok.handle.close().catch(() => undefined);
        await this.fs.unlink(prepared.ok.path).catch(() => undefined);
      }
    }
    const active = this.active;
    if (active !== null) {
      try {
        if (active.dirty && this.failure === null) await active.handle.datasync();
        active.dirty = false;
      } catch (error) {
        failure = error;
      }
    }
    await this.releaseAll();
    this.phase = 'closed';
    if (failure !== null) throw describeFailure(failure, 'sync the log in', this.dir);
  }

  /** Closes every handle and releases the lock, ignoring errors: for close and a failed open. */
  private async releaseAll(): Promise<void> {
    const active = this.active;
    this.active = null;
    if (active !== null) await active.handle.close().catch(() => undefined);
    const next = this.next;
    this.next = null;
    if (next !== null) {
      const prepared = await next;
      if ('ok' in prepared) await prepared.ok.handle.close().catch(() => undefined);
    }
    const lock = this.lock;
    this.lock = null;
    if (lock !== null) await lock.release().catch(() => undefined);
  }

  // ---------------------------------------------------------------- writing

  private assertUsable(operation: string): void {
    if (this.phase !== 'open') {
      throw new StorageError(`FileStorage.${operation} called while the storage is not open (${this.dir})`);
    }
    if (this.failure !== null) {
      throw new StorageError(
        `FileStorage.${operation}: an earlier write failed, so the storage accepts no more; close and reopen it (${this.failure.message})`,
        { cause: this.failure },
      );
    }
    if (this.busy) {
      throw new StorageError(`FileStorage.${operation} called while another call is in progress; await each call`);
    }
  }

  /** Runs one write operation; a failure fails the storage for good (see the class comment). */
  private exclusively(action: string, work: () => Promise<void>): Promise<void> {
    this.busy = true;
    const done = work().then(
      () => {
        this.busy = false;
      },
      (error: unknown) => {
        this.busy = false;
        this.failure = describeFailure(error, action, this.dir);
        throw this.failure;
      },
    );
    this.inFlight = done.catch(() => undefined);
    return done;
  }

  /** Appends one framed record to the active segment, moving to a new one first if it is full. */
  private append(record: Buffer, sync: boolean): Promise<void> {
    return this.exclusively('write the log in', async () => {
      const active = this.active!;
      if (active.offset + record.length > this.segmentBytes && active.offset > active.firstRecord) {
        await this.rotate(record);
        return;
      }
      await writeFully(active.handle, record, active.offset);
      active.offset += record.length;
      if (sync) {
        // The one fdatasync of this save: the group commit of every entry in it.
        await active.handle.datasync();
        active.dirty = false;
      } else {
        active.dirty = true;
      }
    });
  }

  /**
   * Moves on to segment seq+1 and writes `record` as its first record after
   * the START record. The old segment is complete and synced before the new
   * one is named, so only the newest segment can ever hold a torn write.
   */
  private async rotate(record: Buffer): Promise<void> {
    const old = this.active!;
    if (old.dirty) await old.handle.datasync();
    old.dirty = false;
    this.active = await this.startSegment(old.seq + 1, record);
    await old.handle.close();
    this.prepareNext();
  }

  /**
   * Writes a START record (and `record`, if any) at the head of a prepared
   * file, renames it into place as segment `seq`, and syncs the file and the
   * directory. A crash before the rename leaves only the temporary file,
   * which open deletes; a crash after it but before the sync leaves a
   * segment with no complete record, which open removes.
   */
  private async startSegment(seq: number, record: Buffer | null): Promise<ActiveSegment> {
    const prepared = await this.takePrepared();
    const start = encodeStartRecord({
      seq,
      startIndex: this.lastIndex,
      startTerm: this.lastTerm,
      hardState: this.hardState,
    });
    const head = record === null ? start : Buffer.concat([start, record]);
    const name = segmentName(seq);
    try {
      await writeFully(prepared.handle, head, 0);
      await this.fs.rename(prepared.path, join(this.dir, name));
      await Promise.all([prepared.handle.datasync(), this.syncDir()]);
    } catch (error) {
      await prepared.handle.close().catch(() => undefined);
      throw error;
    }
    this.segments.push({ seq, name, startIndex: this.lastIndex });
    return { handle: prepared.handle, seq, name, offset: head.length, firstRecord: start.length, dirty: false };
  }

  /** Starts preparing the next segment file in the background. */
  private prepareNext(): void {
    this.next = this.prepareSegment().then(
      (ok): Prepared => ({ ok }),
      (error: unknown): Prepared => ({ error }),
    );
  }

  private async takePrepared(): Promise<PreparedSegment> {
    const pending = this.next;
    this.next = null;
    const prepared = pending !== null ? await pending : await this.prepareSegment().then(
      (ok): Prepared => ({ ok }),
      (error: unknown): Prepared => ({ error }),
    );
    if ('error' in prepared) throw prepared.error;
    return prepared.ok;
  }

  private async prepareSegment(): Promise<PreparedSegment> {
    const path = join(this.dir, NEXT_SEGMENT_NAME);
    const handle = await this.fs.open(path, 'w+');
    try {
      if (this.preallocate) {
        await zeroRange(handle, 0, this.segmentBytes);
        await handle.datasync();
      }
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    return { handle, path };
  }

  private async syncDir(): Promise<void> {
    const handle = await this.fs.open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

// ---------------------------------------------------------------- helpers

async function writeFully(handle: StorageFileHandle, buffer: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, done, buffer.length - done, position + done);
    if (!(bytesWritten > 0)) throw new Error(`write made no progress at byte ${position + done}`);
    done += bytesWritten;
  }
}

/** Writes zeros over [start, end). */
async function zeroRange(handle: StorageFileHandle, start: number, end: number): Promise<void> {
  for (let at = start; at < end; at += ZEROS.length) {
    await writeFully(handle, ZEROS.subarray(0, Math.min(ZEROS.length, end - at)), at);
  }
}

function validateHardState(hardState: HardState): void {
  const { term, vote, commit } = hardState;
  if (!Number.isSafeInteger(term) || term < 0 || !Number.isSafeInteger(commit) || commit < 0) {
    throw new StorageError('FileStorage.save: hard state term and commit must be non-negative integers');
  }
  if (vote !== null && typeof vote !== 'string') {
    throw new StorageError('FileStorage.save: hard state vote must be a node id or null');
  }
}

function validateSnapshot(snapshot: Snapshot): void {
  const ok =
    snapshot !== null &&
    typeof snapshot === 'object' &&
    Number.isSafeInteger(snapshot.index) &&
    snapshot.index >= 1 &&
    Number.isSafeInteger(snapshot.term) &&
    snapshot.term >= 0 &&
    Array.isArray(snapshot.voters) &&
    Array.isArray(snapshot.learners) &&
    snapshot.data instanceof Uint8Array;
  if (!ok) {
    throw new StorageError('FileStorage.saveSnapshot: a snapshot needs an index >= 1, a term, voters, learners and data');
  }
}

/** Turns a file-system error into a StorageError that says what it means for the user. */
function describeFailure(error: unknown, action: string, dir: string): StorageError {
  if (StorageError.isInstance(error)) return error;
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  let message: string;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    message = `The disk is full: could not ${action} ${dir} (${detail})`;
  } else if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    message = `The storage directory ${dir} is not writable: could not ${action} it (${detail})`;
  } else if (code === 'ENOTDIR' || code === 'EEXIST') {
    message = `The storage path ${dir} is not a usable directory (${detail})`;
  } else {
    message = `Could not ${action} ${dir}: ${detail}`;
  }
  return new StorageError(message, { cause: error });
}
