/**
 * A long crash run outside the test suite:
 *
 *   npx tsx scripts/crash-soak.ts [--kills 100] [--seed 1] [<keep-dir>]
 *
 * SIGKILLs a process running a 3-node cluster on FileStorage `--kills`
 * times and checks after each kill that every acknowledged proposal is on a
 * majority (see test/fixtures/storage/crash-campaign.ts). Exits with 1 if
 * any acknowledged entry was lost.
 */
import { parseCommandLine } from '../examples/cli.js';
import { runCrashCampaign } from '../test/fixtures/storage/crash-campaign.js';

const { values, argument: keepFailedIn } = parseCommandLine({
  usage: 'npx tsx scripts/crash-soak.ts [options]',
  summary:
    'SIGKILLs a process running a 3-node cluster on FileStorage, again and again, and checks after each kill ' +
    'that every acknowledged proposal survived. Exits 1 if one was lost.',
  options: {
    kills: { type: 'integer', default: 100, min: 1, description: 'how many times to kill the process' },
    seed: { type: 'integer', default: 1, min: 1, description: 'seed of the kill schedule; the same seed replays it' },
  },
  argument: {
    name: 'keep-dir',
    description: "where to copy the nodes' directories if a run fails, to study them (default: not kept)",
  },
});

async function main(): Promise<void> {
  const { kills, seed } = values;
  const started = performance.now();
  const result = await runCrashCampaign({ kills, seed, keepFailedIn, log: (line) => console.log(line) });
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  console.log(
    `crash soak (seed ${seed}, ${seconds} s): ${result.kills} kills (${result.earlyKills} at a random moment from start, ` +
      `${result.runsThatContinued} after the restarted cluster elected a leader and committed), ` +
      `${result.acknowledged} acknowledged proposals up to index ${result.lastIndex}, ` +
      `${result.tornTails} torn tails truncated, ${result.lost} acknowledged entries lost`,
  );
  for (const loss of result.losses) console.log(`  lost: ${loss}`);
  if (result.lost > 0) process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
