/**
 * MemoryStorage's hot path: many single-entry saves, as a leader under a
 * light load makes them. A benchmark rather than a test bound, because how
 * long it takes says more about the machine than about the code.
 */
import type { Entry } from '../src/messages.js';
import { MemoryStorage } from '../src/storage/memory.js';

/** Times `count` single-entry saves; returns the line to print. */
export async function benchMemoryStorage(count = 100_000): Promise<string> {
  const storage = new MemoryStorage();
  await storage.open();
  const data = new Uint8Array(16);
  const entries: Entry[] = Array.from({ length: count }, (_, i) => ({ index: i + 1, term: 1, type: 'normal', data }));
  const started = performance.now();
  for (const e of entries) storage.save({ term: 1, vote: null, commit: e.index - 1 }, [e]);
  const ms = performance.now() - started;
  await storage.close();
  return (
    `MemoryStorage (${count.toLocaleString('en-US')} single-entry saves): ${ms.toFixed(1)} ms ` +
    `(${Math.round((count * 1000) / ms).toLocaleString('en-US')} saves/s)`
  );
}
