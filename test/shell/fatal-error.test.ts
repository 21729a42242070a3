import { afterEach, describe, expect, it, vi } from 'vitest';
import { StoppedError, StorageError } from '../../src/errors.js';
import type { Entry, HardState } from '../../src/messages.js';
import type { RaftNode } from '../../src/node.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { PersistedState, Storage } from '../../src/storage/storage.js';
import { settle } from '../helpers/virtual-time.js';
import { enc, soloNode } from './solo-node.js';

/** A MemoryStorage whose saves fail with `failWith` once it is set. */
class FailingStorage implements Storage {
  private readonly inner = new MemoryStorage();
  failWith: Error | null = null;

  open(): Promise<PersistedState> {
    return this.inner.open();
  }

  save(hardState: HardState | null, entries: readonly Entry[]): void {
    if (this.failWith !== null) throw this.failWith;
    this.inner.save(hardState, entries);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A single-node leader whose next save fails; resolves once the node has stopped on it. */
async function leaderThatFails(fault: Error, listen?: (error: Error) => void): Promise<RaftNode> {
  const storage = new FailingStorage();
  const { node, time } = soloNode({ storage });
  if (listen !== undefined) node.on('error', listen);
  await node.start();
  await time.advance(400);
  expect(node.isLeader()).toBe(true);
  storage.failWith = fault;
  await node.propose(enc('doomed')).catch(() => undefined);
  await time.advance(10);
  await settle();
  return node;
}

describe('a fatal fault', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('with no error listener, is reported as a process warning with code BELLWETHER_FATAL that carries the error', async () => {
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const fault = new StorageError('disk on fire');
    const node = await leaderThatFails(fault);
    expect(StoppedError.isInstance(await node.propose(enc('after')).catch((e: unknown) => e))).toBe(true);
    const fatal = emitWarning.mock.calls.filter(([w]) => (w as { code?: unknown }).code === 'BELLWETHER_FATAL');
    expect(fatal).toHaveLength(1);
    const warning = fatal[0][0] as Error & { code: string };
    expect(warning).toBeInstanceOf(Error);
    expect(warning.name).toBe('BellwetherWarning');
    expect(warning.cause).toBe(fault);
    expect(warning.message).toContain('disk on fire');
    expect(warning.message).toContain('solo');
  });

  it('with an error listener, is emitted as `error` and not as a warning', async () => {
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const fault = new StorageError('disk on fire');
    const errors: Error[] = [];
    await leaderThatFails(fault, (e) => errors.push(e));
    expect(errors).toEqual([fault]);
    expect(emitWarning.mock.calls.filter(([w]) => (w as { code?: unknown }).code === 'BELLWETHER_FATAL')).toEqual([]);
  });
});
