import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorage } from '../../src/storage/file.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { testStorageConformance } from '../../src/testing/storage-conformance.js';

testStorageConformance({
  name: 'MemoryStorage',
  snapshots: true,
  create: () => {
    // A restarted node is given the same MemoryStorage object.
    const storage = new MemoryStorage();
    return { storage, reopen: () => storage };
  },
});

for (const preallocate of [true, false]) {
  testStorageConformance({
    name: `FileStorage (${preallocate ? 'preallocated' : 'growing'} 64 KiB segments)`,
    // Not told: the snapshot cases find saveSnapshot and compact on the storage and run.
    create: () => {
      const dir = mkdtempSync(join(tmpdir(), 'bellwether-conformance-'));
      // Small segments, so that rotation and compaction happen within the suite.
      const make = () => new FileStorage({ dir, segmentBytes: 64 * 1024, preallocate });
      return { storage: make(), reopen: make, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  });
}
