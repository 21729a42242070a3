import { describe, expect, it } from 'vitest';
import type { Entry, HardState } from '../../src/messages.js';
import { RaftNode } from '../../src/node.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { PersistedState, Storage } from '../../src/storage/storage.js';
import { MemoryNetwork } from '../../src/testing/memory-network.js';
import { VirtualTime } from '../helpers/virtual-time.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A storage whose saves complete on a later turn of the event loop, as a disk write does. */
class DiskLikeStorage implements Storage {
  private readonly inner = new MemoryStorage();

  async open(): Promise<PersistedState> {
    return this.inner.open();
  }

  save(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    const copy = entries.slice();
    return new Promise((resolve) =>
      setImmediate(() => {
        this.inner.save(hardState, copy);
        resolve();
      }),
    );
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}

/**
 * A leader that has just stepped down still reports itself leader until
 * its new term is on disk. A caller that retries at once on NotLeaderError
 * (as the crash test's cluster process did) must not starve that write:
 * refusals are delivered on a later turn of the event loop, so the disk
 * write completes between two attempts and the node reports the truth.
 * Rejected in a microtask, the loop below never lets the write finish: the
 * process spins at 100% CPU with its event loop stopped.
 */
describe('refused calls leave the event loop turning', () => {
  it('a caller retrying propose at once on NotLeaderError does not starve the write that ends the stale view', async () => {
    const time = new VirtualTime();
    const net = new MemoryNetwork();
    const node = new RaftNode({
      id: 'a',
      peers: ['a'],
      transport: net.transport('a'),
      storage: new DiskLikeStorage(),
      clock: time.clock(),
      seed: 1,
    });
    await node.start();
    await time.until(() => node.isLeader(), 'the node to lead');

    // A message of a higher term: the core steps down at once; the view waits for the new term's save.
    const other = net.transport('b');
    await other.start(() => undefined);
    other.send({ type: 'Heartbeat', from: 'b', to: 'a', term: node.term + 1, commit: 0, readSeq: 0 });
    await nextTurn();

    let attempts = 0;
    while (node.isLeader() && attempts < 10_000) {
      attempts++;
      await node.propose(enc('x')).catch(() => undefined);
    }
    expect(node.isLeader()).toBe(false);
    expect(attempts).toBeLessThan(10);
    await time.wait(node.stop(), 'the node to stop');
    await other.stop();
  });
});
