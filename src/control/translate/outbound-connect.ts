// CONNECT on the outbound HTTP listener of a sidecar whose app calls through HTTP_PROXY (`trellis run`, node
// metadata TRELLIS_HTTP_PROXY). Clients send `CONNECT host:port` for https:// URLs and for tunnels (`curl -p`);
// Envoy's shapes: the listener's upgrade_configs allow CONNECT, and each virtual host gets a route with
// `connect_matcher` (CONNECT requests match only such routes) whose action terminates the CONNECT
// (`upgrade_configs: [{upgrade_type: CONNECT, connect_config: {}}]`): the sidecar answers 200 once it has a TCP
// connection to an endpoint of the route's cluster, and joins the two.
//
// - a TCP, TLS or HTTPS (any non-HTTP) service port: a virtual host `<fqdn>:<port>` (domains with the port, as a
//   CONNECT authority always has one) → the port's cluster `outbound|PORT||FQDN`;
// - an HTTP service port: the tunnel's bytes are HTTP, routed as any request from the app: the CONNECT is
//   terminated to this listener itself (cluster `outbound_http_tunnel`, 127.0.0.1:<outbound port>), where the
//   requests inside it are routed by their Host with the service's VirtualService;
// - any other host: ALLOW_ANY → PassthroughCluster (the dynamic forward proxy resolves the CONNECT's host and
//   port); an egress proxy → its cluster; REGISTRY_ONLY → 502, as for plain HTTP.

import type { Json } from "./envoy.ts";
import { duration } from "./envoy.ts";
import type { DestinationContext } from "./destinations.ts";
import { resolveDestination } from "./destinations.ts";
import type { ProxyIdentity } from "./proxy-identity.ts";
import type { ServiceModel } from "./world.ts";
import { isHttpProtocol, virtualHostName } from "./names.ts";

/** The cluster CONNECTs to HTTP service ports are terminated to: the outbound HTTP listener itself. */
export const HTTP_TUNNEL_CLUSTER = "outbound_http_tunnel";

/** The HCM's upgrade_configs entry that lets CONNECT through to the routes. */
export const CONNECT_UPGRADE: Json = { upgrade_type: "CONNECT" };

/** A route that takes every CONNECT of its virtual host and terminates it to `cluster`. */
export function connectRoute(cluster: string): Json {
  return {
    name: "connect",
    match: { connect_matcher: {} },
    route: {
      cluster,
      timeout: duration(0),
      upgrade_configs: [{ upgrade_type: "CONNECT", connect_config: {} }],
    },
  };
}

/** A CONNECT refused with a direct response (REGISTRY_ONLY, the listener's own address). */
export function connectRefusal(name: string, status: number, body?: string): Json {
  return {
    name,
    match: { connect_matcher: {} },
    direct_response: body === undefined ? { status } : { status, body: { inline_string: body } },
  };
}

type RouteBase = Omit<DestinationContext, "namespace" | "port" | "service">;

/**
 * One virtual host per non-HTTP service port, for CONNECT only. `domainsOf` gives a port's names; a name another
 * virtual host has is left out (reported by the caller's `claim`).
 */
export function connectVirtualHosts(
  services: readonly ServiceModel[],
  base: RouteBase,
  domainsOf: (service: ServiceModel, port: ServiceModel["ports"][number]) => string[],
): Json[] {
  const out: Json[] = [];
  for (const service of services) {
    for (const port of service.ports) {
      if (isHttpProtocol(port.protocol)) continue;
      const domains = domainsOf(service, port);
      if (domains.length === 0) continue;
      const ctx: DestinationContext = { ...base, namespace: service.namespace, service, port: port.number };
      const where = `service ${service.hostname}:${port.number}`;
      const dest = resolveDestination({ host: service.hostname, port: { number: port.number } }, ctx, where);
      out.push({ name: virtualHostName(service.hostname, port.number), domains, routes: [connectRoute(dest.cluster)] });
    }
  }
  return out;
}

/** The cluster of HTTP_TUNNEL_CLUSTER: the proxy's own outbound HTTP listener. */
export function httpTunnelCluster(proxy: ProxyIdentity): Json {
  return {
    name: HTTP_TUNNEL_CLUSTER,
    type: "STATIC",
    connect_timeout: duration(1_000),
    load_assignment: {
      cluster_name: HTTP_TUNNEL_CLUSTER,
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: proxy.outboundPort } } } },
          ],
        },
      ],
    },
  };
}
