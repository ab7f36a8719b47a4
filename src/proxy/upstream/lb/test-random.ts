// Deterministic randomness for the balancer tests: a seeded PRNG and a scripted source.

import { mulberry32 } from "../../../api/random.ts";

export { mulberry32 };

/** Returns the queued values in order (push more with `queue`); throws when asked for one it does not have. */
export function scripted(): { random: () => number; queue: (...values: number[]) => void; remaining: () => number } {
  const values: number[] = [];
  return {
    random: () => {
      const v = values.shift();
      if (v === undefined) throw new Error("scripted random exhausted");
      return v;
    },
    queue: (...v: number[]) => void values.push(...v),
    remaining: () => values.length,
  };
}
