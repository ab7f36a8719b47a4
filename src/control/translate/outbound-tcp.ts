// Outbound TCP: one listener outbound-tcp-<port> per reachable TCP port, on the proxy's TCP outbound address, with
// tcp_proxy to the service's cluster or to the weighted clusters of the first VirtualService tcp route that applies
// (port, sourceLabels, sourceNamespace). Without capture, the port alone names a TCP service: a second service on
// the same port is reported and left out. TLS and HTTPS ports are told apart by SNI instead, so several services
// share one (outbound-tls.ts).

import type { DestinationContext } from "./destinations.ts";
import type { Json } from "./envoy.ts";
import { listener, socketAddress, tcpProxy } from "./envoy.ts";
import { isHttpProtocol, outboundClusterName, outboundTcpListenerName } from "./names.ts";
import { routeTarget, tcpRouteFor } from "./outbound-tcp-routes.ts";
import { isTlsProtocol, tlsInspector, TlsPortChains } from "./outbound-tls.ts";
import { addServiceProblem, type ServiceModel } from "./world.ts";
import { World } from "./world-index.ts";

export function outboundTcpListeners(
  services: readonly ServiceModel[],
  base: Omit<DestinationContext, "namespace" | "port" | "service">,
): Json[] {
  const { world, proxy, problems } = base;
  /** Who has each port: one TCP service, or the TLS services sharing it by SNI. */
  const owner = new Map<number, { host: string; tls: TlsPortChains | undefined }>();
  // Listeners in order of first claim; a TLS port's chains are filled in as its services come.
  const out: (Json | TlsPortChains)[] = [];
  for (const service of services) {
    // DYNAMIC_DNS: HTTP ports only (world.ts reports the others).
    if (service.resolution === "DYNAMIC_DNS") continue;
    for (const [index, port] of service.ports.entries()) {
      if (isHttpProtocol(port.protocol)) continue;
      if (port.protocol === "UDP") {
        addServiceProblem(problems, service, `UDP port ${port.number} is not supported; left out`, index);
        continue;
      }
      const tls = isTlsProtocol(port.protocol);
      const taken = owner.get(port.number);
      if ((taken !== undefined && !(tls && taken.tls)) || port.number === proxy.outboundPort) {
        addServiceProblem(
          problems,
          service,
          `${tls ? "TLS" : "TCP"} port ${port.number} is already used by ` +
            `${taken?.host ?? "the outbound HTTP listener"} on ${proxy.tcpOutboundAddress}; no listener for it`,
          index,
        );
        continue;
      }
      const vs = world.virtualServicesFor(service.hostname, proxy.namespace)[0]?.resource;
      const ctx: DestinationContext = {
        ...base,
        namespace: vs?.metadata.namespace ?? service.namespace,
        service,
        port: port.number,
      };
      if (tls) {
        let chains = taken?.tls;
        if (chains === undefined) {
          chains = new TlsPortChains(port.number, problems);
          owner.set(port.number, { host: service.hostname, tls: chains });
          out.push(chains);
        }
        chains.add(ctx, vs);
        continue;
      }
      owner.set(port.number, { host: service.hostname, tls: undefined });
      const route = vs === undefined ? undefined : tcpRouteFor(vs, ctx);
      const stat = outboundClusterName(port.number, undefined, service.hostname);
      const where = vs === undefined ? "" : `VirtualService ${World.nameOf(vs)} tcp`;
      const target = (route && routeTarget(route.route, ctx, where)) ?? { cluster: stat };
      out.push(
        listener(outboundTcpListenerName(port.number), proxy.tcpOutboundAddress, port.number, tcpProxy(stat, target)),
      );
    }
  }
  return out.map((l) => (l instanceof TlsPortChains ? tlsListener(l, proxy.tcpOutboundAddress) : l));
}

function tlsListener(chains: TlsPortChains, address: string): Json {
  const listener: Json = {
    name: outboundTcpListenerName(chains.port),
    address: socketAddress(address, chains.port),
    listener_filters: [tlsInspector()],
    filter_chains: chains.chains,
  };
  const fallback = chains.defaultChain();
  if (fallback !== undefined) listener.default_filter_chain = fallback;
  return listener;
}
