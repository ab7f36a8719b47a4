// One host's outlier state (Envoy's DetectorHostMonitorImpl): consecutive-failure counters, success-rate buckets
// per origin, and the ejection history that sets the next ejection's length. Counting is plain field arithmetic:
// the router reports every attempt, so this is on the request path.

import type { OutlierDetection } from "../../../api/xds/types.ts";
import type { Endpoint } from "../endpoint.ts";
import { SuccessRateAccumulator } from "./success-rate.ts";

/** Consecutive thresholds an outcome reached, as bits (usually none: 0). */
export const REACHED_GATEWAY_FAILURE = 1;
export const REACHED_5XX = 2;
export const REACHED_LOCAL_ORIGIN_FAILURE = 4;

export class HostMonitor {
  consecutive5xx = 0;
  consecutiveGatewayFailure = 0;
  consecutiveLocalOriginFailure = 0;
  /** Answers of the upstream (and, without the split, local-origin failures as 503/504). */
  readonly external = new SuccessRateAccumulator();
  /** Local-origin outcomes, counted only with split_external_local_origin_errors. */
  readonly localOrigin = new SuccessRateAccumulator();

  /** Success rates of the last sweep, in percent; -1 when not computed (too few hosts or requests). */
  successRate = -1;
  localOriginSuccessRate = -1;

  /** Times ejected, ever (for the log). */
  numEjections = 0;
  /** Multiplier of base_ejection_time for the current or next ejection; grows per ejection, shrinks per healthy
   * interval (Envoy's ejectTimeBackoff). */
  ejectTimeBackoff = 0;
  lastEjectionMs: number | undefined = undefined;
  lastUnejectionMs: number | undefined = undefined;
  /** Random extra time of the current ejection (max_ejection_time_jitter). */
  jitterMs = 0;

  constructor(readonly endpoint: Endpoint) {}

  /**
   * An HTTP status from (or, without the split, standing in for) the upstream. 5xx counts toward consecutive_5xx,
   * 502/503/504 toward consecutive_gateway_failure too; anything else is a success and resets both. Returns the
   * thresholds reached exactly now (==, as Envoy: a host already ejected runs past and does not fire again).
   */
  putHttpStatus(status: number, config: OutlierDetection): number {
    this.external.total++;
    if (status >= 500 && status < 600) {
      let reached = 0;
      if (status >= 502 && status <= 504) {
        if (++this.consecutiveGatewayFailure === config.consecutiveGatewayFailure) reached = REACHED_GATEWAY_FAILURE;
      } else {
        this.consecutiveGatewayFailure = 0;
      }
      if (++this.consecutive5xx === config.consecutive5xx) reached |= REACHED_5XX;
      return reached;
    }
    this.external.success++;
    this.consecutive5xx = 0;
    this.consecutiveGatewayFailure = 0;
    return 0;
  }

  /** A local-origin failure with the split on: only consecutive_local_origin_failure and local-origin rates. */
  putLocalOriginFailure(config: OutlierDetection): number {
    this.localOrigin.total++;
    return ++this.consecutiveLocalOriginFailure === config.consecutiveLocalOriginFailure
      ? REACHED_LOCAL_ORIGIN_FAILURE
      : 0;
  }

  /** A local-origin success with the split on (the attempt reached the upstream and got an answer). */
  putLocalOriginSuccess(): void {
    this.localOrigin.total++;
    this.localOrigin.success++;
    this.consecutiveLocalOriginFailure = 0;
  }

  /** After un-ejection every streak starts over, so a few new errors do not re-eject a host at once. */
  resetConsecutive(): void {
    this.consecutive5xx = 0;
    this.consecutiveGatewayFailure = 0;
    this.consecutiveLocalOriginFailure = 0;
  }
}
