/**
 * A linearizability checker for histories that clients of a cluster record:
 * each operation's invocation and response times and what it returned. The
 * history is linearizable if every operation can be given one instant between
 * its call and its return at which it takes effect, so that the responses are
 * those of a single sequential object (Herlihy & Wing, 1990).
 *
 * The search is Wing & Gong's backtracking over a list of call and return
 * events, with Lowe's improvements ("Testing for linearizability", 2017):
 * operations are unlinked from the list as they are linearized ("lift") and
 * relinked on backtracking ("unlift"), and each visited pair (set of
 * linearized operations, model state) is memoised, because two orders that
 * linearize the same operations into the same state have the same futures.
 * A model may partition its inputs (for a key-value store: by key); each
 * partition is checked on its own, which keeps the search small (P-compositionality).
 *
 * Time convention: an operation occupies the half-open interval [call, return).
 * When one operation returns at time t and another is called at t, the first
 * precedes the second (the return event is ordered before the call). An
 * operation whose call and return are equal is concurrent with operations
 * called at that same instant but follows those that return at it.
 *
 * Unknown outcomes: an operation with `output: null` (and normally
 * `return: Infinity`) may take effect at any point after its call, or never.
 * Its return event sorts after every known one, so "never" is the same as
 * "last of all", where nobody can observe it. A model's `step` must accept
 * any response when the output is null. Read-only operations with unknown
 * outcome constrain nothing and are dropped before the search (see
 * `Model.readOnly`).
 */

/** A sequential specification of the object under test. */
export interface Model<State, Input, Output> {
  init(): State;
  /**
   * Apply `input` to `state`; return whether `output` is a legal response and
   * the next state. `output` null means the outcome is unknown: any response
   * is legal, and the state changes as the operation would change it.
   */
  step(state: State, input: Input, output: Output | null): { ok: boolean; state: State };
  /** Key used to memoise visited (linearized-set, state) pairs; equal hashes must mean equal states. */
  hash(state: State): string;
  /** Optional partitioning: histories of different partitions are checked independently. */
  partition?(input: Input): string;
  /** Optional: a readable operation for failure explanations. */
  describe?(input: Input, output: Output | null): string;
  /** Optional: a readable state for failure explanations (defaults to `hash`). */
  describeState?(state: State): string;
  /**
   * Optional: true if `input` never changes the state. Such an operation with
   * unknown outcome constrains nothing, so it is dropped before the search.
   */
  readOnly?(input: Input): boolean;
}

export interface Operation<Input, Output> {
  client: number | string;
  input: Input;
  /** null when the outcome is unknown (timeout, crash, leadership lost). */
  output: Output | null;
  /** Invocation time. */
  call: number;
  /** Response time; Infinity when the outcome is unknown. */
  return: number;
}

export interface LinearizabilityResult {
  ok: boolean;
  /**
   * For a failure: the key (partition) whose sub-history is not linearizable,
   * and a human-readable explanation: the longest linearizable prefix found
   * and the operations that could not be placed after it.
   */
  key?: string;
  explanation?: string;
  /** true if the search hit `maxSteps` before deciding (then ok is false and `explanation` says where). */
  timedOut?: boolean;
}

export interface CheckOptions {
  /**
   * Upper bound on search steps over the whole history (all partitions
   * together), so that a pathological history cannot hang a test suite.
   */
  maxSteps?: number;
}

export const DEFAULT_MAX_STEPS = 10_000_000;

/** How many operations of a prefix or candidate list an explanation prints. */
const EXPLAIN_LIMIT = 20;

/**
 * Check that `history` is linearizable with respect to `model`. Partitions
 * are checked in order of first appearance; the first failing one is reported.
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): LinearizabilityResult {
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  if (!(maxSteps >= 0)) throw new RangeError(`maxSteps must be a non-negative number, got ${maxSteps}`);
  history.forEach(validateOperation);

  const partitions = new Map<string, Operation<I, O>[]>();
  for (const op of history) {
    if (op.output === null && model.readOnly?.(op.input) === true) continue;
    const key = model.partition ? model.partition(op.input) : '';
    let ops = partitions.get(key);
    if (ops === undefined) partitions.set(key, (ops = []));
    ops.push(op);
  }

  const budget = { remaining: maxSteps };
  for (const [key, ops] of partitions) {
    const events = sortEvents(ops);
    const outcome = search(model, ops, events, budget);
    if (outcome.kind === 'linearizable') continue;
    const keyField = model.partition ? { key } : {};
    const where = model.partition ? `key ${JSON.stringify(key)}` : 'the history';
    if (outcome.kind === 'timedOut') {
      return {
        ok: false,
        timedOut: true,
        ...keyField,
        explanation:
          `Gave up after ${maxSteps} steps while checking ${where} (${ops.length} operations): ` +
          'the history may or may not be linearizable. Raise maxSteps or shorten the history.',
      };
    }
    return { ok: false, ...keyField, explanation: explain(model, where, ops, events, outcome.longest) };
  }
  return { ok: true };
}

function validateOperation(op: Operation<unknown, unknown>, index: number): void {
  if (!Number.isFinite(op.call)) {
    throw new RangeError(`operation ${index}: call time must be a finite number, got ${op.call}`);
  }
  // NaN fails this comparison too.
  if (!(op.return >= op.call)) {
    throw new RangeError(`operation ${index}: return time ${op.return} is before call time ${op.call}`);
  }
}

// ---------------------------------------------------------------------------
// Events and the doubly-linked entry list

interface Event {
  readonly op: number;
  readonly isCall: boolean;
  readonly time: number;
}

/**
 * Order of events at one instant: returns of operations called earlier, then
 * calls, then returns of zero-length operations (which must follow their own
 * call). Ties beyond that break by operation index, for determinism.
 */
function eventRank<I, O>(event: Event, ops: readonly Operation<I, O>[]): number {
  if (event.isCall) return 1;
  return ops[event.op].call < event.time ? 0 : 2;
}

function sortEvents<I, O>(ops: readonly Operation<I, O>[]): Event[] {
  const events: Event[] = [];
  ops.forEach((op, i) => {
    events.push({ op: i, isCall: true, time: op.call });
    events.push({ op: i, isCall: false, time: op.return });
  });
  events.sort((a, b) => {
    if (a.time !== b.time) return a.time < b.time ? -1 : 1;
    const rank = eventRank(a, ops) - eventRank(b, ops);
    return rank !== 0 ? rank : a.op - b.op;
  });
  return events;
}

/** A call node points at its return node (`match`); a return node has none. */
interface ListNode {
  readonly op: number;
  readonly match: ListNode | null;
  prev: ListNode | null;
  next: ListNode | null;
}

function buildList(events: readonly Event[], opCount: number): ListNode {
  const returns: ListNode[] = new Array(opCount);
  for (const e of events) {
    if (!e.isCall) returns[e.op] = { op: e.op, match: null, prev: null, next: null };
  }
  const head: ListNode = { op: -1, match: null, prev: null, next: null };
  let tail = head;
  for (const e of events) {
    const node: ListNode = e.isCall ? { op: e.op, match: returns[e.op], prev: null, next: null } : returns[e.op];
    node.prev = tail;
    tail.next = node;
    tail = node;
  }
  return head;
}

/**
 * Unlink a call and its return. Each node keeps its own prev/next, so
 * `unlift` in reverse (LIFO) order restores the list exactly.
 */
function lift(call: ListNode): void {
  // A call always has its return after it, so call.next is never null.
  call.prev!.next = call.next;
  call.next!.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

function unlift(call: ListNode): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}

/** The set of linearized operations, as a bitset that renders to a compact memo key. */
class OpSet {
  private readonly words: Uint32Array;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  add(i: number): void {
    this.words[i >>> 5] |= 1 << (i & 31);
  }

  delete(i: number): void {
    this.words[i >>> 5] &= ~(1 << (i & 31));
  }

  /** Two UTF-16 code units per word: fixed length, so a suffix can follow unambiguously. */
  key(): string {
    let key = '';
    for (const w of this.words) key += String.fromCharCode(w & 0xffff, w >>> 16);
    return key;
  }
}

// ---------------------------------------------------------------------------
// The search

type SearchOutcome =
  | { kind: 'linearizable' }
  | { kind: 'timedOut' }
  /** `longest`: the longest linearizable prefix seen, as operation indexes in order. */
  | { kind: 'violation'; longest: number[] };

function search<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  events: readonly Event[],
  budget: { remaining: number },
): SearchOutcome {
  const head = buildList(events, ops.length);
  const linearized = new OpSet(ops.length);
  const visited = new Set<string>();
  // The backtracking stack: each lifted call and the state before it.
  const stack: { node: ListNode; state: S }[] = [];
  let longest: number[] = [];
  let state = model.init();
  let entry = head.next;

  while (head.next !== null) {
    if (budget.remaining <= 0) return { kind: 'timedOut' };
    budget.remaining--;
    const node = entry!;
    if (node.match !== null) {
      // A call: try to linearize this operation next.
      const op = ops[node.op];
      const next = model.step(state, op.input, op.output);
      if (next.ok) {
        linearized.add(node.op);
        const key = linearized.key() + model.hash(next.state);
        if (!visited.has(key)) {
          visited.add(key);
          stack.push({ node, state });
          state = next.state;
          lift(node);
          if (stack.length > longest.length) longest = stack.map((frame) => frame.node.op);
          entry = head.next;
          continue;
        }
        linearized.delete(node.op);
      }
      entry = node.next;
    } else {
      // A return: its operation has not been linearized, and it cannot take
      // effect after its own return, so this prefix is a dead end. Undo the
      // last choice and try the next candidate after it.
      const frame = stack.pop();
      if (frame === undefined) return { kind: 'violation', longest };
      state = frame.state;
      linearized.delete(frame.node.op);
      unlift(frame.node);
      entry = frame.node.next;
    }
  }
  return { kind: 'linearizable' };
}

// ---------------------------------------------------------------------------
// Explanations

function explain<S, I, O>(
  model: Model<S, I, O>,
  where: string,
  ops: readonly Operation<I, O>[],
  events: readonly Event[],
  longest: readonly number[],
): string {
  const describeOp = (i: number): string => {
    const op = ops[i];
    const what = model.describe
      ? model.describe(op.input, op.output)
      : `${JSON.stringify(op.input)} → ${op.output === null ? '?' : JSON.stringify(op.output)}`;
    const ret = op.return === Infinity ? 'never returned' : `return ${op.return}`;
    return `[client ${op.client}] ${what}  (call ${op.call}, ${ret})`;
  };

  let state = model.init();
  const done = new Set<number>();
  for (const i of longest) {
    state = model.step(state, ops[i].input, ops[i].output).state;
    done.add(i);
  }

  // The operations that could come next: those called before the earliest
  // return among the operations not yet placed.
  const candidates: number[] = [];
  let deadline: Event | undefined;
  for (const e of events) {
    if (done.has(e.op)) continue;
    if (!e.isCall) {
      deadline = e;
      break;
    }
    candidates.push(e.op);
  }

  const lines = [`${where} is not linearizable.`];
  lines.push(`Longest linearizable prefix: ${longest.length} of ${ops.length} operations.`);
  const shown = longest.slice(-EXPLAIN_LIMIT);
  if (shown.length < longest.length) lines.push(`  ... ${longest.length - shown.length} earlier operations`);
  shown.forEach((i, k) => lines.push(`  ${longest.length - shown.length + k + 1}. ${describeOp(i)}`));
  const stateText = model.describeState ? model.describeState(state) : model.hash(state);
  lines.push(`State after it: ${stateText}`);
  lines.push(`None of the operations that could come next can be placed:`);
  for (const i of candidates.slice(0, EXPLAIN_LIMIT)) {
    const legal = model.step(state, ops[i].input, ops[i].output).ok;
    const why = legal ? 'legal here, but nothing linearizable follows' : 'not a legal response in this state';
    lines.push(`  - ${describeOp(i)}: ${why}`);
  }
  if (candidates.length > EXPLAIN_LIMIT) lines.push(`  ... and ${candidates.length - EXPLAIN_LIMIT} more`);
  if (deadline !== undefined) {
    lines.push(`One of them must take effect before the earliest pending return: ${describeOp(deadline.op)}.`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// The key-value model

export type KvInput =
  | { kind: 'put'; key: string; value: string }
  | { kind: 'get'; key: string }
  | { kind: 'append'; key: string; value: string }
  | { kind: 'cas'; key: string; expected: string | null; value: string };

export type KvOutput =
  { kind: 'put' } | { kind: 'get'; value: string | null } | { kind: 'append' } | { kind: 'cas'; ok: boolean };

export interface KvOperation {
  client: number | string;
  input: KvInput;
  /** Invocation time. */
  call: number;
  /** Response time; Infinity when the outcome is unknown (timeout, crash, leadership lost). */
  return: number;
  /** null when the outcome is unknown. */
  output: KvOutput | null;
}

/**
 * A key-value store, partitioned by key: each partition's state is the value
 * of one key, `null` when the key is absent. `append` to an absent key starts
 * from the empty string; `cas` with `expected: null` succeeds only if the key
 * is absent. An output of the wrong kind for its input is never legal.
 */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,

  step(state, input, output) {
    if (output !== null && output.kind !== input.kind) return { ok: false, state };
    switch (input.kind) {
      case 'put':
        return { ok: true, state: input.value };
      case 'append':
        return { ok: true, state: (state ?? '') + input.value };
      case 'get':
        return { ok: output === null || (output.kind === 'get' && output.value === state), state };
      case 'cas': {
        const succeeds = state === input.expected;
        const ok = output === null || (output.kind === 'cas' && output.ok === succeeds);
        return { ok, state: succeeds ? input.value : state };
      }
    }
  },

  // A leading tag keeps the absent key distinct from the empty string.
  hash: (state) => (state === null ? 'n' : `s${state}`),

  partition: (input) => input.key,

  readOnly: (input) => input.kind === 'get',

  describeState: (state) => (state === null ? 'absent' : JSON.stringify(state)),

  describe(input, output) {
    const key = JSON.stringify(input.key);
    const value = (v: string | null): string => (v === null ? 'absent' : JSON.stringify(v));
    switch (input.kind) {
      case 'put':
        return `put(${key}, ${value(input.value)}) → ${output === null ? '?' : 'ok'}`;
      case 'append':
        return `append(${key}, ${value(input.value)}) → ${output === null ? '?' : 'ok'}`;
      case 'get':
        return `get(${key}) → ${output === null ? '?' : output.kind === 'get' ? value(output.value) : output.kind}`;
      case 'cas': {
        const result = output === null ? '?' : output.kind === 'cas' ? (output.ok ? 'ok' : 'failed') : output.kind;
        return `cas(${key}, ${value(input.expected)} → ${value(input.value)}) → ${result}`;
      }
    }
  },
};

/** Check a key-value history, each key independently. */
export function checkKvHistory(history: readonly KvOperation[], options: CheckOptions = {}): LinearizabilityResult {
  return checkOperations(kvModel, history, options);
}
