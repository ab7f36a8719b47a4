// cluster.<name>.health_check.*: Envoy's active health checking stats, with its Prometheus names
// (envoy_cluster_health_check_attempt{envoy_cluster_name="x"}), so Envoy dashboards and alerts keep working.

import type { Counter, Gauge, StatsStore } from "./stats.ts";

export class HealthCheckStats {
  /** Checks started. */
  readonly attempt: Counter;
  readonly success: Counter;
  /** Every failed check: bad status, timeout, connection failure. */
  readonly failure: Counter;
  /** Failures of the network kind (connect failure, reset, timeout), a subset of `failure`. */
  readonly networkFailure: Counter;
  /** Failures reported by passive sources (Envoy's immediate health check fail); none in Trellis, kept at 0. */
  readonly passiveFailure: Counter;
  /** Checks that verified the upstream's cluster name (service_name_matcher, not supported): always 0. */
  readonly verifyCluster: Counter;
  /** Endpoints that active health checking currently passes. */
  readonly healthy: Gauge;
  /** Endpoints reported degraded (x-envoy-degraded, not supported): always 0. */
  readonly degraded: Gauge;

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
    this.passiveFailure = counter("passive_failure", "Number of health check failures due to passive events");
    this.verifyCluster = counter("verify_cluster", "Number of health checks that attempted cluster name verification");
    this.healthy = store.gauge("envoy_cluster_health_check_healthy", "Number of healthy members", labels);
    this.degraded = store.gauge("envoy_cluster_health_check_degraded", "Number of degraded members", labels);
  }
}

export function createHealthCheckStats(store: StatsStore, clusterName: string): HealthCheckStats {
  return new HealthCheckStats(store, clusterName);
}
