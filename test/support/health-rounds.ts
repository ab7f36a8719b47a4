// Active health checking on an injected clock: advance it and wait until the checks it started have completed.

import type { ManualClock } from "../../src/api/clock.ts";
import type { HealthChecker } from "../../src/proxy/upstream/health/checker.ts";

/** Makes `ms` pass and resolves once `n` checks have completed. */
export async function healthCheckRound(
  clock: ManualClock,
  checker: HealthChecker,
  n: number,
  ms: number,
): Promise<void> {
  const done = new Promise<void>((resolve) => {
    let seen = 0;
    const off = checker.onCheck(() => {
      if (++seen < n) return;
      off();
      resolve();
    });
  });
  clock.advance(ms);
  await done;
}
