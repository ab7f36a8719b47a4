// The route configuration outbound-http: one virtual host per reachable HTTP service port (named <fqdn>:<port>)
// with the service's names as domains, its VirtualService's routes (or a default route), then a catch-all
// virtual host for unknown hosts: PassthroughCluster (ALLOW_ANY) or a 502 (REGISTRY_ONLY).

import type { Destination, VirtualService } from "../../api/resources/types.ts";
import { httpRoutes } from "./http-route.ts";
import type { DestinationContext } from "./destinations.ts";
import { resolveDestination } from "./destinations.ts";
import type { Json } from "./envoy.ts";
import { duration } from "./envoy.ts";
import { CLUSTER_DOMAIN } from "./world.ts";
import type { ServiceModel, ServicePortModel } from "./world.ts";
import { isHttpProtocol, OUTBOUND_HTTP, PASSTHROUGH_CLUSTER, virtualHostName } from "./names.ts";
import { retryPolicy } from "./retries.ts";
import type { OutboundTrafficPolicyMode } from "./world-index.ts";
import { World } from "./world-index.ts";

export function outboundRouteConfiguration(
  services: readonly ServiceModel[],
  base: RouteBase,
  mode: OutboundTrafficPolicyMode,
  egressProxy?: EgressProxy,
): Json {
  const { proxy, problems } = base;
  const claimed = new Set<string>();
  const virtualHosts: Json[] = [];
  for (const service of services) {
    const httpPorts = service.ports.filter((p) => isHttpProtocol(p.protocol));
    if (httpPorts.length === 0) continue;
    const portless = httpPorts.find((p) => p.number === 80) ?? httpPorts[0]!;
    const vs = virtualServiceFor(service, base);
    for (const port of httpPorts) {
      const name = virtualHostName(service.hostname, port.number);
      const domains = domainsOf(service, port, port === portless, proxy.namespace).filter((d) => {
        if (!claimed.has(d)) {
          claimed.add(d);
          return true;
        }
        problems.add(`virtual host ${name}: domain ${d} already belongs to another virtual host; left out`);
        return false;
      });
      if (domains.length === 0) continue;
      virtualHosts.push({ name, domains, routes: portRoutes(service, port, vs, base) });
    }
  }
  // ALLOW_ANY forwards to the request's own host (passthrough.ts): one naming this listener would come back to it
  // and be forwarded again, without end. Such requests are refused (only the loopback names reach the listener).
  if (mode === "ALLOW_ANY" && egressProxy === undefined) {
    const own = [`127.0.0.1:${proxy.outboundPort}`, `localhost:${proxy.outboundPort}`].filter((d) => !claimed.has(d));
    if (own.length > 0) virtualHosts.push(passthroughLoop(own));
  }
  virtualHosts.push(catchAll(mode, egressProxy === undefined ? undefined : egressCluster(egressProxy, base)));
  return { name: OUTBOUND_HTTP, virtual_hosts: virtualHosts };
}

type RouteBase = Omit<DestinationContext, "namespace" | "port" | "service">;

/** The VirtualService that routes the service for this proxy: the first one; the others are reported. */
export function virtualServiceFor(service: ServiceModel, base: RouteBase): VirtualService | undefined {
  const vsList = base.world.virtualServicesFor(service.hostname, base.proxy.namespace);
  for (const other of vsList.slice(1)) {
    base.problems.add(
      `VirtualService ${World.nameOf(other.resource)}: host ${service.hostname} is already routed by ` +
        `VirtualService ${World.nameOf(vsList[0]!.resource)}; ignored for it`,
    );
  }
  const vs = vsList[0]?.resource;
  if (vs !== undefined) for (const problem of base.world.delegationProblemsOf(vs)) base.problems.add(problem);
  return vs;
}

/** The routes of one service port: its VirtualService's http routes, or the default route. */
export function portRoutes(
  service: ServiceModel,
  port: ServicePortModel,
  vs: VirtualService | undefined,
  base: RouteBase,
): Json[] {
  if (vs !== undefined) {
    const ctx: DestinationContext = { ...base, namespace: vs.metadata.namespace, service, port: port.number };
    return (vs.spec.http ?? []).flatMap((http, i) => httpRoutes(http, i, vs, ctx));
  }
  const ctx: DestinationContext = { ...base, namespace: service.namespace, service, port: port.number };
  return [defaultRoute(service, port, ctx)];
}

/**
 * The names a service port answers to, as Istio's generateVirtualHostDomains gives them: the host; for a host
 * under svc.cluster.local, name.ns and name.ns.svc, and in the proxy's own namespace the short name too (Istio's
 * GenerateAltVirtualHosts); the service's addresses (VIPs, IPv6 in brackets). Each with ":<port>", and also without
 * it only on the service's port-80 (else first) HTTP port: Trellis routes every port in one route configuration,
 * so a port-less name can belong to one port only.
 */
export function domainsOf(
  service: ServiceModel,
  port: ServicePortModel,
  portless: boolean,
  namespace: string,
): string[] {
  const host = service.hostname.toLowerCase();
  const names = [host, ...altHosts(host, namespace)];
  for (const address of service.addresses ?? []) names.push(address.includes(":") ? `[${address}]` : address);
  return names.flatMap((n) => (portless ? [n, `${n}:${port.number}`] : [`${n}:${port.number}`]));
}

/** name.ns.svc and name.ns for <name>.<ns>.svc.cluster.local, and name when ns is the proxy's namespace. */
function altHosts(host: string, proxyNamespace: string): string[] {
  const suffix = `.${CLUSTER_DOMAIN}`;
  if (!host.endsWith(suffix)) return [];
  const withoutSuffix = host.slice(0, -suffix.length); // name.ns
  const dot = withoutSuffix.indexOf(".");
  if (dot <= 0 || dot === withoutSuffix.length - 1) return [];
  const short = withoutSuffix.slice(0, dot);
  const ns = withoutSuffix.slice(dot + 1);
  const out = ns === proxyNamespace ? [short] : [];
  out.push(`${withoutSuffix}.svc`, withoutSuffix);
  return out;
}

/** A host without a VirtualService: everything to the service port's cluster, with Istio's default retries. */
function defaultRoute(service: ServiceModel, port: ServicePortModel, ctx: DestinationContext): Json {
  const where = `service ${service.hostname}:${port.number}`;
  const dest = resolveDestination({ host: service.hostname, port: { number: port.number } }, ctx, where);
  const action: Json = { cluster: dest.cluster, timeout: duration(0) };
  if (dest.hashPolicy !== undefined) action.hash_policy = dest.hashPolicy;
  action.retry_policy = retryPolicy(undefined, where, ctx.problems);
  return { name: "default", match: { prefix: "/" }, route: action };
}

/**
 * A Sidecar's outboundTrafficPolicy.egressProxy: ALLOW_ANY traffic for hosts the mesh does not know goes to that
 * destination's cluster instead of PassthroughCluster (Istio's allow_any virtual host does the same). Short names
 * resolve in the proxy's namespace, the Sidecar's own.
 */
export function egressCluster({ destination, where }: EgressProxy, base: RouteBase): string {
  const ctx: DestinationContext = { ...base, namespace: base.proxy.namespace, port: destination.port?.number ?? 0 };
  return resolveDestination(destination, ctx, `${where} outboundTrafficPolicy.egressProxy`).cluster;
}

/** The egress proxy's destination and the Sidecar that names it ("Sidecar ns/name", for problems). */
export interface EgressProxy {
  destination: Destination;
  where: string;
}

function passthroughLoop(domains: string[]): Json {
  const body = "the sidecar's outbound listener is not a destination: set the Host of the service you call\n";
  return {
    name: "passthrough_loop",
    domains,
    routes: [
      {
        name: "passthrough_loop",
        match: { prefix: "/" },
        direct_response: { status: 502, body: { inline_string: body } },
      },
    ],
  };
}

function catchAll(mode: OutboundTrafficPolicyMode, egressCluster?: string): Json {
  if (mode === "REGISTRY_ONLY") {
    return {
      name: "block_all",
      domains: ["*"],
      routes: [{ name: "block_all", match: { prefix: "/" }, direct_response: { status: 502 } }],
    };
  }
  return {
    name: "allow_any",
    domains: ["*"],
    routes: [
      {
        name: "allow_any",
        match: { prefix: "/" },
        route: { cluster: egressCluster ?? PASSTHROUGH_CLUSTER, timeout: duration(0) },
      },
    ],
  };
}
