import type { RaftNode } from '../src/node.js';

/** The value at percentile `p` (0-100) of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Proposes `count` copies of `payload`, keeping `window` proposals in flight,
 * and returns how long it took until the last one resolved.
 */
export async function proposePipelined(
  propose: (data: Uint8Array) => Promise<unknown>,
  payload: Uint8Array,
  count: number,
  window: number,
): Promise<{ seconds: number; rate: number }> {
  let issued = 0;
  let done = 0;
  const start = performance.now();
  await new Promise<void>((resolve, reject) => {
    const issue = (): void => {
      while (issued < count && issued - done < window) {
        issued++;
        propose(payload).then(() => {
          done++;
          if (done === count) resolve();
          else issue();
        }, reject);
      }
    };
    issue();
  });
  const seconds = (performance.now() - start) / 1000;
  return { seconds, rate: count / seconds };
}

/** Resolves with the leader once every node in `nodes()` agrees on it. */
export async function stableLeader(nodes: () => readonly RaftNode[], timeoutMs = 10_000): Promise<RaftNode> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const all = nodes();
    const leader = all.find((n) => n.isLeader());
    if (leader !== undefined && all.every((n) => n.leaderId === leader.id && n.term === leader.term)) return leader;
    if (performance.now() > deadline) throw new Error('no stable leader');
    await new Promise((r) => setTimeout(r, 2));
  }
}
