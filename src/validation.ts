/**
 * The zod pieces that every options parser shares (RaftNode's, TcpTransport's),
 * so that both word their problems alike and both throw one ConfigError
 * listing every problem, each with its dotted path.
 */
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.js';
import { LOGGER_METHODS, type Logger, silentLogger } from './logger.js';

/** A short description of a bad value for an error message. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case 'number':
    case 'boolean':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'undefined':
      return 'undefined';
    default:
      return `a ${typeof value}`;
  }
}

/** The message for a value of the wrong type: "is required" when it is missing. */
export const mustBe =
  (expected: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined ? 'is required' : `must be ${expected}, got ${describe(issue.input)}`;

export const nonEmptyString = z
  .string({ error: mustBe('a non-empty string') })
  .min(1, { error: 'must be a non-empty string' });

/**
 * An integer from `min` to `max`; without `max`, any safe integer from `min`
 * on (z.int already refuses unsafe ones, so no second check reports them twice).
 */
function integer(min: number, max: number | undefined) {
  const expected = max === undefined ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  const outOfRange = (issue: { input?: unknown }) => `must be ${expected}, got ${describe(issue.input)}`;
  const atLeast = z.int({ error: mustBe(expected) }).min(min, { error: outOfRange });
  return max === undefined ? atLeast : atLeast.max(max, { error: outOfRange });
}

export const intAtLeast = (min: number) => integer(min, undefined);
export const intBetween = (min: number, max: number) => integer(min, max);

/**
 * An object the user implements (transport, storage, ...). Checked for its
 * methods but passed through as is: it is usually a class instance, and
 * zod's object parsing would copy it into a plain object without its
 * prototype.
 */
export function implementation<T>(what: string, required: readonly string[], optional: readonly string[] = []) {
  const shape = [...required, ...optional.map((name) => `${name}?`)].join(', ');
  return z
    .custom<T>(() => true)
    .superRefine((value, ctx) => {
      if (typeof value !== 'object' || value === null) {
        ctx.addIssue({
          code: 'custom',
          message:
            value === undefined
              ? 'is required'
              : `must be ${what} (an object with methods ${shape}), got ${describe(value)}`,
        });
        return;
      }
      const methods = value as Record<string, unknown>;
      for (const name of required) {
        if (typeof methods[name] !== 'function') {
          ctx.addIssue({ code: 'custom', path: [name], message: `must be a function (${what} method)` });
        }
      }
      for (const name of optional) {
        if (methods[name] !== undefined && typeof methods[name] !== 'function') {
          ctx.addIssue({ code: 'custom', path: [name], message: 'must be a function when given' });
        }
      }
    });
}

/** An optional pino-compatible logger; silent when not given. */
export const loggerOption = () => implementation<Logger>('a Logger', LOGGER_METHODS).default(() => silentLogger);

/** The whole options object: no unknown keys, and a clear word when it is not an object at all. */
export function optionsObject<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'invalid_type' ? `options must be an object, got ${describe(issue.input)}` : undefined,
  });
}

/** One zod issue as ConfigIssues: an unknown key becomes one issue per key, at that key's path. */
function toConfigIssues(issue: z.core.$ZodIssue): ConfigIssue[] {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const prefix = path === '' ? '' : `${path}.`;
    return issue.keys.map((key) => ({ path: `${prefix}${key}`, message: 'is not a known option' }));
  }
  return [{ path, message: issue.message }];
}

/**
 * Parses `input` with `schema`, adds what `moreIssues` finds (the rules that
 * span fields, given the parsed options or undefined when the schema
 * failed), and throws one ConfigError listing every problem.
 */
export function parseOptions<T>(
  schema: z.ZodType<T>,
  input: unknown,
  moreIssues: (parsed: T | undefined) => ConfigIssue[],
): T {
  const result = schema.safeParse(input);
  const issues = result.success ? [] : result.error.issues.flatMap(toConfigIssues);
  issues.push(...moreIssues(result.success ? result.data : undefined));
  if (!result.success || issues.length > 0) throw new ConfigError(issues);
  return result.data;
}
