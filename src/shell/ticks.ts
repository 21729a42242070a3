/**
 * Turns the user's millisecond timeouts into the core's ticks. A tick is a
 * fifth of the heartbeat interval: fine enough that election timeouts stay
 * well randomised, coarse enough that an idle node costs little.
 */
export interface TickSchedule {
  readonly tickMs: number;
  readonly heartbeatTicks: number;
  readonly electionTicksMin: number;
  readonly electionTicksMax: number;
}

export function tickSchedule(
  heartbeatIntervalMs: number,
  electionTimeoutMs: { min: number; max: number },
): TickSchedule {
  const tickMs = Math.max(1, Math.floor(heartbeatIntervalMs / 5));
  const heartbeatTicks = Math.max(1, Math.round(heartbeatIntervalMs / tickMs));
  // The election timeout must exceed the heartbeat interval, or followers
  // would campaign against a healthy leader (§5.6 timing requirement).
  const electionTicksMin = Math.max(heartbeatTicks + 1, Math.round(electionTimeoutMs.min / tickMs));
  const electionTicksMax = Math.max(electionTicksMin + 1, Math.round(electionTimeoutMs.max / tickMs));
  return { tickMs, heartbeatTicks, electionTicksMin, electionTicksMax };
}
