import { join } from 'node:path';
import { type StorageFileHandle, type StorageFileSystem, syncDirectory, writeFully, zeroRange } from '../fs.js';
import { encodeStartRecord, type SegmentStart } from './payload.js';
import { RECORD_HEADER_BYTES } from './record.js';
import type { ReplayedSegment } from './replay.js';
import { NEXT_SEGMENT_NAME, segmentName, type TornTail } from './segment.js';

export interface WalWriterOptions {
  readonly fs: StorageFileSystem;
  readonly dir: string;
  readonly segmentBytes: number;
  readonly preallocate: boolean;
}

/** What a new segment's START record repeats: the state at the end of the log so far. */
export type StartState = Omit<SegmentStart, 'seq'>;

interface ActiveSegment {
  readonly handle: StorageFileHandle;
  readonly seq: number;
  /** Where the next record goes. */
  offset: number;
  /** Where the first record after the START record begins: a segment this empty is never rotated. */
  readonly firstRecord: number;
}

interface PreparedSegment {
  readonly handle: StorageFileHandle;
  readonly path: string;
}

type Prepared = { readonly ok: PreparedSegment } | { readonly error: unknown };

/**
 * Appends records to the write-ahead log: to the active (newest) segment,
 * moving on to a new one when it is full, with the next segment file
 * prepared (created and, with preallocation, zero-filled and synced) in the
 * background so that rotation does not wait for it. Every append is synced
 * before it resolves, and the caller never starts one before the previous
 * resolved: so only the newest record of the newest segment can ever be
 * torn by a crash, which is exactly what the reader tolerates.
 *
 * Errors are the file system's; the caller turns them into StorageError
 * and stops using the writer.
 */
export class WalWriter {
  private next: Promise<Prepared> | null = null;

  private constructor(
    private readonly options: WalWriterOptions,
    private active: ActiveSegment,
    /** Segments on disk, oldest first; the last is the active one. */
    private readonly segments: ReplayedSegment[],
  ) {
    this.prepareNext();
  }

  /** Starts a new log: segment 1, holding only its START record. */
  static async create(options: WalWriterOptions, start: StartState): Promise<WalWriter> {
    const segments: ReplayedSegment[] = [];
    const active = await startSegment(options, await prepareSegment(options), 1, start, null, segments);
    return new WalWriter(options, active, segments);
  }

  /**
   * Goes on writing at `end` of the last of `segments`, zeroing a torn
   * record there first so that the records written next are followed by
   * zeros again.
   */
  static async resume(
    options: WalWriterOptions,
    segments: ReplayedSegment[],
    end: number,
    startRecordEnd: number,
    torn: TornTail | null,
  ): Promise<WalWriter> {
    const last = segments[segments.length - 1];
    const handle = await options.fs.open(join(options.dir, last.name), 'r+');
    try {
      if (torn !== null) await zeroTornRecord(handle, torn);
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    return new WalWriter(options, { handle, seq: last.seq, offset: end, firstRecord: startRecordEnd }, segments);
  }

  /**
   * Writes `record` with one write call and makes it durable with one
   * fdatasync: the group commit of every entry in it. When the active
   * segment is full, `record` goes into a new segment instead, after a START
   * record made of `start()`.
   */
  async append(record: Buffer, start: () => StartState): Promise<void> {
    const active = this.active;
    if (active.offset + record.length > this.options.segmentBytes && active.offset > active.firstRecord) {
      await this.rotate(record, start());
      return;
    }
    await writeFully(active.handle, record, active.offset);
    active.offset += record.length;
    await active.handle.datasync();
  }

  /**
   * The last log index before the oldest segment kept: the segments hold
   * records for every entry after it (a later RESET may discard some).
   */
  get oldestStartIndex(): number {
    return this.segments[0].startIndex;
  }

  /**
   * Deletes the oldest segments while every entry they hold is at or below
   * `throughIndex`: a segment can go once the next one starts at or before
   * it. The active segment always stays. Returns how many were deleted.
   */
  async dropSegmentsThrough(throughIndex: number): Promise<number> {
    let removed = 0;
    // Oldest first, each removal durable before the next: without the sync
    // between them a crash could keep a later unlink and lose an earlier one,
    // leaving a gap that open must report as a missing segment.
    while (this.segments.length >= 2 && this.segments[1].startIndex <= throughIndex) {
      await this.options.fs.unlink(join(this.options.dir, this.segments[0].name));
      this.segments.shift();
      await syncDirectory(this.options.fs, this.options.dir);
      removed++;
    }
    return removed;
  }

  /** Deletes every segment but the active one: for after a RESET record, which the active segment holds. */
  dropSegmentsBeforeActive(): Promise<number> {
    return this.dropSegmentsThrough(Number.MAX_SAFE_INTEGER);
  }

  /** Closes the files and deletes the prepared segment; ignores errors (nothing is left to sync). */
  async close(): Promise<void> {
    await this.active.handle.close().catch(() => undefined);
    const next = this.next;
    this.next = null;
    if (next !== null) {
      const prepared = await next;
      if ('ok' in prepared) {
        await prepared.ok.handle.close().catch(() => undefined);
        await this.options.fs.unlink(prepared.ok.path).catch(() => undefined);
      }
    }
  }

  /**
   * Moves on to segment seq+1 with `record` as its first record after the
   * START record. The old segment was synced by its last append, so it is
   * complete before the new one is named.
   */
  private async rotate(record: Buffer, start: StartState): Promise<void> {
    const old = this.active;
    const pending = this.next;
    this.next = null;
    const prepared = pending !== null ? await pending : await settle(prepareSegment(this.options));
    if ('error' in prepared) throw prepared.error;
    this.active = await startSegment(this.options, prepared.ok, old.seq + 1, start, record, this.segments);
    await old.handle.close();
    this.prepareNext();
  }

  private prepareNext(): void {
    this.next = settle(prepareSegment(this.options));
  }
}

/**
 * Zeroes a torn record so that a crash at any moment leaves something the
 * reader still takes for a torn tail: the payload first, then the header.
 * Zeroing from the start instead could be cut short (a kill between the
 * pages of one write, or pages reaching the disk out of order) with the
 * header zeroed and the rest of the payload not, which reads as damage
 * followed by data, a CorruptionError. With the header last, an
 * interrupted repair leaves the torn header followed by a payload that no
 * longer matches it and zeros: torn again, and repaired again on the next
 * open.
 */
async function zeroTornRecord(handle: StorageFileHandle, torn: TornTail): Promise<void> {
  const headerEnd = Math.min(torn.offset + RECORD_HEADER_BYTES, torn.garbageEnd);
  if (torn.garbageEnd > headerEnd) {
    await zeroRange(handle, headerEnd, torn.garbageEnd);
    await handle.datasync();
  }
  await zeroRange(handle, torn.offset, headerEnd);
  await handle.datasync();
}

/** A promise that never rejects, so that a background preparation cannot be an unhandled rejection. */
function settle(promise: Promise<PreparedSegment>): Promise<Prepared> {
  return promise.then(
    (ok): Prepared => ({ ok }),
    (error: unknown): Prepared => ({ error }),
  );
}

/**
 * Creates the next segment's file under a temporary name. With
 * preallocation it is filled with zeros and synced now, so that the appends
 * to it overwrite blocks that exist: fdatasync then has no file size or
 * block allocation to record, which roughly halves its cost.
 */
async function prepareSegment(options: WalWriterOptions): Promise<PreparedSegment> {
  const path = join(options.dir, NEXT_SEGMENT_NAME);
  const handle = await options.fs.open(path, 'w+');
  try {
    if (options.preallocate) {
      await zeroRange(handle, 0, options.segmentBytes);
      await handle.datasync();
    }
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
  return { handle, path };
}

/**
 * Writes a START record (and `record`, if any) at the head of a prepared
 * file, renames it into place as segment `seq`, and syncs the file and the
 * directory. A crash before the rename leaves only the temporary file,
 * which open deletes; a crash after it but before the sync leaves a segment
 * with no complete record, which open removes.
 */
async function startSegment(
  options: WalWriterOptions,
  prepared: PreparedSegment,
  seq: number,
  start: StartState,
  record: Buffer | null,
  segments: ReplayedSegment[],
): Promise<ActiveSegment> {
  const head = encodeStartRecord({ seq, ...start });
  const bytes = record === null ? head : Buffer.concat([head, record]);
  const name = segmentName(seq);
  try {
    await writeFully(prepared.handle, bytes, 0);
    await options.fs.rename(prepared.path, join(options.dir, name));
    await Promise.all([prepared.handle.datasync(), syncDirectory(options.fs, options.dir)]);
  } catch (error) {
    await prepared.handle.close().catch(() => undefined);
    throw error;
  }
  segments.push({ seq, name, startIndex: start.startIndex });
  return { handle: prepared.handle, seq, offset: bytes.length, firstRecord: head.length };
}
