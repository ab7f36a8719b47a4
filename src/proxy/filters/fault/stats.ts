// The fault filter's stats under Envoy's names: http.<stat_prefix>.fault.{delays_injected, aborts_injected,
// faults_overflow, active_faults}, and http.<stat_prefix>.fault.<downstream cluster>.{delays,aborts}_injected keyed
// by x-envoy-downstream-service-cluster. In Prometheus form (after Envoy's tag extraction) that is
// envoy_http_fault_delays_injected{envoy_http_conn_manager_prefix, envoy_fault_downstream_cluster}.
// Every fault filter of one connection manager shares them, as in Envoy (one stats scope per prefix).

import type { Counter, Gauge, Labels, StatsStore } from "../../../telemetry/stats.ts";

/**
 * The downstream cluster comes from a request header, so a client could mint new series at will; past this many
 * distinct values per filter, further ones are counted only in the totals.
 */
export const MAX_DOWNSTREAM_CLUSTERS = 256;

interface ClusterCounters {
  readonly delays: Counter;
  readonly aborts: Counter;
}

export class FaultStats {
  readonly delaysInjected: Counter;
  readonly abortsInjected: Counter;
  readonly faultsOverflow: Counter;
  readonly activeFaults: Gauge;
  private readonly byCluster = new Map<string, ClusterCounters>();

  constructor(
    private readonly store: StatsStore,
    private readonly statPrefix: string,
  ) {
    const labels: Labels = { envoy_http_conn_manager_prefix: statPrefix };
    this.delaysInjected = store.counter("envoy_http_fault_delays_injected", DELAYS_HELP, labels);
    this.abortsInjected = store.counter("envoy_http_fault_aborts_injected", ABORTS_HELP, labels);
    this.faultsOverflow = store.counter(
      "envoy_http_fault_faults_overflow",
      "Total number of faults not injected because max_active_faults was reached",
      labels,
    );
    this.activeFaults = store.gauge("envoy_http_fault_active_faults", "Number of faults currently active", labels);
  }

  /** Counters of one downstream cluster, created on first use (only faulted requests get here). */
  forDownstreamCluster(cluster: string): ClusterCounters | undefined {
    let counters = this.byCluster.get(cluster);
    if (counters === undefined) {
      if (this.byCluster.size >= MAX_DOWNSTREAM_CLUSTERS) return undefined;
      const labels: Labels = {
        envoy_http_conn_manager_prefix: this.statPrefix,
        envoy_fault_downstream_cluster: cluster,
      };
      counters = {
        delays: this.store.counter("envoy_http_fault_delays_injected", DELAYS_HELP, labels),
        aborts: this.store.counter("envoy_http_fault_aborts_injected", ABORTS_HELP, labels),
      };
      this.byCluster.set(cluster, counters);
    }
    return counters;
  }
}

const DELAYS_HELP = "Total requests that were delayed";
const ABORTS_HELP = "Total requests that were aborted";
