/**
 * Command lines for the scripts in bench/, scripts/ and examples/: each
 * declares its options once (type, default, what it does), and gets strict
 * parsing by `node:util` parseArgs, typed values, a clear error for an
 * unknown option or a bad number, and `--help` with every default.
 */
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

export interface IntegerOption {
  readonly type: 'integer';
  readonly default: number;
  /** The smallest value accepted (default: none). */
  readonly min?: number;
  readonly description: string;
}

/** A flag: off unless given. */
export interface FlagOption {
  readonly type: 'boolean';
  readonly description: string;
}

export type OptionSpec = IntegerOption | FlagOption;

export interface CommandSpec<S extends Record<string, OptionSpec>> {
  /** How to run it, e.g. `npx tsx bench/fuzz-codec.ts [options]`. */
  readonly usage: string;
  /** What it does, in a sentence or two. */
  readonly summary: string;
  readonly options: S;
  /** The one positional argument it takes, if any. */
  readonly argument?: { readonly name: string; readonly description: string; readonly required?: boolean };
}

export type OptionValues<S extends Record<string, OptionSpec>> = {
  readonly [K in keyof S]: S[K] extends IntegerOption ? number : boolean;
};

export type CommandLine<S extends Record<string, OptionSpec>> =
  | { readonly help: true; readonly text: string }
  | { readonly help: false; readonly values: OptionValues<S>; readonly argument: string | undefined };

/** A command line the script cannot run with; the message says what is wrong. */
export class UsageError extends Error {}

/** The `--help` text: usage, summary, and each option with its default. */
export function helpText<S extends Record<string, OptionSpec>>(command: CommandSpec<S>): string {
  const rows: [string, string][] = Object.entries(command.options).map(([name, spec]) =>
    spec.type === 'integer'
      ? [`--${name} <n>`, `${spec.description} (default: ${spec.default})`]
      : [`--${name}`, `${spec.description} (default: off)`],
  );
  rows.push(['-h, --help', 'print this help and exit']);
  const argument: [string, string][] =
    command.argument === undefined ? [] : [[`<${command.argument.name}>`, command.argument.description]];
  const width = Math.max(...[...argument, ...rows].map(([left]) => left.length)) + 2;
  const table = (entries: [string, string][]) => entries.map(([left, right]) => `  ${left.padEnd(width)}${right}`);
  return [
    `Usage: ${command.usage}`,
    '',
    command.summary,
    '',
    ...(argument.length > 0 ? ['Arguments:', ...table(argument), ''] : []),
    'Options:',
    ...table(rows),
    '',
  ].join('\n');
}

function integer(name: string, spec: IntegerOption, raw: string | undefined): number {
  if (raw === undefined) return spec.default;
  const value = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  const min = spec.min ?? Number.MIN_SAFE_INTEGER;
  if (!Number.isSafeInteger(value) || value < min) {
    const range = spec.min === undefined ? 'an integer' : `an integer >= ${spec.min}`;
    throw new UsageError(`--${name} must be ${range}, got "${raw}"`);
  }
  return value;
}

/** Reads `argv` against `command`; throws UsageError for anything it does not accept. */
export function readCommandLine<S extends Record<string, OptionSpec>>(
  command: CommandSpec<S>,
  argv: readonly string[],
): CommandLine<S> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, spec] of Object.entries(command.options))
    options[name] = { type: spec.type === 'integer' ? 'string' : 'boolean' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: command.argument !== undefined });
  } catch (error) {
    // parseArgs names the option in its message ("Unknown option '--x'").
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.values.help === true) return { help: true, text: helpText(command) };
  if (parsed.positionals.length > 1)
    throw new UsageError(`expected at most one argument, got ${parsed.positionals.length}`);
  if (command.argument?.required === true && parsed.positionals.length === 0) {
    throw new UsageError(`missing <${command.argument.name}>`);
  }
  const values: Record<string, number | boolean> = {};
  for (const [name, spec] of Object.entries(command.options)) {
    const raw = parsed.values[name];
    values[name] = spec.type === 'integer' ? integer(name, spec, raw as string | undefined) : raw === true;
  }
  return { help: false, values: values as OptionValues<S>, argument: parsed.positionals[0] };
}

/**
 * Parses this process's command line: prints the help and exits 0 on
 * `--help`, prints what is wrong and exits 2 on a bad command line.
 */
export function parseCommandLine<S extends Record<string, OptionSpec>>(
  command: CommandSpec<S>,
  argv: readonly string[] = process.argv.slice(2),
): { readonly values: OptionValues<S>; readonly argument: string | undefined } {
  let line: CommandLine<S>;
  try {
    line = readCommandLine(command, argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${basename(process.argv[1] ?? 'script')}: ${error.message}\nRun it with --help to see the options.`);
    process.exit(2);
  }
  if (line.help) {
    process.stdout.write(line.text);
    process.exit(0);
  }
  return line;
}
