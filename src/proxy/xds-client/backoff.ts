// Reconnection delays: exponential, capped, with jitter (half fixed, half random), so a fleet of sidecars that lost
// their control plane together does not come back in lockstep, and no attempt is ever immediate.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000 };

/** The delay before attempt `attempt` (0 = the first retry). `random` is uniform in [0, 1). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const cap = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return cap / 2 + random() * (cap / 2);
}
