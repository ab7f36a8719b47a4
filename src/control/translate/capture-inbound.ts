// Inbound of a capture-mode sidecar (docs/translation.md, "Capture mode"), as Istio's: iptables sends every TCP
// connection that arrives in the namespace to virtualInbound (0.0.0.0:15006); the original_dst listener filter
// restores the port the caller dialled, and one filter chain per port of the workload (destination_port) forwards
// to the application on 127.0.0.1 — HTTP ports through an HTTP connection manager (route inbound|<port> inline),
// the others through tcp_proxy. A port the application listens on but did not declare still works: the default
// chain goes to InboundPassthroughCluster (ORIGINAL_DST), as in Istio.
//
// The ports come from the proxy's own instance in the registry (inbound.ts's ownInstance): a transparent instance
// is registered at its namespace's address with each port's `number` the port the application listens on and no
// sidecarPort (callers dial address:number and the capture takes it). A Sidecar's ingress listeners, when it has
// any, replace them (each port.number a chain).

import type { Json } from "./envoy.ts";
import { socketAddress, tcpProxy } from "./envoy.ts";
import { INBOUND_PASSTHROUGH_CLUSTER, originalDstCluster, originalDstListenerFilter } from "./capture-outbound.ts";
import { inboundResources, ownInstance } from "./inbound.ts";
import type { Problems } from "./problems.ts";
import type { ProxyIdentity, ProxyPort } from "./proxy-identity.ts";
import { sidecarIngressPorts } from "./sidecar-ingress.ts";
import { enabledOnlyOnPorts, httpInspector, sniffingListenerFields } from "./sniffing.ts";
import { tlsInspector } from "./outbound-tls.ts";
import type { World } from "./world-index.ts";
import { instancePort, serviceFqdn } from "./world.ts";

export const VIRTUAL_INBOUND = "virtualInbound";
export const INBOUND_CAPTURE_PORT = 15006;

export function captureInbound(
  world: World,
  proxy: ProxyIdentity,
  problems: Problems,
): { listeners: Json[]; clusters: Json[] } {
  const sidecar = world.sidecarFor(proxy);
  const ports =
    sidecar !== undefined && sidecar.spec.ingress.length > 0
      ? sidecarIngressPorts(sidecar, proxy, problems, { capture: true })
      : capturePorts(world, proxy, problems);
  // inboundResources builds one listener per port; here each becomes a chain of virtualInbound for its port.
  const own = inboundResources(ports, proxy, problems, world.protocolDetectionTimeoutMs);
  // A sniffed port's listener has two chains (HTTP, then TCP): both move, matched by the port as well.
  const chains = own.listeners.flatMap((l) => {
    const port = (l.address as { socket_address: { port_value: number } }).socket_address.port_value;
    return (l.filter_chains as Json[]).map((chain) => ({
      name: `inbound|${port}`,
      filter_chain_match: { destination_port: port, ...(chain.filter_chain_match as Json | undefined) },
      filters: chain.filters,
    }));
  });
  // The sniffed ports: only their connections are inspected (filter_disabled for the others, as Istio), so a
  // declared server-first port (its client waits for a greeting) or the passthrough is not held for bytes.
  const sniffed = own.listeners
    .filter((l) => l.listener_filters !== undefined)
    .map((l) => (l.address as { socket_address: { port_value: number } }).socket_address.port_value);
  const onlySniffed = (filter: Json): Json => ({ ...filter, filter_disabled: enabledOnlyOnPorts(sniffed) });
  const listener: Json = {
    name: VIRTUAL_INBOUND,
    address: socketAddress("0.0.0.0", INBOUND_CAPTURE_PORT),
    ...(sniffed.length > 0
      ? {
          ...sniffingListenerFields(world.protocolDetectionTimeoutMs),
          listener_filters: [originalDstListenerFilter(), onlySniffed(tlsInspector()), onlySniffed(httpInspector())],
        }
      : { listener_filters: [originalDstListenerFilter()] }),
    filter_chains: chains,
    default_filter_chain: {
      name: "inbound-passthrough",
      filters: [tcpProxy(INBOUND_PASSTHROUGH_CLUSTER, { cluster: INBOUND_PASSTHROUGH_CLUSTER })],
    },
  };
  return { listeners: [listener], clusters: [...own.clusters, originalDstCluster(INBOUND_PASSTHROUGH_CLUSTER)] };
}

/** The registry instance's ports: each the port callers dial (its sidecarPort if it has one, else its number). */
function capturePorts(world: World, proxy: ProxyIdentity, problems: Problems): ProxyPort[] {
  if (proxy.service === undefined) return [];
  const service = world.service(serviceFqdn(proxy.service, proxy.namespace));
  const instance = ownInstance(world, proxy);
  if (service === undefined || instance === undefined) {
    problems.add(
      `proxy ${proxy.id}: no registered instance of ${proxy.service} at ${proxy.workloadAddress ?? "?"}; ` +
        "virtualInbound passes every connection through to the port it was sent to",
    );
    return [];
  }
  const out: ProxyPort[] = [];
  for (const port of service.ports) {
    const ip = instancePort(instance, port);
    if (ip === undefined) continue;
    const dialled = ip.sidecarPort ?? ip.appPort;
    if (dialled === INBOUND_CAPTURE_PORT || dialled === proxy.outboundPort) {
      problems.add(
        `proxy ${proxy.id}: port ${dialled} of ${service.hostname} is a capture port of the sidecar; no inbound chain`,
      );
      continue;
    }
    out.push({ name: port.name, appPort: ip.appPort, sidecarPort: dialled, protocol: port.protocol });
  }
  return out;
}
