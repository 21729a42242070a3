/**
 * `npm run demo` (examples/demo.ts) in its short mode, as a user would run
 * it: a separate process that must finish by itself, exit 0 and report a
 * fail-over and no lost write.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the demo', () => {
  // How many writes fit in the demo's few seconds, and how long it runs, are
  // the machine's business: the test checks what the demo shows, not how
  // fast (the benchmarks measure speed). The demo's own watchdog ends it.
  it(
    '--quick: kills the leader once, prints the fail-over and the node catching up, loses no write, exits 0 by itself',
    { timeout: 180_000 },
    async () => {
      const { code, stdout, stderr } = await runDemo(['--quick']);
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
