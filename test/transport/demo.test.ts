/**
 * `npm run demo` (examples/demo.ts) in its short mode, as a user would run
 * it: a separate process that must finish by itself, exit 0 and report a
 * fail-over and no lost write.
 */
import { describe, expect, it } from 'vitest';
import { runScript } from '../helpers/run-script.js';

describe('the demo', () => {
  // How many writes fit in the demo's few seconds, and how long it runs, are
  // the machine's business: the test checks what the demo shows, not how
  // fast (the benchmarks measure speed). The demo's own watchdog ends it.
  it(
    '--quick: kills the leader once, prints the fail-over and the node catching up, loses no write, exits 0 by itself',
    { timeout: 180_000 },
    async () => {
      const { code, stdout, stderr } = await runScript('examples/demo.ts', ['--quick']);
      expect(code, `demo failed:\n${stdout}\n${stderr}`).toBe(0);
      expect(stdout).toMatch(/: leader +term \d+ +★ leader/);
      expect(stdout).toMatch(/✗ SIGKILL the leader, [abc]/);
      expect(stdout).toMatch(/fail-over 1: [abc] elected \d+ ms after the kill, first write acknowledged after \d+ ms/);
      expect(stdout).toMatch(/[abc] caught up: applied up to index \d+/);
      const acknowledged = Number(/writes acknowledged: +([\d,]+)/.exec(stdout)?.[1]?.replaceAll(',', ''));
      expect(acknowledged).toBeGreaterThan(0);
      expect(stdout).toMatch(/same order everywhere: yes; applied twice: none/);
      expect(stdout).toMatch(/writes lost: +0\n/);
      expect(stdout).toContain('OK: every acknowledged write survived.');
    },
  );
});
