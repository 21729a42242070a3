/**
 * Every script under bench/, scripts/ and examples/ reads its command line
 * through examples/cli.ts (node:util parseArgs, strict): `--help` prints the
 * usage with each option's default and exits 0; an unknown option exits
 * non-zero and names it. Each script is run as a user would run it, all of
 * them at once, in their own processes.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { helpText, readCommandLine, UsageError } from '../../examples/cli.js';
import { runScript, type ScriptRun } from '../helpers/run-script.js';

/** The scripts: files meant to be run. */
const SCRIPTS = [
  'bench/index.ts',
  'bench/fuzz-codec.ts',
  'bench/tcp.ts',
  'bench/snapshot-scenarios.ts',
  'scripts/crash-soak.ts',
  'scripts/fuzz-tcp.ts',
  'scripts/mutation-survivors.ts',
  'examples/demo.ts',
  'examples/node-process.ts',
];

/** The other files of those folders: modules the scripts import, never run on their own. */
const MODULES = [
  'bench/durable.ts',
  'bench/load.ts',
  'bench/memory-cluster.ts',
  'bench/memory-storage.ts',
  'bench/snapshot-cluster.ts',
  'bench/snapshots.ts',
  // Has its own command line, owned with the simulator.
  'bench/sim.ts',
  'examples/cli.ts',
  'examples/process-cluster.ts',
  'examples/write-load.ts',
];

describe('the scripts', () => {
  it('are every file of bench/, scripts/ and examples/ that is not a module', () => {
    const files = ['bench', 'scripts', 'examples'].flatMap((dir) =>
      readdirSync(new URL(`../../${dir}`, import.meta.url))
        .filter((name) => name.endsWith('.ts'))
        .map((name) => `${dir}/${name}`),
    );
    expect([...SCRIPTS, ...MODULES].sort()).toEqual(files.sort());
  });

  it(
    'print their usage and options on --help and exit 0; refuse an unknown option, naming it, with exit 2',
    { timeout: 120_000 },
    async () => {
      const jobs = SCRIPTS.flatMap((script) => [
        { script, args: ['--help'] },
        { script, args: ['--no-such-option'] },
      ]);
      const results = new Map<string, ScriptRun>();
      // A few processes at a time: each loads TypeScript through tsx, which costs a core for a moment.
      const worker = async (): Promise<void> => {
        for (let job = jobs.shift(); job !== undefined; job = jobs.shift()) {
          results.set(`${job.script} ${job.args[0]}`, await runScript(job.script, job.args));
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
      for (const script of SCRIPTS) {
        const help = results.get(`${script} --help`)!;
        const unknown = results.get(`${script} --no-such-option`)!;
        expect(help.code, `${script} --help: ${help.stderr}`).toBe(0);
        expect(help.stdout, script).toMatch(/^Usage: /);
        expect(help.stdout, script).toContain('-h, --help');
        expect(unknown.code, `${script} --no-such-option`).toBe(2);
        expect(unknown.stderr, script).toContain("Unknown option '--no-such-option'");
        expect(unknown.stdout, script).toBe('');
      }
    },
  );
});

describe('readCommandLine', () => {
  const command = {
    usage: 'tool [options]',
    summary: 'Does a thing.',
    options: {
      frames: { type: 'integer', default: 1000, min: 1, description: 'frames to send' },
      seed: { type: 'integer', default: 7, description: 'seed' },
      quick: { type: 'boolean', description: 'go fast' },
    },
  } as const;

  const usageError = (argv: string[]): string => {
    try {
      readCommandLine(command, argv);
    } catch (error) {
      expect(error).toBeInstanceOf(UsageError);
      return (error as Error).message;
    }
    return expect.fail(`${argv.join(' ')} was accepted`);
  };

  it('gives the defaults, typed, when nothing is given', () => {
    expect(readCommandLine(command, [])).toEqual({
      help: false,
      values: { frames: 1000, seed: 7, quick: false },
      argument: undefined,
    });
  });

  it('reads integers (negative ones too) and flags, in either --name value or --name=value form', () => {
    expect(readCommandLine(command, ['--frames', '5', '--seed=-3', '--quick'])).toEqual({
      help: false,
      values: { frames: 5, seed: -3, quick: true },
      argument: undefined,
    });
  });

  it('refuses an unknown option, a missing value, a stray argument, a non-integer and a value below the minimum, saying which', () => {
    expect(usageError(['--fast'])).toBe("Unknown option '--fast'");
    expect(usageError(['--frames'])).toMatch(/--frames <value>' argument missing/);
    expect(usageError(['extra'])).toMatch(/Unexpected argument 'extra'/);
    expect(usageError(['--frames', '1e3'])).toBe('--frames must be an integer >= 1, got "1e3"');
    expect(usageError(['--frames', '0'])).toBe('--frames must be an integer >= 1, got "0"');
    expect(usageError(['--seed', '9007199254740993'])).toBe('--seed must be an integer, got "9007199254740993"');
    expect(usageError(['--quick=yes'])).toMatch(/--quick' does not take an argument/);
  });

  it('answers --help (or -h) with the usage, the summary and each option with its default', () => {
    const text = helpText(command);
    expect(readCommandLine(command, ['-h'])).toEqual({ help: true, text });
    expect(readCommandLine(command, ['--frames', 'oops', '--help'])).toEqual({ help: true, text });
    expect(text.split('\n')).toEqual([
      'Usage: tool [options]',
      '',
      'Does a thing.',
      '',
      'Options:',
      '  --frames <n>  frames to send (default: 1000)',
      '  --seed <n>    seed (default: 7)',
      '  --quick       go fast (default: off)',
      '  -h, --help    print this help and exit',
      '',
    ]);
  });

  it('takes one positional argument only where the command declares it, and requires it when told to', () => {
    const withConfig = { ...command, argument: { name: 'config', description: 'JSON', required: true } };
    expect(readCommandLine(withConfig, ['{"id":"a"}', '--quick'])).toMatchObject({
      help: false,
      argument: '{"id":"a"}',
    });
    expect(() => readCommandLine(withConfig, [])).toThrow('missing <config>');
    expect(() => readCommandLine(withConfig, ['a', 'b'])).toThrow('expected at most one argument, got 2');
  });
});
