// VirtualService L4 routes on the outbound side, shared by tcp and tls routes: which match applies to this proxy
// and port, and what a route's destinations become for tcp_proxy (one cluster, or weighted clusters).

import type { L4MatchAttributes, RouteDestination, TCPRoute, VirtualService } from "../../api/resources/types.ts";
import type { DestinationContext } from "./destinations.ts";
import { resolveDestination } from "./destinations.ts";
import type { tcpProxy } from "./envoy.ts";
import { gatewaysApply } from "./http-match.ts";
import { labelsMatch } from "./labels.ts";
import { isCaptureMode } from "./proxy-identity.ts";
import { World } from "./world-index.ts";

export type TcpTarget = Parameters<typeof tcpProxy>[1];

/** The first tcp route with destinations whose match (or absence of one) applies. */
export function tcpRouteFor(vs: VirtualService, ctx: DestinationContext): TCPRoute | undefined {
  for (const route of vs.spec.tcp ?? []) {
    const matches = route.match ?? [];
    if ((route.route ?? []).length === 0) continue;
    if (matches.length === 0 || matches.some((m) => l4Applies(m, vs, ctx, "tcp"))) return route;
  }
  return undefined;
}

/**
 * Istio's l4MultiMatch: port, sourceLabels, sourceNamespace, gateways (mesh). destinationSubnets is reported for
 * explicit-mode proxies (it needs the original destination).
 */
export function l4Applies(
  m: L4MatchAttributes,
  vs: VirtualService,
  ctx: DestinationContext,
  kind: "tcp" | "tls",
): boolean {
  if (m.port !== undefined && m.port !== ctx.port) return false;
  if (!labelsMatch(m.sourceLabels ?? {}, ctx.proxy.labels)) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== ctx.proxy.namespace) return false;
  const scope = ctx.gateway === undefined ? undefined : { gateway: ctx.gateway, namespace: vs.metadata.namespace };
  if (!gatewaysApply(m.gateways ?? [], scope)) return false;
  if ((m.destinationSubnets ?? []).length > 0) {
    // Capture mode knows each connection's original destination: the caller turns the subnets into prefix_ranges
    // (a tls match's chain here; tcp routes' chains in capture-outbound.ts, which asks without the subnets).
    if (isCaptureMode(ctx.proxy)) return kind === "tls";
    ctx.problems.add(
      `VirtualService ${World.nameOf(vs)}: ${kind} match destinationSubnets is not supported; match skipped`,
    );
    return false;
  }
  return true;
}

/**
 * A route's destinations as a tcp_proxy target: weight 0 left out, a single destination gets 100; undefined when
 * every weight is 0 (the caller keeps the service's own cluster).
 */
export function routeTarget(
  route: readonly RouteDestination[],
  ctx: DestinationContext,
  where: string,
): TcpTarget | undefined {
  const dests = route.filter((d) => route.length === 1 || (d.weight ?? 0) > 0);
  const resolved = dests.map((d) => ({
    name: resolveDestination(d.destination, ctx, where).cluster,
    weight: route.length === 1 ? 100 : (d.weight ?? 0),
  }));
  if (resolved.length === 1) return { cluster: resolved[0]!.name };
  return resolved.length > 1 ? { weighted: resolved } : undefined;
}
