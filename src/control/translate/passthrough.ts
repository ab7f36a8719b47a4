// ALLOW_ANY for HTTP: PassthroughCluster is Envoy's dynamic forward proxy cluster (envoy.clusters.dynamic_forward_
// proxy) and the outbound HTTP listener carries the dynamic_forward_proxy filter with the same DNS cache, so a
// request for a host the mesh does not know goes to that host (its :authority, port 80 by default), resolved by
// the sidecar. Istio's PassthroughCluster is an ORIGINAL_DST cluster fed by traffic capture; Trellis keeps the
// name (it is what users see in access logs and stats) and resolves the destination from the request instead.
// TCP passthrough comes with traffic capture.

import type { Json } from "./envoy.ts";
import { duration } from "./envoy.ts";

export const DFP_FILTER_NAME = "envoy.filters.http.dynamic_forward_proxy";
export const DFP_FILTER_TYPE =
  "type.googleapis.com/envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig";
export const DFP_CLUSTER_TYPE_NAME = "envoy.clusters.dynamic_forward_proxy";
export const DFP_CLUSTER_CONFIG_TYPE =
  "type.googleapis.com/envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig";
/** The DNS cache the filter and the cluster share (stats: dns_cache.passthrough.*). */
export const PASSTHROUGH_DNS_CACHE = "passthrough";

const dnsCacheConfig = (): Json => ({ name: PASSTHROUGH_DNS_CACHE, dns_lookup_family: "V4_PREFERRED" });

/** The cluster that forwards to the request's own host. */
export function dynamicForwardProxyCluster(name: string): Json {
  return { name, connect_timeout: duration(10_000), ...dynamicForwardProxyDiscovery() };
}

/**
 * What makes a cluster a dynamic forward proxy: its type and its load balancing (the cluster's own). A
 * ServiceEntry with resolution DYNAMIC_DNS gets it on its HTTP ports' clusters; they share the passthrough's DNS
 * cache, so the one filter on the outbound listener resolves for all of them.
 */
export function dynamicForwardProxyDiscovery(): Json {
  return {
    lb_policy: "CLUSTER_PROVIDED",
    cluster_type: {
      name: DFP_CLUSTER_TYPE_NAME,
      typed_config: { "@type": DFP_CLUSTER_CONFIG_TYPE, dns_cache_config: dnsCacheConfig() },
    },
  };
}

/** The HTTP filter that resolves the host of requests routed to that cluster. */
export function dynamicForwardProxyFilter(): Json {
  return { name: DFP_FILTER_NAME, typed_config: { "@type": DFP_FILTER_TYPE, dns_cache_config: dnsCacheConfig() } };
}
