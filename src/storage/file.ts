import { join } from 'node:path';
import { ConfigError, StorageError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Entry, HardState } from '../messages.js';
import { errorCode, makeDirectory, nodeFileSystem, type StorageFileSystem, syncDirectory } from './fs.js';
import { DirLock } from './lock.js';
import { LogTerms } from './log-terms.js';
import { recover } from './recovery.js';
import { validateCompaction, validateEntries, validateHardState, validateSnapshot } from './save-checks.js';
import { snapshotName } from './snapshot-file.js';
import { pruneSnapshotFiles, writeSnapshotFile } from './snapshot-store.js';
import type { PersistedState, Snapshot, Storage } from './storage.js';
import { encodeResetRecord, encodeSaveRecord } from './wal/payload.js';
import { type StartState, WalWriter, type WalWriterOptions } from './wal/writer.js';

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
  /**
   * Where torn tails, stale locks and skipped snapshots are reported: the
   * node's Logger, or anything with its `info` and `warn` (the only two
   * FileStorage calls). Default: process warnings.
   */
  readonly logger?: Pick<Logger, 'info' | 'warn'>;
  /** Replaces node:fs; for fault injection in tests. */
  readonly fileSystem?: StorageFileSystem;
}

/** What `open` found and repaired; see `FileStorage.lastOpen`. */
export interface OpenReport {
  /** A torn record at the end of the log, zeroed: the save it belonged to had not returned. */
  readonly tornTail: {
    readonly file: string;
    readonly offset: number;
    readonly bytes: number;
    readonly reason: string;
  } | null;
  /** A newest segment that held no complete record (a crash while it was started), removed. */
  readonly removedSegment: string | null;
  /** Damaged snapshot files passed over for an older valid one. */
  readonly skippedSnapshots: readonly string[];
  /** The log was discarded for a newer snapshot (a crash came between saving the snapshot and recording that). */
  readonly logResetToSnapshot: boolean;
}

const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;
const MIN_SEGMENT_BYTES = 1024;
const INITIAL_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });

const processWarnings: Pick<Logger, 'info' | 'warn'> = {
  info() {},
  warn(obj, msg) {
    process.emitWarning(`${msg ?? 'bellwether storage'} ${JSON.stringify(obj)}`, { code: 'BELLWETHER_STORAGE' });
  },
};

type Phase = 'closed' | 'opening' | 'open' | 'closing';

/**
 * A durable Storage: a segmented write-ahead log in a directory.
 *
 * - Every `save` is one checksummed record (CRC-32C over a framed header and
 *   payload), encoded into one buffer and written with one write call, then
 *   made durable with exactly one `fdatasync`, however many entries it holds:
 *   the node's group commit. Truncating a conflicting suffix is part of the
 *   same record, so a crash cannot separate it from the entries replacing it.
 *   A save that changes only commit writes nothing; the commit index goes
 *   into the next record (or is written on close), as Storage.save allows.
 *   So every write is synced before the next begins, and only the newest
 *   record can ever be torn by a crash.
 * - Hard state (term, vote, commit) is in the same records; each segment
 *   starts with a record repeating the current hard state, so old segments
 *   can be deleted (compaction) without losing it.
 * - On open, a torn record at the end of the newest segment (a crash during
 *   a save that never returned) is zeroed and reported; damage anywhere
 *   else is a CorruptionError naming the file and offset.
 * - Snapshots go to a temporary file that is synced, renamed into place,
 *   and the directory synced; the newest valid one wins on open. An older
 *   one is kept only while the log still holds every entry after it (open
 *   may fall back to it if the newest is found damaged), so the directory
 *   holds at most two snapshots; compaction deletes whole segments. Disk
 *   use stays bounded by the snapshots, the entries after the compaction
 *   point and two more segments (one partly compacted, one prepared).
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
  private readonly logger: Pick<Logger, 'info' | 'warn'>;
  private readonly fs: StorageFileSystem;

  private phase: Phase = 'closed';
  private failure: StorageError | null = null;
  private busy = false;
  /** The write operation in progress, which close waits for. */
  private inFlight: Promise<void> = Promise.resolve();
  private lock: DirLock | null = null;
  private wal: WalWriter | null = null;
  private report: OpenReport | null = null;

  private hardState: HardState = INITIAL_HARD_STATE;
  /** Where the log `open` would return starts and ends, and the terms of its entries. */
  private readonly log = new LogTerms();
  private snapshotIndex = 0;
  /** The newest snapshot's file name, or null for none. */
  private snapshotFile: string | null = null;
  /** The segments hold every entry after this index: an older snapshot below it is no use as a fallback. */
  private logFloor = 0;
  /** `hardState` holds a commit newer than any record: written with the next record or on close. */
  private commitUnwritten = false;
  /** The hard state as the records on disk give it (a START record must repeat exactly this). */
  private writtenHardState: HardState = INITIAL_HARD_STATE;

  constructor(options: FileStorageOptions) {
    if (options === null || typeof options !== 'object' || typeof options.dir !== 'string' || options.dir === '') {
      throw new ConfigError([{ path: 'dir', message: 'FileStorage needs { dir }: the directory that holds the log' }]);
    }
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < MIN_SEGMENT_BYTES) {
      throw new ConfigError([{ path: 'segmentBytes', message: `must be an integer of at least ${MIN_SEGMENT_BYTES}` }]);
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
    await makeDirectory(fs, this.dir);
    this.lock = await DirLock.acquire(fs, this.dir, this.logger);
    this.failure = null;
    const found = await recover(fs, this.dir);

    // Everything is decided; now the repairs.
    for (const name of found.leftovers) await fs.unlink(join(this.dir, name));
    if (found.emptySegment !== null) {
      await fs.unlink(join(this.dir, found.emptySegment));
      await syncDirectory(fs, this.dir);
    }
    if (found.resetToSnapshot) {
      // Until the RESET record below is written, the log on disk ends where
      // its records do: a segment begun for that record must say so.
      this.resetMemory(found.hardState, found.logEnd.index, found.logEnd.term, []);
    } else {
      this.resetMemory(found.hardState, found.base, found.baseTerm, found.entries);
    }
    this.snapshotIndex = found.snapshot?.index ?? 0;
    this.snapshotFile = found.snapshot === null ? null : snapshotName(found.snapshot.index, found.snapshot.term);
    this.logFloor = found.logFloor;
    const tail = found.tail;
    if (tail === null) {
      this.wal = await WalWriter.create(this.walOptions(), this.startState());
    } else {
      this.wal = await WalWriter.resume(this.walOptions(), tail.segments, tail.end, tail.startRecordEnd, tail.torn);
    }
    if (found.resetToSnapshot) {
      // Record the discard, so that the next save's entries (after the
      // snapshot's index) do not look like a gap on the next open.
      await this.discardLogFor(found.base, found.baseTerm);
    }
    const torn = tail?.torn ?? null;
    this.report = {
      tornTail:
        torn === null
          ? null
          : {
              file: join(this.dir, tail!.segments[tail!.segments.length - 1].name),
              offset: torn.offset,
              bytes: torn.garbageEnd - torn.offset,
              reason: torn.reason,
            },
      removedSegment: found.emptySegment,
      skippedSnapshots: found.skippedSnapshots,
      logResetToSnapshot: found.resetToSnapshot,
    };
    this.logRepairs();
    return { hardState: this.hardState, entries: found.entries, snapshot: found.snapshot };
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
      this.logger.warn(
        { dir: this.dir, file: report.removedSegment },
        'removed an empty write-ahead log segment left by a crash',
      );
    }
    for (const file of report.skippedSnapshots) {
      this.logger.warn({ file }, 'skipped a damaged snapshot; an older one is used');
    }
    if (report.logResetToSnapshot) {
      this.logger.warn(
        { dir: this.dir },
        'discarded the log for a newer snapshot, as the interrupted snapshot save would have',
      );
    }
  }

  // ---------------------------------------------------------------- save

  async save(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    this.assertUsable('save');
    const count = entries.length;
    if (count > 0) validateEntries(entries, this.log);
    if (hardState !== null) {
      validateHardState(hardState);
      const termOrVoteChanged = hardState.term !== this.hardState.term || hardState.vote !== this.hardState.vote;
      if (count === 0 && !termOrVoteChanged) {
        // Only commit changed: keep it for the next record or close, with no write and no sync
        // (see Storage.save: commit may go back after a crash, safely).
        if (hardState.commit !== this.hardState.commit) {
          this.hardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
          this.commitUnwritten = true;
        }
        return;
      }
    } else if (count === 0) {
      return;
    }
    const written = hardState ?? (this.commitUnwritten ? this.hardState : null);
    await this.append(encodeSaveRecord(written, entries));
    this.commitUnwritten = false;
    if (written !== null) this.writtenHardState = { term: written.term, vote: written.vote, commit: written.commit };
    if (count > 0) this.log.append(entries);
    if (hardState !== null) {
      this.hardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
    }
  }

  private resetMemory(hardState: HardState, base: number, baseTerm: number, entries: readonly Entry[]): void {
    this.hardState = hardState;
    this.writtenHardState = hardState;
    this.commitUnwritten = false;
    this.log.reset(base, baseTerm, entries);
  }

  // ---------------------------------------------------------------- snapshots and compaction

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.assertUsable('saveSnapshot');
    validateSnapshot(snapshot, 'FileStorage', this.snapshotIndex);
    // One operation from the file to the log's discard: close waits for all of it, and no save comes between.
    await this.exclusively('write a snapshot in', async () => {
      const name = await writeSnapshotFile(this.fs, this.dir, snapshot);
      this.snapshotIndex = snapshot.index;
      this.snapshotFile = name;
      // Figure 13 steps 6-7: keep the entries after a matching entry, else discard the whole log.
      if (this.log.termAt(snapshot.index) === snapshot.term) {
        this.log.dropThrough(snapshot.index, snapshot.term);
      } else {
        await this.discardLogFor(snapshot.index, snapshot.term);
        // The segments before the RESET's hold only discarded entries, and its own starts with the
        // hard state: they go now, so a follower's disk shrinks on an install with no compaction.
        await this.wal!.dropSegmentsBeforeActive();
      }
      await this.pruneSnapshots();
    });
  }

  /**
   * Writes a RESET record: the whole log is discarded, and the next entry
   * follows `index` (Figure 13, step 7). The record goes first, so a segment
   * it starts repeats the log's end as the records before it left it.
   */
  private async discardLogFor(index: number, term: number): Promise<void> {
    await this.writeRecord(encodeResetRecord(index, term));
    this.log.reset(index, term, []);
    this.logFloor = index;
  }

  /** Deletes the snapshot files that are neither the newest nor a usable fallback (see pruneSnapshotFiles). */
  private async pruneSnapshots(): Promise<void> {
    if (this.snapshotFile === null) return;
    try {
      const damaged = new Set(this.report?.skippedSnapshots ?? []);
      await pruneSnapshotFiles(this.fs, this.dir, this.snapshotFile, this.logFloor, damaged);
    } catch (error) {
      // Nothing stored depends on it: the next snapshot or compaction tries again.
      this.logger.warn({ dir: this.dir, err: error }, 'could not remove old snapshots');
    }
  }

  async compact(throughIndex: number): Promise<void> {
    this.assertUsable('compact');
    validateCompaction(throughIndex, 'FileStorage', this.snapshotIndex);
    await this.exclusively('compact the log in', async () => {
      // §7: whole segments whose entries the snapshot holds go; the rest of the log stays.
      await this.wal!.dropSegmentsThrough(throughIndex);
      this.logFloor = Math.max(this.logFloor, this.wal!.oldestStartIndex);
      await this.pruneSnapshots();
    });
  }

  // ---------------------------------------------------------------- close

  async close(): Promise<void> {
    if (this.phase !== 'open') return;
    this.phase = 'closing';
    // The node closes only after its last save settled; a careless caller still gets a clean close.
    await this.inFlight;
    let failure: unknown = null;
    if (this.commitUnwritten && this.failure === null) {
      try {
        await this.append(encodeSaveRecord(this.hardState, []));
        this.commitUnwritten = false;
        this.writtenHardState = this.hardState;
      } catch (error) {
        failure = error;
      }
    }
    await this.releaseAll();
    this.phase = 'closed';
    if (failure !== null) throw describeFailure(failure, 'write the last commit index in', this.dir);
  }

  /** Closes every file and releases the lock, ignoring errors: for close and a failed open. */
  private async releaseAll(): Promise<void> {
    const wal = this.wal;
    this.wal = null;
    if (wal !== null) await wal.close();
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

  /** Appends one record to the log and syncs it, as one write operation. */
  private append(record: Buffer): Promise<void> {
    return this.exclusively('write the log in', () => this.writeRecord(record));
  }

  /** Appends one record to the log and syncs it (see WalWriter.append); for open and the write operations. */
  private writeRecord(record: Buffer): Promise<void> {
    return this.wal!.append(record, () => this.startState());
  }

  /** What a new segment's START record repeats: the log's end and the hard state as written so far. */
  private startState(): StartState {
    return { startIndex: this.log.lastIndex, startTerm: this.log.lastTerm, hardState: this.writtenHardState };
  }

  private walOptions(): WalWriterOptions {
    return { fs: this.fs, dir: this.dir, segmentBytes: this.segmentBytes, preallocate: this.preallocate };
  }
}

// ---------------------------------------------------------------- helpers

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
