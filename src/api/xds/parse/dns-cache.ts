// Envoy's dynamic forward proxy configuration: the DnsCacheConfig that the HTTP filter
// (envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig) and the cluster type
// envoy.clusters.dynamic_forward_proxy (envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig) both
// carry; they must name the same cache. Fields Trellis cannot honour are refused by name.

import type { Cluster, DnsCacheConfig } from "../types.ts";
import { describe } from "./context.ts";
import type { Fields } from "./fields.ts";

export const DFP_CLUSTER_NAME = "envoy.clusters.dynamic_forward_proxy";
export const DFP_CLUSTER_CONFIG_TYPE = "envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig";
export const DFP_FILTER_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig";

/** Envoy's defaults (dns_cache.proto). */
export const DNS_CACHE_DEFAULTS = {
  dnsRefreshRateMs: 60_000,
  hostTtlMs: 300_000,
  maxHosts: 1024,
  maxPendingRequests: 1024,
  dnsQueryTimeoutMs: 5_000,
} as const;

const DNS_CACHE_SPEC = {
  handled: [
    "name",
    "dns_lookup_family",
    "dns_refresh_rate",
    "host_ttl",
    "max_hosts",
    "dns_cache_circuit_breaker",
    "dns_query_timeout",
  ],
  // Refresh pacing after failures and the minimum refresh: a failed host is looked up again on its next request.
  ignored: ["dns_failure_refresh_rate", "dns_min_refresh_rate", "disable_dns_refresh_on_failure"],
  unsupported: [
    "dns_resolvers",
    "use_tcp_for_dns_lookups",
    "dns_resolution_config",
    "typed_dns_resolver_config",
    "preresolve_hostnames",
    "key_value_config",
  ],
} as const;
const CIRCUIT_BREAKER_SPEC = { handled: ["max_pending_requests"] } as const;
const LOOKUP_FAMILIES: readonly Cluster["dnsLookupFamily"][] = ["AUTO", "V4_ONLY", "V6_ONLY", "V4_PREFERRED", "ALL"];

/** Reads a DnsCacheConfig message (`dns_cache_config` of the filter or the cluster). */
export function readDnsCacheConfig(parent: Fields, field: string): DnsCacheConfig {
  if (!parent.requireField(field)) return { name: "", ...defaults() };
  const f = parent.message(field, DNS_CACHE_SPEC);
  const name = f.requiredString("name");
  const positive = (key: string, fallback: number): number => {
    const ms = f.durationMs(key);
    if (ms === undefined) return fallback;
    if (ms > 0) return ms;
    f.report(key, "expected a duration greater than 0");
    return fallback;
  };
  const breaker = f.message("dns_cache_circuit_breaker", CIRCUIT_BREAKER_SPEC);
  return {
    name,
    dnsLookupFamily: f.enumValue("dns_lookup_family", LOOKUP_FAMILIES, "AUTO"),
    dnsRefreshRateMs: positive("dns_refresh_rate", DNS_CACHE_DEFAULTS.dnsRefreshRateMs),
    hostTtlMs: positive("host_ttl", DNS_CACHE_DEFAULTS.hostTtlMs),
    maxHosts: f.integer("max_hosts", DNS_CACHE_DEFAULTS.maxHosts, 1),
    maxPendingRequests: breaker.integer("max_pending_requests", DNS_CACHE_DEFAULTS.maxPendingRequests, 1),
    dnsQueryTimeoutMs: positive("dns_query_timeout", DNS_CACHE_DEFAULTS.dnsQueryTimeoutMs),
  };
}

function defaults(): Omit<DnsCacheConfig, "name"> {
  return {
    dnsLookupFamily: "AUTO",
    dnsRefreshRateMs: DNS_CACHE_DEFAULTS.dnsRefreshRateMs,
    hostTtlMs: DNS_CACHE_DEFAULTS.hostTtlMs,
    maxHosts: DNS_CACHE_DEFAULTS.maxHosts,
    maxPendingRequests: DNS_CACHE_DEFAULTS.maxPendingRequests,
    dnsQueryTimeoutMs: DNS_CACHE_DEFAULTS.dnsQueryTimeoutMs,
  };
}

const CLUSTER_TYPE_SPEC = { handled: ["name", "typed_config"] } as const;
const CLUSTER_CONFIG_SPEC = {
  handled: ["@type", "dns_cache_config"],
  // Connection coalescing only applies to HTTP/2 over TLS, which this cluster does not make.
  ignored: ["allow_coalesced_connections"],
  unsupported: ["sub_clusters_config", "allow_insecure_cluster_options", "allow_dynamic_host_from_filter_state"],
} as const;

/**
 * A Cluster's `cluster_type` (CustomClusterType): only envoy.clusters.dynamic_forward_proxy is known. Returns its
 * DNS cache, or undefined (with an issue) for anything else.
 */
export function readClusterType(cluster: Fields): DnsCacheConfig | undefined {
  const custom = cluster.message("cluster_type", CLUSTER_TYPE_SPEC);
  if (custom.broken || !custom.requireField("name")) return undefined;
  const name = custom.string("name");
  const typed = custom.message("typed_config", CLUSTER_CONFIG_SPEC);
  const type = typed.string("@type");
  if (name !== DFP_CLUSTER_NAME) {
    custom.report("name", `cluster type ${describe(name)} is not supported; supported: ${DFP_CLUSTER_NAME}`);
    return undefined;
  }
  if (type !== undefined && !type.endsWith(`/${DFP_CLUSTER_CONFIG_TYPE}`)) {
    typed.report("@type", `expected type.googleapis.com/${DFP_CLUSTER_CONFIG_TYPE}, got ${describe(type)}`);
    return undefined;
  }
  if (!custom.requireField("typed_config")) return undefined;
  return readDnsCacheConfig(typed, "dns_cache_config");
}
