import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { FileStorage, type FileStorageOptions } from '../../src/storage/file.js';
import type { Storage } from '../../src/storage/storage.js';
import type { Logger } from '../../src/logger.js';

export { entry, plain, range } from '../../src/testing/storage-conformance-kit.js';

/** Temporary directories removed by `cleanup()`. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(prefix = 'bellwether-storage-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  cleanup(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

export interface LogLine {
  readonly level: 'info' | 'warn';
  readonly obj: object;
  readonly msg: string | undefined;
}

/** A logger that keeps what it is told, for assertions. */
export class RecordingLogger implements Pick<Logger, 'info' | 'warn'> {
  readonly lines: LogLine[] = [];

  info(obj: object, msg?: string): void {
    this.lines.push({ level: 'info', obj, msg });
  }

  warn(obj: object, msg?: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }

  warnings(): LogLine[] {
    return this.lines.filter((l) => l.level === 'warn');
  }
}

/** Resolves with what `promise` rejects with; fails if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/**
 * FileStorages in temporary directories with small segments (the default
 * 16 MiB would make every open write 16 MiB of zeros); each test's storages
 * are closed and its directories removed after it.
 */
export function fileStorageFixture(segmentBytes: number): {
  dirs: TempDirs;
  opened: Storage[];
  storage(options: Partial<FileStorageOptions> & { dir: string }): FileStorage;
} {
  const dirs = new TempDirs();
  const opened: Storage[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => undefined);
    dirs.cleanup();
  });
  return {
    dirs,
    opened,
    storage(options) {
      const s = new FileStorage({ logger: new RecordingLogger(), segmentBytes, ...options });
      opened.push(s);
      return s;
    },
  };
}
