// cluster.<name>.outlier_detection.* with Envoy's names (envoy_cluster_outlier_detection_ejections_active in
// Prometheus, `cluster.x.outlier_detection.ejections_active` in /stats). Created only for a cluster that
// configures outlier detection, as in Envoy.

import type { Counter, Gauge, StatsStore } from "../../../telemetry/stats.ts";

/**
 * Why a host was ejected (Envoy's OutlierEjectionType, lower-cased): also the suffix of the
 * ejections_enforced_* and ejections_detected_* stats and the reason in the log line.
 */
export type EjectionType =
  | "consecutive_5xx"
  | "consecutive_gateway_failure"
  | "consecutive_local_origin_failure"
  | "success_rate"
  | "local_origin_success_rate"
  | "failure_percentage"
  | "local_origin_failure_percentage";

export const EJECTION_TYPES: readonly EjectionType[] = [
  "consecutive_5xx",
  "consecutive_gateway_failure",
  "consecutive_local_origin_failure",
  "success_rate",
  "local_origin_success_rate",
  "failure_percentage",
  "local_origin_failure_percentage",
];

export class OutlierDetectionStats {
  /** Hosts currently ejected. */
  readonly ejectionsActive: Gauge;
  /** Ejections refused because max_ejection_percent would be exceeded. */
  readonly ejectionsOverflow: Counter;
  readonly ejectionsEnforcedTotal: Counter;
  /** Envoy's deprecated total: consecutive 5xx and success-rate ejections within max_ejection_percent, enforced
   * or not (Envoy's code counts only these two types, whatever its docs say). */
  readonly ejectionsTotal: Counter;
  readonly enforced: Readonly<Record<EjectionType, Counter>>;
  readonly detected: Readonly<Record<EjectionType, Counter>>;

  constructor(store: StatsStore, clusterName: string) {
    const labels = { envoy_cluster_name: clusterName };
    const name = (stat: string) => "envoy_cluster_outlier_detection_" + stat;
    const counter = (stat: string, help: string) => store.counter(name(stat), help, labels);
    this.ejectionsActive = store.gauge(name("ejections_active"), "Number of currently ejected hosts", labels);
    this.ejectionsOverflow = counter("ejections_overflow", "Number of ejections aborted due to the max ejection %");
    this.ejectionsEnforcedTotal = counter(
      "ejections_enforced_total",
      "Number of enforced ejections due to any outlier type",
    );
    this.ejectionsTotal = counter(
      "ejections_total",
      "Deprecated. Number of ejections due to consecutive 5xx or success rate (even if not enforced)",
    );
    const enforced = {} as Record<EjectionType, Counter>;
    const detected = {} as Record<EjectionType, Counter>;
    for (const type of EJECTION_TYPES) {
      const words = type.replace(/_/g, " ");
      enforced[type] = counter(`ejections_enforced_${type}`, `Number of enforced ${words} ejections`);
      detected[type] = counter(
        `ejections_detected_${type}`,
        `Number of detected ${words} ejections (even if unenforced)`,
      );
    }
    this.enforced = enforced;
    this.detected = detected;
  }
}
