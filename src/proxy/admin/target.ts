// What the admin server needs from the running proxy. The proxy implements it; tests pass a plain object. Kept
// separate from the server so the proxy can implement it without importing node:http.

import type { StatsStore } from "../../telemetry/stats.ts";

export type ServerState = "LIVE" | "DRAINING" | "PRE_INITIALIZING" | "INITIALIZING";

export interface DrainOptions {
  /** ?graceful: keep serving during the drain period, closing connections as they finish (Envoy's graceful). */
  graceful: boolean;
  /** ?inboundonly: drain only inbound listeners (Envoy's traffic_direction INBOUND). */
  inboundOnly: boolean;
}

export interface AdminTarget {
  /** Listeners bound, configuration loaded, not draining. */
  isReady(): boolean;
  /**
   * Envoy's /config_dump shape: {configs: [{"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
   * bootstrap}, {"@type": "…ListenersConfigDump", static_listeners: […]}, {"@type": "…ClustersConfigDump",
   * static_clusters: […]}, {"@type": "…RoutesConfigDump", static_route_configs: […]}]}.
   */
  configDump(): unknown;
  clusters(): ClusterStatus[];
  readonly stats: StatsStore;
  /** Stops accepting connections (POST /drain_listeners). Implementations may ignore the options. */
  drainListeners(options: DrainOptions): void;
  /** Graceful shutdown, as on SIGTERM (POST /quitquitquit); called after the reply has been sent. */
  quit(): void;
  /** /server_info: {state, uptime_current_epoch, version, node: {id, cluster}, …}; `state` is also used by /ready. */
  serverInfo(): unknown;
}

export interface EndpointStatus {
  address: string;
  port: number;
  weight: number;
  healthy: boolean;
  /** Envoy's health_flags text: "healthy", or "/failed_active_hc/failed_outlier_check"… */
  healthFlags: string;
  activeRequests: number;
  priority: number;
  /** "region/zone/sub_zone" (any part may be empty). */
  locality?: string;
  /** Outlier detection's success rate of the last interval, in percent; -1 or absent when not computed. */
  successRate?: number;
  /** The same for local-origin outcomes (split_external_local_origin_errors). */
  localOriginSuccessRate?: number;
  /** Per-endpoint counters: cx_total, cx_active, cx_connect_fail, rq_total, rq_success, rq_error, rq_timeout… */
  counters: Record<string, number>;
}

export interface ClusterStatus {
  name: string;
  endpoints: EndpointStatus[];
  /** Cluster-level values printed as `name::key::value` (e.g. "default_priority::max_connections": 1024). */
  counters: Record<string, number>;
}
