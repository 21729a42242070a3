/**
 * The core is a pure, deterministic state machine (ARCHITECTURE.md): no
 * timers, clocks, randomness, promises, I/O, events or validation library.
 * This test reads the source of every file in src/core/ and fails on any
 * such use, so the rule cannot erode one convenient import at a time.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CORE_DIR = fileURLToPath(new URL('../../src/core/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return sourceFiles(path);
      return /\.(c|m)?ts$/.test(name) ? [path] : [];
    })
    .sort();
}

/**
 * Removes line and block comments, keeping string and template literals
 * (an import specifier is a string) and line breaks (for line numbers).
 */
function stripComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end === -1 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const FORBIDDEN: Array<{ what: string; pattern: RegExp }> = [
  { what: 'setTimeout', pattern: /\bsetTimeout\b/ },
  { what: 'setInterval', pattern: /\bsetInterval\b/ },
  { what: 'setImmediate', pattern: /\bsetImmediate\b/ },
  { what: 'queueMicrotask', pattern: /\bqueueMicrotask\b/ },
  { what: 'Date', pattern: /\bDate\b/ },
  { what: 'Math.random', pattern: /\bMath\s*\.\s*random\b/ },
  { what: 'performance', pattern: /\bperformance\b/ },
  { what: 'Promise', pattern: /\bPromise\b/ },
  { what: 'async', pattern: /\basync\b/ },
  { what: 'await', pattern: /\bawait\b/ },
  { what: 'process', pattern: /\bprocess\b/ },
  { what: 'require()', pattern: /\brequire\s*\(/ },
  { what: 'a node: module', pattern: /['"`]node:/ },
  { what: 'eventemitter3', pattern: /eventemitter3/i },
  { what: 'EventEmitter', pattern: /\bEventEmitter\b/ },
  { what: 'zod', pattern: /\bzod\b/ },
];

/** Every module specifier in import/export-from statements and dynamic imports. */
function specifiers(code: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]/g,
  ];
  for (const p of patterns) for (const m of code.matchAll(p)) found.push(m[1]);
  return found;
}

function lineOf(code: string, index: number): number {
  return code.slice(0, index).split('\n').length;
}

const files = sourceFiles(CORE_DIR);

describe('the core is pure', () => {
  it('the scanner ignores comments but sees code and strings', () => {
    const code = stripComments(
      [
        '// setTimeout(f, 1) in a line comment',
        '/* Date.now() and Math.random()',
        '   across lines */ const a = 1;',
        "const url = 'http://example.com'; // trailing Promise",
        "import { x } from 'node:fs';",
        'const t = `tick ${a}`;',
        'setInterval(f, 5);',
      ].join('\n'),
    );
    expect(code).not.toMatch(/setTimeout|Date|Math\.random|Promise/);
    expect(code).toContain("'http://example.com'");
    expect(code).toContain('const t = `tick ${a}`;');
    expect(code.split('\n')).toHaveLength(7);
    expect(specifiers(code)).toEqual(['node:fs']);
    const hits = FORBIDDEN.filter((f) => f.pattern.test(code)).map((f) => f.what);
    expect(hits).toEqual(['setInterval', 'a node: module']);
  });

  it('src/core holds the Raft core', () => {
    const names = files.map((f) => relative(CORE_DIR, f));
    expect(names).toContain('raft.ts');
    expect(names).toContain('types.ts');
  });

  for (const { what, pattern } of FORBIDDEN) {
    it(`no file in src/core uses ${what}`, () => {
      const offenders: string[] = [];
      for (const file of files) {
        const code = stripComments(readFileSync(file, 'utf8'));
        const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
        for (const m of code.matchAll(global)) {
          offenders.push(`${relative(CORE_DIR, file)}:${lineOf(code, m.index ?? 0)}`);
        }
      }
      expect(offenders).toEqual([]);
    });
  }

  it('src/core imports only its own files and ../messages.js (ARCHITECTURE.md layer rule)', () => {
    const offenders: string[] = [];
    for (const file of files) {
      const code = stripComments(readFileSync(file, 'utf8'));
      for (const spec of specifiers(code)) {
        const ok = /^\.\/(?:[\w-]+\/)*[\w.-]+\.js$/.test(spec) || spec === '../messages.js';
        if (!ok) offenders.push(`${relative(CORE_DIR, file)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
