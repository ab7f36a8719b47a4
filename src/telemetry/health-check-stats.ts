// cluster.<name>.health_check.*: Envoy's active health checking stats, with its Prometheus names
// (envoy_cluster_health_check_attempt{envoy_cluster_name="x"}), so Envoy dashboards and alerts keep working.
// Envoy's passive_failure (immediate health check fail), verify_cluster (service_name_matcher) and degraded
// (x-envoy-degraded) are not exported: Trellis has none of those, and a stat that cannot move would lie.

import type { Counter, Gauge, StatsStore } from "./stats.ts";

export class HealthCheckStats {
  /** Checks started. */
  readonly attempt: Counter;
  readonly success: Counter;
  /** Every failed check: bad status, timeout, connection failure. */
  readonly failure: Counter;
  /** Failures of the network kind (connect failure, reset, timeout), a subset of `failure`. */
  readonly networkFailure: Counter;
  /** Endpoints that active health checking currently passes. */
  readonly healthy: Gauge;

  constructor(store: StatsStore, clusterName: string) {
    const labels = { envoy_cluster_name: clusterName };
    const counter = (name: string, help: string) => store.counter("envoy_cluster_health_check_" + name, help, labels);
    this.attempt = counter("attempt", "Number of health checks");
    this.success = counter("success", "Number of successful health checks");
    this.failure = counter(
      "failure",
      "Number of immediately failed health checks (e.g. HTTP 503) and network failures",
    );
    this.networkFailure = counter("network_failure", "Number of health check failures due to network error");
    this.healthy = store.gauge("envoy_cluster_health_check_healthy", "Number of healthy members", labels);
  }
}

export function createHealthCheckStats(store: StatsStore, clusterName: string): HealthCheckStats {
  return new HealthCheckStats(store, clusterName);
}
