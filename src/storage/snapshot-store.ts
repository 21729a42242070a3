import { join } from 'node:path';
import { type StorageFileSystem, syncDirectory, writeFileDurably } from './fs.js';
import { encodeSnapshotFile, parseSnapshotName, snapshotFiles, snapshotName } from './snapshot-file.js';
import type { Snapshot } from './storage.js';

/**
 * Writes `snapshot` to its file in `dir` so that a crash leaves either the
 * whole file under its name or none: written to a `.tmp` file and synced,
 * renamed into place, and the directory synced so the new name is durable.
 * Returns the file's name.
 */
export async function writeSnapshotFile(fs: StorageFileSystem, dir: string, snapshot: Snapshot): Promise<string> {
  const bytes = encodeSnapshotFile(snapshot);
  const name = snapshotName(snapshot.index, snapshot.term);
  const path = join(dir, name);
  const temp = `${path}.tmp`;
  await writeFileDurably(fs, temp, bytes, 'w');
  await fs.rename(temp, path);
  await syncDirectory(fs, dir);
  return name;
}

/**
 * Deletes the snapshot files that can no longer be used, keeping `newest`
 * and the newest older one that is still a fallback (should `newest` be
 * found damaged, open may use it only if the log holds every entry after
 * it: only a snapshot at or above `logFloor` qualifies). Anything else — an
 * older snapshot, or a newer-named file passed over as damaged — goes, so
 * the directory holds at most two snapshots. A file in `damaged` (open
 * passed it over) is never the fallback: keeping it in place of a valid
 * older one would leave nothing to open should `newest` be damaged too.
 * Returns the names deleted.
 *
 * The deletions are not synced: one a crash undoes is done again by the
 * next call, and a file it leaves is only ever a fallback that open checks.
 */
export async function pruneSnapshotFiles(
  fs: StorageFileSystem,
  dir: string,
  newest: string,
  logFloor: number,
  damaged: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const newestIndex = parseSnapshotName(newest)?.index ?? 0;
  const others = snapshotFiles(await fs.readdir(dir)).filter((file) => file.name !== newest);
  const fallback = others.find(
    (file) => file.index < newestIndex && file.index >= logFloor && !damaged.has(join(dir, file.name)),
  );
  const removed: string[] = [];
  for (const { name } of others) {
    if (name === fallback?.name) continue;
    await fs.unlink(join(dir, name));
    removed.push(name);
  }
  return removed;
}
