// Deterministic randomness for the balancer tests: a seeded PRNG and a scripted source.

/** mulberry32: a tiny 32-bit PRNG, uniform in [0, 1), fully determined by its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
