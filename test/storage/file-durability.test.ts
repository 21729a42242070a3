import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptionError } from '../../src/errors.js';
import { nodeFileSystem, type StorageFileSystem } from '../../src/storage/fs.js';
import type { Snapshot } from '../../src/storage/storage.js';
import { decodeStart } from '../../src/storage/wal/payload.js';
import { scanSegment, segmentName } from '../../src/storage/wal/segment.js';
import { FaultyFs, systemError } from './faulty-fs.js';
import { entry, fileStorageFixture, plain, range, rejection } from './support.js';

/**
 * Crash points and sync order of FileStorage: what open must still read
 * after compaction, a reset or an interrupted repair, and what must be
 * durable before a name points at it.
 */

const { dirs, opened, storage } = fileStorageFixture(2048);

function segments(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /^wal-\d{16}\.log$/.test(n))
    .sort();
}

/** The records of a segment file, scanned as the newest segment. */
function records(path: string) {
  return scanSegment(readFileSync(path), path, true);
}

/** The last log index before the segment's first record, from its START record. */
function startIndexOf(path: string): number {
  const bytes = readFileSync(path);
  const first = scanSegment(bytes, path, true).records[0];
  const start = decodeStart(bytes, first.payloadStart, first.payloadEnd);
  if (typeof start === 'string') throw new Error(start);
  return start.startIndex;
}

function snap(index: number, term: number): Snapshot {
  return { index, term, voters: ['a', 'b', 'c'], learners: [], data: Uint8Array.of(index & 0xff) };
}

describe('FileStorage: compaction and resets keep the log readable', () => {
  it('reopens after compaction even when a conflicting suffix had reached back into a deleted segment', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    for (let i = 1; i <= 120; i += 2) await s.save({ term: 1, vote: 'a', commit: 40 }, range(i, i + 1, 1));
    expect(segments(dir).length).toBeGreaterThan(2);
    // A new leader overwrites the uncommitted entries from 50 on (§5.3): the
    // save reaches back before the start of the segment it is written to.
    await s.save({ term: 2, vote: 'b', commit: 40 }, range(50, 130, 2));
    const files = segments(dir);
    const start = startIndexOf(join(dir, files[files.length - 1]));
    expect(start).toBeGreaterThan(50);
    // Entries up to that start are committed and snapshotted; every older segment goes.
    await s.saveSnapshot(snap(start, 2));
    await s.compact(start);
    expect(segments(dir)).toEqual([files[files.length - 1]]);
    await s.close();

    const again = storage({ dir });
    const state = await again.open();
    expect(state.snapshot?.index).toBe(start);
    expect(plain(state.entries)).toEqual(plain(range(start + 1, 130, 2)));
    expect(state.hardState).toEqual({ term: 2, vote: 'b', commit: 40 });
    await again.save(null, range(131, 131, 2));
    await again.close();
    const last = await storage({ dir }).open();
    expect(last.entries.map((e) => e.index)).toEqual(range(start + 1, 131, 2).map((e) => e.index));
  });

  it('reports corruption rather than discard the log when the only valid snapshot ends just before a save that reached back past compaction', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    for (let i = 1; i <= 120; i += 2) await s.save({ term: 1, vote: 'a', commit: 40 }, range(i, i + 1, 1));
    await s.saveSnapshot(snap(49, 1));
    await s.save({ term: 2, vote: 'b', commit: 40 }, range(50, 130, 2));
    const files = segments(dir);
    const start = startIndexOf(join(dir, files[files.length - 1]));
    await s.saveSnapshot(snap(start, 2));
    await s.compact(start);
    await s.close();
    // The newest snapshot is damaged: the one at 49 is the newest valid one.
    const newest = join(dir, `snapshot-${String(start).padStart(16, '0')}-0000000000000002.snap`);
    const bytes = readFileSync(newest);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(newest, bytes);
    const error = await rejection(storage({ dir }).open());
    expect(CorruptionError.isInstance(error)).toBe(true);
    // Nothing was discarded: with the newest snapshot repaired, everything is there.
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(newest, bytes);
    const state = await storage({ dir }).open();
    expect(plain(state.entries)).toEqual(plain(range(start + 1, 130, 2)));
  });

  it('a log reset recorded on open reopens cleanly when it had to start a new segment', async () => {
    const dir = dirs.make();
    const s = storage({ dir, segmentBytes: 1024, preallocate: false });
    await s.open();
    await s.save({ term: 1, vote: 'a', commit: 3 }, range(1, 5, 1));
    // Fill the segment to within a few bytes of its end, so that the next record starts a new one.
    const path = join(dir, segmentName(1));
    const end = records(path).end;
    const saveFraming = 16 + 1 + 12 + 13; // header, flags, batch header, one entry's framing
    await s.save(null, [{ index: 6, term: 1, type: 'normal', data: new Uint8Array(1024 - end - saveFraming - 10) }]);
    expect(records(path).end).toBe(1024 - 10);
    await s.close();
    // A crash came between saving a snapshot the log does not match and recording the discard.
    const other = dirs.make();
    const o = storage({ dir: other });
    await o.open();
    await o.saveSnapshot(snap(9, 3));
    await o.close();
    const name = 'snapshot-0000000000000009-0000000000000003.snap';
    copyFileSync(join(other, name), join(dir, name));

    const first = storage({ dir, segmentBytes: 1024, preallocate: false });
    await first.open();
    expect(first.lastOpen!.logResetToSnapshot).toBe(true);
    expect(segments(dir).length).toBe(2);
    await first.close();

    const second = storage({ dir, segmentBytes: 1024, preallocate: false });
    const state = await second.open();
    expect(state.snapshot?.index).toBe(9);
    expect(state.entries).toEqual([]);
    expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 3 });
    expect(second.lastOpen!.logResetToSnapshot).toBe(false);
    await second.save(null, range(10, 12, 3));
    await second.close();
    const after = await storage({ dir, segmentBytes: 1024, preallocate: false }).open();
    expect(after.entries.map((e) => e.index)).toEqual([10, 11, 12]);
  });
});

describe('FileStorage: a crash while open repairs a torn tail', () => {
  it('leaves a log that the next open still reads, when the crash cuts the zeroing of a torn record short', async () => {
    const dir = dirs.make();
    const s = storage({ dir, segmentBytes: 64 * 1024 });
    await s.open();
    await s.save({ term: 1, vote: 'a', commit: 0 }, range(1, 2, 1));
    // The last save is large: its torn record spans several pages.
    await s.save({ term: 1, vote: 'a', commit: 2 }, [entry(3, 1, 'x'.repeat(20_000))]);
    await s.close();
    const path = join(dir, segmentName(1));
    const scan = records(path);
    const last = scan.records[scan.records.length - 1];
    // The crash tore the last save: its first 12,000 bytes reached the disk.
    const bytes = readFileSync(path);
    bytes.fill(0, last.offset + 12_000, last.payloadEnd);
    writeFileSync(path, bytes);

    // The next open dies after its first write to the segment got only 100 bytes down.
    const dying: StorageFileSystem = {
      ...nodeFileSystem,
      async open(file, flags) {
        const handle = await nodeFileSystem.open(file, flags);
        if (basename(file) !== segmentName(1)) return handle;
        return {
          ...handle,
          read: handle.read.bind(handle),
          datasync: handle.datasync.bind(handle),
          sync: handle.sync.bind(handle),
          stat: handle.stat.bind(handle),
          close: handle.close.bind(handle),
          async write(buffer, offset, length, position) {
            await handle.write(buffer, offset, Math.min(length, 100), position);
            throw systemError('EIO', 'the process died here');
          },
        };
      },
    };
    expect(await rejection(storage({ dir, segmentBytes: 64 * 1024, fileSystem: dying }).open())).toBeInstanceOf(Error);

    const again = storage({ dir, segmentBytes: 64 * 1024 });
    const state = await again.open();
    expect(state.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    expect(again.lastOpen!.tornTail?.offset).toBe(last.offset);
  });
});

describe('FileStorage: what is synced before it is relied on', () => {
  const steps = (fs: FaultyFs, from = 0) => fs.calls.slice(from).map((c) => `${c.op} ${c.file}`);

  it('syncs the lock file before linking it into place, so a crash cannot leave an empty LOCK that blocks the restart', async () => {
    const dir = dirs.make();
    const fs = new FaultyFs();
    await storage({ dir, fileSystem: fs }).open();
    const calls = steps(fs);
    const link = calls.findIndex((c) => /^link .*\.locktmp -> LOCK$/.test(c));
    expect(link).toBeGreaterThan(0);
    const temp = calls[link].slice('link '.length).split(' -> ')[0];
    expect(calls.slice(0, link).filter((c) => c.endsWith(` ${temp}`))).toEqual([
      `open ${temp}`,
      `write ${temp}`,
      `sync ${temp}`,
      `close ${temp}`,
    ]);
  });

  it('syncs the parent of every directory it creates, so the new directory survives a crash', async () => {
    const root = dirs.make();
    const dir = join(root, 'cluster', 'node-a');
    const fs = new FaultyFs();
    await storage({ dir, fileSystem: fs }).open();
    const calls = steps(fs);
    const lock = calls.findIndex((c) => c.startsWith('link '));
    const before = calls.slice(calls.indexOf('mkdir node-a'), lock);
    // root holds the entry "cluster", cluster holds "node-a".
    expect(before).toContain(`sync ${basename(root)}`);
    expect(before).toContain('sync cluster');

    // An existing directory costs no such sync.
    await opened.pop()!.close();
    const again = new FaultyFs();
    await storage({ dir, fileSystem: again }).open();
    const first = steps(again);
    const directorySyncs = first
      .slice(
        0,
        first.findIndex((c) => c.startsWith('link ')),
      )
      .filter((c) => c.startsWith('sync') && !c.endsWith('.locktmp'));
    expect(directorySyncs).toEqual([]);
  });

  it('makes the removal of each compacted segment durable before the next, so a crash leaves no gap in the log', async () => {
    const dir = dirs.make();
    const fs = new FaultyFs();
    const s = storage({ dir, fileSystem: fs });
    await s.open();
    for (let i = 1; i <= 300; i += 3) await s.save({ term: 1, vote: 'a', commit: i }, range(i, i + 2, 1));
    expect(segments(dir).length).toBeGreaterThan(4);
    await s.saveSnapshot(snap(280, 1));
    const from = fs.calls.length;
    await s.compact(280);
    const calls = steps(fs, from).filter((c) => c.startsWith('unlink wal-') || c === `sync ${basename(dir)}`);
    expect(calls.length).toBeGreaterThanOrEqual(4);
    for (let k = 0; k < calls.length; k += 2) {
      expect(calls[k]).toMatch(/^unlink wal-/);
      expect(calls[k + 1]).toBe(`sync ${basename(dir)}`);
    }
  });
});
