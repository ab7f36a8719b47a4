// Small, valid Envoy resources for xDS tests and the benchmark: the shapes translate() emits (EDS clusters over
// ADS, an HCM listener with RDS over ADS), built by hand.

import { TYPE_URL } from "../../api/xds/wire/codec.ts";
import type { ResourceMap, Snapshot } from "./types.ts";

const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";

export function edsCluster(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    type: "EDS",
    connect_timeout: "1s",
    eds_cluster_config: { service_name: name, eds_config: { ads: {} } },
    ...extra,
  };
}

export function loadAssignment(name: string, endpoints: [string, number][]): Record<string, unknown> {
  return {
    cluster_name: name,
    endpoints: [
      {
        lb_endpoints: endpoints.map(([address, port]) => ({
          endpoint: { address: { socket_address: { address, port_value: port } } },
        })),
      },
    ],
  };
}

export function routeConfig(name: string, hosts: { name: string; domains: string[]; cluster: string }[]) {
  return {
    name,
    virtual_hosts: hosts.map((h) => ({
      name: h.name,
      domains: h.domains,
      routes: [{ match: { prefix: "/" }, route: { cluster: h.cluster } }],
    })),
  };
}

/** An HCM listener that takes its routes by RDS over ADS (a sidecar's outbound-http). */
export function rdsListener(name: string, port: number, routeName: string): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address: "127.0.0.1", port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": HCM,
              stat_prefix: name,
              rds: { route_config_name: routeName, config_source: { ads: {} } },
              http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": ROUTER } }],
            },
          },
        ],
      },
    ],
  };
}

/** A proxyless gRPC client's listener: an api_listener HCM with RDS over ADS. */
export function apiListener(name: string, routeName: string): Record<string, unknown> {
  return {
    name,
    api_listener: {
      api_listener: {
        "@type": HCM,
        rds: { route_config_name: routeName, config_source: { ads: {} } },
        http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": ROUTER } }],
      },
    },
  };
}

export function byName(resources: Record<string, unknown>[], key = "name"): ResourceMap {
  return new Map(resources.map((r) => [String(r[key]), r]));
}

/** A snapshot from resource lists (CLAs keyed by cluster_name). */
export function snapshotOf(parts: {
  listeners?: Record<string, unknown>[];
  routes?: Record<string, unknown>[];
  clusters?: Record<string, unknown>[];
  endpoints?: Record<string, unknown>[];
}): Snapshot {
  return new Map([
    [TYPE_URL.listener, byName(parts.listeners ?? [])],
    [TYPE_URL.routeConfiguration, byName(parts.routes ?? [])],
    [TYPE_URL.cluster, byName(parts.clusters ?? [])],
    [TYPE_URL.clusterLoadAssignment, byName(parts.endpoints ?? [], "cluster_name")],
  ]);
}
