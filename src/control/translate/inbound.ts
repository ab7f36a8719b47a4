// Inbound: for each port of the proxy's own workload, a listener inbound-<sidecarPort> on the workload's address,
// HTTP (its route configuration inbound|<appPort> inline in the listener → cluster inbound|<appPort>||) or TCP
// (tcp_proxy), and the cluster itself: STATIC, the application on 127.0.0.1:<appPort>. The route is inline, as
// Istio's inbound routes are, so every proxy's RDS holds only outbound routes: proxies that see the mesh alike get
// the very same RouteConfiguration, shared by the control plane instead of one per proxy.

import type { Json } from "./envoy.ts";
import {
  duration,
  HTTP_PROTOCOL_OPTIONS_KEY,
  HTTP_PROTOCOL_OPTIONS_TYPE,
  httpConnectionManager,
  listener,
  socketAddress,
  tcpProxy,
} from "./envoy.ts";
import { inboundClusterName, inboundListenerName, inboundRouteName, isHttp2Protocol, isHttpProtocol } from "./names.ts";
import type { Problems } from "./problems.ts";
import { isSniffedProtocol, sniffingListener, useDownstreamProtocol } from "./sniffing.ts";
import type { ProxyIdentity, ProxyPort } from "./proxy-identity.ts";
import { applyConnectionPool, DEFAULT_CONNECT_TIMEOUT_MS } from "./clusters.ts";
import type { World } from "./world-index.ts";
import { instancePort, serviceFqdn, type ServiceInstance } from "./world.ts";

export interface InboundResources {
  listeners: Json[];
  clusters: Json[];
}

/**
 * The registry's instance of the proxy's own workload: the one this sidecar registered (its node id), else the one
 * at its address that no other sidecar claims (several instances of one service share 127.0.0.1 when they run on
 * one machine).
 */
export function ownInstance(world: World, proxy: ProxyIdentity): ServiceInstance | undefined {
  if (proxy.service === undefined) return undefined;
  const instances = world.service(serviceFqdn(proxy.service, proxy.namespace))?.instances ?? [];
  return (
    instances.find((i) => i.nodeId === proxy.id) ??
    instances.find((i) => i.address === proxy.workloadAddress && i.nodeId === undefined)
  );
}

/** The proxy's ports as it declared them, else as the registry recorded its instance. */
export function inboundPorts(world: World, proxy: ProxyIdentity, problems: Problems): ProxyPort[] {
  if (proxy.ports.length > 0) return proxy.ports;
  if (proxy.service === undefined) return [];
  const service = world.service(serviceFqdn(proxy.service, proxy.namespace));
  const instance = ownInstance(world, proxy);
  if (service === undefined || instance === undefined) {
    problems.add(
      `proxy ${proxy.id}: no registered instance of ${proxy.service} at ${proxy.workloadAddress ?? "?"}; no inbound listeners`,
    );
    return [];
  }
  const out: ProxyPort[] = [];
  for (const port of service.ports) {
    const ip = instancePort(instance, port);
    if (ip?.sidecarPort === undefined) continue;
    // The listener binds where the registry says others reach the instance (its address), not at the proxy's
    // first INSTANCE_IPS: a sidecar registered at 127.0.0.1 on a host with a LAN address listened on the LAN
    // address, and every call to the registered address was refused.
    out.push({
      name: port.name,
      appPort: ip.appPort,
      sidecarPort: ip.sidecarPort,
      protocol: port.protocol,
      bind: instance.address,
    });
  }
  return out;
}

export function inboundResources(
  ports: readonly ProxyPort[],
  proxy: ProxyIdentity,
  problems: Problems,
  /** MeshConfig.protocolDetectionTimeout (ms; 0 none), for ports whose protocol is detected (sniffing.ts). */
  detectionTimeoutMs = 0,
): InboundResources {
  const result: InboundResources = { listeners: [], clusters: [] };
  const listenerPorts = new Set<number>();
  /** appPort → the application address its cluster reaches (one cluster per application port, as named). */
  const appPorts = new Map<number, string>();
  const address = proxy.workloadAddress ?? "0.0.0.0";
  for (const port of ports) {
    if (listenerPorts.has(port.sidecarPort)) {
      problems.add(`proxy ${proxy.id}: inbound port ${port.sidecarPort} is declared twice; the first is kept`);
      continue;
    }
    const appAddress = port.appAddress ?? "127.0.0.1";
    const clusterAddress = appPorts.get(port.appPort);
    if (clusterAddress !== undefined && clusterAddress !== appAddress) {
      problems.add(
        `proxy ${proxy.id}: inbound port ${port.sidecarPort} forwards to ${appAddress}:${port.appPort}, but port ` +
          `${port.appPort} already forwards to ${clusterAddress}; left out`,
      );
      continue;
    }
    listenerPorts.add(port.sidecarPort);
    const cluster = inboundClusterName(port.appPort);
    const name = inboundListenerName(port.sidecarPort);
    const bind = port.bind ?? address;
    const hcm = (): Json => httpConnectionManager(`inbound_${port.appPort}`, inboundRoute(port.appPort), []);
    if (isSniffedProtocol(port.protocol)) {
      // Istio's inbound chains for an undeclared port: plaintext HTTP to the connection manager, the rest tcp_proxy.
      const tcp = tcpProxy(cluster, { cluster });
      result.listeners.push(sniffingListener(name, bind, port.sidecarPort, hcm(), tcp, detectionTimeoutMs));
    } else {
      const filter = isHttpProtocol(port.protocol) ? hcm() : tcpProxy(cluster, { cluster });
      result.listeners.push(listener(name, bind, port.sidecarPort, filter));
    }
    if (clusterAddress !== undefined) continue;
    appPorts.set(port.appPort, appAddress);
    result.clusters.push(inboundCluster(port, appAddress, problems));
  }
  return result;
}

function inboundRoute(appPort: number): Json {
  const cluster = inboundClusterName(appPort);
  return {
    name: inboundRouteName(appPort),
    virtual_hosts: [
      {
        name: `inbound|http|${appPort}`,
        domains: ["*"],
        routes: [{ name: "default", match: { prefix: "/" }, route: { cluster, timeout: duration(0) } }],
      },
    ],
  };
}

function inboundCluster(port: ProxyPort, appAddress: string, problems: Problems): Json {
  const name = inboundClusterName(port.appPort);
  const cluster: Json = {
    name,
    type: "STATIC",
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(appAddress, port.appPort) } }] }],
    },
  };
  if (port.connectionPool !== undefined) {
    // A Sidecar's connection pool (ingress, else inboundConnectionPool) applies as a DestinationRule's does.
    applyConnectionPool(cluster, port.protocol, port.connectionPool, `cluster ${name}`, problems);
    return cluster;
  }
  // Without one Envoy's defaults apply (no circuit breakers written), as in Istio; HTTP/2 ports speak HTTP/2.
  cluster.connect_timeout = duration(DEFAULT_CONNECT_TIMEOUT_MS);
  if (isHttp2Protocol(port.protocol)) {
    cluster.typed_extension_protocol_options = {
      [HTTP_PROTOCOL_OPTIONS_KEY]: {
        "@type": HTTP_PROTOCOL_OPTIONS_TYPE,
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  } else if (isSniffedProtocol(port.protocol)) {
    // A sniffed h2c request goes on as HTTP/2, an HTTP/1.1 one as HTTP/1.1 (Istio's setUseDownstreamProtocol).
    cluster.typed_extension_protocol_options = {
      [HTTP_PROTOCOL_OPTIONS_KEY]: { "@type": HTTP_PROTOCOL_OPTIONS_TYPE, ...useDownstreamProtocol() },
    };
  }
  return cluster;
}
