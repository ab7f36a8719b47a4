// The dynamic forward proxy cluster (Envoy's envoy.clusters.dynamic_forward_proxy): no configured endpoints; the
// upstream of each request is the host and port of its :authority (port 80 when absent), as resolved by the DNS
// cache it shares with the dynamic_forward_proxy HTTP filter. The filter resolves the host before the router runs;
// the cluster's pick only reads the cache. One connection pool per resolved address (UpstreamCluster's pools),
// closed when its host leaves the cache. Without the filter in front, a host nobody resolved has no endpoint: 503
// UH, as in Envoy.

import type { Cluster } from "../../api/xds/types.ts";
import type { ClusterStats } from "../../telemetry/envoy-stats.ts";
import type { PickContext } from "./balancer.ts";
import { UpstreamCluster, type ClusterContext } from "./cluster.ts";
import { dnsCacheManager, type DnsCache } from "./dns-cache.ts";
import type { Endpoint } from "./endpoint.ts";
import type { ClusterMembership } from "./membership.ts";

export class DynamicForwardProxyCluster extends UpstreamCluster {
  readonly cache: DnsCache;

  constructor(config: Cluster, membership: ClusterMembership, stats: ClusterStats, context: ClusterContext) {
    super(config, membership, stats, context);
    const dnsCache = config.dynamicForwardProxy!;
    const manager = dnsCacheManager(context.store);
    this.cache = manager.cache(dnsCache, context.clock);
    manager.registerCluster(config.name, dnsCache.name, this);
    this.cache.onHostRemoved((endpoint) => {
      if (endpoint !== undefined) this.closePoolOf(endpoint);
    });
  }

  override pick(ctx: PickContext): Endpoint | undefined {
    if (ctx.authority === undefined) return undefined;
    const target = splitAuthority(ctx.authority, 80);
    if (target === undefined) return undefined;
    return this.cache.endpointFor(target.host, target.port);
  }

  override close(): void {
    dnsCacheManager(this.context.store).unregisterCluster(this.name, this);
    super.close();
  }
}

/** host and port of an authority ("api.example.com:8080", "[::1]:80", "example.com"); undefined when malformed. */
export function splitAuthority(authority: string, defaultPort: number): { host: string; port: number } | undefined {
  let host = authority;
  let portText: string | undefined;
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]");
    if (end < 0) return undefined;
    host = authority.slice(1, end);
    const rest = authority.slice(end + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return undefined;
      portText = rest.slice(1);
    }
  } else {
    const colon = authority.lastIndexOf(":");
    if (colon >= 0) {
      if (authority.indexOf(":") !== colon) return undefined; // an unbracketed IPv6 literal
      host = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    }
  }
  if (host === "") return undefined;
  if (portText === undefined) return { host, port: defaultPort };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  return port > 0 && port <= 65535 ? { host, port } : undefined;
}
