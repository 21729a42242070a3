import { promises as fsp } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * The file operations FileStorage uses, and nothing more. The default is
 * node:fs; tests pass a wrapper that fails on purpose (a full disk, a
 * read-only directory, a failing fsync) or counts syncs, because those
 * faults cannot be produced for real in a test run (root ignores file
 * modes, and filling a real disk would hurt everyone else on the machine).
 *
 * Errors are Node's system errors (with `code` such as ENOSPC or EACCES);
 * FileStorage turns them into StorageError.
 */
export interface StorageFileHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  /** fdatasync(2): the file's data and the metadata needed to read it back. */
  datasync(): Promise<void>;
  /** fsync(2): data and all metadata; also what makes a directory's entries durable. */
  sync(): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

export interface StorageFileSystem {
  /** `flags` as for fs.open: 'r', 'r+', 'w', 'wx', 'w+'. */
  open(path: string, flags: string): Promise<StorageFileHandle>;
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Creates the directory and its parents; no error if it exists. Resolves
   * to the first directory it created, as fs.mkdir with `recursive` does,
   * or undefined when there was none: FileStorage then syncs the parent of
   * each new directory (an implementation that resolves to nothing gets no
   * such sync).
   */
  mkdir(path: string): Promise<string | undefined | void>;
  readdir(path: string): Promise<string[]>;
  rename(from: string, to: string): Promise<void>;
  /** link(2): fails with EEXIST if `to` exists, which makes it an atomic "create if absent". */
  link(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  realpath(path: string): Promise<string>;
}

/** The real file system, through node:fs/promises. */
export const nodeFileSystem: StorageFileSystem = Object.freeze({
  async open(path: string, flags: string): Promise<StorageFileHandle> {
    return fsp.open(path, flags);
  },
  readFile: (path: string) => fsp.readFile(path),
  mkdir: (path: string) => fsp.mkdir(path, { recursive: true }),
  readdir: (path: string) => fsp.readdir(path),
  rename: (from: string, to: string) => fsp.rename(from, to),
  link: (from: string, to: string) => fsp.link(from, to),
  unlink: (path: string) => fsp.unlink(path),
  realpath: (path: string) => fsp.realpath(path),
});

/** The `code` of a Node system error, or undefined. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Writes all of `buffer` at `position`, looping over short writes. */
export async function writeFully(handle: StorageFileHandle, buffer: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, done, buffer.length - done, position + done);
    if (!(bytesWritten > 0)) throw new Error(`write made no progress at byte ${position + done}`);
    done += bytesWritten;
  }
}

/**
 * Creates the file at `path` (flags 'w' or 'wx') holding `bytes`, and
 * fsyncs it: its contents are durable before a rename or link gives it the
 * name others rely on, so a crash cannot leave that name on an empty file.
 */
export async function writeFileDurably(
  fs: StorageFileSystem,
  path: string,
  bytes: Uint8Array,
  flags: string,
): Promise<void> {
  const handle = await fs.open(path, flags);
  try {
    await writeFully(handle, bytes, 0);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
  await handle.close();
}

const ZEROS = new Uint8Array(1024 * 1024);

/** Writes zeros over [start, end) of the file. */
export async function zeroRange(handle: StorageFileHandle, start: number, end: number): Promise<void> {
  for (let at = start; at < end; at += ZEROS.length) {
    await writeFully(handle, ZEROS.subarray(0, Math.min(ZEROS.length, end - at)), at);
  }
}

/**
 * Creates `dir` and any missing parents, and makes each new directory's
 * name durable by syncing the directory that holds it: otherwise a crash
 * could take the new directory, and every file synced into it, away.
 */
export async function makeDirectory(fs: StorageFileSystem, dir: string): Promise<void> {
  const created = await fs.mkdir(dir);
  if (typeof created !== 'string') return;
  const first = resolve(created);
  for (let at = resolve(dir); ; at = dirname(at)) {
    await syncDirectory(fs, dirname(at));
    if (at === first || dirname(at) === at) return;
  }
}

/** fsync on the directory itself: what makes a created, renamed or deleted name durable. */
export async function syncDirectory(fs: StorageFileSystem, dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
