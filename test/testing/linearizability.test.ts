import { describe, expect, it } from 'vitest';
import { createRandom, randomInt } from '../../src/core/random.js';
import {
  checkKvHistory,
  checkOperations,
  kvModel,
  type KvInput,
  type KvOperation,
  type KvOutput,
  type Model,
} from '../../src/testing/linearizability.js';

// Small builders so each history reads like a timeline.
function put(client: number, key: string, value: string, call: number, ret: number): KvOperation {
  return { client, input: { kind: 'put', key, value }, output: { kind: 'put' }, call, return: ret };
}
function get(client: number, key: string, value: string | null, call: number, ret: number): KvOperation {
  return { client, input: { kind: 'get', key }, output: { kind: 'get', value }, call, return: ret };
}
function append(client: number, key: string, value: string, call: number, ret: number): KvOperation {
  return { client, input: { kind: 'append', key, value }, output: { kind: 'append' }, call, return: ret };
}
function cas(
  client: number,
  key: string,
  expected: string | null,
  value: string,
  ok: boolean,
  call: number,
  ret: number,
): KvOperation {
  return { client, input: { kind: 'cas', key, expected, value }, output: { kind: 'cas', ok }, call, return: ret };
}
/** An operation whose outcome the client never learned. */
function unknown(client: number, input: KvInput, call: number): KvOperation {
  return { client, input, output: null, call, return: Infinity };
}

describe('checkKvHistory: basic histories', () => {
  it('accepts an empty history', () => {
    expect(checkKvHistory([])).toEqual({ ok: true });
  });

  it('accepts a sequential history', () => {
    const history = [
      get(1, 'x', null, 0, 1),
      put(1, 'x', 'a', 2, 3),
      get(2, 'x', 'a', 4, 5),
      append(1, 'x', 'b', 6, 7),
      get(2, 'x', 'ab', 8, 9),
    ];
    expect(checkKvHistory(history)).toEqual({ ok: true });
  });

  it('accepts an overlapping put and get whichever value the get sees', () => {
    for (const seen of ['old', 'new']) {
      const history = [put(1, 'x', 'old', 0, 10), put(1, 'x', 'new', 20, 40), get(2, 'x', seen, 25, 35)];
      expect(checkKvHistory(history).ok, `get saw ${seen}`).toBe(true);
    }
  });

  it('rejects a stale read: a get called after a put returned sees the old value', () => {
    const history = [put(1, 'x', 'old', 0, 10), put(1, 'x', 'new', 20, 30), get(2, 'x', 'old', 40, 50)];
    const result = checkKvHistory(history);
    expect(result.ok).toBe(false);
    expect(result.timedOut).toBeUndefined();
    expect(result.key).toBe('x');
    expect(result.explanation).toContain('Longest linearizable prefix: 2 of 3 operations');
    expect(result.explanation).toContain('State after it: "new"');
    expect(result.explanation).toContain('get("x") → "old"');
    expect(result.explanation).toContain('not a legal response in this state');
  });

  it('rejects a lost write: an acknowledged put is not seen by a later non-overlapping get', () => {
    const history = [
      put(1, 'x', 'v1', 0, 10),
      get(2, 'x', 'v1', 12, 14),
      put(1, 'x', 'v2', 20, 30),
      get(3, 'x', 'v1', 35, 45),
    ];
    expect(checkKvHistory(history)).toMatchObject({ ok: false, key: 'x' });
  });

  it('rejects a read of a value that was never written', () => {
    const history = [put(1, 'x', 'a', 0, 10), get(2, 'x', 'zzz', 5, 15)];
    const result = checkKvHistory(history);
    expect(result.ok).toBe(false);
    expect(result.explanation).toContain('get("x") → "zzz"');
  });

  it('rejects a read of an absent key after a write returned', () => {
    expect(checkKvHistory([put(1, 'x', 'a', 0, 10), get(2, 'x', null, 11, 12)]).ok).toBe(false);
  });

  it('orders a return before a call at the same instant (intervals are [call, return))', () => {
    // The put returns at 10 and the get is called at 10: the put precedes it.
    expect(checkKvHistory([put(1, 'x', 'a', 0, 10), get(2, 'x', null, 10, 20)]).ok).toBe(false);
    expect(checkKvHistory([put(1, 'x', 'a', 0, 10), get(2, 'x', 'a', 10, 20)]).ok).toBe(true);
    // The get returns at 10 and the put is called at 10: the get precedes it.
    expect(checkKvHistory([get(2, 'x', 'a', 0, 10), put(1, 'x', 'a', 10, 20)]).ok).toBe(false);
  });

  it('handles a zero-length operation after its own call and after returns at the same instant', () => {
    expect(checkKvHistory([put(1, 'x', 'a', 5, 5), get(2, 'x', 'a', 6, 6)]).ok).toBe(true);
    expect(checkKvHistory([put(1, 'x', 'a', 0, 5), get(2, 'x', null, 5, 5)]).ok).toBe(false);
    // A zero-length get at 5 is concurrent with a put called at 5.
    expect(checkKvHistory([get(2, 'x', 'a', 5, 5), put(1, 'x', 'a', 5, 9)]).ok).toBe(true);
  });

  it('rejects operations whose times are malformed', () => {
    expect(() => checkKvHistory([put(1, 'x', 'a', 10, 5)])).toThrow(RangeError);
    expect(() => checkKvHistory([put(1, 'x', 'a', Number.NaN, 5)])).toThrow(RangeError);
    expect(() => checkKvHistory([put(1, 'x', 'a', Infinity, Infinity)])).toThrow(RangeError);
  });

  it('rejects an output of the wrong kind for its input', () => {
    const op: KvOperation = {
      client: 1,
      input: { kind: 'put', key: 'x', value: 'a' },
      output: { kind: 'append' },
      call: 0,
      return: 1,
    };
    expect(checkKvHistory([op]).ok).toBe(false);
  });
});

describe('checkKvHistory: unknown outcomes', () => {
  it('accepts an unknown-outcome put whose value is later read', () => {
    const history = [
      put(1, 'x', 'a', 0, 5),
      unknown(2, { kind: 'put', key: 'x', value: 'b' }, 10),
      get(3, 'x', 'b', 50, 60),
    ];
    expect(checkKvHistory(history).ok).toBe(true);
  });

  it('accepts an unknown-outcome put that is never read', () => {
    const history = [
      put(1, 'x', 'a', 0, 5),
      unknown(2, { kind: 'put', key: 'x', value: 'b' }, 10),
      get(3, 'x', 'a', 50, 60),
    ];
    expect(checkKvHistory(history).ok).toBe(true);
  });

  it('accepts reads that see an unknown-outcome put appear, but not disappear again', () => {
    const base = [put(1, 'x', 'a', 0, 5), unknown(2, { kind: 'put', key: 'x', value: 'b' }, 10)];
    expect(checkKvHistory([...base, get(3, 'x', 'a', 20, 30), get(3, 'x', 'b', 40, 50)]).ok).toBe(true);
    expect(checkKvHistory([...base, get(3, 'x', 'b', 20, 30), get(3, 'x', 'a', 40, 50)]).ok).toBe(false);
  });

  it('rejects a read of an unknown-outcome put that happened before the put was called', () => {
    const history = [get(3, 'x', 'b', 0, 5), unknown(2, { kind: 'put', key: 'x', value: 'b' }, 10)];
    expect(checkKvHistory(history).ok).toBe(false);
  });

  it('drops an unknown-outcome get, which constrains nothing', () => {
    const history = [put(1, 'x', 'a', 0, 5), unknown(2, { kind: 'get', key: 'x' }, 10), get(3, 'x', 'a', 20, 30)];
    expect(checkKvHistory(history).ok).toBe(true);
    // Only the known operations remain in the failure explanation's count.
    const bad = [put(1, 'x', 'a', 0, 5), unknown(2, { kind: 'get', key: 'x' }, 10), get(3, 'x', 'q', 20, 30)];
    expect(checkKvHistory(bad).explanation).toContain('of 2 operations');
  });

  it('lets an unknown-outcome append take effect at most once, or never', () => {
    const base = [put(1, 'x', 'a', 0, 5), unknown(2, { kind: 'append', key: 'x', value: 'b' }, 10)];
    expect(checkKvHistory([...base, get(3, 'x', 'ab', 20, 30)]).ok).toBe(true);
    expect(checkKvHistory([...base, get(3, 'x', 'a', 20, 30)]).ok).toBe(true);
    expect(checkKvHistory([...base, get(3, 'x', 'abb', 20, 30)]).ok).toBe(false);
  });

  it('applies an unknown-outcome cas only if its expectation held when it took effect', () => {
    const attempt = unknown(2, { kind: 'cas', key: 'x', expected: 'a', value: 'c' }, 10);
    expect(checkKvHistory([put(1, 'x', 'a', 0, 5), attempt, get(3, 'x', 'c', 20, 30)]).ok).toBe(true);
    expect(checkKvHistory([put(1, 'x', 'z', 0, 5), attempt, get(3, 'x', 'c', 20, 30)]).ok).toBe(false);
  });
});

describe('checkKvHistory: compare-and-set', () => {
  it('succeeds exactly when the current value equals the expected one', () => {
    const history = [
      cas(1, 'x', null, 'a', true, 0, 1), // absent → a
      cas(1, 'x', null, 'b', false, 2, 3), // no longer absent
      cas(2, 'x', 'a', 'b', true, 4, 5),
      cas(2, 'x', 'a', 'c', false, 6, 7),
      get(3, 'x', 'b', 8, 9),
    ];
    expect(checkKvHistory(history).ok).toBe(true);
  });

  it('rejects a cas that reports success against a value that does not match', () => {
    expect(checkKvHistory([put(1, 'x', 'a', 0, 1), cas(2, 'x', 'z', 'b', true, 2, 3)]).ok).toBe(false);
  });

  it('rejects a cas that reports failure although the value matched', () => {
    expect(checkKvHistory([put(1, 'x', 'a', 0, 1), cas(2, 'x', 'a', 'b', false, 2, 3)]).ok).toBe(false);
  });

  it('rejects two concurrent cas from the same value that both succeed', () => {
    const history = [put(1, 'x', 'a', 0, 1), cas(2, 'x', 'a', 'b', true, 2, 10), cas(3, 'x', 'a', 'c', true, 3, 9)];
    expect(checkKvHistory(history).ok).toBe(false);
  });

  it('accepts two concurrent cas from the same value when one fails', () => {
    const history = [put(1, 'x', 'a', 0, 1), cas(2, 'x', 'a', 'b', true, 2, 10), cas(3, 'x', 'a', 'c', false, 3, 9)];
    expect(checkKvHistory(history).ok).toBe(true);
  });
});

describe('checkKvHistory: partitioning by key', () => {
  it('checks keys independently and reports the key that fails', () => {
    const history = [
      put(1, 'a', '1', 0, 10),
      put(2, 'b', '1', 0, 10),
      get(1, 'a', '1', 20, 30),
      put(2, 'b', '2', 20, 30),
      get(3, 'b', '1', 40, 50), // stale
      get(3, 'a', '1', 40, 50),
    ];
    const result = checkKvHistory(history);
    expect(result.ok).toBe(false);
    expect(result.key).toBe('b');
    expect(result.explanation).toContain('key "b" is not linearizable');
  });

  it('does not let a write to one key satisfy a read of another', () => {
    expect(checkKvHistory([put(1, 'a', 'v', 0, 10), get(2, 'b', 'v', 20, 30)])).toMatchObject({ ok: false, key: 'b' });
  });
});

/**
 * A history of a sequential KV store: operation i takes effect at time 10·i,
 * and each client's call/return interval is drawn at random around that
 * instant (never overlapping its own previous operation). Some writes end
 * with an unknown outcome, and then take effect or not at random.
 */
function randomHistory(seed: number, count: number, keys: number, clients: number): KvOperation[] {
  const random = createRandom(seed);
  const store = new Map<string, string>();
  const busyUntil = new Array<number>(clients).fill(-1);
  const history: KvOperation[] = [];
  let point = 0;
  while (history.length < count) {
    point += 10;
    const free = busyUntil.flatMap((until, c) => (until < point ? [c] : []));
    if (free.length === 0) continue;
    const client = free[randomInt(random, 0, free.length)];
    const key = `k${randomInt(random, 0, keys)}`;
    const call = Math.max(busyUntil[client] + 1, point - randomInt(random, 0, 31));
    const ret = point + randomInt(random, 0, 31);
    busyUntil[client] = ret;
    const current = store.get(key) ?? null;
    const value = `v${history.length}`;
    const roll = random();
    let input: KvInput;
    let output: KvOutput;
    if (roll < 0.4) {
      input = { kind: 'get', key };
      output = { kind: 'get', value: current };
    } else if (roll < 0.65) {
      input = { kind: 'put', key, value };
      output = { kind: 'put' };
    } else if (roll < 0.8) {
      input = { kind: 'append', key, value };
      output = { kind: 'append' };
    } else {
      const expected = random() < 0.5 ? current : `v${randomInt(random, 0, history.length + 1)}`;
      input = { kind: 'cas', key, expected, value };
      output = { kind: 'cas', ok: current === expected };
    }
    const outcomeLost = input.kind !== 'get' && random() < 0.05;
    const takesEffect = !outcomeLost || random() < 0.5;
    if (takesEffect) {
      const next = kvModel.step(current, input, output).state;
      if (next === null) store.delete(key);
      else store.set(key, next);
    }
    history.push(
      outcomeLost
        ? { client, input, output: null, call, return: Infinity }
        : { client, input, output, call, return: ret },
    );
  }
  return history;
}

describe('checkKvHistory: generated histories', () => {
  it('accepts random linearizable histories with overlapping operations and lost outcomes', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const history = randomHistory(seed, 400, 3, 5);
      expect(history.some((op) => op.output === null)).toBe(true);
      expect(checkKvHistory(history), `seed ${seed}`).toEqual({ ok: true });
    }
  });

  it('rejects the same histories once one read is changed to a never-written value', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const history = randomHistory(seed, 400, 3, 5);
      const random = createRandom(seed * 7919);
      const reads = history.flatMap((op, i) => (op.output?.kind === 'get' ? [i] : []));
      const victim = reads[randomInt(random, 0, reads.length)];
      const mutated = history.slice();
      mutated[victim] = { ...history[victim], output: { kind: 'get', value: 'never-written' } };
      const result = checkKvHistory(mutated);
      expect(result.ok, `seed ${seed}`).toBe(false);
      expect(result.key).toBe(history[victim].input.key);
      expect(result.explanation).toContain('"never-written"');
    }
  });

  it('checks 2,000 operations over 10 keys with 5 concurrent clients', () => {
    const history = randomHistory(42, 2_000, 10, 5);
    expect(checkKvHistory(history)).toEqual({ ok: true });
  });
});

describe('checkKvHistory: search bound', () => {
  /** n concurrent appends, then a read no order can produce: every order must be tried. */
  function hardHistory(n: number): KvOperation[] {
    const history: KvOperation[] = [];
    for (let i = 0; i < n; i++) history.push(append(i, 'x', String.fromCharCode(97 + i), i, 1_000));
    history.push(get(n, 'x', 'impossible', 2_000, 2_001));
    return history;
  }

  it('reports timedOut when the search exceeds maxSteps', () => {
    const result = checkKvHistory(hardHistory(14), { maxSteps: 50_000 });
    expect(result.ok).toBe(false);
    expect(result.timedOut).toBe(true);
    expect(result.key).toBe('x');
    expect(result.explanation).toContain('50000 steps');
  });

  it('decides the same kind of history when it is small enough', () => {
    const result = checkKvHistory(hardHistory(5), { maxSteps: 50_000 });
    expect(result).toMatchObject({ ok: false, key: 'x' });
    expect(result.timedOut).toBeUndefined();
  });

  it('memoises states, so many concurrent puts do not explode the search', () => {
    // Every order of 12 puts ends in one of 12 states: 2^12 · 12 pairs at most, not 12! orders.
    const history: KvOperation[] = [];
    for (let i = 0; i < 12; i++) history.push(put(i, 'x', `v${i}`, i, 1_000));
    history.push(get(99, 'x', 'impossible', 2_000, 2_001));
    const result = checkKvHistory(history, { maxSteps: 1_000_000 });
    expect(result).toMatchObject({ ok: false, key: 'x' });
    expect(result.timedOut).toBeUndefined();
  });
});

describe('checkOperations with a user model', () => {
  /** A counter with increments and reads; no partitioning. */
  type CounterInput = { kind: 'inc' } | { kind: 'read' };
  const counter: Model<number, CounterInput, number> = {
    init: () => 0,
    step: (state, input, output) =>
      input.kind === 'inc' ? { ok: true, state: state + 1 } : { ok: output === null || output === state, state },
    hash: (state) => String(state),
    readOnly: (input) => input.kind === 'read',
  };
  const inc = (call: number, ret: number) => ({
    client: 'c',
    input: { kind: 'inc' } as const,
    output: 0,
    call,
    return: ret,
  });
  const read = (value: number, call: number, ret: number) => ({
    client: 'r',
    input: { kind: 'read' } as const,
    output: value,
    call,
    return: ret,
  });

  it('accepts a read that overlaps two increments and sees one of them', () => {
    expect(checkOperations(counter, [inc(0, 10), inc(0, 10), read(1, 5, 6)])).toEqual({ ok: true });
  });

  it('rejects a read that misses an increment that returned before it, without a key', () => {
    const result = checkOperations(counter, [inc(0, 10), read(0, 11, 12)]);
    expect(result.ok).toBe(false);
    expect(result.key).toBeUndefined();
    expect(result.explanation).toContain('the history is not linearizable');
    expect(result.explanation).toContain('State after it: 1');
  });
});

describe('checkKvHistory agrees with brute force', () => {
  /**
   * A precedes B when A's return event sorts before B's call event: A returns
   * strictly before B is called, or at that instant unless A is zero-length.
   */
  function precedes(a: KvOperation, b: KvOperation): boolean {
    return a.return < b.call || (a.return === b.call && a.call < a.return);
  }

  /**
   * Try every order that respects real time. An unknown-outcome operation
   * never precedes anything, so "never took effect" is covered by orders
   * that put it last.
   */
  function bruteForce(history: readonly KvOperation[]): boolean {
    const ops = history.filter((op) => !(op.output === null && op.input.kind === 'get'));
    const placed = new Array<boolean>(ops.length).fill(false);
    const extend = (state: string | null, count: number): boolean => {
      if (count === ops.length) return true;
      for (let i = 0; i < ops.length; i++) {
        if (placed[i]) continue;
        // Every operation that must come before i is already placed.
        if (ops.some((other, j) => !placed[j] && j !== i && precedes(other, ops[i]))) continue;
        const next = kvModel.step(state, ops[i].input, ops[i].output);
        if (!next.ok) continue;
        placed[i] = true;
        const found = extend(next.state, count + 1);
        placed[i] = false;
        if (found) return true;
      }
      return false;
    };
    return extend(null, 0);
  }

  function smallHistory(seed: number): KvOperation[] {
    const random = createRandom(seed);
    const values = ['a', 'b', 'c'];
    const pick = <T>(items: readonly T[]): T => items[randomInt(random, 0, items.length)];
    const history: KvOperation[] = [];
    const count = randomInt(random, 1, 8);
    for (let i = 0; i < count; i++) {
      // Small time ranges on purpose: ties and zero-length operations are common.
      const call = randomInt(random, 0, 10);
      const ret = call + randomInt(random, 0, 4);
      const roll = random();
      let op: KvOperation;
      if (roll < 0.4) op = get(i, 'x', pick([null, ...values]), call, ret);
      else if (roll < 0.65) op = put(i, 'x', pick(values), call, ret);
      else if (roll < 0.8) op = append(i, 'x', pick(values), call, ret);
      else op = cas(i, 'x', pick([null, ...values]), pick(values), random() < 0.5, call, ret);
      if (random() < 0.15) op = { ...op, output: null, return: Infinity };
      history.push(op);
    }
    return history;
  }

  it('on 2,000 small random histories with ties, zero-length and unknown operations', () => {
    const verdicts = { ok: 0, violation: 0 };
    for (let seed = 1; seed <= 2_000; seed++) {
      const history = smallHistory(seed);
      const expected = bruteForce(history);
      expect(checkKvHistory(history).ok, `seed ${seed}`).toBe(expected);
      verdicts[expected ? 'ok' : 'violation']++;
    }
    // Both verdicts are well represented, so the comparison means something.
    expect(verdicts.ok).toBeGreaterThan(300);
    expect(verdicts.violation).toBeGreaterThan(300);
  });
});
