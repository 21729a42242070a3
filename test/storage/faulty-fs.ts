import { basename } from 'node:path';
import { nodeFileSystem, type StorageFileHandle, type StorageFileSystem } from '../../src/storage/fs.js';

export type FsOperation =
  | 'open'
  | 'read'
  | 'write'
  | 'datasync'
  | 'sync'
  | 'close'
  | 'readFile'
  | 'mkdir'
  | 'readdir'
  | 'rename'
  | 'link'
  | 'unlink'
  | 'realpath';

export interface FsCall {
  readonly op: FsOperation;
  /** The base name of the file (for rename and link: "from -> to"). */
  readonly file: string;
}

/** A Node-style system error, as node:fs would throw it. */
export function systemError(code: string, message = code): NodeJS.ErrnoException {
  const error = new Error(`${code}: ${message}`) as NodeJS.ErrnoException;
  error.code = code;
  return error;
}

/**
 * The real file system with a hook before every operation: it records the
 * call and may throw instead (a full disk, a read-only directory, an fsync
 * error), so that tests can produce faults a root user on a shared machine
 * cannot produce for real.
 */
export class FaultyFs implements StorageFileSystem {
  readonly calls: FsCall[] = [];
  /** Return an error to fail the call, or undefined to let it through. */
  fault: (call: FsCall) => Error | undefined = () => undefined;

  count(op: FsOperation, file?: string | RegExp): number {
    return this.calls.filter(
      (c) => c.op === op && (file === undefined || (typeof file === 'string' ? c.file === file : file.test(c.file))),
    ).length;
  }

  private check(op: FsOperation, file: string): void {
    const call = { op, file };
    this.calls.push(call);
    const error = this.fault(call);
    if (error !== undefined) throw error;
  }

  async open(path: string, flags: string): Promise<StorageFileHandle> {
    const file = basename(path);
    this.check('open', file);
    const handle = await nodeFileSystem.open(path, flags);
    return {
      read: async (buffer, offset, length, position) => {
        this.check('read', file);
        return handle.read(buffer, offset, length, position);
      },
      write: async (buffer, offset, length, position) => {
        this.check('write', file);
        return handle.write(buffer, offset, length, position);
      },
      datasync: async () => {
        this.check('datasync', file);
        return handle.datasync();
      },
      sync: async () => {
        this.check('sync', file);
        return handle.sync();
      },
      stat: () => handle.stat(),
      close: async () => {
        this.check('close', file);
        return handle.close();
      },
    };
  }

  async readFile(path: string): Promise<Uint8Array> {
    this.check('readFile', basename(path));
    return nodeFileSystem.readFile(path);
  }

  async mkdir(path: string): Promise<string | undefined | void> {
    this.check('mkdir', basename(path));
    return nodeFileSystem.mkdir(path);
  }

  async readdir(path: string): Promise<string[]> {
    this.check('readdir', basename(path));
    return nodeFileSystem.readdir(path);
  }

  async rename(from: string, to: string): Promise<void> {
    this.check('rename', `${basename(from)} -> ${basename(to)}`);
    return nodeFileSystem.rename(from, to);
  }

  async link(from: string, to: string): Promise<void> {
    this.check('link', `${basename(from)} -> ${basename(to)}`);
    return nodeFileSystem.link(from, to);
  }

  async unlink(path: string): Promise<void> {
    this.check('unlink', basename(path));
    return nodeFileSystem.unlink(path);
  }

  async realpath(path: string): Promise<string> {
    this.check('realpath', basename(path));
    return nodeFileSystem.realpath(path);
  }
}
