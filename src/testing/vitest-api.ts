import type * as Vitest from 'vitest';

/** The parts of vitest the conformance suites register tests with. */
export interface VitestApi {
  readonly describe: typeof Vitest.describe;
  readonly it: typeof Vitest.it;
  readonly expect: typeof Vitest.expect;
  readonly afterEach: typeof Vitest.afterEach;
}

/**
 * Finds vitest when a conformance suite is called. `bellwether/testing`
 * must not import vitest at load time: vitest throws on import outside its
 * runner, and users import MemoryNetwork or the Simulator from plain
 * scripts. Inside a test file, vitest's worker exposes its API on
 * `globalThis.__vitest_index__`; with `globals: true` it is on `globalThis`
 * itself; otherwise the caller passes it in.
 */
export function vitestApi(given?: Partial<VitestApi>): VitestApi {
  const g = globalThis as Record<string, unknown>;
  const index = g.__vitest_index__ as Partial<VitestApi> | undefined;
  const pick = <K extends keyof VitestApi>(key: K): VitestApi[K] => {
    const found = given?.[key] ?? index?.[key] ?? (g[key] as VitestApi[K] | undefined);
    if (typeof found !== 'function') {
      throw new Error(
        `The conformance suites register vitest tests: call them from a vitest test file, or pass { vitest: { describe, it, expect, afterEach } } from 'vitest' (missing ${key})`,
      );
    }
    return found;
  };
  return { describe: pick('describe'), it: pick('it'), expect: pick('expect'), afterEach: pick('afterEach') };
}
