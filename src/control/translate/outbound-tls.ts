// Outbound TLS passthrough (Istio's buildSidecarOutboundTLSFilterChainOpts, pilot/pkg/networking/core/tls.go): the
// services with a TLS or HTTPS port share that port's outbound-tcp-<port> listener, which gets tls_inspector and
// one filter chain per VirtualService tls match that applies (server_names = its sniHosts) → tcp_proxy to the
// route's cluster(s). A service with no such match gets Istio's default for a listener not bound to the service's
// own VIP: a chain for its own host name as SNI, to its tcp route's target or else its own cluster. The proxy never
// terminates TLS. When one service alone has the port, the listener is as good as bound to it (what Istio's
// listener on the service's VIP does): a connection without SNI, or with one no chain names, goes to that service
// by default_filter_chain. With several services sharing the port there is no original destination to fall back
// to, so such a connection is closed.

import type { TLSMatchAttributes, TLSRoute, VirtualService } from "../../api/resources/types.ts";
import type { DestinationContext } from "./destinations.ts";
import type { Json } from "./envoy.ts";
import { tcpProxy } from "./envoy.ts";
import { l4Applies, routeTarget, tcpRouteFor, type TcpTarget } from "./outbound-tcp-routes.ts";
import { resolveHost } from "./hosts.ts";
import { outboundClusterName } from "./names.ts";
import type { Problems } from "./problems.ts";
import { World } from "./world-index.ts";

/** "10.0.0.0/8" (or one address) as Envoy's CidrRange. */
export function prefixRange(cidr: string): Json {
  const [ip, bits] = cidr.split("/");
  const full = ip!.includes(":") ? 128 : 32;
  return { address_prefix: ip, prefix_len: bits === undefined ? full : Number(bits) };
}

const TLS_PROTOCOLS = new Set(["TLS", "HTTPS"]);

/** Ports whose clients speak TLS end to end: routed by SNI, never terminated. */
export function isTlsProtocol(protocol: string): boolean {
  return TLS_PROTOCOLS.has(protocol.toUpperCase());
}

export function tlsInspector(): Json {
  return {
    name: "envoy.filters.listener.tls_inspector",
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector" },
  };
}

/** The filter chains of one TLS port's listener, service by service; server names are never given twice. */
export class TlsPortChains {
  readonly chains: Json[] = [];
  /** Server names already routed ("" = any), so a later rule cannot overlap an earlier one (Envoy refuses that). */
  private readonly claimed = new Set<string>();
  /** VirtualService tls matches already turned into chains (one VirtualService may bind several services here). */
  private readonly handled = new Set<string>();
  /** Per service added, where a connection to it goes without a matching SNI (its tcp route, else its cluster). */
  private readonly fallbacks: { stat: string; target: TcpTarget }[] = [];

  constructor(
    readonly port: number,
    private readonly problems: Problems,
  ) {}

  /** Adds `ctx.service`'s chains: its VirtualService's tls matches, else its own host name as SNI. */
  add(ctx: DestinationContext, vs: VirtualService | undefined): void {
    const service = ctx.service!;
    const stat = outboundClusterName(this.port, undefined, service.hostname);
    let matched = false;
    const where = vs === undefined ? "" : `VirtualService ${World.nameOf(vs)} tls`;
    (vs?.spec.tls ?? []).forEach((route: TLSRoute, r) => {
      if ((route.route ?? []).length === 0) return;
      (route.match ?? []).forEach((m: TLSMatchAttributes, i) => {
        if (!l4Applies(m, vs!, ctx, "tls")) return;
        // A match limited to destinationSubnets leaves the service's other destinations to its own chain.
        if ((m.destinationSubnets ?? []).length === 0) matched = true;
        const key = `${World.nameOf(vs!)}|${r}|${i}`;
        if (this.handled.has(key)) return;
        this.handled.add(key);
        const target = routeTarget(route.route, ctx, where) ?? { cluster: stat };
        // Istio's stat prefix: the destination's cluster, or "<name>.<namespace>" of the VirtualService for a split.
        const prefix = "cluster" in target ? target.cluster : `${vs!.metadata.name}.${vs!.metadata.namespace}`;
        // Short names resolve in the VirtualService's namespace, as Istio's resolveVirtualServiceShortnames does.
        const sniHosts = m.sniHosts.map((h) => resolveHost(h, vs!.metadata.namespace));
        // destinationSubnets applies only for capture-mode proxies (l4Applies): the chain also matches them.
        this.addChain(sniHosts, target, prefix, `${where}[${r}].match[${i}]`, m.destinationSubnets ?? []);
      });
    });
    const tcp = vs === undefined ? undefined : tcpRouteFor(vs, ctx);
    const target = (tcp && routeTarget(tcp.route, ctx, `VirtualService ${World.nameOf(vs!)} tcp`)) ?? { cluster: stat };
    this.fallbacks.push({ stat, target });
    if (matched) return;
    this.addChain([service.hostname], target, stat, `service ${service.hostname}`);
  }

  /** The port's only service, for connections no chain names; none when services share the port. */
  defaultChain(): Json | undefined {
    if (this.fallbacks.length !== 1) return undefined;
    const { stat, target } = this.fallbacks[0]!;
    return { filters: [tcpProxy(stat, target)] };
  }

  /** `sniHosts`: lower-case FQDNs or wildcards. */
  private addChain(
    sniHosts: readonly string[],
    target: TcpTarget,
    stat: string,
    where: string,
    subnets: readonly string[] = [],
  ): void {
    // sniHosts "*" matches any name: a chain without server_names (Envoy has no bare "*" server name).
    const names = sniHosts.includes("*") ? [""] : [...new Set(sniHosts)];
    const scope = subnets.length === 0 ? "" : `${[...subnets].sort().join(",")}|`;
    const taken = names.filter((n) => this.claimed.has(scope + n));
    if (taken.length > 0) {
      const shown = taken.map((n) => (n === "" ? "*" : n)).join(", ");
      const left = taken.length === names.length ? "left out" : "left out for those names";
      this.problems.add(`${where}: SNI ${shown} on port ${this.port} is already routed by an earlier rule; ${left}`);
    }
    const fresh = names.filter((n) => !this.claimed.has(scope + n));
    if (fresh.length === 0) return;
    for (const n of fresh) this.claimed.add(scope + n);
    const match: Json = fresh[0] === "" ? {} : { server_names: fresh };
    if (subnets.length > 0) match.prefix_ranges = subnets.map(prefixRange);
    const chain: Json = Object.keys(match).length === 0 ? {} : { filter_chain_match: match };
    this.chains.push({ ...chain, filters: [tcpProxy(stat, target)] });
  }
}
