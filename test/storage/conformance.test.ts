import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageError } from '../../src/errors.js';
import { FileStorage } from '../../src/storage/file.js';
import type { StorageFileSystem } from '../../src/storage/fs.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { snapshotFiles, snapshotName } from '../../src/storage/snapshot-file.js';
import type { Snapshot, Storage } from '../../src/storage/storage.js';
import { testStorageConformance } from '../../src/testing/storage-conformance.js';
import { FaultyFs, systemError } from './faulty-fs.js';

testStorageConformance({
  name: 'MemoryStorage',
  snapshots: true,
  create: () => {
    // A restarted node is given the same MemoryStorage object. No fault hooks (and no `faults`):
    // nothing survives a crash of the process holding it, and no disk holds its bytes.
    const storage = new MemoryStorage();
    return { storage, reopen: () => storage };
  },
});

/**
 * FileStorage killed in the middle of saveSnapshot: after the new snapshot's
 * temporary file was written and synced, before the rename that makes it
 * the one open finds. The real code writes the bytes: a FileStorage over the
 * same directory whose rename of that file fails plays the save up to the
 * crash (the storage under test is closed first, as a dead process holds no
 * lock; the cases' last save has entries, so closing writes nothing).
 */
async function crashBeforeRename(
  dir: string,
  make: (fileSystem?: StorageFileSystem) => FileStorage,
  storage: Storage,
  snapshot: Snapshot,
): Promise<void> {
  await storage.close();
  const temp = `${snapshotName(snapshot.index, snapshot.term)}.tmp`;
  const fs = new FaultyFs();
  fs.fault = (call) => (call.op === 'rename' && call.file.startsWith(`${temp} ->`) ? systemError('EIO') : undefined);
  const dying = make(fs);
  await dying.open();
  const error = await dying.saveSnapshot(snapshot).then(
    () => null,
    (caught: unknown) => caught,
  );
  await dying.close();
  // The hook's own check that it crashed where it says, not earlier or later.
  if (!StorageError.isInstance(error) || !existsSync(join(dir, temp))) {
    throw new Error(`the simulated crash did not stop saveSnapshot at the rename of ${temp}: ${String(error)}`);
  }
}

/** Flips one bit of the newest snapshot file, just before its checksum: the checksum no longer matches. */
function damageNewestSnapshotFile(dir: string): void {
  const newest = snapshotFiles(readdirSync(dir))[0];
  if (newest === undefined) throw new Error(`no snapshot file to damage in ${dir}`);
  const path = join(dir, newest.name);
  const bytes = readFileSync(path);
  bytes[bytes.length - 5] ^= 0x40;
  writeFileSync(path, bytes);
}

for (const preallocate of [true, false]) {
  testStorageConformance({
    name: `FileStorage (${preallocate ? 'preallocated' : 'growing'} 64 KiB segments)`,
    // Not told: the snapshot cases find saveSnapshot and compact on the storage and run.
    faults: ['crashDuringSnapshot', 'damageNewestSnapshot'],
    create: () => {
      const dir = mkdtempSync(join(tmpdir(), 'bellwether-conformance-'));
      // Small segments, so that rotation and compaction happen within the suite.
      const make = (fileSystem?: StorageFileSystem) =>
        new FileStorage({ dir, segmentBytes: 64 * 1024, preallocate, fileSystem });
      return {
        storage: make(),
        reopen: () => make(),
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
        crashDuringSnapshot: (storage, snapshot) => crashBeforeRename(dir, make, storage, snapshot),
        damageNewestSnapshot: () => damageNewestSnapshotFile(dir),
      };
    },
  });
}
