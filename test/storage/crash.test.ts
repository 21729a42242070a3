import { describe, expect, it } from 'vitest';
import { runCrashCampaign } from '../fixtures/storage/crash-campaign.js';

/**
 * SIGKILL a real process running a 3-node cluster on FileStorage, over and
 * over. `npm test` does a bounded number of kills; set
 * BELLWETHER_CRASH_KILLS for a longer run, or use scripts/crash-soak.ts.
 */
const KILLS = Number(process.env.BELLWETHER_CRASH_KILLS ?? 20);

describe('FileStorage under SIGKILL', () => {
  it(
    `after each of ${KILLS} kills every acknowledged proposal is on a majority, and the restarted cluster elects a leader and goes on`,
    async () => {
      const result = await runCrashCampaign({ kills: KILLS, seed: 20_261_126 });
      expect(result.losses).toEqual([]);
      expect(result.lost).toBe(0);
      expect(result.kills).toBe(KILLS);
      expect(result.acknowledged).toBeGreaterThan(KILLS * 10);
      expect(result.runsThatContinued).toBe(KILLS - result.earlyKills);
      // Every fifth kill lands at a random moment from spawn: during open, log replay or the election.
      if (KILLS >= 5) expect(result.earlyKills).toBeGreaterThan(0);
    },
    KILLS * 6_000 + 30_000,
  );
});
