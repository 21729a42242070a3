import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptionError, StorageError } from '../../src/errors.js';
import type { Entry, HardState } from '../../src/messages.js';
import { encodeSnapshotFile, snapshotName } from '../../src/storage/snapshot-file.js';
import type { Snapshot } from '../../src/storage/storage.js';
import { encodeSaveRecord, encodeStartRecord } from '../../src/storage/wal/payload.js';
import { FaultyFs, systemError } from './faulty-fs.js';
import { fileStorageFixture, plain, range, rejection } from './support.js';

/**
 * FileStorage with snapshots and compaction: what a crash at each point of
 * a snapshot or a compaction leaves, what open does with a damaged snapshot
 * (which file it names, what it reports), and that the directory stays
 * bounded however long the node runs. The storage conformance suite covers
 * what any storage must do (test/storage/conformance.test.ts gives it the
 * crash before the snapshot's rename, and a damaged newest snapshot).
 */

const SEGMENT_BYTES = 4096;
const { dirs, storage } = fileStorageFixture(SEGMENT_BYTES);

function snap(index: number, term: number, text = `state@${index}`): Snapshot {
  return { index, term, voters: ['a', 'b', 'c'], learners: [], data: new TextEncoder().encode(text) };
}

function text(snapshot: Snapshot | null | undefined): string | null {
  return snapshot === null || snapshot === undefined ? null : new TextDecoder().decode(snapshot.data);
}

function files(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir)
    .filter((n) => pattern.test(n))
    .sort();
}

const SEGMENT = /^wal-\d{16}\.log$/;
const SNAPSHOT = /^snapshot-\d{16}-\d{16}\.snap$/;

/** Flips one byte of the snapshot file, inside its data: the checksum no longer matches. */
function damage(dir: string, snapshot: Snapshot): string {
  const path = join(dir, snapshotName(snapshot.index, snapshot.term));
  const bytes = readFileSync(path);
  bytes[bytes.length - 6] ^= 0x40;
  writeFileSync(path, bytes);
  return path;
}

/** Writes `snapshot` as a valid file into `dir` without telling its log: a snapshot file some other way put there. */
function plant(dir: string, snapshot: Snapshot): string {
  const path = join(dir, snapshotName(snapshot.index, snapshot.term));
  writeFileSync(path, encodeSnapshotFile(snapshot));
  return path;
}

/** A new directory whose FileStorage holds entries 1..`last` of term 1 and snapshots at 10 and 20, closed. */
async function withSnapshotsAt10And20(last: number): Promise<string> {
  const dir = dirs.make();
  const s = storage({ dir });
  await s.open();
  await s.save(null, range(1, last, 1));
  await s.saveSnapshot(snap(10, 1));
  await s.saveSnapshot(snap(20, 1));
  await s.close();
  return dir;
}

async function openError(dir: string): Promise<CorruptionError> {
  const error = await rejection(storage({ dir }).open());
  expect(CorruptionError.isInstance(error), String(error)).toBe(true);
  return error as CorruptionError;
}

describe('FileStorage: a crash in the middle of a snapshot', () => {
  it('when the crash came after the rename but before the log recorded its discard, open discards the log for the snapshot and goes on', async () => {
    const dir = dirs.make();
    const fs = new FaultyFs();
    const s = storage({ dir, fileSystem: fs });
    await s.open();
    await s.save({ term: 2, vote: 'a', commit: 8 }, range(1, 10, 2));
    // A leader's snapshot this log does not match (Figure 13, step 7); the process dies writing the discard.
    let renamed = false;
    fs.fault = (call) => {
      if (call.op === 'rename' && call.file.endsWith('.snap')) renamed = true;
      return renamed && call.op === 'write' && call.file.startsWith('wal-') ? systemError('EIO') : undefined;
    };
    expect(StorageError.isInstance(await rejection(s.saveSnapshot(snap(30, 3, 'leader'))))).toBe(true);
    await s.close();

    const again = storage({ dir });
    const state = await again.open();
    expect(text(state.snapshot)).toBe('leader');
    expect(state.entries).toEqual([]);
    expect(state.hardState).toEqual({ term: 2, vote: 'a', commit: 8 });
    expect(again.lastOpen!.logResetToSnapshot).toBe(true);
    await again.save({ term: 3, vote: null, commit: 31 }, range(31, 32, 3));
    await again.close();
    const last = await storage({ dir }).open();
    expect(text(last.snapshot)).toBe('leader');
    expect(plain(last.entries)).toEqual(plain(range(31, 32, 3)));
  });

  it('loses nothing when the crash came between a durable snapshot and the compaction, and the next compaction catches up', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    for (let i = 1; i <= 400; i += 4) await s.save({ term: 1, vote: 'b', commit: i }, range(i, i + 3, 1));
    const before = files(dir, SEGMENT);
    await s.saveSnapshot(snap(300, 1, 'three hundred'));
    // The process dies here: saveSnapshot resolved, compact never ran.
    await s.close();
    expect(files(dir, SEGMENT)).toEqual(before);

    const again = storage({ dir });
    const state = await again.open();
    expect(text(state.snapshot)).toBe('three hundred');
    expect(plain(state.entries)).toEqual(plain(range(301, 400, 1)));
    expect(state.hardState).toEqual({ term: 1, vote: 'b', commit: 397 });
    await again.save({ term: 1, vote: 'b', commit: 401 }, range(401, 404, 1));
    await again.saveSnapshot(snap(380, 1, 'three hundred eighty'));
    await again.compact(380);
    expect(files(dir, SEGMENT).length).toBeLessThan(before.length);
    await again.close();
    const last = await storage({ dir }).open();
    expect(text(last.snapshot)).toBe('three hundred eighty');
    expect(plain(last.entries)).toEqual(plain(range(381, 404, 1)));
  });

  it('loses nothing when the crash came in the middle of a compaction, between two segment deletions', async () => {
    const dir = dirs.make();
    const fs = new FaultyFs();
    const s = storage({ dir, fileSystem: fs });
    await s.open();
    for (let i = 1; i <= 800; i += 4) await s.save({ term: 1, vote: 'b', commit: i }, range(i, i + 3, 1));
    const before = files(dir, SEGMENT);
    expect(before.length).toBeGreaterThan(3);
    await s.saveSnapshot(snap(790, 1));
    let unlinks = 0;
    fs.fault = (call) =>
      call.op === 'unlink' && call.file.startsWith('wal-') && ++unlinks === 2 ? systemError('EIO') : undefined;
    expect(StorageError.isInstance(await rejection(s.compact(790)))).toBe(true);
    await s.close();
    expect(files(dir, SEGMENT)).toEqual(before.slice(1));

    const state = await storage({ dir }).open();
    expect(state.snapshot?.index).toBe(790);
    expect(plain(state.entries)).toEqual(plain(range(791, 800, 1)));
  });

  it('a crash after a new snapshot is durable but before older snapshot files are removed leaves the newest in use, and the next snapshot removes them', async () => {
    const dir = await withSnapshotsAt10And20(40);
    // Files a crash left behind: snapshots older than the one before the newest.
    plant(dir, snap(5, 1));
    plant(dir, snap(8, 1));
    const again = storage({ dir });
    const state = await again.open();
    expect(state.snapshot?.index).toBe(20);
    expect(state.entries[0].index).toBe(21);
    await again.saveSnapshot(snap(30, 1));
    expect(files(dir, SNAPSHOT)).toEqual([snapshotName(20, 1), snapshotName(30, 1)]);
  });
});

describe('FileStorage: a damaged snapshot on open', () => {
  it('reports the damaged file in lastOpen.skippedSnapshots when it uses the older valid snapshot', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    await s.save({ term: 1, vote: 'a', commit: 35 }, range(1, 40, 1));
    await s.saveSnapshot(snap(10, 1, 'ten'));
    await s.saveSnapshot(snap(30, 1, 'thirty'));
    await s.compact(10);
    await s.close();
    const damaged = damage(dir, snap(30, 1));
    const again = storage({ dir });
    const state = await again.open();
    expect(text(state.snapshot)).toBe('ten');
    expect(plain(state.entries)).toEqual(plain(range(11, 40, 1)));
    expect(again.lastOpen!.skippedSnapshots).toEqual([damaged]);
  });

  it('is a CorruptionError naming the damaged file when the log no longer holds the entries after the older snapshot', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    for (let i = 1; i <= 400; i += 4) await s.save(null, range(i, i + 3, 1));
    await s.saveSnapshot(snap(10, 1));
    await s.saveSnapshot(snap(390, 1));
    await s.compact(390);
    await s.close();
    // The older snapshot is no use once the entries after it are compacted away: it is gone too.
    expect(files(dir, SNAPSHOT)).toEqual([snapshotName(390, 1)]);
    const damaged = damage(dir, snap(390, 1));
    expect((await openError(dir)).file).toBe(damaged);
  });

  it('never keeps a snapshot it passed over as damaged as the fallback of a newer one: the valid older one stays', async () => {
    const dir = await withSnapshotsAt10And20(40);
    damage(dir, snap(20, 1));
    const reopened = storage({ dir });
    expect(text((await reopened.open()).snapshot)).toBe('state@10');
    await reopened.saveSnapshot(snap(30, 1));
    await reopened.close();
    // Were the damaged 20 kept as the fallback (and the valid 10 deleted), a damaged 30 would leave nothing to open.
    expect(files(dir, SNAPSHOT)).toEqual([snapshotName(10, 1), snapshotName(30, 1)]);
    damage(dir, snap(30, 1));
    const third = storage({ dir });
    const state = await third.open();
    expect(text(state.snapshot)).toBe('state@10');
    expect(state.entries.map((e) => e.index)).toEqual(range(11, 40, 1).map((e) => e.index));
    await third.close();
  });

  it('is a CorruptionError naming the newest damaged file when no snapshot file is valid, even with the whole log there', async () => {
    const dir = await withSnapshotsAt10And20(30);
    damage(dir, snap(10, 1));
    const newest = damage(dir, snap(20, 1));
    expect((await openError(dir)).file).toBe(newest);
  });

  it('is a CorruptionError, not a silent discard of the log, when the older valid snapshot is past the end of the log', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    await s.save({ term: 1, vote: 'a', commit: 5 }, range(1, 5, 1));
    await s.close();
    plant(dir, snap(10, 1, 'ten'));
    const damaged = plant(dir, snap(20, 1, 'twenty'));
    damage(dir, snap(20, 1));
    expect((await openError(dir)).file).toBe(damaged);
    // Nothing was changed: the log is still all there.
    const names = readdirSync(dir);
    expect(names).toContain(snapshotName(10, 1));
    expect(names).toContain(snapshotName(20, 1));
  });

  it('is a CorruptionError when the log ends before the damaged snapshot: the entries it covered are gone', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    await s.save({ term: 1, vote: 'a', commit: 5 }, range(1, 15, 1));
    await s.saveSnapshot(snap(10, 1, 'ten'));
    await s.close();
    const damaged = plant(dir, snap(20, 1, 'twenty'));
    damage(dir, snap(20, 1));
    expect((await openError(dir)).file).toBe(damaged);
  });

  it('is a CorruptionError when the older valid snapshot does not match the entry the log holds at its index', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    await s.save({ term: 3, vote: 'a', commit: 5 }, range(1, 30, 3));
    await s.close();
    plant(dir, snap(10, 2, 'ten of another term'));
    const damaged = plant(dir, snap(20, 3));
    damage(dir, snap(20, 3));
    expect((await openError(dir)).file).toBe(damaged);
  });
});

describe('FileStorage: snapshot calls are one operation each', () => {
  it('a close called while a snapshot is being saved waits for the whole of it', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    await s.save({ term: 1, vote: 'a', commit: 5 }, range(1, 5, 1));
    // A snapshot the log does not match: saving it also writes the record that discards the log.
    const saving = s.saveSnapshot(snap(9, 2));
    const closing = s.close();
    await saving;
    await closing;
    const state = await storage({ dir }).open();
    expect(state.snapshot?.index).toBe(9);
    expect(state.entries).toEqual([]);
    expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 5 });
  });
});

describe('FileStorage: a snapshot that discards the log', () => {
  it('deletes the segments before it at once, without waiting for a compaction, and reopens with only the log after it', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    for (let i = 1; i <= 400; i += 4) await s.save({ term: 1, vote: 'b', commit: i }, range(i, i + 3, 1));
    const before = files(dir, SEGMENT);
    expect(before.length).toBeGreaterThan(2);
    // A leader's snapshot far ahead of this follower (Figure 13, step 7): every stored entry is discarded.
    await s.saveSnapshot(snap(100_000, 3, 'leader'));
    expect(files(dir, SEGMENT)).toEqual(before.slice(-1));
    await s.save({ term: 3, vote: null, commit: 100_002 }, range(100_001, 100_002, 3));
    await s.close();
    const state = await storage({ dir }).open();
    expect(text(state.snapshot)).toBe('leader');
    expect(plain(state.entries)).toEqual(plain(range(100_001, 100_002, 3)));
    expect(state.hardState).toEqual({ term: 3, vote: null, commit: 100_002 });
  });
});

describe('FileStorage: disk use after many snapshots and compactions', () => {
  const ROUNDS = 200;
  /** Entries saved per round, in one save. */
  const BATCH = 20;
  /** Saved entries not yet applied, so not in the snapshot: the log after the snapshot. */
  const UNAPPLIED = 10;
  /** Entries kept behind each snapshot (the node's `trailing`). */
  const TRAILING = 30;
  const VOTE = 'node-a';

  /** The term changes every 50 rounds, as after an election. */
  function termOf(index: number): number {
    return 1 + Math.floor((index - 1) / (BATCH * 50));
  }

  function batch(round: number): Entry[] {
    const first = round * BATCH + 1;
    return Array.from({ length: BATCH }, (_, k) => ({
      index: first + k,
      term: termOf(first + k),
      type: 'normal' as const,
      data: new Uint8Array(24).fill((first + k) & 0xff),
    }));
  }

  function hardState(round: number): HardState {
    return { term: termOf(round * BATCH + 1), vote: VOTE, commit: (round + 1) * BATCH };
  }

  /** The state machine's snapshot grows with the log, slowly (a key-value store that gains keys). */
  function stateAt(index: number, term: number): Snapshot {
    return snap(index, term, `kv:${'x'.repeat(200 + Math.floor(index / 40))}`);
  }

  for (const preallocate of [true, false]) {
    it(`stays within the newest snapshots, the entries after the compaction point and two extra segments (${preallocate ? 'preallocated' : 'growing'} segments)`, async () => {
      const dir = dirs.make();
      const s = storage({ dir, preallocate });
      await s.open();

      // The bound, from the settings: every save is one record of this size.
      const recordBytes = encodeSaveRecord(hardState(ROUNDS), batch(ROUNDS)).length;
      const startBytes = encodeStartRecord({
        seq: 1e9,
        startIndex: ROUNDS * BATCH,
        startTerm: 9,
        hardState: hardState(ROUNDS),
      }).length;
      const recordsPerSegment = Math.floor((SEGMENT_BYTES - startBytes) / recordBytes);
      // Entries after the compaction point: the trailing ones, the snapshot's round and the unapplied ones,
      // spread over at most this many records (a batch straddles the compaction point).
      const liveRecords = Math.ceil((TRAILING + UNAPPLIED) / BATCH) + 1;
      const liveSegments = Math.ceil(liveRecords / recordsPerSegment);
      // A segment may straddle where the live records begin, and the next segment is prepared ahead.
      const maxSegmentFiles = liveSegments + 2;
      const maxSnapshotBytes = encodeSnapshotFile(stateAt(ROUNDS * BATCH, 9)).length;
      const lockBytes = statSync(join(dir, 'LOCK')).size;
      const maxFiles = 2 + maxSegmentFiles + 1;
      const maxBytes = 2 * maxSnapshotBytes + maxSegmentFiles * SEGMENT_BYTES + lockBytes;

      let worstFiles = 0;
      let worstBytes = 0;
      let worstSegments = 0;
      let worstSnapshots = 0;
      let written = 0;
      let newest: Snapshot | null = null;
      for (let round = 0; round < ROUNDS; round++) {
        const entries = batch(round);
        await s.save(hardState(round), entries);
        written += recordBytes;
        const applied = entries[entries.length - 1].index - UNAPPLIED;
        if (applied < 1) continue;
        newest = stateAt(applied, termOf(applied));
        await s.saveSnapshot(newest);
        await s.compact(Math.max(0, applied - TRAILING));

        const names = readdirSync(dir);
        const bytes = names.reduce((sum, n) => sum + statSync(join(dir, n)).size, 0);
        worstFiles = Math.max(worstFiles, names.length);
        worstBytes = Math.max(worstBytes, bytes);
        worstSegments = Math.max(worstSegments, names.filter((n) => SEGMENT.test(n) || n === 'wal-next.tmp').length);
        worstSnapshots = Math.max(worstSnapshots, names.filter((n) => SNAPSHOT.test(n)).length);
      }
      await s.close();
      console.info(
        `disk use (${preallocate ? 'preallocated' : 'growing'}): ${ROUNDS} snapshots, ${(written / 1024).toFixed(0)} KiB of log written; ` +
          `at most ${worstFiles} files (bound ${maxFiles}), ${worstSegments} segment files (bound ${maxSegmentFiles}), ` +
          `${worstSnapshots} snapshot files, ${worstBytes} bytes (bound ${maxBytes})`,
      );
      expect(worstSnapshots).toBeLessThanOrEqual(2);
      expect(worstSegments).toBeLessThanOrEqual(maxSegmentFiles);
      expect(worstFiles).toBeLessThanOrEqual(maxFiles);
      expect(worstBytes).toBeLessThanOrEqual(maxBytes);
      // The bound is about the settings, not the history: far below what was written.
      expect(maxBytes).toBeLessThan(written / 4);

      const reopened = storage({ dir, preallocate });
      const state = await reopened.open();
      const last = ROUNDS * BATCH;
      expect(state.snapshot?.index).toBe(newest!.index);
      expect(text(state.snapshot)).toBe(text(newest));
      expect(plain(state.entries)).toEqual(plain(batch(ROUNDS - 1).slice(BATCH - UNAPPLIED)));
      expect(state.entries[state.entries.length - 1].index).toBe(last);
      expect(state.hardState).toEqual(hardState(ROUNDS - 1));
    });
  }
});
