import { describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import type { Entry } from '../../src/messages.js';
import { MemoryStorage } from '../../src/storage/memory.js';

function entry(index: number, term: number, text = `e${index}`): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) };
}

const EMPTY = new Uint8Array(0);

function range(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, type: 'normal', data: EMPTY });
  return out;
}

async function opened(): Promise<MemoryStorage> {
  const storage = new MemoryStorage();
  await storage.open();
  return storage;
}

describe('MemoryStorage', () => {
  it('a new storage opens with term 0, no vote, commit 0 and an empty log', async () => {
    const state = await new MemoryStorage().open();
    expect(state.hardState).toEqual({ term: 0, vote: null, commit: 0 });
    expect(state.entries).toEqual([]);
  });

  it('keeps hard state and entries across close and reopen (a restarted node)', async () => {
    const storage = await opened();
    const entries = range(1, 3, 1);
    storage.save({ term: 2, vote: 'b', commit: 2 }, entries);
    await storage.close();

    const state = await storage.open();
    expect(state.hardState).toEqual({ term: 2, vote: 'b', commit: 2 });
    expect(state.entries).toEqual(entries);
    // Entries are immutable, so they are shared rather than copied.
    expect(state.entries[0]).toBe(entries[0]);
  });

  it('save with null hard state keeps the previous hard state', async () => {
    const storage = await opened();
    storage.save({ term: 3, vote: 'a', commit: 0 }, []);
    storage.save(null, range(1, 2, 3));
    await storage.close();
    const state = await storage.open();
    expect(state.hardState).toEqual({ term: 3, vote: 'a', commit: 0 });
    expect(state.entries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('save returns synchronously (undefined, not a promise)', async () => {
    const storage = await opened();
    expect(storage.save(null, range(1, 1, 1))).toBeUndefined();
  });

  it('replaces every stored entry at or after the first saved index (§5.3 conflict truncation)', async () => {
    const storage = await opened();
    storage.save(null, range(1, 5, 1));
    storage.save(null, [entry(3, 2, 'new3')]);
    await storage.close();
    const { entries } = await storage.open();
    expect(entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
  });

  it('may rewrite the log from index 1', async () => {
    const storage = await opened();
    storage.save(null, range(1, 3, 1));
    storage.save(null, range(1, 2, 4));
    await storage.close();
    const { entries } = await storage.open();
    expect(entries.map((e) => [e.index, e.term])).toEqual([
      [1, 4],
      [2, 4],
    ]);
  });

  it('appends a batch that starts right after the last index', async () => {
    const storage = await opened();
    storage.save(null, range(1, 2, 1));
    storage.save(null, range(3, 4, 1));
    await storage.close();
    expect((await storage.open()).entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
  });

  it('refuses a batch that would leave a gap, and keeps the log unchanged', async () => {
    const storage = await opened();
    storage.save(null, range(1, 2, 1));
    expect(() => storage.save(null, range(4, 5, 1))).toThrow(StorageError);
    expect(() => storage.save(null, [entry(0, 1)])).toThrow(StorageError);
    await storage.close();
    expect((await storage.open()).entries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('refuses a non-contiguous batch without changing anything, hard state included', async () => {
    const storage = await opened();
    storage.save({ term: 1, vote: null, commit: 0 }, range(1, 3, 1));
    expect(() => storage.save({ term: 9, vote: 'x', commit: 0 }, [entry(2, 2), entry(4, 2)])).toThrow(StorageError);
    await storage.close();
    const state = await storage.open();
    expect(state.hardState.term).toBe(1);
    expect(state.entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
  });

  it('open returns a copy of the log that later saves do not change', async () => {
    const storage = new MemoryStorage();
    const state = await storage.open();
    storage.save(null, range(1, 2, 1));
    expect(state.entries).toEqual([]);
  });

  it('does not keep the caller-owned entries array', async () => {
    const storage = await opened();
    const batch = range(1, 2, 1);
    storage.save(null, batch);
    batch.push(entry(3, 1));
    batch.length = 0;
    await storage.close();
    expect((await storage.open()).entries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('rejects a second open while it is open (two live nodes on one storage)', async () => {
    const storage = await opened();
    await expect(storage.open()).rejects.toBeInstanceOf(StorageError);
  });

  it('throws StorageError on save after close, and before open', async () => {
    const storage = await opened();
    await storage.close();
    expect(() => storage.save(null, range(1, 1, 1))).toThrow(StorageError);
    expect(() => new MemoryStorage().save({ term: 1, vote: null, commit: 0 }, [])).toThrow(StorageError);
  });

  it('close is idempotent', async () => {
    const storage = await opened();
    await storage.close();
    await expect(storage.close()).resolves.toBeUndefined();
    await expect(storage.open()).resolves.toBeDefined();
  });

  // How fast is a benchmark's question (bench/memory-storage.ts, in `npm run bench`).
  it('keeps every one of 100,000 single-entry batches, in order, with the last hard state (the hot path)', async () => {
    const storage = await opened();
    const entries = range(1, 100_000, 1);
    for (const e of entries) storage.save({ term: 1, vote: null, commit: e.index - 1 }, [e]);
    await storage.close();
    const state = await storage.open();
    expect(state.entries.length).toBe(100_000);
    expect(state.entries.every((e, i) => e.index === i + 1 && e.term === 1)).toBe(true);
    expect(state.hardState.commit).toBe(99_999);
  });

  it('saves one very large batch without exceeding the call stack', async () => {
    const storage = await opened();
    storage.save(null, range(1, 300_000, 1));
    await storage.close();
    expect((await storage.open()).entries.length).toBe(300_000);
  });
});
