/**
 * Fuzzes the wire codec at scale: `npx tsx bench/fuzz-codec.ts --frames 1000000 [--seed 1]`.
 *
 * Feeds random and mutated frames (the fast-check arbitraries of
 * test/codec/arbitrary.ts, as a seeded stream) through decodeMessage and
 * counts the outcomes. Every frame must either decode to a message that
 * re-encodes to the same bytes, or throw DecodeError; "other errors" and "round-trip mismatches"
 * must be 0, and the process exits 1 otherwise. Also prints peak memory
 * (a decoder that allocated from forged lengths would show here) and the
 * cost of the hot path, an AppendEntries of 1,000 entries of 16 bytes.
 */
import { parseCommandLine } from '../examples/cli.js';
import { decodeMessage, encodeMessage } from '../src/codec/codec.js';
import type { AppendEntries } from '../src/messages.js';
import { runFuzz } from '../test/codec/arbitrary.js';

const { values } = parseCommandLine({
  usage: 'npx tsx bench/fuzz-codec.ts [options]',
  summary:
    'Feeds random and mutated frames through decodeMessage; each must decode and round-trip or throw DecodeError. ' +
    'Exits 1 otherwise.',
  options: {
    frames: { type: 'integer', default: 1_000_000, min: 1, description: 'frames to check' },
    seed: {
      type: 'integer',
      default: 1,
      description: 'seed of the frame stream; the same seed replays the same frames',
    },
  },
});
const { frames, seed } = values;

const mib = (bytes: number) => `${(bytes / (1 << 20)).toFixed(1)} MiB`;
let peakHeap = process.memoryUsage().heapUsed;
let peakArrayBuffers = process.memoryUsage().arrayBuffers;
const started = performance.now();
let lastReport = started;

const summary = runFuzz(
  seed,
  frames,
  (done) => {
    const memory = process.memoryUsage();
    peakHeap = Math.max(peakHeap, memory.heapUsed);
    peakArrayBuffers = Math.max(peakArrayBuffers, memory.arrayBuffers);
    const now = performance.now();
    if (now - lastReport > 5_000) {
      lastReport = now;
      console.log(`  … ${done.toLocaleString('en-US')} frames`);
    }
  },
  10_000,
);
const seconds = (performance.now() - started) / 1000;

// The hot path: a leader replicating a batch of small proposals.
const entries = Array.from({ length: 1_000 }, (_, i) => ({
  index: 5_001 + i,
  term: 12,
  type: 'normal' as const,
  data: new Uint8Array(16).fill(i & 0xff),
}));
const append: AppendEntries = {
  type: 'AppendEntries',
  from: 'node-a',
  to: 'node-b',
  term: 12,
  prevLogIndex: 5_000,
  prevLogTerm: 12,
  entries,
  leaderCommit: 4_990,
};
let frame = encodeMessage(append);
for (let i = 0; i < 500; i++) decodeMessage(encodeMessage(append)); // warm up
const ROUNDS = 2_000;
let t = performance.now();
for (let i = 0; i < ROUNDS; i++) frame = encodeMessage(append);
const encodeMicros = ((performance.now() - t) * 1000) / ROUNDS;
t = performance.now();
for (let i = 0; i < ROUNDS; i++) decodeMessage(frame);
const decodeMicros = ((performance.now() - t) * 1000) / ROUNDS;

const { counts } = summary;
const peakRss = process.resourceUsage().maxRSS * 1024;
console.log(
  `codec fuzz: ${frames.toLocaleString('en-US')} frames, seed ${seed}, ${seconds.toFixed(1)} s (${Math.round(frames / seconds).toLocaleString('en-US')} frames/s)`,
);
console.log(`  decoded ok (round-trip verified): ${counts.decoded.toLocaleString('en-US')}`);
console.log(`  DecodeError:                      ${counts.decodeError.toLocaleString('en-US')}`);
console.log(`  other errors:                     ${counts.otherError}`);
console.log(`  round-trip mismatches:            ${counts.roundTripMismatch}`);
console.log(
  `  frames per mutation: ${Object.entries(summary.byMutation)
    .map(([m, n]) => `${m} ${n}`)
    .join(', ')}`,
);
console.log(`  peak RSS ${mib(peakRss)}, peak heap used ${mib(peakHeap)}, peak array buffers ${mib(peakArrayBuffers)}`);
console.log(
  `  AppendEntries 1,000 × 16 B (${frame.length} bytes): encode ${encodeMicros.toFixed(1)} µs, decode ${decodeMicros.toFixed(1)} µs`,
);
for (const failure of summary.failures) {
  console.log(
    `  FAILURE ${failure.outcome} after ${failure.mutation}: ${failure.detail}\n    frame ${failure.frameHex}`,
  );
}
if (counts.otherError > 0 || counts.roundTripMismatch > 0) process.exit(1);
