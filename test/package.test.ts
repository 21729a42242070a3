import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  exports: Record<string, unknown>;
};

/** Runs a snippet in a plain Node process (not under vitest), from the package root so `bellwether` resolves to itself. */
function node(args: string[], code: string): string {
  const result = spawnSync(process.execPath, [...args, code], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout.trim();
}

const ERROR_CLASSES = [
  'RaftError',
  'ConfigError',
  'NotLeaderError',
  'LeadershipLostError',
  'StoppedError',
  'TimeoutError',
  'DecodeError',
  'StorageError',
  'CorruptionError',
  'TransportError',
];

const ENTRIES: Record<string, string[]> = {
  bellwether: ['RaftNode', 'MemoryStorage', 'FileStorage', 'encodeMessage', 'decodeMessage', ...ERROR_CLASSES],
  'bellwether/tcp': ['TcpTransport'],
  'bellwether/testing': [
    'MemoryNetwork',
    'Simulator',
    'checkKvHistory',
    'testTransportConformance',
    'testStorageConformance',
  ],
};

describe('the published package', () => {
  it('has exactly the entry points of the API contract, and only eventemitter3 and zod at run time', () => {
    expect(Object.keys(pkg.exports).sort()).toEqual(['.', './package.json', './tcp', './testing']);
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['eventemitter3', 'zod']);
  });

  for (const [entry, names] of Object.entries(ENTRIES)) {
    it(`${entry} loads through import and require outside vitest and exports ${names.join(', ')}`, () => {
      const esm = node(
        ['--input-type=module', '-e'],
        `const m = await import('${entry}'); console.log(JSON.stringify(Object.keys(m)));`,
      );
      const cjs = node(['-e'], `console.log(JSON.stringify(Object.keys(require('${entry}'))));`);
      for (const exported of [JSON.parse(esm) as string[], JSON.parse(cjs) as string[]]) {
        expect(exported).toEqual(expect.arrayContaining(names));
      }
    });
  }

  it('errors from the ESM and the CommonJS copy recognise each other, by instanceof and by isInstance, class by class', () => {
    // For each pair (an error made by one copy, a class of the other copy),
    // prints whether instanceof and isInstance accept it; every error is
    // checked against every class, so a wrong class must say false.
    const out = node(
      ['--input-type=module', '-e'],
      `import { createRequire } from 'node:module';
       const esm = await import('bellwether');
       const cjs = createRequire(process.cwd() + '/package.json')('bellwether');
       const names = ${JSON.stringify(ERROR_CLASSES)};
       const rows = [];
       for (const [made, check] of [[cjs, esm], [esm, cjs]]) {
         for (const name of names) {
           const error = new made[name]('b');
           for (const against of names) {
             rows.push([name, against, error instanceof check[against], check[against].isInstance(error)]);
           }
           rows.push([name, 'Error', error instanceof Error, error instanceof Error]);
         }
       }
       console.log(JSON.stringify({ separate: esm.RaftError !== cjs.RaftError, rows }));`,
    );
    const { separate, rows } = JSON.parse(out) as { separate: boolean; rows: [string, string, boolean, boolean][] };
    expect(separate).toBe(true);
    const expected: [string, string, boolean, boolean][] = [];
    for (let copy = 0; copy < 2; copy++) {
      for (const name of ERROR_CLASSES) {
        for (const against of ERROR_CLASSES) {
          const is =
            against === name || against === 'RaftError' || (against === 'StorageError' && name === 'CorruptionError');
          expected.push([name, against, is, is]);
        }
        expected.push([name, 'Error', true, true]);
      }
    }
    expect(rows).toEqual(expected);
  });
});
