/**
 * The core is a pure, deterministic state machine (README, "Design notes"): no
 * timers, clocks, randomness, promises, I/O, events or validation library.
 * The rules live in eslint.config.js (run by `npm run lint` inside
 * `npm test`); this file shows that they hold on src/core and that each of
 * them really reports the use it forbids, by planting one in a core file.
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A file name inside src/core, so the core's rules apply to the planted code. */
const PLANTED_PATH = 'src/core/planted.ts';

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT });
});

async function coreRulesReporting(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: PLANTED_PATH });
  return result.messages.map((m) => m.ruleId ?? `fatal: ${m.message}`);
}

const PLANTED: Array<{ what: string; code: string; rule: string }> = [
  { what: 'setTimeout', code: 'export const f = () => setTimeout(() => 1, 5);', rule: 'no-restricted-globals' },
  { what: 'setInterval', code: 'export const f = () => setInterval(() => 1, 5);', rule: 'no-restricted-globals' },
  { what: 'setImmediate', code: 'export const f = () => setImmediate(() => 1);', rule: 'no-restricted-globals' },
  { what: 'queueMicrotask', code: 'export const f = () => queueMicrotask(() => 1);', rule: 'no-restricted-globals' },
  { what: 'Date', code: 'export const now = () => Date.now();', rule: 'no-restricted-globals' },
  { what: 'new Date', code: 'export const now = () => new Date();', rule: 'no-restricted-globals' },
  { what: 'performance', code: 'export const now = () => performance.now();', rule: 'no-restricted-globals' },
  { what: 'Math.random', code: 'export const r = () => Math.random();', rule: 'no-restricted-syntax' },
  { what: 'globalThis', code: 'export const r = () => globalThis.Math.random();', rule: 'no-restricted-syntax' },
  { what: 'Promise', code: 'export const p = () => Promise.resolve(1);', rule: 'no-restricted-globals' },
  { what: 'async', code: 'export async function f(): Promise<void> {}', rule: 'no-restricted-syntax' },
  { what: 'await', code: 'export const f = async (p: PromiseLike<number>) => await p;', rule: 'no-restricted-syntax' },
  { what: 'process', code: 'export const env = () => process.env.X;', rule: 'no-restricted-globals' },
  { what: 'require()', code: 'export const fs = () => require("fs");', rule: 'no-restricted-globals' },
  { what: 'a dynamic import', code: 'export const load = () => import("./log.js");', rule: 'no-restricted-syntax' },
  {
    what: 'a node: module',
    code: "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;",
    rule: 'no-restricted-imports',
  },
  {
    what: 'eventemitter3',
    code: "import { EventEmitter } from 'eventemitter3';\nexport const E = EventEmitter;",
    rule: 'no-restricted-imports',
  },
  { what: 'zod', code: "import { z } from 'zod';\nexport const s = z.string();", rule: 'no-restricted-imports' },
  {
    what: 'the shell',
    code: "import { RaftNode } from '../node.js';\nexport const N = RaftNode;",
    rule: 'no-restricted-imports',
  },
];

describe('the core is pure', () => {
  it('src/core passes the purity rules', async () => {
    const results = await eslint.lintFiles(['src/core/**/*.ts']);
    expect(results.length).toBeGreaterThanOrEqual(10);
    const problems = results.flatMap((r) => r.messages.map((m) => `${r.filePath}:${m.line} ${m.ruleId}: ${m.message}`));
    expect(problems).toEqual([]);
  });

  it('allowed imports pass: its own files and ../messages.js', async () => {
    const code =
      "import type { Entry } from '../messages.js';\nimport { RaftLog } from './log.js';\nexport type E = Entry;\nexport const L = RaftLog;";
    expect(await coreRulesReporting(code)).toEqual([]);
  });

  for (const { what, code, rule } of PLANTED) {
    it(`a planted use of ${what} in src/core is reported by ${rule}`, async () => {
      expect(await coreRulesReporting(code)).toContain(rule);
    });
  }

  it("the same code outside src/core is not reported: the rules are the core's own", async () => {
    const [result] = await eslint.lintText('export const f = () => setTimeout(() => Date.now(), 5);', {
      filePath: 'src/shell/planted.ts',
    });
    expect(result.messages).toEqual([]);
  });
});
