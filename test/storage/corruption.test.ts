import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRandom, randomInt } from '../../src/core/random.js';
import { CorruptionError } from '../../src/errors.js';
import type { Entry, HardState } from '../../src/messages.js';
import { FileStorage } from '../../src/storage/file.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { PersistedState } from '../../src/storage/storage.js';
import { parseSegmentName, scanSegment } from '../../src/storage/wal/segment.js';
import { RecordingLogger, TempDirs } from './support.js';

const dirs = new TempDirs();
afterAll(() => dirs.cleanup());

const SEGMENT_BYTES = 2048;

interface RecordSpan {
  readonly file: string;
  readonly offset: number;
  readonly length: number;
}

function sameState(a: PersistedState, b: PersistedState): boolean {
  const hs = (h: HardState) => `${h.term}/${h.vote}/${h.commit}`;
  if (hs(a.hardState) !== hs(b.hardState) || a.entries.length !== b.entries.length) return false;
  return a.entries.every((e: Entry, i) => {
    const f = b.entries[i];
    return (
      e.index === f.index &&
      e.term === f.term &&
      e.type === f.type &&
      e.data.length === f.data.length &&
      e.data.every((byte, k) => byte === f.data[k])
    );
  });
}

/**
 * Writes a closed log of `saves` random saves (a few segments, a suffix
 * replacement, commit-only saves) and returns its files, every record in
 * it, and the state after all saves and after all but the last, as a
 * MemoryStorage given the same saves sees them.
 */
async function buildLog(seed: number, preallocate: boolean) {
  const dir = dirs.make('bellwether-corruption-');
  const random = createRandom(seed);
  const file = new FileStorage({ dir, segmentBytes: SEGMENT_BYTES, preallocate, logger: new RecordingLogger() });
  const memory = new MemoryStorage();
  await file.open();
  await memory.open();
  let last = 0;
  let term = 1;
  let before: PersistedState | null = null;
  const saves = 60;
  for (let i = 0; i < saves; i++) {
    if (i === saves - 1) before = await snapshotOf(memory);
    if (random() < 0.1) term++;
    const count = i === saves - 1 ? 2 : randomInt(random, 0, 4);
    // Now and then replace a suffix (§5.3), as a follower does after a conflict.
    const first = last > 3 && random() < 0.15 ? last - randomInt(random, 0, 3) : last + 1;
    const entries: Entry[] = [];
    for (let k = 0; k < count; k++) {
      const data = Uint8Array.from({ length: randomInt(random, 0, 40) }, () => randomInt(random, 0, 256));
      entries.push({ index: first + k, term, type: k === 0 && random() < 0.2 ? 'noop' : 'normal', data });
    }
    const hardState =
      random() < 0.8 ? { term, vote: random() < 0.5 ? 'node-b' : null, commit: Math.max(0, first - 2) } : null;
    await file.save(hardState, entries);
    memory.save(hardState, entries);
    if (count > 0) last = first + count - 1;
  }
  await file.close();
  const after = await snapshotOf(memory);

  const originals = new Map<string, Buffer>();
  for (const name of readdirSync(dir)) originals.set(name, readFileSync(join(dir, name)));
  const segmentNames = [...originals.keys()].filter((n) => parseSegmentName(n) !== null).sort();
  const records: RecordSpan[] = [];
  segmentNames.forEach((name, i) => {
    const scan = scanSegment(originals.get(name)!, name, i === segmentNames.length - 1);
    for (const r of scan.records) records.push({ file: name, offset: r.offset, length: r.payloadEnd - r.offset });
  });
  return { dir, originals, records, after, before: before! };
}

async function snapshotOf(memory: MemoryStorage): Promise<PersistedState> {
  await memory.close();
  const state = await memory.open();
  return { hardState: { ...state.hardState }, entries: state.entries.slice() };
}

function restore(dir: string, originals: Map<string, Buffer>): void {
  for (const name of readdirSync(dir)) if (!originals.has(name)) rmSync(join(dir, name));
  for (const [name, bytes] of originals) writeFileSync(join(dir, name), bytes);
}

describe('FileStorage under random byte flips', () => {
  for (const [preallocate, trials, seed] of [
    [true, 700, 1],
    [false, 350, 2],
  ] as const) {
    it(`detects every flipped byte in ${trials} trials (${preallocate ? 'preallocated' : 'growing'} segments): CorruptionError, or a torn last record — never different data`, async () => {
      const log = await buildLog(seed, preallocate);
      expect(log.records.length).toBeGreaterThan(50);
      expect(new Set(log.records.map((r) => r.file)).size).toBeGreaterThan(2);
      const { state: intact } = await openOnce(log.dir);
      expect(sameState(intact!, log.after)).toBe(true);

      const random = createRandom(seed * 1000);
      const lastRecord = log.records[log.records.length - 1];
      let corruption = 0;
      let torn = 0;
      for (let trial = 0; trial < trials; trial++) {
        restore(log.dir, log.originals);
        const record = log.records[randomInt(random, 0, log.records.length)];
        const at = record.offset + randomInt(random, 0, record.length);
        const bytes = Buffer.from(log.originals.get(record.file)!);
        bytes[at] ^= randomInt(random, 1, 256);
        writeFileSync(join(log.dir, record.file), bytes);

        const { state, error, report } = await openOnce(log.dir);
        const where = `trial ${trial}: byte ${at} of ${record.file} (record at ${record.offset})`;
        if (error !== undefined) {
          expect(CorruptionError.isInstance(error), `${where}: ${String(error)}`).toBe(true);
          expect((error as CorruptionError).file, where).toBe(join(log.dir, record.file));
          corruption++;
          continue;
        }
        // Opened: only a flip in the very last record may pass, as a torn write, and the
        // state must then be exactly the one before the last save.
        expect(record, `${where}: opened although the damaged record is not the last`).toBe(lastRecord);
        expect(report?.tornTail?.offset, where).toBe(record.offset);
        expect(sameState(state!, log.before), `${where}: read back different data`).toBe(true);
        torn++;
      }
      expect(corruption + torn).toBe(trials);
      expect(corruption).toBeGreaterThan(0);
      // The seeds are chosen so that the last record is hit too: both outcomes are exercised.
      expect(torn).toBeGreaterThan(0);
    });
  }
});

async function openOnce(dir: string) {
  const storage = new FileStorage({ dir, segmentBytes: SEGMENT_BYTES, logger: new RecordingLogger() });
  try {
    const state = await storage.open();
    const report = storage.lastOpen;
    await storage.close();
    return { state, error: undefined, report };
  } catch (error) {
    return { state: undefined, error, report: null };
  }
}
