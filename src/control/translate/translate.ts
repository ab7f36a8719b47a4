// translate(world, proxy): the per-proxy Envoy configuration, as a pure function of its two arguments. It never
// throws on a bad world: what cannot be translated is left out and described in `problems`. Output order is
// deterministic (sorted by name) so snapshots hash the same for the same inputs.

import { accessLogJson, addAccessLogs } from "./access-log.ts";
import type { Json } from "./envoy.ts";
import { CORS_NAME, CORS_TYPE, duration, FAULT_NAME, FAULT_TYPE, httpConnectionManager, listener } from "./envoy.ts";
import { translateGateway } from "./gateway.ts";
import { inboundPorts, inboundResources } from "./inbound.ts";
import { BLACKHOLE_CLUSTER, isHttpProtocol, OUTBOUND_HTTP, PASSTHROUGH_CLUSTER } from "./names.ts";
import { dynamicForwardProxyCluster, dynamicForwardProxyFilter } from "./passthrough.ts";
import { egressCluster, outboundRouteConfiguration } from "./outbound-routes.ts";
import { outboundTcpListeners } from "./outbound-tcp.ts";
import { CONNECT_UPGRADE, httpTunnelCluster } from "./outbound-connect.ts";
import { Problems, type Problem } from "./problems.ts";
import { proxylessResources } from "./proxyless.ts";
import { isCaptureMode, type ProxyIdentity } from "./proxy-identity.ts";
import { captureOutbound } from "./capture-outbound.ts";
import { captureInbound } from "./capture-inbound.ts";
import { nameTable } from "./name-table.ts";
import { reachableServices } from "./scope.ts";
import { serviceClusters } from "./service-clusters.ts";
import { sidecarIngressPorts } from "./sidecar-ingress.ts";
import type { World } from "./world-index.ts";
import type { ServiceModel } from "./world.ts";
import { runOutboundListeners } from "./run-outbound.ts";

export interface TranslationResult {
  /** Envoy v3 Listener JSON. */
  listeners: Json[];
  /** Envoy v3 RouteConfiguration JSON. */
  routes: Json[];
  /** Envoy v3 Cluster JSON. */
  clusters: Json[];
  /** Envoy v3 ClusterLoadAssignment JSON, one per EDS cluster. */
  endpoints: Json[];
  /** What was left out or approximated, one sentence each. */
  problems: string[];
  /** The same problems, structured (resource, field path, code): what apply, analyze and proxy-status show. */
  issues: Problem[];
  /** Capture-mode sidecars only: Istio's NameTable (NDS), the hosts its DNS proxy answers (name-table.ts). */
  nameTable?: Json;
}

/** What a proxy gets for its own workload: listeners (each with its routes inline) and clusters. */
export interface InboundTranslation {
  listeners: Json[];
  clusters: Json[];
  problems: string[];
  issues: Problem[];
}

export function translate(world: World, proxy: ProxyIdentity): TranslationResult {
  const outbound = translateOutbound(world, proxy);
  const inbound = translateInbound(world, proxy);
  const problems = new Problems();
  problems.addAll(outbound.issues);
  problems.addAll(inbound.issues);
  return {
    listeners: byName([...outbound.listeners, ...inbound.listeners], "name"),
    routes: outbound.routes,
    clusters: byName([...outbound.clusters, ...inbound.clusters], "name"),
    endpoints: outbound.endpoints,
    problems: problems.list,
    issues: problems.items,
    ...(outbound.nameTable !== undefined && { nameTable: outbound.nameTable }),
  };
}

/**
 * Everything the proxy reaches: outbound listeners, routes, clusters and endpoints. It depends on the proxy only
 * through `world.outboundKey(proxy)` (namespace, outbound ports, which of the world's label selectors select it), so
 * proxies with one key can share one result — the control plane translates once per key, not once per proxy.
 */
export function translateOutbound(world: World, proxy: ProxyIdentity): TranslationResult {
  const problems = new Problems();
  const capture = isCaptureMode(proxy);
  problems.addAll(capture ? world.captureProblems : world.problems);
  const sidecar = world.sidecarFor(proxy);
  const mode = sidecar?.spec.outboundTrafficPolicy?.mode ?? world.outboundTrafficPolicy;
  // Resolution NONE needs each connection's original destination: capture mode has it (capture-outbound.ts).
  const services = reachableServices(world, proxy, sidecar, problems).filter((s) => capture || s.resolution !== "NONE");
  const reachable = new Set(services.map((s) => s.hostname));
  const base = { world, proxy, problems, reachable };
  if (proxy.router === true) {
    // An edge proxy (`trellis gateway`): the listeners of the Gateways that select it (gateway.ts).
    const out = translateGateway(world, proxy, problems);
    return {
      listeners: byName(out.listeners, "name"),
      routes: byName(out.routes, "name"),
      clusters: byName(out.clusters, "name"),
      endpoints: byName(out.endpoints, "cluster_name"),
      problems: problems.list,
      issues: problems.items,
    };
  }
  if (proxy.proxyless === true) {
    // A gRPC client: no listeners to bind, no inbound side; only what its channels resolve (proxyless.ts).
    const out = proxylessResources(services, base);
    return {
      listeners: byName(out.listeners, "name"),
      routes: byName(out.routes, "name"),
      clusters: byName(out.clusters, "name"),
      endpoints: byName(out.endpoints, "cluster_name"),
      problems: problems.list,
      issues: problems.items,
    };
  }

  const clusters: Json[] = [];
  const endpoints: Json[] = [];
  for (const service of services) {
    for (const c of serviceClusters(service, base)) {
      clusters.push(c.cluster);
      if (c.endpoints !== undefined) endpoints.push(c.endpoints);
    }
  }
  const egressDestination = mode === "ALLOW_ANY" ? sidecar?.spec.outboundTrafficPolicy?.egressProxy : undefined;
  const egressProxy =
    egressDestination === undefined
      ? undefined
      : { destination: egressDestination, where: `Sidecar ${sidecar!.metadata.namespace}/${sidecar!.metadata.name}` };
  if (capture) {
    const egress =
      egressProxy === undefined ? undefined : { proxy: egressProxy, cluster: egressCluster(egressProxy, base) };
    const out = captureOutbound(services, base, mode, egress);
    const listeners = addAccessLogs(out.listeners, accessLogJson(world.accessLogs));
    return {
      listeners: byName(listeners, "name"),
      routes: byName(out.routes, "name"),
      clusters: byName([...clusters, ...out.clusters], "name"),
      endpoints: byName(endpoints, "cluster_name"),
      problems: problems.list,
      issues: problems.items,
      nameTable: nameTable(world, services),
    };
  }
  // ALLOW_ANY without an egress proxy: HTTP to unknown hosts goes to the request's own host (passthrough.ts).
  const forwardProxy = mode === "ALLOW_ANY" && egressProxy === undefined;
  clusters.push(emptyStaticCluster(BLACKHOLE_CLUSTER));
  clusters.push(
    forwardProxy ? dynamicForwardProxyCluster(PASSTHROUGH_CLUSTER) : emptyStaticCluster(PASSTHROUGH_CLUSTER),
  );
  if (forwardProxy) {
    problems.add(
      "ALLOW_ANY: TCP connections to hosts outside the mesh are not passed through (that comes with traffic " +
        "capture); HTTP requests are, by their Host (PassthroughCluster, a dynamic forward proxy)",
      { note: true },
    );
  }

  const routes: Json[] = [outboundRouteConfiguration(services, base, mode, egressProxy)];
  // A workload calling through HTTP_PROXY: the listener takes CONNECT (outbound-connect.ts).
  const connect = proxy.httpProxy === true;
  if (connect) clusters.push(httpTunnelCluster(proxy));
  const hcm = httpConnectionManager("outbound_http", OUTBOUND_HTTP, [
    // Always present, configured per route: Istio's layout for VirtualService CORS and fault injection.
    { name: CORS_NAME, typed_config: { "@type": CORS_TYPE } },
    { name: FAULT_NAME, typed_config: { "@type": FAULT_TYPE } },
    ...(forwardProxy || services.some(forwardsByHost) ? [dynamicForwardProxyFilter()] : []),
  ]);
  if (connect) (hcm.typed_config as Json).upgrade_configs = [CONNECT_UPGRADE];
  const listeners: Json[] = [
    listener(OUTBOUND_HTTP, "127.0.0.1", proxy.outboundPort, hcm),
    // A proxy that binds its TCP destinations itself (`trellis run --outbound`) gets none by port number.
    ...(proxy.tcpOutboundListeners === false ? [] : outboundTcpListeners(services, base)),
    // `trellis run --outbound`: its local ports, routed by the services' tcp routes (run-outbound.ts).
    ...runOutboundListeners(services, base, proxy.runOutbounds ?? []),
  ];

  addAccessLogs(listeners, accessLogJson(world.accessLogs));
  return {
    listeners: byName(listeners, "name"),
    routes: byName(routes, "name"),
    clusters: byName(clusters, "name"),
    endpoints: byName(endpoints, "cluster_name"),
    problems: problems.list,
    issues: problems.items,
  };
}

/** A DYNAMIC_DNS service with an HTTP port: its clusters are dynamic forward proxies, resolved by the listener's filter. */
function forwardsByHost(service: ServiceModel): boolean {
  return service.resolution === "DYNAMIC_DNS" && service.ports.some((p) => isHttpProtocol(p.protocol));
}

/** The proxy's own workload: per port an inbound listener and cluster. Nothing for a proxyless client. */
export function translateInbound(world: World, proxy: ProxyIdentity): InboundTranslation {
  const problems = new Problems();
  // A proxyless client has no inbound side; a gateway's is its Gateways' listeners (translateOutbound).
  if (proxy.proxyless === true || proxy.router === true)
    return { listeners: [], clusters: [], problems: [], issues: [] };
  if (proxy.interceptionMode === "TPROXY") {
    problems.add(
      `proxy ${proxy.id}: INTERCEPTION_MODE TPROXY is not supported (REDIRECT is); it gets explicit mode's listeners`,
    );
  }
  if (isCaptureMode(proxy)) {
    const inbound = captureInbound(world, proxy, problems);
    const listeners = addAccessLogs(inbound.listeners, accessLogJson(world.accessLogs));
    return { listeners, clusters: inbound.clusters, problems: problems.list, issues: problems.items };
  }
  // A Sidecar's ingress listeners, when it has any, replace the ports the proxy or the registry declare.
  const sidecar = world.sidecarFor(proxy);
  const ports =
    sidecar !== undefined && sidecar.spec.ingress.length > 0
      ? sidecarIngressPorts(sidecar, proxy, problems)
      : inboundPorts(world, proxy, problems);
  const inbound = inboundResources(ports, proxy, problems, world.protocolDetectionTimeoutMs);
  const listeners = addAccessLogs(inbound.listeners, accessLogJson(world.accessLogs));
  return { listeners, clusters: inbound.clusters, problems: problems.list, issues: problems.items };
}

/** BlackHoleCluster and PassthroughCluster: STATIC with no endpoints (a request there fails with 503). */
function emptyStaticCluster(name: string): Json {
  return {
    name,
    type: "STATIC",
    connect_timeout: duration(10_000),
    load_assignment: { cluster_name: name, endpoints: [] },
  };
}

function byName(list: Json[], key: string): Json[] {
  return [...list].sort((a, b) => String(a[key]).localeCompare(String(b[key])));
}
