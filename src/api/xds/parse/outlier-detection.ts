// A cluster's outlier_detection (envoy.config.cluster.v3.OutlierDetection): every field with Envoy's default, and
// Envoy's validation (durations > 0, percentages <= 100, max_ejection_time >= base_ejection_time).

import type { OutlierDetection } from "../types.ts";
import type { ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";

export const OUTLIER_DEFAULTS: OutlierDetection = {
  consecutive5xx: 5,
  consecutiveGatewayFailure: 5,
  consecutiveLocalOriginFailure: 5,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionTimeJitterMs: 0,
  maxEjectionPercent: 10,
  enforcingConsecutive5xx: 100,
  enforcingConsecutiveGatewayFailure: 0,
  enforcingConsecutiveLocalOriginFailure: 100,
  enforcingSuccessRate: 100,
  enforcingLocalOriginSuccessRate: 100,
  enforcingFailurePercentage: 0,
  enforcingFailurePercentageLocalOrigin: 0,
  successRateMinimumHosts: 5,
  successRateRequestVolume: 100,
  successRateStdevFactor: 1900,
  failurePercentageThreshold: 85,
  failurePercentageMinimumHosts: 5,
  failurePercentageRequestVolume: 50,
  splitExternalLocalOriginErrors: false,
  successfulActiveHealthCheckUnejectHost: true,
  alwaysEjectOneHost: false,
};

const OUTLIER_DETECTION_SPEC = {
  handled: [
    "consecutive_5xx",
    "consecutive_gateway_failure",
    "consecutive_local_origin_failure",
    "interval",
    "base_ejection_time",
    "max_ejection_time",
    "max_ejection_time_jitter",
    "max_ejection_percent",
    "enforcing_consecutive_5xx",
    "enforcing_consecutive_gateway_failure",
    "enforcing_consecutive_local_origin_failure",
    "enforcing_success_rate",
    "enforcing_local_origin_success_rate",
    "enforcing_failure_percentage",
    "enforcing_failure_percentage_local_origin",
    "success_rate_minimum_hosts",
    "success_rate_request_volume",
    "success_rate_stdev_factor",
    "failure_percentage_threshold",
    "failure_percentage_minimum_hosts",
    "failure_percentage_request_volume",
    "split_external_local_origin_errors",
    "successful_active_health_check_uneject_host",
    "always_eject_one_host",
  ],
  // Extension monitors (consecutive_errors / failure_percentage buckets) are not implemented in Envoy either
  // beyond a hidden prototype; refusing them beats silently ignoring a policy.
  unsupported: ["monitors"],
} as const;

/** Reads outlier_detection at `path`. */
export function readOutlierDetection(ctx: ParseContext, raw: unknown, path: string): OutlierDetection {
  const f = Fields.open(ctx, raw, path, OUTLIER_DETECTION_SPEC);
  const d = OUTLIER_DEFAULTS;
  const percent = (name: string, fallback: number) => f.integer(name, fallback, 0, 100);
  const baseEjectionTimeMs = positive(f, "base_ejection_time", d.baseEjectionTimeMs);
  // Envoy: an unset max_ejection_time is 300 s or base_ejection_time, whichever is larger.
  const maxEjectionTimeMs = positive(f, "max_ejection_time", Math.max(d.maxEjectionTimeMs, baseEjectionTimeMs));
  if (maxEjectionTimeMs < baseEjectionTimeMs) {
    f.report(
      "max_ejection_time",
      `is ${maxEjectionTimeMs} ms, less than base_ejection_time ${baseEjectionTimeMs} ms; expected at least base_ejection_time`,
    );
  }
  return {
    consecutive5xx: f.integer("consecutive_5xx", d.consecutive5xx),
    consecutiveGatewayFailure: f.integer("consecutive_gateway_failure", d.consecutiveGatewayFailure),
    consecutiveLocalOriginFailure: f.integer("consecutive_local_origin_failure", d.consecutiveLocalOriginFailure),
    intervalMs: positive(f, "interval", d.intervalMs),
    baseEjectionTimeMs,
    maxEjectionTimeMs,
    maxEjectionTimeJitterMs: f.durationMs("max_ejection_time_jitter") ?? d.maxEjectionTimeJitterMs,
    maxEjectionPercent: percent("max_ejection_percent", d.maxEjectionPercent),
    enforcingConsecutive5xx: percent("enforcing_consecutive_5xx", d.enforcingConsecutive5xx),
    enforcingConsecutiveGatewayFailure: percent(
      "enforcing_consecutive_gateway_failure",
      d.enforcingConsecutiveGatewayFailure,
    ),
    enforcingConsecutiveLocalOriginFailure: percent(
      "enforcing_consecutive_local_origin_failure",
      d.enforcingConsecutiveLocalOriginFailure,
    ),
    enforcingSuccessRate: percent("enforcing_success_rate", d.enforcingSuccessRate),
    enforcingLocalOriginSuccessRate: percent("enforcing_local_origin_success_rate", d.enforcingLocalOriginSuccessRate),
    enforcingFailurePercentage: percent("enforcing_failure_percentage", d.enforcingFailurePercentage),
    enforcingFailurePercentageLocalOrigin: percent(
      "enforcing_failure_percentage_local_origin",
      d.enforcingFailurePercentageLocalOrigin,
    ),
    successRateMinimumHosts: f.integer("success_rate_minimum_hosts", d.successRateMinimumHosts),
    successRateRequestVolume: f.integer("success_rate_request_volume", d.successRateRequestVolume),
    successRateStdevFactor: f.integer("success_rate_stdev_factor", d.successRateStdevFactor),
    failurePercentageThreshold: percent("failure_percentage_threshold", d.failurePercentageThreshold),
    failurePercentageMinimumHosts: f.integer("failure_percentage_minimum_hosts", d.failurePercentageMinimumHosts),
    failurePercentageRequestVolume: f.integer("failure_percentage_request_volume", d.failurePercentageRequestVolume),
    splitExternalLocalOriginErrors: f.bool("split_external_local_origin_errors", d.splitExternalLocalOriginErrors),
    successfulActiveHealthCheckUnejectHost: f.bool(
      "successful_active_health_check_uneject_host",
      d.successfulActiveHealthCheckUnejectHost,
    ),
    alwaysEjectOneHost: f.bool("always_eject_one_host", d.alwaysEjectOneHost),
  };
}

function positive(fields: Fields, name: string, fallback: number): number {
  const value = fields.durationMs(name);
  if (value === undefined) return fallback;
  if (value > 0) return value;
  fields.report(name, "expected a duration greater than 0");
  return fallback;
}
