/**
 * A long crash run outside the test suite:
 *
 *   npx tsx scripts/crash-soak.ts [--kills 100] [--seed 1]
 *
 * SIGKILLs a process running a 3-node cluster on FileStorage `--kills`
 * times and checks after each kill that every acknowledged proposal is on a
 * majority (see test/fixtures/storage/crash-campaign.ts). Exits with 1 if
 * any acknowledged entry was lost.
 */
import { runCrashCampaign } from '../test/fixtures/storage/crash-campaign.js';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} takes a positive integer`);
  return value;
}

async function main(): Promise<void> {
  const kills = option('kills', 100);
  const seed = option('seed', 1);
  const started = performance.now();
  const result = await runCrashCampaign({ kills, seed, log: (line) => console.log(line) });
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
