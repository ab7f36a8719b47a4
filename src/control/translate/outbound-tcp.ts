// Outbound TCP: one listener outbound-tcp-<port> per reachable TCP port, on the proxy's TCP outbound address, with
// tcp_proxy to the service's cluster or to the weighted clusters of the first VirtualService tcp route that applies
// (port, sourceLabels, sourceNamespace). Without capture, the port alone names a TCP service: a second service on
// the same port is reported and left out. TLS and HTTPS ports are told apart by SNI instead, so several services
// share one (outbound-tls.ts).

import type { DestinationContext } from "./destinations.ts";
import type { Json } from "./envoy.ts";
import type { VirtualService } from "../../api/resources/types.ts";
import {
  CORS_NAME,
  CORS_TYPE,
  FAULT_NAME,
  FAULT_TYPE,
  httpConnectionManager,
  listener,
  socketAddress,
  tcpProxy,
} from "./envoy.ts";
import {
  isHttpProtocol,
  outboundClusterName,
  outboundSniffedRouteName,
  outboundTcpListenerName,
  virtualHostName,
} from "./names.ts";
import { portRoutes } from "./outbound-routes.ts";
import { isSniffedProtocol, sniffingListener } from "./sniffing.ts";
import { routeTarget, tcpRouteFor } from "./outbound-tcp-routes.ts";
import { isTlsProtocol, tlsInspector, TlsPortChains } from "./outbound-tls.ts";
import { addServiceProblem, type ServiceModel, type ServicePortModel } from "./world.ts";
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
      const name = outboundTcpListenerName(port.number);
      if (isSniffedProtocol(port.protocol)) {
        // No declared protocol: HTTP routed as the service's HTTP port would be, the rest as TCP (sniffing.ts).
        const hcm = sniffedOutboundHcm(service, port, vs, base);
        const tcp = tcpProxy(stat, target);
        out.push(
          sniffingListener(name, proxy.tcpOutboundAddress, port.number, hcm, tcp, world.protocolDetectionTimeoutMs),
        );
      } else out.push(listener(name, proxy.tcpOutboundAddress, port.number, tcpProxy(stat, target)));
    }
  }
  return out.map((l) => (l instanceof TlsPortChains ? tlsListener(l, proxy.tcpOutboundAddress) : l));
}

/**
 * The HTTP side of a sniffed port's listener: the port names one service here, so its one virtual host answers to
 * every Host; the routes are its VirtualService's http routes (or the default route), as on an HTTP port.
 */
function sniffedOutboundHcm(
  service: ServiceModel,
  port: ServicePortModel,
  vs: VirtualService | undefined,
  base: Omit<DestinationContext, "namespace" | "port" | "service">,
): Json {
  const routes = portRoutes(service, port, vs, base);
  const routeConfig = {
    name: outboundSniffedRouteName(port.number),
    virtual_hosts: [{ name: virtualHostName(service.hostname, port.number), domains: ["*"], routes }],
  };
  return httpConnectionManager(`outbound_${port.number}`, routeConfig, [
    { name: CORS_NAME, typed_config: { "@type": CORS_TYPE } },
    { name: FAULT_NAME, typed_config: { "@type": FAULT_TYPE } },
  ]);
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
