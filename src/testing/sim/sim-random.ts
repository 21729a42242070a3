/**
 * The simulator's own seeded source of randomness (Marsaglia's xorshift32
 * over a scrambled seed). It is kept apart from the core's PRNG on purpose:
 * a change to the core's randomness (a refactor, a mutant under mutation
 * testing) then changes only the core's choices, never the faults and
 * workload the simulator draws for a seed.
 */
export type Random = () => number;

export function simRandom(seed: number): Random {
  // Nearby seeds must start far apart, and xorshift needs a state other than 0.
  let x = Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) ^ (seed >>> 15);
  if (x === 0) x = 0x6d2b79f5;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
  // The first outputs of a fresh state still resemble it: skip them.
  for (let i = 0; i < 8; i++) next();
  return next;
}

/** A whole number drawn uniformly from [min, max). */
export function between(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min));
}

export function pick<T>(random: Random, xs: readonly T[]): T {
  return xs[Math.floor(random() * xs.length)];
}
