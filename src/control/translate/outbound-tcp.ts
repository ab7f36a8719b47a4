// Outbound TCP: one listener outbound-tcp-<port> per reachable TCP port, on the proxy's TCP outbound address, with
// tcp_proxy to the service's cluster or to the weighted clusters of the first VirtualService tcp route that applies
// (port, sourceLabels, sourceNamespace). Without capture, the port alone names the service: a second service on the
// same port is reported and left out.

import type { L4MatchAttributes, TCPRoute, VirtualService } from "../../api/resources/types.ts";
import type { DestinationContext } from "./destinations.ts";
import { resolveDestination } from "./destinations.ts";
import type { Json } from "./envoy.ts";
import { listener, tcpProxy } from "./envoy.ts";
import { labelsMatch } from "./labels.ts";
import { isHttpProtocol, outboundClusterName, outboundTcpListenerName } from "./names.ts";
import type { ServiceModel } from "./world.ts";
import { World } from "./world-index.ts";

export function outboundTcpListeners(
  services: readonly ServiceModel[],
  base: Omit<DestinationContext, "namespace" | "port" | "service">,
): Json[] {
  const { world, proxy, problems } = base;
  const owner = new Map<number, string>();
  const out: Json[] = [];
  for (const service of services) {
    for (const port of service.ports) {
      if (isHttpProtocol(port.protocol)) continue;
      if (port.protocol === "UDP") {
        problems.add(`service ${service.hostname}: UDP port ${port.number} is not supported; left out`);
        continue;
      }
      const taken = owner.get(port.number);
      if (taken !== undefined || port.number === proxy.outboundPort) {
        problems.add(
          `service ${service.hostname}: TCP port ${port.number} is already used by ${taken ?? "the outbound HTTP listener"} ` +
            `on ${proxy.tcpOutboundAddress}; no listener for it`,
        );
        continue;
      }
      owner.set(port.number, service.hostname);
      const vs = world.virtualServicesFor(service.hostname, proxy.namespace)[0]?.resource;
      const ctx: DestinationContext = {
        ...base,
        namespace: vs?.metadata.namespace ?? service.namespace,
        service,
        port: port.number,
      };
      const route = vs === undefined ? undefined : tcpRouteFor(vs, ctx);
      const stat = outboundClusterName(port.number, undefined, service.hostname);
      let target: Parameters<typeof tcpProxy>[1] = { cluster: stat };
      if (route !== undefined && vs !== undefined) {
        const where = `VirtualService ${World.nameOf(vs)} tcp`;
        const dests = route.route.filter((d) => route.route.length === 1 || (d.weight ?? 0) > 0);
        const resolved = dests.map((d) => ({
          name: resolveDestination(d.destination, ctx, where).cluster,
          weight: route.route.length === 1 ? 100 : (d.weight ?? 0),
        }));
        if (resolved.length === 1) target = { cluster: resolved[0]!.name };
        else if (resolved.length > 1) target = { weighted: resolved };
      }
      out.push(
        listener(outboundTcpListenerName(port.number), proxy.tcpOutboundAddress, port.number, tcpProxy(stat, target)),
      );
    }
  }
  return out;
}

function tcpRouteFor(vs: VirtualService, ctx: DestinationContext): TCPRoute | undefined {
  for (const route of vs.spec.tcp ?? []) {
    const matches = route.match ?? [];
    if ((route.route ?? []).length === 0) continue;
    if (matches.length === 0 || matches.some((m) => l4Applies(m, vs, ctx))) return route;
  }
  return undefined;
}

function l4Applies(m: L4MatchAttributes, vs: VirtualService, ctx: DestinationContext): boolean {
  if (m.port !== undefined && m.port !== ctx.port) return false;
  if (!labelsMatch(m.sourceLabels ?? {}, ctx.proxy.labels)) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== ctx.proxy.namespace) return false;
  if ((m.gateways ?? []).length > 0 && !m.gateways.includes("mesh")) return false;
  if ((m.destinationSubnets ?? []).length > 0) {
    ctx.problems.add(
      `VirtualService ${World.nameOf(vs)}: tcp match destinationSubnets is not supported; match skipped`,
    );
    return false;
  }
  return true;
}
