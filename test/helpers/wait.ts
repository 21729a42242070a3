import { vi } from 'vitest';

/**
 * How long a real-time test waits for something that takes milliseconds on
 * an idle machine. Generous on purpose: on a loaded machine (other test
 * files, a CPU hog beside the suite) the same thing can take seconds, and a
 * wait that times out there is a false failure. The bound only decides how
 * long a real failure takes to report.
 */
export const PATIENCE = { timeout: 20_000, interval: 5 } as const;

/**
 * Polls `predicate` until it holds (vitest's `vi.waitFor`, the one polling
 * mechanism of the real-time tests); fails after `timeoutMs` naming `what`.
 * Tests that can state the condition as an assertion call
 * `vi.waitFor(() => expect(…), PATIENCE)` directly, for a better message.
 */
export async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  await vi.waitFor(
    () => {
      if (!predicate()) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    },
    { timeout: timeoutMs, interval: PATIENCE.interval },
  );
}
