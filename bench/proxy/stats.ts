// The few statistics the report needs: percentiles of one run's latencies, and the median and spread of one
// figure across repetitions.

/**
 * The p-th percentile (0 < p ≤ 100) by the nearest-rank method: the smallest value with at least p % of the
 * values at or below it. It is always one of the measured values, never an interpolation.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError("percentile of no values");
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside (0, 100]`);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)]!;
}

/** Ascending numeric sort into a new array (Array#sort alone compares as strings). */
export function sortedNumbers(values: Iterable<number>): number[] {
  return Array.from(Float64Array.from(values).sort());
}

/** The median; for an even count, the mean of the two middle values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const s = sortedNumbers(values);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** One figure across repetitions: its median, range, and the range relative to the median. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max − min) / |median|; 0 for a single repetition, NaN when the median is 0. */
  relativeRange: number;
  count: number;
}

export function summarize(values: readonly number[]): Summary | undefined {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return undefined;
  const m = median(finite);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  return { median: m, min, max, relativeRange: m === 0 ? Number.NaN : (max - min) / Math.abs(m), count: finite.length };
}
