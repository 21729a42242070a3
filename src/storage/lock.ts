import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StorageError } from '../errors.js';
import { errorCode, type StorageFileSystem, writeFileDurably } from './fs.js';
import type { Logger } from '../logger.js';

export const LOCK_FILE_NAME = 'LOCK';

/**
 * Directories held open in this process, shared through a global symbol so
 * that two copies of the package (an ESM and a CommonJS build) still see
 * each other's locks: the lock file alone cannot tell two FileStorage
 * objects of one process apart, since both would write the same pid.
 */
const REGISTRY_KEY = Symbol.for('bellwether.storage.lockedDirs');
const registry: Set<string> = ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] ??=
  new Set<string>()) as Set<string>;

interface LockOwner {
  readonly pid: number;
  readonly host: string;
}

/**
 * An exclusive hold on a storage directory: a `LOCK` file naming the
 * holder's pid and host. It is created atomically (written under a unique
 * name, then hard-linked to `LOCK`, which fails if `LOCK` exists), so a
 * reader never sees a half-written lock. A lock left by a process that
 * died (SIGKILL, power loss) is stale: its pid no longer runs on this host,
 * and it is taken over, with a warning. A lock from another host cannot be
 * checked and is respected.
 */
export class DirLock {
  private released = false;

  private constructor(
    private readonly fs: StorageFileSystem,
    private readonly key: string,
    private readonly path: string,
  ) {}

  static async acquire(fs: StorageFileSystem, dir: string, logger: Pick<Logger, 'warn'>): Promise<DirLock> {
    const key = await fs.realpath(dir);
    if (registry.has(key)) {
      throw new StorageError(
        `Storage directory ${dir} is already open in this process: two nodes cannot share one storage`,
      );
    }
    // Reserve before the first await below, so a second open in this process fails at once.
    registry.add(key);
    try {
      const path = join(dir, LOCK_FILE_NAME);
      await takeLockFile(fs, dir, path, logger);
      return new DirLock(fs, key, path);
    } catch (error) {
      registry.delete(key);
      throw error;
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      await this.fs.unlink(this.path);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    } finally {
      registry.delete(this.key);
    }
  }
}

const ATTEMPTS = 5;

async function takeLockFile(
  fs: StorageFileSystem,
  dir: string,
  path: string,
  logger: Pick<Logger, 'warn'>,
): Promise<void> {
  const me: LockOwner = { pid: process.pid, host: hostname() };
  const content = Buffer.from(`${JSON.stringify(me)}\n`);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const temp = join(dir, `${LOCK_FILE_NAME}.${process.pid}.${randomBytes(4).toString('hex')}.locktmp`);
    // Synced before it is linked: after a power loss a LOCK whose contents
    // never reached the disk could not be read, and no process would take it over.
    await writeFileDurably(fs, temp, content, 'wx');
    let linked = false;
    try {
      await fs.link(temp, path);
      linked = true;
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    } finally {
      await fs.unlink(temp).catch(() => undefined);
    }
    if (linked) return;

    let raw: string;
    try {
      raw = Buffer.from(await fs.readFile(path)).toString('utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') continue; // released meanwhile: try again
      throw error;
    }
    const owner = parseOwner(raw);
    if (owner === null) {
      throw new StorageError(
        `Storage directory ${dir} has a lock file that cannot be read (${path}); ` +
          'if no process is using this directory, delete it',
      );
    }
    if (isAlive(owner, me)) {
      throw new StorageError(
        `Storage directory ${dir} is locked by process ${owner.pid} on ${owner.host}: ` +
          'two nodes cannot share one storage (if that process is not a bellwether node, delete ' +
          `${path})`,
      );
    }
    // Stale. Move it aside atomically, then check that what we moved is the
    // lock we judged stale and not a fresh one another process just took.
    const aside = join(dir, `${LOCK_FILE_NAME}.stale.${process.pid}.${randomBytes(4).toString('hex')}.locktmp`);
    try {
      await fs.rename(path, aside);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') continue;
      throw error;
    }
    const moved = Buffer.from(await fs.readFile(aside)).toString('utf8');
    if (moved !== raw) {
      await fs.link(aside, path).catch(() => undefined);
      await fs.unlink(aside).catch(() => undefined);
      throw new StorageError(`Storage directory ${dir} is being opened by another process at the same time`);
    }
    await fs.unlink(aside).catch(() => undefined);
    logger.warn(
      { dir, pid: owner.pid, host: owner.host },
      'took over a stale storage lock left by a process that is gone',
    );
  }
  throw new StorageError(`Could not lock storage directory ${dir}: the lock kept changing hands`);
}

function parseOwner(raw: string): LockOwner | null {
  try {
    const value = JSON.parse(raw) as Partial<LockOwner>;
    if (
      typeof value.pid === 'number' &&
      Number.isInteger(value.pid) &&
      value.pid > 0 &&
      typeof value.host === 'string'
    ) {
      return { pid: value.pid, host: value.host };
    }
  } catch {
    // fall through
  }
  return null;
}

/**
 * Whether the lock's owner may still run. Our own pid counts as gone: this
 * process holds no lock on the directory (the registry said so), so the
 * file was left by an earlier process that had the same pid (pid 1 in a
 * restarted container, say).
 */
function isAlive(owner: LockOwner, me: LockOwner): boolean {
  if (owner.host !== me.host) return true;
  if (owner.pid === me.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}
