// A route destination (host, subset, port) → the cluster it names, and the hash policy its DestinationRule asks
// for. Dangling references are reported but kept, as Istio keeps them: the request then fails at the proxy (no
// cluster) instead of silently going somewhere else.

import type { Destination, LoadBalancerSettings } from "../../api/resources/types.ts";
import type { Json } from "./envoy.ts";
import { duration } from "./envoy.ts";
import { resolveHost } from "./hosts.ts";
import { outboundClusterName } from "./names.ts";
import type { Problems } from "./problems.ts";
import type { ProxyIdentity } from "./proxy-identity.ts";
import { effectivePolicy } from "./traffic-policy.ts";
import type { World } from "./world-index.ts";
import type { ServiceModel, ServicePortModel } from "./world.ts";

export interface DestinationContext {
  world: World;
  proxy: ProxyIdentity;
  problems: Problems;
  /** Hostnames this proxy has clusters for (after Sidecar scoping). */
  reachable: ReadonlySet<string>;
  /** The namespace short destination hosts resolve in (the VirtualService's). */
  namespace: string;
  /** The service port being routed (the virtual host's), the default when a destination names no port. */
  service?: ServiceModel;
  port: number;
  /** Translating a gateway server's routes: the Gateway's "namespace/name" (match `gateways` are read against it). */
  gateway?: string;
}

export interface ResolvedDestination {
  cluster: string;
  /** hash_policy from the destination's consistentHash load balancer, if any. */
  hashPolicy: Json[] | undefined;
}

export function resolveDestination(dest: Destination, ctx: DestinationContext, where: string): ResolvedDestination {
  const host = resolveHost(dest.host, ctx.namespace);
  const service = ctx.world.service(host);
  let port = dest.port?.number;
  if (service === undefined) {
    ctx.problems.add(`${where}: destination host ${host} matches no service`);
    return { cluster: outboundClusterName(port ?? ctx.port, dest.subset, host), hashPolicy: undefined };
  }
  if (!ctx.reachable.has(service.hostname)) {
    ctx.problems.add(`${where}: destination host ${host} is not reachable from this proxy (exportTo or Sidecar)`);
  }
  if (port === undefined) port = defaultPort(service, ctx, where);
  else if (!service.ports.some((p) => p.number === port)) {
    ctx.problems.add(`${where}: destination port ${port} is not a port of ${host}`);
  }
  const rule = ctx.world.destinationRuleFor(host, ctx.proxy);
  if (dest.subset !== undefined && !(rule?.spec.subsets ?? []).some((s) => s.name === dest.subset)) {
    ctx.problems.add(`${where}: subset ${dest.subset} of ${host} is not defined by any DestinationRule`);
  }
  const policy = effectivePolicy(rule, port, dest.subset);
  return { cluster: outboundClusterName(port, dest.subset, host), hashPolicy: hashPolicy(policy.loadBalancer) };
}

/** The port of a destination written without one: the only port, else the port being routed if it has it. */
function defaultPort(service: ServiceModel, ctx: DestinationContext, where: string): number {
  const ports: ServicePortModel[] = service.ports;
  if (ports.length === 1) return ports[0]!.number;
  if (ports.some((p) => p.number === ctx.port)) return ctx.port;
  const first = ports[0]?.number ?? ctx.port;
  ctx.problems.add(`${where}: destination ${service.hostname} has several ports and names none; port ${first} used`);
  return first;
}

/** A consistentHash load balancer's key → Envoy's route hash_policy (the cluster gets RING_HASH or MAGLEV). */
export function hashPolicy(lb: LoadBalancerSettings | undefined): Json[] | undefined {
  const hash = lb?.consistentHash;
  if (hash === undefined) return undefined;
  if (hash.httpHeaderName !== undefined) return [{ header: { header_name: hash.httpHeaderName } }];
  if (hash.httpCookie !== undefined) {
    const cookie: Json = { name: hash.httpCookie.name };
    if (hash.httpCookie.path !== undefined) cookie.path = hash.httpCookie.path;
    if (hash.httpCookie.ttl !== undefined) cookie.ttl = duration(hash.httpCookie.ttl);
    return [{ cookie }];
  }
  if (hash.useSourceIp === true) return [{ connection_properties: { source_ip: true } }];
  if (hash.httpQueryParameterName !== undefined) return [{ query_parameter: { name: hash.httpQueryParameterName } }];
  return undefined;
}
