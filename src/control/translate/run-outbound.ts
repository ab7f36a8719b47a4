// `trellis run --outbound HOST:PORT` (docs/run.md): the run's sidecar says in its node metadata which service ports
// it binds locally (TRELLIS_RUN_OUTBOUNDS "fqdn:port=localPort,…"), and gets from here one listener per entry on
// 127.0.0.1:localPort with the tcp_proxy the translation makes for that service port elsewhere: the service's
// cluster, or the weighted clusters (and subsets) of the first VirtualService tcp route that applies to this proxy.
// A destination the mesh does not have gets no listener (trellis run names it and stops: its cluster is missing).

import type { DestinationContext } from "./destinations.ts";
import type { Json } from "./envoy.ts";
import { listener, tcpProxy } from "./envoy.ts";
import { outboundClusterName } from "./names.ts";
import { routeTarget, tcpRouteFor } from "./outbound-tcp-routes.ts";
import type { RunOutbound } from "./proxy-identity.ts";
import type { ServiceModel } from "./world.ts";
import { World } from "./world-index.ts";

/** The listener of one --outbound, as its sidecar waits for it. */
export const runOutboundListenerName = (host: string, port: number): string => `run-outbound-${host}-${port}`;

export function runOutboundListeners(
  services: readonly ServiceModel[],
  base: Omit<DestinationContext, "namespace" | "port" | "service">,
  outbounds: readonly RunOutbound[],
): Json[] {
  const { world, proxy } = base;
  const out: Json[] = [];
  for (const o of outbounds) {
    const service = services.find((s) => s.hostname === o.host && s.ports.some((p) => p.number === o.port));
    if (service === undefined) continue;
    const vs = world.virtualServicesFor(service.hostname, proxy.namespace)[0]?.resource;
    const ctx: DestinationContext = {
      ...base,
      namespace: vs?.metadata.namespace ?? service.namespace,
      service,
      port: o.port,
    };
    const route = vs === undefined ? undefined : tcpRouteFor(vs, ctx);
    const stat = outboundClusterName(o.port, undefined, service.hostname);
    const where = vs === undefined ? "" : `VirtualService ${World.nameOf(vs)} tcp`;
    const target = (route && routeTarget(route.route, ctx, where)) ?? { cluster: stat };
    out.push(listener(runOutboundListenerName(o.host, o.port), "127.0.0.1", o.localPort, tcpProxy(stat, target)));
  }
  return out;
}
