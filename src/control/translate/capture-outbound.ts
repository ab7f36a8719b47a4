// Outbound listeners and routes of a capture-mode sidecar (INTERCEPTION_MODE REDIRECT; docs/translation.md,
// "Capture mode"), as Istio's sidecar has them. iptables sends the application's outbound TCP to virtualOutbound
// (0.0.0.0:15001, use_original_dst): Envoy hands each connection to the listener that matches its original
// destination, none of which binds a port of its own (bind_to_port false):
//   - 0.0.0.0_<port> for HTTP service ports: one HTTP connection manager reading the route configuration "<port>",
//     one virtual host per service (its names and its VIPs, with and without ":<port>");
//   - <VIP>_<port> for TCP service ports: tcp_proxy to the service (or its VirtualService tcp route);
//   - on 0.0.0.0_<port> too, by prefix_ranges: ServiceEntry CIDR addresses and VirtualService destinationSubnets;
//     a TCP service with resolution NONE and no addresses takes the port's catch-all chain (original destination);
//   - TLS/HTTPS ports by SNI (tls_inspector, outbound-tls.ts's chains) where a VirtualService has tls routes, and
//     for resolution NONE hosts without addresses, which share 0.0.0.0_<port> by their names as in Istio.
// A connection no listener takes stays on virtualOutbound: PassthroughCluster (ALLOW_ANY, ORIGINAL_DST) or
// BlackHoleCluster (REGISTRY_ONLY: refused, counted by the cluster's stats).

import type { L4MatchAttributes, VirtualService } from "../../api/resources/types.ts";
import type { DestinationContext } from "./destinations.ts";
import type { Json } from "./envoy.ts";
import {
  CORS_NAME,
  CORS_TYPE,
  duration,
  FAULT_NAME,
  FAULT_TYPE,
  httpConnectionManager,
  socketAddress,
  tcpProxy,
} from "./envoy.ts";
import { BLACKHOLE_CLUSTER, isHttpProtocol, outboundClusterName, PASSTHROUGH_CLUSTER } from "./names.ts";
import { domainsOf, portRoutes, virtualServiceFor, type EgressProxy } from "./outbound-routes.ts";
import { l4Applies, routeTarget, type TcpTarget } from "./outbound-tcp-routes.ts";
import { isTlsProtocol, prefixRange, tlsInspector, TlsPortChains } from "./outbound-tls.ts";
import { dynamicForwardProxyFilter } from "./passthrough.ts";
import { isSniffedProtocol, sniffingChains, sniffingListenerFields } from "./sniffing.ts";
import type { OutboundTrafficPolicyMode } from "./world-index.ts";
import { World } from "./world-index.ts";
import { addServiceProblem, type ServiceModel, type ServicePortModel } from "./world.ts";

export const VIRTUAL_OUTBOUND = "virtualOutbound";
export const ORIGINAL_DST_LISTENER_FILTER = "envoy.filters.listener.original_dst";
export const ORIGINAL_DST_LISTENER_TYPE =
  "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst";
/** Istio's cluster for inbound connections to a port no chain declares. */
export const INBOUND_PASSTHROUGH_CLUSTER = "InboundPassthroughCluster";

type Base = Omit<DestinationContext, "namespace" | "port" | "service">;

export interface CaptureOutbound {
  listeners: Json[];
  routes: Json[];
  clusters: Json[];
}

/** The original_dst listener filter: at accept, the connection's local address becomes its original destination. */
export function originalDstListenerFilter(): Json {
  return { name: ORIGINAL_DST_LISTENER_FILTER, typed_config: { "@type": ORIGINAL_DST_LISTENER_TYPE } };
}

/** An ORIGINAL_DST cluster: each connection goes to the address it was dialled to. */
export function originalDstCluster(name: string): Json {
  return { name, type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED", connect_timeout: duration(10_000) };
}

/** `<address>_<port>`, Istio's listener name. */
export function captureListenerName(address: string, port: number): string {
  return `${address}_${port}`;
}

/** One filter chain of a 0.0.0.0_<port> or <VIP>_<port> listener. */
interface Chain {
  /** CIDRs (prefix_ranges); none: the listener's catch-all chain. */
  prefixes: string[];
  filter: Json;
  /** Who claimed it, for problems. */
  owner: string;
  /** A port with no declared protocol: the chain is sniffed (HTTP to the port's route configuration, else TCP). */
  sniffed?: boolean;
}

/** The chains of one listener, by port and address ("0.0.0.0" or a VIP). */
class CaptureListener {
  readonly chains: Chain[] = [];
  http = false;
  /** TLS services routed here by SNI (outbound-tls.ts): their chains, with tls_inspector on the listener. */
  tls: TlsPortChains | undefined;
  constructor(
    readonly address: string,
    readonly port: number,
  ) {}

  get name(): string {
    return captureListenerName(this.address, this.port);
  }

  /** Adds a chain unless one with the same match exists; returns the owner of the one kept. */
  add(chain: Chain): string | undefined {
    const key = [...chain.prefixes].sort().join(",");
    const taken = this.chains.find((c) => [...c.prefixes].sort().join(",") === key);
    if (taken !== undefined) return taken.owner;
    this.chains.push(chain);
    return undefined;
  }

  toJson(fallback: Json, detectionTimeoutMs: number): Json {
    const chains = this.chains.flatMap((c) => {
      const match: Json = c.prefixes.length > 0 ? { prefix_ranges: c.prefixes.map(prefixRange) } : {};
      // Istio's sniffing chains: plaintext HTTP to the connection manager of route "<port>", the rest tcp_proxy.
      if (c.sniffed === true) return sniffingChains(outboundHcm(this.name, this.port, false), c.filter, match);
      const chain: Json = { filters: [c.filter] };
      if (c.prefixes.length > 0) chain.filter_chain_match = match;
      return [chain];
    });
    const sni = this.tls?.chains ?? [];
    const sniffing = this.chains.some((c) => c.sniffed === true);
    const l: Json = {
      name: this.name,
      address: socketAddress(this.address, this.port),
      bind_to_port: false,
      ...(sni.length > 0 && { listener_filters: [tlsInspector()] }),
      ...(sniffing && sniffingListenerFields(detectionTimeoutMs)),
      filter_chains: [...chains, ...sni],
    };
    // Prefix or SNI chains alone: what they do not match goes to the port's one TLS service, else where
    // virtualOutbound would have sent it.
    const catchAll =
      this.chains.some((c) => c.prefixes.length === 0) || sni.some((c) => c.filter_chain_match === undefined);
    if (!catchAll) l.default_filter_chain = this.tls?.defaultChain() ?? fallback;
    return l;
  }
}

export function captureOutbound(
  services: readonly ServiceModel[],
  base: Base,
  mode: OutboundTrafficPolicyMode,
  egressProxy: { proxy: EgressProxy; cluster: string } | undefined,
): CaptureOutbound {
  const { world, proxy, problems } = base;
  const listeners = new Map<string, CaptureListener>();
  const listenerAt = (address: string, port: number): CaptureListener => {
    const name = captureListenerName(address, port);
    let l = listeners.get(name);
    if (l === undefined) listeners.set(name, (l = new CaptureListener(address, port)));
    return l;
  };
  /** Route configurations by port: their virtual hosts, and the domains already claimed. */
  const httpPorts = new Map<number, { virtualHosts: Json[]; claimed: Set<string>; dfp: boolean }>();

  for (const service of services) {
    const vips = world.vipsOf(service);
    const vs = virtualServiceFor(service, base);
    for (const [index, port] of service.ports.entries()) {
      if (port.number === proxy.outboundPort || port.number === 15006) {
        addServiceProblem(
          problems,
          service,
          `port ${port.number} is the capture port of capture-mode sidecars; no listener for it`,
          index,
        );
        continue;
      }
      if (port.protocol === "UDP") {
        addServiceProblem(problems, service, `UDP port ${port.number} is not supported; left out`, index);
        continue;
      }
      if (isHttpProtocol(port.protocol)) {
        httpVirtualHost(service, port, vips, vs, base, httpPorts);
        listenerAt("0.0.0.0", port.number).http = true;
        continue;
      }
      // DYNAMIC_DNS: HTTP ports only (world.ts reports the others).
      if (service.resolution === "DYNAMIC_DNS") continue;
      // No declared protocol: a virtual host in the port's route configuration, and sniffed TCP chains (sniffing.ts).
      const sniffed = isSniffedProtocol(port.protocol);
      if (sniffed) httpVirtualHost(service, port, vips, vs, base, httpPorts);
      tcpChains(service, index, port, vips, vs, base, listenerAt, sniffed);
    }
  }

  // A Sidecar's egressProxy takes what passes through, TCP too (Istio's outbound catch-all to the egress cluster).
  const passthrough = egressProxy?.cluster ?? (mode === "ALLOW_ANY" ? PASSTHROUGH_CLUSTER : BLACKHOLE_CLUSTER);
  const fallback = (name: string): Json => ({ name, filters: [tcpProxy(passthrough, { cluster: passthrough })] });
  const out: Json[] = [];
  for (const l of listeners.values()) {
    const hosts = l.http ? httpPorts.get(l.port) : undefined;
    if (hosts !== undefined) {
      const taken = l.chains.find((c) => c.prefixes.length === 0);
      if (taken !== undefined) {
        problems.add(
          `${taken.owner}: TCP port ${l.port} with resolution NONE would take every connection to port ${l.port}, ` +
            `which HTTP services use; left out for capture-mode proxies`,
        );
        l.chains.splice(l.chains.indexOf(taken), 1);
      }
      l.chains.push({ prefixes: [], owner: "HTTP", filter: outboundHcm(l.name, l.port, hosts.dfp) });
    }
    out.push(l.toJson(fallback(`${l.name}-passthrough`), world.protocolDetectionTimeoutMs));
  }
  out.push({
    name: VIRTUAL_OUTBOUND,
    address: socketAddress("0.0.0.0", proxy.outboundPort),
    use_original_dst: true,
    listener_filters: [originalDstListenerFilter()],
    filter_chains: [],
    default_filter_chain: fallback(`${VIRTUAL_OUTBOUND}-catchall-tcp`),
  });

  const routes = [...httpPorts.entries()].map(([port, { virtualHosts }]) => ({
    name: String(port),
    virtual_hosts: [...virtualHosts, catchAll(mode, egressProxy?.cluster)],
  }));
  return {
    listeners: out,
    routes,
    clusters: [
      {
        name: BLACKHOLE_CLUSTER,
        type: "STATIC",
        connect_timeout: duration(10_000),
        load_assignment: { cluster_name: BLACKHOLE_CLUSTER, endpoints: [] },
      },
      originalDstCluster(PASSTHROUGH_CLUSTER),
    ],
  };
}

/** The connection manager of an outbound HTTP (or sniffed) chain: route configuration "<port>", by Host. */
function outboundHcm(listenerName: string, port: number, dfp: boolean): Json {
  return httpConnectionManager(`outbound_${listenerName}`, String(port), [
    { name: CORS_NAME, typed_config: { "@type": CORS_TYPE } },
    { name: FAULT_NAME, typed_config: { "@type": FAULT_TYPE } },
    ...(dfp ? [dynamicForwardProxyFilter()] : []),
  ]);
}

function httpVirtualHost(
  service: ServiceModel,
  port: ServicePortModel,
  vips: readonly string[],
  vs: VirtualService | undefined,
  base: Base,
  httpPorts: Map<number, { virtualHosts: Json[]; claimed: Set<string>; dfp: boolean }>,
): void {
  let entry = httpPorts.get(port.number);
  if (entry === undefined) httpPorts.set(port.number, (entry = { virtualHosts: [], claimed: new Set(), dfp: false }));
  if (service.resolution === "DYNAMIC_DNS") entry.dfp = true;
  const name = `${service.hostname}:${port.number}`;
  // One route configuration per port: every name answers with and without the port.
  const withVips: ServiceModel = { ...service, addresses: [...vips] };
  const domains = domainsOf(withVips, port, true, base.proxy.namespace).filter((d) => {
    if (!entry.claimed.has(d)) {
      entry.claimed.add(d);
      return true;
    }
    base.problems.add(`virtual host ${name}: domain ${d} already belongs to another virtual host; left out`);
    return false;
  });
  if (domains.length === 0) return;
  entry.virtualHosts.push({ name, domains, routes: portRoutes(service, port, vs, base) });
}

/**
 * A TCP service port's chains: on <VIP>_<port> for each of its addresses, else (CIDRs, or resolution NONE without
 * addresses) on 0.0.0.0_<port>; a VirtualService tcp route whose match lists destinationSubnets gets a chain of
 * its own for those subnets, on 0.0.0.0_<port>.
 */
function tcpChains(
  service: ServiceModel,
  index: number,
  port: ServicePortModel,
  vips: readonly string[],
  vs: VirtualService | undefined,
  base: Base,
  listenerAt: (address: string, port: number) => CaptureListener,
  sniffed = false,
): void {
  const ctx: DestinationContext = {
    ...base,
    namespace: vs?.metadata.namespace ?? service.namespace,
    service,
    port: port.number,
  };
  const stat = outboundClusterName(port.number, undefined, service.hostname);
  const where = vs === undefined ? "" : `VirtualService ${World.nameOf(vs)} tcp`;
  const { target, subnets } = tcpTargets(vs, ctx, where);
  const filter = tcpProxy(stat, target ?? { cluster: stat });
  const owner = service.source
    ? `${service.source.kind} ${service.source.namespace}/${service.source.name} host ${service.hostname}`
    : `registered service ${service.hostname}`;
  const claim = (l: CaptureListener, chain: Chain, what: string): void => {
    const other = l.add(sniffed ? { ...chain, sniffed } : chain);
    if (other !== undefined) {
      addServiceProblem(
        base.problems,
        service,
        `TCP port ${port.number} ${what} is already taken by ${other} on listener ${l.name}; left out`,
        index,
      );
    }
  };
  // TLS: by SNI where the VirtualService routes tls, and for resolution NONE without addresses (several such
  // hosts share 0.0.0.0_<port> by their names, as in Istio); by address otherwise.
  const tls = isTlsProtocol(port.protocol);
  const bySni = tls && (vs?.spec.tls ?? []).length > 0;
  const sni = (l: CaptureListener): void => {
    l.tls ??= new TlsPortChains(port.number, base.problems);
    l.tls.add(ctx, vs);
  };
  for (const vip of vips) {
    if (bySni) sni(listenerAt(vip, port.number));
    else claim(listenerAt(vip, port.number), { prefixes: [], filter, owner }, `at ${vip}`);
  }
  for (const cidr of service.cidrs ?? []) {
    claim(listenerAt("0.0.0.0", port.number), { prefixes: [cidr], filter, owner }, `for ${cidr}`);
  }
  if (vips.length === 0 && (service.cidrs ?? []).length === 0) {
    // Resolution NONE without addresses: the port's catch-all (TLS: its host names), to the original destination.
    if (tls) sni(listenerAt("0.0.0.0", port.number));
    else claim(listenerAt("0.0.0.0", port.number), { prefixes: [], filter, owner }, "(resolution NONE)");
  }
  for (const s of subnets) {
    const f = tcpProxy(stat, s.target);
    claim(
      listenerAt("0.0.0.0", port.number),
      { prefixes: s.prefixes, filter: f, owner },
      `for ${s.prefixes.join(",")}`,
    );
  }
}

/**
 * The first tcp route that applies without destinationSubnets, and before it, those whose matches list
 * destinationSubnets (each a chain for its subnets). Istio's l4MultiMatch, with the subnets as prefix_ranges.
 */
function tcpTargets(
  vs: VirtualService | undefined,
  ctx: DestinationContext,
  where: string,
): { target: TcpTarget | undefined; subnets: { prefixes: string[]; target: TcpTarget }[] } {
  const subnets: { prefixes: string[]; target: TcpTarget }[] = [];
  if (vs === undefined) return { target: undefined, subnets };
  for (const route of vs.spec.tcp ?? []) {
    if ((route.route ?? []).length === 0) continue;
    const matches = route.match ?? [];
    const target = routeTarget(route.route, ctx, where);
    if (matches.length === 0) return { target, subnets };
    for (const m of matches) {
      const cidrs = m.destinationSubnets ?? [];
      const rest: L4MatchAttributes = { ...m, destinationSubnets: [] };
      if (!l4Applies(rest, vs, ctx, "tcp")) continue;
      if (cidrs.length === 0) return { target, subnets };
      if (target !== undefined) subnets.push({ prefixes: cidrs, target });
    }
  }
  return { target: undefined, subnets };
}

function catchAll(mode: OutboundTrafficPolicyMode, egressCluster: string | undefined): Json {
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
