/**
 * Reconnection delays: exponential in the number of failed attempts, capped,
 * and jittered so that nodes that lost a peer at the same moment do not all
 * knock on its door at the same moment when it comes back.
 */
export interface BackoffPolicy {
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * The delay before attempt `attempt` (0 for the first retry): the capped
 * exponential `min(maxDelayMs, minDelayMs * 2^attempt)`, of which a random
 * half is taken away ("equal jitter"), so the result lies in [cap/2, cap].
 * `random` returns a number in [0, 1).
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  // 2^31 already exceeds any timer delay; clamping the exponent keeps it finite.
  const exponential = policy.minDelayMs * 2 ** Math.min(Math.max(attempt, 0), 31);
  const cap = Math.min(policy.maxDelayMs, exponential);
  return Math.round(cap / 2 + random() * (cap / 2));
}
