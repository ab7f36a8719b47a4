// envoy.filters.network.tcp_proxy: a listener's bytes to one cluster (or one of several, by weight).

import type { TcpProxy } from "../types.ts";
import type { ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import { DEFAULT_HTTP_IDLE_TIMEOUT_MS } from "./protocol-options.ts";
import { readWeightedClusters } from "./weighted-clusters.ts";

export const TCP_PROXY_FILTER_NAME = "envoy.filters.network.tcp_proxy";
export const TCP_PROXY_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";

const TCP_PROXY_SPEC = {
  handled: ["@type", "stat_prefix", "cluster", "weighted_clusters", "idle_timeout"],
  unsupported: [
    "on_demand",
    "metadata_match",
    "downstream_idle_timeout",
    "upstream_idle_timeout",
    "access_log",
    "max_connect_attempts",
    "hash_policy",
    "tunneling_config",
    "max_downstream_connection_duration",
    "access_log_flush_interval",
    "flush_access_log_on_connected",
    "access_log_options",
    "backoff_options",
    "proxy_protocol_tlvs",
  ],
} as const;

/** `raw` is the filter's typed_config (with its `@type`), at `path`. */
export function readTcpProxy(ctx: ParseContext, raw: unknown, path: string): TcpProxy {
  const proxy = Fields.open(ctx, raw, path, TCP_PROXY_SPEC);
  const statPrefix = proxy.requiredString("stat_prefix");
  const target = proxy.oneOf(["cluster", "weighted_clusters"], true);
  let cluster: string | undefined;
  if (target === "cluster") {
    cluster = proxy.requiredString("cluster");
    if (cluster !== "") ctx.referenceCluster(proxy.at("cluster"), cluster);
  }
  return {
    statPrefix,
    cluster,
    weightedClusters: target === "weighted_clusters" ? readWeightedClusters(proxy, target, false) : undefined,
    // Envoy's tcp_proxy idle_timeout default is 1 hour, like HTTP's.
    idleTimeoutMs: proxy.durationMs("idle_timeout") ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS,
  };
}
