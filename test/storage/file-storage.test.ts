import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, CorruptionError, StorageError } from '../../src/errors.js';
import { FileStorage, type FileStorageOptions } from '../../src/storage/file.js';
import { LOCK_FILE_NAME } from '../../src/storage/lock.js';
import { scanSegment, segmentName } from '../../src/storage/wal/segment.js';
import { FaultyFs, systemError } from './faulty-fs.js';
import { entry, fileStorageFixture, plain, range, RecordingLogger, rejection } from './support.js';

const { dirs, storage } = fileStorageFixture(64 * 1024);

async function reopen(dir: string, options: Partial<FileStorageOptions> = {}) {
  const s = storage({ dir, ...options });
  const state = await s.open();
  return { s, state };
}

function segments(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /^wal-\d{16}\.log$/.test(n))
    .sort();
}

describe('FileStorage: group commit', () => {
  // Without preallocation no background write competes, so every sync counted is a save's.
  it('makes each save durable with exactly one fdatasync, however many entries it holds', async () => {
    const dir = dirs.make();
    const fs = new FaultyFs();
    const s = storage({ dir, fileSystem: fs, preallocate: false });
    await s.open();
    const datasyncsBefore = fs.count('datasync');
    const writesBefore = fs.count('write');
    await s.save({ term: 1, vote: 'a', commit: 0 }, range(1, 1, 1));
    await s.save({ term: 1, vote: 'a', commit: 1 }, range(2, 1001, 1));
    await s.save({ term: 1, vote: 'a', commit: 1001 }, range(1002, 11_001, 1));
    expect(fs.count('datasync') - datasyncsBefore).toBe(3);
    // One write call per save: the batch is encoded into one buffer.
    expect(fs.count('write') - writesBefore).toBe(3);
  });

  it('syncs a change of term or vote, but keeps a change of only commit for the next record or close', async () => {
    const dir = dirs.make();
    const fs = new FaultyFs();
    const s = storage({ dir, fileSystem: fs, preallocate: false });
    await s.open();
    await s.save({ term: 1, vote: 'a', commit: 0 }, range(1, 3, 1));
    const syncs = fs.count('datasync');
    const writes = fs.count('write');
    await s.save({ term: 1, vote: 'a', commit: 2 }, []);
    expect([fs.count('write') - writes, fs.count('datasync') - syncs]).toEqual([0, 0]);
    await s.save({ term: 2, vote: null, commit: 2 }, []);
    expect([fs.count('write') - writes, fs.count('datasync') - syncs]).toEqual([1, 1]);
    await s.save({ term: 2, vote: 'b', commit: 2 }, []);
    expect([fs.count('write') - writes, fs.count('datasync') - syncs]).toEqual([2, 2]);
    await s.save({ term: 2, vote: 'b', commit: 3 }, []);
    expect([fs.count('write') - writes, fs.count('datasync') - syncs]).toEqual([2, 2]);
    // close writes and syncs the commit index that is left.
    await s.close();
    expect([fs.count('write') - writes, fs.count('datasync') - syncs]).toEqual([3, 3]);
    const { state } = await reopen(dir);
    expect(state.hardState).toEqual({ term: 2, vote: 'b', commit: 3 });
  });

  it('writes a kept commit index with the next record, also when that record starts a new segment', async () => {
    const dir = dirs.make();
    const s = storage({ dir, segmentBytes: 2048 });
    await s.open();
    let commit = 0;
    for (let i = 1; i <= 400; i += 4) {
      await s.save({ term: 1, vote: 'a', commit }, range(i, i + 3, 1));
      commit = i + 1;
      await s.save({ term: 1, vote: 'a', commit }, []);
    }
    expect(segments(dir).length).toBeGreaterThan(5);
    await s.save(null, range(401, 401, 1));
    // The storage is abandoned without close, as by a crash: what reached the disk is read back.
    const { copyFileSync, mkdirSync } = await import('node:fs');
    const copy = dirs.make();
    mkdirSync(copy, { recursive: true });
    for (const f of segments(dir)) copyFileSync(join(dir, f), join(copy, f));
    const { state } = await reopen(copy, { segmentBytes: 2048 });
    expect(state.entries.length).toBe(401);
    expect(state.hardState).toEqual({ term: 1, vote: 'a', commit });
  });

  it('writes nothing for a save that changes nothing', async () => {
    const dir = dirs.make();
    const fs = new FaultyFs();
    const s = storage({ dir, fileSystem: fs });
    await s.open();
    await s.save({ term: 1, vote: 'a', commit: 0 }, []);
    const writes = fs.count('write');
    await s.save({ term: 1, vote: 'a', commit: 0 }, []);
    await s.save(null, []);
    expect(fs.count('write')).toBe(writes);
  });

  it('refuses a second call while one is in progress (the node awaits each save)', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    const first = s.save(null, range(1, 10, 1));
    const second = await rejection(s.save(null, range(11, 11, 1)));
    expect(StorageError.isInstance(second)).toBe(true);
    await first;
  });
});

describe('FileStorage: segments and compaction', () => {
  it('rotates to a new segment at the size threshold and reads the whole log back across segments', async () => {
    const dir = dirs.make();
    const s = storage({ dir, segmentBytes: 4096 });
    await s.open();
    const all = range(1, 600, 1);
    for (let i = 0; i < all.length; i += 3) await s.save({ term: 1, vote: 'a', commit: i }, all.slice(i, i + 3));
    // A conflicting suffix that reaches back into an earlier segment.
    await s.save({ term: 2, vote: 'b', commit: 100 }, range(150, 160, 2));
    await s.close();
    const files = segments(dir);
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) expect(statSync(join(dir, f)).size).toBe(4096);
    const { state } = await reopen(dir, { segmentBytes: 4096 });
    expect(plain(state.entries)).toEqual(plain([...range(1, 149, 1), ...range(150, 160, 2)]));
    expect(state.hardState).toEqual({ term: 2, vote: 'b', commit: 100 });
  });

  it('puts a save larger than a segment into one segment of its own', async () => {
    const dir = dirs.make();
    const s = storage({ dir, segmentBytes: 4096 });
    await s.open();
    await s.save(null, range(1, 5, 1));
    const big = { index: 6, term: 1, type: 'normal' as const, data: new Uint8Array(20_000).fill(9) };
    await s.save(null, [big]);
    await s.save(null, range(7, 8, 1));
    await s.close();
    expect(segments(dir).length).toBe(3);
    const { state } = await reopen(dir, { segmentBytes: 4096 });
    expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(state.entries[5].data.length).toBe(20_000);
  });

  it('compaction deletes whole segments covered by the snapshot and keeps hard state and later entries', async () => {
    const dir = dirs.make();
    const s = storage({ dir, segmentBytes: 4096 });
    await s.open();
    for (let i = 1; i <= 900; i += 3) await s.save({ term: 1, vote: 'c', commit: i }, range(i, i + 2, 1));
    const before = segments(dir);
    await s.saveSnapshot({ index: 600, term: 1, voters: ['a', 'b', 'c'], learners: [], data: Uint8Array.of(6) });
    await s.compact(600);
    const after = segments(dir);
    expect(after.length).toBeLessThan(before.length);
    expect(after[after.length - 1]).toBe(before[before.length - 1]);
    await s.close();
    const { state } = await reopen(dir, { segmentBytes: 4096 });
    expect(state.snapshot?.index).toBe(600);
    expect(state.entries[0].index).toBe(601);
    expect(state.entries[state.entries.length - 1].index).toBe(900);
    expect(state.hardState).toEqual({ term: 1, vote: 'c', commit: 898 });
  });

  it('writes a snapshot to a temporary file, syncs it, renames it, then syncs the directory', async () => {
    const dir = dirs.make();
    const fs = new FaultyFs();
    const s = storage({ dir, fileSystem: fs });
    await s.open();
    await s.save(null, range(1, 5, 1));
    const from = fs.calls.length;
    await s.saveSnapshot({ index: 5, term: 1, voters: ['a'], learners: [], data: Uint8Array.of(1, 2, 3) });
    const name = 'snapshot-0000000000000005-0000000000000001.snap';
    const steps = fs.calls
      .slice(from)
      .filter((c) => c.file.includes('snapshot') || (c.op === 'sync' && !c.file.includes('.')))
      .map((c) => `${c.op} ${c.file}`);
    expect(steps).toEqual([
      `open ${name}.tmp`,
      `write ${name}.tmp`,
      `sync ${name}.tmp`,
      `close ${name}.tmp`,
      `rename ${name}.tmp -> ${name}`,
      `sync ${dir.split('/').pop()}`,
    ]);
  });
});

describe('FileStorage: torn writes and corruption', () => {
  /** A log of three saves; returns the segment's path and where the last record starts and ends. */
  async function threeSaves(dir: string, preallocate: boolean) {
    const s = storage({ dir, preallocate, segmentBytes: 4096 });
    await s.open();
    await s.save({ term: 1, vote: 'a', commit: 0 }, range(1, 2, 1));
    await s.save({ term: 1, vote: 'a', commit: 2 }, range(3, 4, 1));
    await s.save({ term: 2, vote: 'b', commit: 4 }, [entry(5, 2, 'the last save')]);
    await s.close();
    const path = join(dir, segmentName(1));
    const scan = scanSegment(readFileSync(path), path, true);
    const last = scan.records[scan.records.length - 1];
    return { path, lastStart: last.offset, lastEnd: last.payloadEnd };
  }

  for (const preallocate of [false, true]) {
    it(`truncates a torn last record at any cut point and reports it (${preallocate ? 'preallocated' : 'growing'} segment)`, async () => {
      const dir = dirs.make();
      const { path, lastStart, lastEnd } = await threeSaves(dir, preallocate);
      const original = readFileSync(path);
      for (let cut = lastStart; cut < lastEnd; cut++) {
        // A crash in the middle of the write: a prefix of the record, then nothing (or the preallocated zeros).
        const torn = Buffer.from(original);
        if (preallocate) torn.fill(0, cut, lastEnd);
        writeFileSync(path, preallocate ? torn : torn.subarray(0, cut));
        const logger = new RecordingLogger();
        const s = storage({ dir, preallocate, logger, segmentBytes: 4096 });
        const state = await s.open();
        expect(
          state.entries.map((e) => e.index),
          `cut at ${cut}`,
        ).toEqual([1, 2, 3, 4]);
        expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 2 });
        const report = s.lastOpen!;
        if (cut === lastStart) {
          // Nothing of the record reached the disk: a clean end, nothing to report.
          expect(report.tornTail).toBeNull();
        } else {
          expect(report.tornTail).toMatchObject({ file: path, offset: lastStart });
          expect(logger.warnings().some((l) => /torn/.test(l.msg ?? ''))).toBe(true);
        }
        // Writing goes on where the torn record was, and reads back cleanly.
        await s.save({ term: 3, vote: 'c', commit: 4 }, [entry(5, 3, 'again')]);
        await s.close();
        const { s: again, state: after } = await reopen(dir, { preallocate, segmentBytes: 4096 });
        expect(plain(after.entries)).toEqual(plain([...range(1, 4, 1), entry(5, 3, 'again')]));
        expect(again.lastOpen!.tornTail).toBeNull();
        await again.close();
      }
    });
  }

  it('reports damage in a record that has records after it as CorruptionError naming the file and offset', async () => {
    const dir = dirs.make();
    const { path, lastStart } = await threeSaves(dir, true);
    const bytes = readFileSync(path);
    const scan = scanSegment(bytes, path, true);
    const middle = scan.records[1];
    bytes[middle.payloadStart + 3] ^= 0x40;
    writeFileSync(path, bytes);
    const error = await rejection(storage({ dir }).open());
    expect(CorruptionError.isInstance(error)).toBe(true);
    expect((error as CorruptionError).file).toBe(path);
    expect((error as CorruptionError).offset).toBe(middle.offset);
    expect((error as Error).message).toContain(`at byte ${middle.offset}`);
    expect(lastStart).toBeGreaterThan(middle.offset);
    // Nothing was repaired or truncated: the evidence is left as it was found.
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('reports non-zero bytes after the end of the records as corruption, not as a torn write', async () => {
    const dir = dirs.make();
    const { path, lastEnd } = await threeSaves(dir, true);
    const bytes = readFileSync(path);
    bytes[lastEnd + 100] = 1;
    writeFileSync(path, bytes);
    expect(CorruptionError.isInstance(await rejection(storage({ dir }).open()))).toBe(true);
  });

  it('reports any damage in a completed (not the newest) segment as corruption, even in its last record', async () => {
    const dir = dirs.make();
    const s = storage({ dir, segmentBytes: 2048 });
    await s.open();
    for (let i = 1; i <= 200; i += 2) await s.save({ term: 1, vote: 'a', commit: i }, range(i, i + 1, 1));
    await s.close();
    const first = join(dir, segmentName(1));
    const bytes = readFileSync(first);
    const scan = scanSegment(bytes, first, false);
    const last = scan.records[scan.records.length - 1];
    bytes[last.payloadEnd - 1] ^= 0xff;
    writeFileSync(first, bytes);
    const error = await rejection(storage({ dir, segmentBytes: 2048 }).open());
    expect(CorruptionError.isInstance(error)).toBe(true);
    expect((error as CorruptionError).file).toBe(first);
    expect((error as CorruptionError).offset).toBe(last.offset);
  });

  it('reports a missing segment in the middle of the log as corruption', async () => {
    const dir = dirs.make();
    const s = storage({ dir, segmentBytes: 2048 });
    await s.open();
    for (let i = 1; i <= 300; i += 2) await s.save(null, range(i, i + 1, 1));
    await s.close();
    expect(segments(dir).length).toBeGreaterThan(3);
    truncateSync(join(dir, segmentName(2)), 0);
    const emptied = await rejection(storage({ dir, segmentBytes: 2048 }).open());
    expect(CorruptionError.isInstance(emptied)).toBe(true);
    expect((emptied as CorruptionError).file).toBe(join(dir, segmentName(2)));
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, segmentName(2)));
    const missing = await rejection(storage({ dir, segmentBytes: 2048 }).open());
    expect(CorruptionError.isInstance(missing)).toBe(true);
    expect((missing as Error).message).toContain(segmentName(2));
  });

  it('removes a newest segment that a crash left without any complete record', async () => {
    const dir = dirs.make();
    const s = storage({ dir, segmentBytes: 2048 });
    await s.open();
    await s.save({ term: 1, vote: 'a', commit: 1 }, range(1, 3, 1));
    await s.close();
    // Renamed into place, but nothing of it was synced: zeros (a preallocated file) or a torn start record.
    writeFileSync(join(dir, segmentName(2)), Buffer.alloc(2048));
    const { s: again, state } = await reopen(dir, { segmentBytes: 2048 });
    expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(again.lastOpen!.removedSegment).toBe(segmentName(2));
    expect(existsSync(join(dir, segmentName(2)))).toBe(false);
    await again.save(null, range(4, 60, 1));
    await again.close();
    const { state: after } = await reopen(dir, { segmentBytes: 2048 });
    expect(after.entries.length).toBe(60);
  });

  it('deletes the temporary files of interrupted writes on open', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    await s.save(null, range(1, 2, 1));
    await s.close();
    writeFileSync(join(dir, 'snapshot-0000000000000009-0000000000000001.snap.tmp'), 'half a snapshot');
    writeFileSync(join(dir, 'wal-next.tmp'), 'half a segment');
    const { s: again, state } = await reopen(dir);
    expect(state.snapshot).toBeNull();
    expect(existsSync(join(dir, 'snapshot-0000000000000009-0000000000000001.snap.tmp'))).toBe(false);
    await again.close();
    expect(existsSync(join(dir, 'wal-next.tmp'))).toBe(false);
  });
});

describe('FileStorage: snapshots on open', () => {
  const snap = (index: number, term: number, text: string) => ({
    index,
    term,
    voters: ['a', 'b', 'c'],
    learners: [],
    data: new TextEncoder().encode(text),
  });

  it('passes over a damaged newest snapshot for the previous valid one, and says so', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    await s.save(null, range(1, 30, 1));
    await s.saveSnapshot(snap(10, 1, 'ten'));
    await s.saveSnapshot(snap(20, 1, 'twenty'));
    await s.close();
    const newest = join(dir, 'snapshot-0000000000000020-0000000000000001.snap');
    const bytes = readFileSync(newest);
    bytes[bytes.length - 6] ^= 1;
    writeFileSync(newest, bytes);
    const { s: again, state } = await reopen(dir);
    expect(state.snapshot?.index).toBe(10);
    expect(new TextDecoder().decode(state.snapshot!.data)).toBe('ten');
    expect(state.entries[0].index).toBe(11);
    expect(again.lastOpen!.skippedSnapshots).toEqual([newest]);
  });

  it('reports corruption when the only snapshot that covers compacted entries is damaged', async () => {
    const dir = dirs.make();
    const s = storage({ dir, segmentBytes: 2048 });
    await s.open();
    for (let i = 1; i <= 300; i += 2) await s.save(null, range(i, i + 1, 1));
    await s.saveSnapshot(snap(250, 1, 'x'));
    await s.compact(250);
    await s.close();
    const file = join(dir, 'snapshot-0000000000000250-0000000000000001.snap');
    const bytes = readFileSync(file);
    bytes[20] ^= 1;
    writeFileSync(file, bytes);
    expect(CorruptionError.isInstance(await rejection(storage({ dir, segmentBytes: 2048 }).open()))).toBe(true);
  });

  it('refuses to start from snapshots whose write-ahead log is gone (term and vote would be lost)', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    await s.save({ term: 4, vote: 'a', commit: 0 }, range(1, 5, 1));
    await s.saveSnapshot(snap(5, 1, 'five'));
    await s.close();
    for (const f of segments(dir)) (await import('node:fs')).rmSync(join(dir, f));
    expect(CorruptionError.isInstance(await rejection(storage({ dir }).open()))).toBe(true);
  });

  it('after a crash between saving a newer snapshot and discarding the log, discards it on open and goes on', async () => {
    const dir = dirs.make();
    const s = storage({ dir });
    await s.open();
    await s.save({ term: 3, vote: 'a', commit: 5 }, range(1, 5, 1));
    await s.close();
    // The snapshot file is in place (a leader's InstallSnapshot at index 9, term 3), the log does not know yet.
    const other = dirs.make();
    const o = storage({ dir: other });
    await o.open();
    await o.saveSnapshot(snap(9, 3, 'nine'));
    await o.close();
    const name = 'snapshot-0000000000000009-0000000000000003.snap';
    writeFileSync(join(dir, name), readFileSync(join(other, name)));

    const { s: again, state } = await reopen(dir);
    expect(state.snapshot?.index).toBe(9);
    expect(state.entries).toEqual([]);
    expect(state.hardState).toEqual({ term: 3, vote: 'a', commit: 5 });
    expect(again.lastOpen!.logResetToSnapshot).toBe(true);
    await again.save(null, range(10, 12, 3));
    await again.close();
    const { state: after } = await reopen(dir);
    expect(after.entries.map((e) => e.index)).toEqual([10, 11, 12]);
  });
});

describe('FileStorage: the directory lock', () => {
  function writeLock(dir: string, pid: number, host = hostname()): void {
    writeFileSync(join(dir, LOCK_FILE_NAME), `${JSON.stringify({ pid, host })}\n`);
  }

  it('keeps a second FileStorage in this process out of the directory until the first closes', async () => {
    const dir = dirs.make();
    const a = storage({ dir });
    await a.open();
    const error = await rejection(storage({ dir }).open());
    expect(StorageError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/already open/);
    await a.close();
    await expect(storage({ dir }).open()).resolves.toBeDefined();
  });

  it('keeps a second process out while one holds the directory, and lets it in once that process is killed', async () => {
    const dir = dirs.make();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../fixtures/storage/hold-open.ts'), dir],
      {
        cwd: join(import.meta.dirname, '../..'),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('open')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`the holding process exited with ${code}`)));
      });
      const error = await rejection(storage({ dir }).open());
      expect(StorageError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(`locked by process ${child.pid}`);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    // The holder died without closing: its lock is stale, and what it saved is there.
    const { state } = await reopen(dir);
    expect(state.hardState).toEqual({ term: 7, vote: 'child', commit: 0 });
    expect(state.entries.map((e) => e.index)).toEqual([1]);
  });

  it('refuses a directory locked by another live process', async () => {
    const dir = dirs.make();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      writeLock(dir, child.pid!);
      const error = await rejection(storage({ dir }).open());
      expect(StorageError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(`locked by process ${child.pid}`);
      // The lock is left alone.
      expect(JSON.parse(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')).pid).toBe(child.pid);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a stale lock left by a process that died, with a warning', async () => {
    const dir = dirs.make();
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    writeLock(dir, child.pid!);
    const logger = new RecordingLogger();
    const s = storage({ dir, logger });
    await s.open();
    expect(logger.warnings().some((l) => /stale/.test(l.msg ?? ''))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')).pid).toBe(process.pid);
    await s.close();
    expect(existsSync(join(dir, LOCK_FILE_NAME))).toBe(false);
  });

  it('respects a lock from another host, and refuses an unreadable lock file', async () => {
    const dir = dirs.make();
    writeLock(dir, 1, 'some-other-host');
    expect(StorageError.isInstance(await rejection(storage({ dir }).open()))).toBe(true);
    writeFileSync(join(dir, LOCK_FILE_NAME), 'not json');
    const error = await rejection(storage({ dir }).open());
    expect(StorageError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/cannot be read/);
  });
});

describe('FileStorage: file-system faults', () => {
  it('fails open with a clear StorageError when the directory is not writable', async () => {
    const dir = dirs.make();
    const fs = new FaultyFs();
    // What a read-only directory does (tests run as root, so chmod would not stop writes).
    fs.fault = (c) =>
      c.op === 'mkdir' || (c.op === 'open' && c.file.endsWith('.locktmp'))
        ? systemError('EACCES', 'permission denied')
        : undefined;
    const error = await rejection(storage({ dir, fileSystem: fs }).open());
    expect(StorageError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/not writable/);
    expect((error as Error).message).toContain(dir);
  });

  it('fails open with a StorageError when the path is a file, not a directory', async () => {
    const dir = dirs.make();
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const error = await rejection(storage({ dir: join(file, 'sub') }).open());
    expect(StorageError.isInstance(error)).toBe(true);
  });

  it('fails a save with "disk is full", refuses later saves, and a reopen keeps every save that resolved', async () => {
    const dir = dirs.make();
    const fs = new FaultyFs();
    const s = storage({ dir, fileSystem: fs });
    await s.open();
    await s.save({ term: 1, vote: 'a', commit: 0 }, range(1, 3, 1));
    fs.fault = (c) => (c.op === 'write' ? systemError('ENOSPC', 'no space left on device') : undefined);
    const error = await rejection(s.save({ term: 1, vote: 'a', commit: 3 }, range(4, 6, 1)));
    expect(StorageError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/disk is full/);
    fs.fault = () => undefined;
    const refused = await rejection(s.save(null, range(4, 4, 1)));
    expect((refused as Error).message).toMatch(/earlier write failed/);
    await s.close();
    const { state } = await reopen(dir);
    expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
  });

  it('fails for good when fdatasync fails, rather than retry a sync whose pages may be lost', async () => {
    const dir = dirs.make();
    const fs = new FaultyFs();
    const s = storage({ dir, fileSystem: fs });
    await s.open();
    fs.fault = (c) => (c.op === 'datasync' ? systemError('EIO', 'i/o error') : undefined);
    const error = await rejection(s.save({ term: 1, vote: 'a', commit: 0 }, range(1, 1, 1)));
    expect(StorageError.isInstance(error)).toBe(true);
    fs.fault = () => undefined;
    expect(StorageError.isInstance(await rejection(s.save(null, range(1, 1, 1))))).toBe(true);
  });

  it('reports a full disk met while preparing the next segment when the log needs it', async () => {
    const dir = dirs.make();
    const fs = new FaultyFs();
    fs.fault = (c) =>
      c.op === 'write' && c.file === 'wal-next.tmp' && fs.count('rename') > 0 ? systemError('ENOSPC') : undefined;
    const s = storage({ dir, fileSystem: fs, segmentBytes: 2048 });
    await s.open();
    let error: unknown;
    let saved = 0;
    for (let i = 1; i <= 200 && error === undefined; i += 2) {
      try {
        await s.save(null, range(i, i + 1, 1));
        saved = i + 1;
      } catch (e) {
        error = e;
      }
    }
    expect(StorageError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/disk is full/);
    await s.close();
    const { state } = await reopen(dir, { segmentBytes: 2048 });
    expect(state.entries.length).toBe(saved);
  });

  it('refuses invalid options with ConfigError', () => {
    expect(() => new FileStorage({ dir: '' })).toThrow(ConfigError);
    expect(() => new FileStorage({ dir: '/tmp/x', segmentBytes: 10 })).toThrow(/segmentBytes/);
  });
});
