// Success-rate bookkeeping and statistics (Envoy's SuccessRateAccumulator and successRateEjectionThreshold).
// The data path writes the current interval's bucket with two adds; the interval sweep closes it and judges
// hosts on the interval just finished, so a sweep never sees a half-counted interval.

/** One host's requests and successes, for one origin (external or local), in two buckets. */
export class SuccessRateAccumulator {
  /** The interval being counted (written per request). */
  total = 0;
  success = 0;
  /** The last complete interval (read at the sweep). */
  private lastTotal = 0;
  private lastSuccess = 0;

  /** Closes the current interval: it becomes the one judged, and counting starts again from zero. */
  roll(): void {
    this.lastTotal = this.total;
    this.lastSuccess = this.success;
    this.total = 0;
    this.success = 0;
  }

  /** Requests in the last complete interval. */
  get volume(): number {
    return this.lastTotal;
  }

  /** Success rate of the last complete interval in percent (0-100); -1 when it saw no request. */
  get rate(): number {
    return this.lastTotal === 0 ? -1 : (this.lastSuccess * 100) / this.lastTotal;
  }
}

export interface SuccessRateThreshold {
  /** Mean success rate of the hosts judged, in percent. */
  mean: number;
  /** Hosts whose success rate is under this are outliers: mean - stdevFactor × standard deviation. */
  threshold: number;
}

/**
 * Envoy's ejection threshold: mean - factor × population standard deviation of the rates. E.g. rates
 * {50, 100, 100, 100, 100} and factor 1.9: mean 90, variance 400, stdev 20, threshold 52.
 */
export function successRateThreshold(rates: readonly number[], stdevFactor: number): SuccessRateThreshold {
  let sum = 0;
  for (const r of rates) sum += r;
  const mean = sum / rates.length;
  let variance = 0;
  for (const r of rates) variance += (r - mean) * (r - mean);
  variance /= rates.length;
  return { mean, threshold: mean - stdevFactor * Math.sqrt(variance) };
}
