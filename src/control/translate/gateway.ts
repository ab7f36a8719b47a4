// What a router proxy (`trellis gateway`, node type router) gets: the listeners of the Istio Gateways whose selector
// matches its labels (in any namespace: Istio's PILOT_SCOPE_GATEWAY_TO_NAMESPACE defaults to off), the routes of the
// VirtualServices bound to them, and a cluster for every service its namespace sees. Istio's layout
// (pilot/pkg/networking/core/gateway.go):
//
// - one listener per server port, named `0.0.0.0_<port>` (bound where the router says: TRELLIS_GATEWAY_ADDRESS and
//   TRELLIS_GATEWAY_PORTS, default 127.0.0.1 and the port itself);
// - plain HTTP servers of a port share one HTTP connection manager whose routes come by RDS as `http.<port>`: one
//   virtual host per host the bound VirtualServices and the servers' `hosts` have in common (`ns/host` limits which
//   namespaces' VirtualServices may claim a host); `tls.httpsRedirect` answers every request with a 301 to https;
// - HTTPS servers (tls.mode SIMPLE or MUTUAL) get a filter chain each, chosen by SNI (their hosts), terminating TLS
//   with the certificate of `credentialName` over SDS (`kubernetes://<name>`, as Istio names it), routes by RDS as
//   `https.<port>.<port name>.<gateway>.<namespace>`;
// - PASSTHROUGH: tls_inspector, one chain per VirtualService `tls` match (its sniHosts) → tcp_proxy to its route;
// - AUTO_PASSTHROUGH: one chain per service port (and subset) the server's hosts cover, by Istio's SNI
//   `outbound_.<port>_.<subset>_.<host>`, to that cluster (what Istio's sni-dnat listener does);
// - TCP servers: tcp_proxy to the first bound VirtualService `tcp` route that applies.
//
// Nothing here throws: what cannot be translated is left out and reported (problems.ts), naming the Gateway or the
// VirtualService and the field.

import type { Gateway, GatewayServer, VirtualService } from "../../api/resources/types.ts";
import { accessLogJson, addAccessLogs } from "./access-log.ts";
import type { DestinationContext } from "./destinations.ts";
import type { Json } from "./envoy.ts";
import {
  ADS,
  CORS_NAME,
  CORS_TYPE,
  FAULT_NAME,
  FAULT_TYPE,
  httpConnectionManager,
  socketAddress,
  tcpProxy,
} from "./envoy.ts";
import { exportedTo, hostMatches } from "./hosts.ts";
import { httpRoutes } from "./http-route.ts";
import { qualifiedGateway } from "./http-match.ts";
import { labelsMatch } from "./labels.ts";
import { outboundClusterName } from "./names.ts";
import { routeTarget, tcpRouteFor, l4Applies } from "./outbound-tcp-routes.ts";
import { tlsInspector } from "./outbound-tls.ts";
import { refOf, type ProblemCode, type Problems } from "./problems.ts";
import type { ProxyIdentity } from "./proxy-identity.ts";
import { serviceClusters } from "./service-clusters.ts";
import type { World } from "./world-index.ts";

/** How an SDS secret for a credentialName is named (Istio's spelling): the resource the gateway asks for. */
export const CREDENTIAL_PREFIX = "kubernetes://";
/** The CA certificate of a MUTUAL server's credential (Istio's `<credentialName>-cacert`). */
export const CA_CERT_SUFFIX = "-cacert";
export const TLS_TRANSPORT_SOCKET = "envoy.transport_sockets.tls";
export const DOWNSTREAM_TLS_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";

const HTTP_PROTOCOLS = new Set(["HTTP", "HTTP2", "GRPC", "GRPC-WEB"]);

/** One server of one selected Gateway, with what problems say of it. */
interface BoundServer {
  gateway: Gateway;
  /** "namespace/name" of the Gateway: what VirtualService `gateways` name. */
  key: string;
  index: number;
  server: GatewayServer;
  kind: "http" | "https" | "passthrough" | "auto" | "tcp";
}

interface Base {
  world: World;
  proxy: ProxyIdentity;
  problems: Problems;
  reachable: ReadonlySet<string>;
}

export interface GatewayTranslation {
  listeners: Json[];
  routes: Json[];
  clusters: Json[];
  endpoints: Json[];
  /** The SDS secret names (`kubernetes://NAME`) the listeners refer to: what the control plane serves this router. */
  secrets: string[];
}

/** The Gateways whose selector matches the router's labels, by namespace/name. */
export function gatewaysFor(world: World, proxy: ProxyIdentity): Gateway[] {
  return world.gateways
    .filter((g) => labelsMatch(g.spec.selector ?? {}, proxy.labels))
    .sort((a, b) => gatewayKey(a).localeCompare(gatewayKey(b)));
}

export function gatewayKey(g: Gateway): string {
  return `${g.metadata.namespace}/${g.metadata.name}`;
}

export function translateGateway(world: World, proxy: ProxyIdentity, problems: Problems): GatewayTranslation {
  const services = world.servicesVisibleTo(proxy.namespace).filter((s) => s.resolution !== "NONE");
  const base: Base = { world, proxy, problems, reachable: new Set(services.map((s) => s.hostname)) };
  const clusters: Json[] = [];
  const endpoints: Json[] = [];
  for (const service of services) {
    for (const c of serviceClusters(service, base)) {
      clusters.push(c.cluster);
      if (c.endpoints !== undefined) endpoints.push(c.endpoints);
    }
  }
  const gateways = gatewaysFor(world, proxy);
  if (gateways.length === 0) {
    const labels = Object.entries(proxy.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    problems.add(`gateway proxy ${proxy.id}: no Gateway selects its labels (${labels}); it listens on no port`, {
      note: true,
    });
  }
  for (const g of gateways) checkVirtualServiceHosts(g, base);

  const byPort = new Map<number, BoundServer[]>();
  for (const gateway of gateways) {
    (gateway.spec.servers ?? []).forEach((server, index) => {
      // Validation refuses a server without a port; a world built from unvalidated input must not crash here.
      if (server?.port === undefined) return;
      const kind = serverKind(gateway, server, index, problems);
      if (kind === undefined) return;
      const list = byPort.get(server.port.number) ?? [];
      list.push({ gateway, key: gatewayKey(gateway), index, server, kind });
      byPort.set(server.port.number, list);
    });
  }
  const listeners: Json[] = [];
  const routes: Json[] = [];
  const secrets = new Set<string>();
  for (const [port, servers] of [...byPort].sort(([a], [b]) => a - b)) {
    const out = portListener(port, servers, base);
    if (out === undefined) continue;
    listeners.push(out.listener);
    routes.push(...out.routes);
    for (const s of out.secrets) secrets.add(s);
  }
  addAccessLogs(listeners, accessLogJson(world.accessLogs));
  return { listeners, routes, clusters, endpoints, secrets: [...secrets].sort() };
}

function serverWhere(g: Gateway, index: number): string {
  return `Gateway ${gatewayKey(g)} servers[${index}]`;
}

function report(problems: Problems, g: Gateway, path: string, message: string, code?: ProblemCode): void {
  const where = path.replace(/^spec\./, "");
  problems.add(`Gateway ${gatewayKey(g)} ${where}: ${message}`, {
    resource: refOf(g),
    path,
    message,
    ...(code !== undefined && { code }),
  });
}

/** What a server is, by its port's protocol and its tls mode; undefined (reported) when it cannot be served. */
function serverKind(
  g: Gateway,
  server: GatewayServer,
  index: number,
  problems: Problems,
): BoundServer["kind"] | undefined {
  const protocol = (server.port.protocol ?? "TCP").toUpperCase();
  const path = `spec.servers[${index}]`;
  if (server.bind !== undefined && server.bind !== "")
    report(
      problems,
      g,
      `${path}.bind`,
      `bind ${server.bind} is not supported: the gateway binds where \`trellis gateway\` says; ignored`,
    );
  if (HTTP_PROTOCOLS.has(protocol)) return "http";
  const mode = server.tls?.mode;
  if (protocol === "HTTPS" || protocol === "TLS") {
    if (mode === "PASSTHROUGH") return "passthrough";
    if (mode === "AUTO_PASSTHROUGH") return "auto";
    if (mode === undefined) {
      report(
        problems,
        g,
        `${path}.tls`,
        `a ${protocol} server needs tls (mode SIMPLE, MUTUAL or PASSTHROUGH); left out`,
      );
      return undefined;
    }
    if (mode === "SIMPLE" || mode === "MUTUAL") {
      if (protocol === "TLS") {
        report(
          problems,
          g,
          `${path}.tls.mode`,
          `${mode} on a TLS server (termination, then TCP routes) is not supported yet; left out`,
        );
        return undefined;
      }
      return "https";
    }
    report(
      problems,
      g,
      `${path}.tls.mode`,
      `${mode} is not supported on gateways yet (SIMPLE, MUTUAL, PASSTHROUGH, AUTO_PASSTHROUGH are); left out`,
    );
    return undefined;
  }
  return "tcp";
}

/** Which family of listener a kind needs: servers of different families cannot share a port. */
function family(kind: BoundServer["kind"]): string {
  return kind === "http" ? "HTTP" : kind === "tcp" ? "TCP" : "TLS";
}

interface PortOutput {
  listener: Json;
  routes: Json[];
  secrets: string[];
}

function portListener(port: number, all: BoundServer[], base: Base): PortOutput | undefined {
  const first = family(all[0]!.kind);
  const servers = all.filter((s) => {
    if (family(s.kind) === first) return true;
    report(
      base.problems,
      s.gateway,
      `spec.servers[${s.index}].port`,
      `port ${port} is already served as ${first} by ${serverWhere(all[0]!.gateway, all[0]!.index)}; a ${family(s.kind)} server cannot share it; left out`,
    );
    return false;
  });
  const name = `0.0.0.0_${port}`;
  const address = socketAddress(base.proxy.gatewayAddress ?? "127.0.0.1", base.proxy.gatewayPorts?.[port] ?? port);
  if (first === "HTTP") {
    const routeName = `http.${port}`;
    const hcm = gatewayHcm(`outbound_0.0.0.0_${port}`, routeName);
    return {
      listener: { name, address, filter_chains: [{ filters: [hcm] }] },
      routes: [routeConfiguration(routeName, servers, port, base)],
      secrets: [],
    };
  }
  if (first === "TCP") {
    const s = servers[0]!;
    for (const other of servers.slice(1))
      report(
        base.problems,
        other.gateway,
        `spec.servers[${other.index}]`,
        `port ${port} already carries TCP for ${serverWhere(s.gateway, s.index)}; one TCP server per port; left out`,
      );
    const target = tcpTarget(s, port, base);
    if (target === undefined) return undefined;
    return {
      listener: { name, address, filter_chains: [{ filters: [tcpProxy(target.stat, target.target)] }] },
      routes: [],
      secrets: [],
    };
  }
  const chains = new SniChains(port, base.problems);
  const routes: Json[] = [];
  const secrets: string[] = [];
  for (const s of servers) {
    if (s.kind === "https") {
      const out = httpsChain(s, port, base);
      if (out === undefined) continue;
      chains.add(
        serverHosts(s).map((h) => h.host),
        out.chain,
        serverWhere(s.gateway, s.index),
      );
      routes.push(out.route);
      secrets.push(...out.secrets);
    } else if (s.kind === "passthrough") passthroughChains(s, port, base, chains);
    else autoPassthroughChains(s, base, chains);
  }
  if (chains.chains.length === 0)
    return { listener: { name, address, listener_filters: [tlsInspector()], filter_chains: [] }, routes, secrets };
  return {
    listener: { name, address, listener_filters: [tlsInspector()], filter_chains: chains.chains },
    routes,
    secrets,
  };
}

/** The HTTP connection manager of a gateway port: Istio's filters (CORS, fault) configured per route. */
function gatewayHcm(statPrefix: string, routeName: string): Json {
  return httpConnectionManager(statPrefix, routeName, [
    { name: CORS_NAME, typed_config: { "@type": CORS_TYPE } },
    { name: FAULT_NAME, typed_config: { "@type": FAULT_TYPE } },
  ]);
}

/** A server host "ns/host" (or "host", any namespace): which VirtualServices may bind it. */
interface ServerHost {
  namespace: string;
  host: string;
}

function serverHosts(s: BoundServer): ServerHost[] {
  return (s.server.hosts ?? []).map((h) => {
    const slash = h.indexOf("/");
    const ns = slash < 0 ? "*" : h.slice(0, slash);
    const host = (slash < 0 ? h : h.slice(slash + 1)).toLowerCase();
    return { namespace: ns === "." ? s.gateway.metadata.namespace : ns, host };
  });
}

/** The VirtualServices bound to a Gateway (its "ns/name", or its short name from the Gateway's namespace). */
function boundVirtualServices(g: Gateway, world: World): { vs: VirtualService; hosts: string[] }[] {
  const key = gatewayKey(g);
  return world.gatewayVirtualServices
    .filter(({ resource: vs }) =>
      (vs.spec.gateways ?? []).some((ref) => ref !== "mesh" && qualifiedGateway(ref, vs.metadata.namespace) === key),
    )
    .filter(({ resource: vs }) => exportedTo(vs.spec.exportTo, vs.metadata.namespace, g.metadata.namespace))
    .map(({ resource, hosts }) => ({ vs: resource, hosts }));
}

/** The more specific of two host patterns when one covers the other (Istio's intersection), else undefined. */
export function intersectHost(a: string, b: string): string | undefined {
  if (hostMatches(b, a)) return a;
  if (hostMatches(a, b)) return b;
  return undefined;
}

/** The hosts a VirtualService and a server have in common, where the server lets the VirtualService's namespace in. */
function commonHosts(vsHosts: readonly string[], vs: VirtualService, server: BoundServer): string[] {
  const out: string[] = [];
  for (const sh of serverHosts(server)) {
    if (sh.namespace !== "*" && sh.namespace !== vs.metadata.namespace) continue;
    for (const h of vsHosts) {
      const common = intersectHost(h, sh.host);
      if (common !== undefined && !out.includes(common)) out.push(common);
    }
  }
  return out;
}

/**
 * Istio's IST0132 (VirtualServiceHostNotFoundInGateway): a host of a VirtualService bound to this Gateway that no
 * server of it lists (for the VirtualService's namespace) serves nothing there.
 */
function checkVirtualServiceHosts(g: Gateway, base: Base): void {
  const servers = (g.spec.servers ?? []).map((server, index) => ({
    gateway: g,
    key: gatewayKey(g),
    index,
    server,
    kind: "http" as const,
  }));
  for (const { vs, hosts } of boundVirtualServices(g, base.world)) {
    hosts.forEach((h, i) => {
      if (servers.some((s) => s.server?.port !== undefined && commonHosts([h], vs, s).length > 0)) return;
      const message = `host ${vs.spec.hosts[i]} is not among the hosts of Gateway ${gatewayKey(g)}'s servers (for namespace ${vs.metadata.namespace}); the gateway does not route it`;
      base.problems.add(`VirtualService ${vs.metadata.namespace}/${vs.metadata.name} hosts[${i}]: ${message}`, {
        resource: refOf(vs),
        path: `spec.hosts[${i}]`,
        message,
        code: "IST0132",
      });
    });
  }
}

/** The route configuration of HTTP servers (one port's plain ones, or one HTTPS server): a virtual host per host. */
function routeConfiguration(name: string, servers: BoundServer[], port: number, base: Base): Json {
  const vhosts = new Map<string, { name: string; domains: string[]; routes: Json[]; redirect: boolean }>();
  for (const s of servers) {
    let routed = 0;
    const redirect = s.server.tls?.httpsRedirect === true && s.kind === "http";
    for (const { vs, hosts } of boundVirtualServices(s.gateway, base.world)) {
      const ctx: DestinationContext = { ...base, namespace: vs.metadata.namespace, port, gateway: s.key };
      const routes = (vs.spec.http ?? []).flatMap((http, i) => httpRoutes(http, i, vs, ctx));
      if (routes.length === 0 && !redirect) continue;
      for (const host of commonHosts(hosts, vs, s)) {
        routed++;
        let vh = vhosts.get(host);
        if (vh === undefined) {
          vh = { name: `${host}:${port}`, domains: host === "*" ? ["*"] : [host, `${host}:*`], routes: [], redirect };
          vhosts.set(host, vh);
        }
        // Istio merges the VirtualServices one host has on a gateway: their routes in order.
        if (!vh.redirect) vh.routes.push(...routes);
      }
    }
    if (redirect) {
      // Istio sets require_tls ALL on such virtual hosts: every request is answered with a 301 to https.
      for (const sh of serverHosts(s)) {
        if (!vhosts.has(sh.host))
          vhosts.set(sh.host, {
            name: `${sh.host}:${port}`,
            domains: sh.host === "*" ? ["*"] : [sh.host, `${sh.host}:*`],
            routes: [],
            redirect: true,
          });
      }
    } else if (routed === 0) unrouted(s, port, base.problems, "http");
  }
  const virtualHosts = [...vhosts.values()].map((vh) => ({
    name: vh.name,
    domains: vh.domains,
    routes: vh.redirect
      ? [
          {
            name: "https_redirect",
            match: { prefix: "/" },
            redirect: { https_redirect: true, response_code: "MOVED_PERMANENTLY" },
          },
        ]
      : vh.routes,
  }));
  virtualHosts.sort((a, b) => a.name.localeCompare(b.name));
  return { name, virtual_hosts: virtualHosts };
}

/** A server no bound VirtualService routes: reported (TRL0003), its requests or connections find nothing. */
function unrouted(s: BoundServer, port: number, problems: Problems, what: string): void {
  const hosts = (s.server.hosts ?? []).join(", ");
  report(
    problems,
    s.gateway,
    `spec.servers[${s.index}]`,
    `no VirtualService bound to this Gateway has ${what} routes for its hosts ${hosts} (port ${port}); ` +
      (what === "http" ? "requests get 404 (NR)" : "connections are closed"),
    "TRL0003",
  );
}

function httpsChain(
  s: BoundServer,
  port: number,
  base: Base,
): { chain: Json; route: Json; secrets: string[] } | undefined {
  const tls = s.server.tls!;
  const path = `spec.servers[${s.index}].tls`;
  const credential = tls.credentialName ?? (tls.credentialNames ?? [])[0];
  if (credential === undefined || credential === "") {
    const files =
      tls.serverCertificate !== undefined
        ? " (serverCertificate and privateKey files are not read; store them with `trellis create secret tls`)"
        : "";
    report(base.problems, s.gateway, path, `${tls.mode} needs credentialName${files}; left out`);
    return undefined;
  }
  const ns = base.proxy.namespace;
  const secret = base.world.secrets.find((x) => x.namespace === ns && x.name === credential);
  if (secret === undefined)
    report(
      base.problems,
      s.gateway,
      `${path}.credentialName`,
      `secret ${ns}/${credential} not found (the gateway proxy's namespace); create it with ` +
        `\`trellis create secret tls ${credential} -n ${ns} --cert FILE --key FILE\`; the handshake fails until it exists`,
      "IST0101",
    );
  const portName = s.server.port.name ?? String(port);
  const routeName = `https.${port}.${portName}.${s.gateway.metadata.name}.${s.gateway.metadata.namespace}`;
  const secrets = [`${CREDENTIAL_PREFIX}${credential}`];
  const common: Json = {
    alpn_protocols: ["h2", "http/1.1"],
    tls_certificate_sds_secret_configs: [{ name: secrets[0], sds_config: ADS }],
  };
  const params: Json = {};
  if (tls.minProtocolVersion !== undefined)
    params.tls_minimum_protocol_version = envoyTlsVersion(tls.minProtocolVersion);
  if (tls.maxProtocolVersion !== undefined)
    params.tls_maximum_protocol_version = envoyTlsVersion(tls.maxProtocolVersion);
  if ((tls.cipherSuites ?? []).length > 0) params.cipher_suites = tls.cipherSuites;
  if (Object.keys(params).length > 0) common.tls_params = params;
  const context: Json = { "@type": DOWNSTREAM_TLS_TYPE, common_tls_context: common };
  if (tls.mode === "MUTUAL") {
    const hasCa =
      secret?.hasCa === true ||
      base.world.secrets.some((x) => x.namespace === ns && x.name === `${credential}${CA_CERT_SUFFIX}`);
    if (secret !== undefined && !hasCa)
      report(
        base.problems,
        s.gateway,
        `${path}.credentialName`,
        `MUTUAL needs CA certificates to check clients: secret ${ns}/${credential} has no ca.crt and there is no ` +
          `secret ${ns}/${credential}${CA_CERT_SUFFIX}; store one with \`trellis create secret tls ${credential} ` +
          `-n ${ns} --cert FILE --key FILE --ca FILE\`; the handshake fails until then`,
        "IST0101",
      );
    const ca = `${CREDENTIAL_PREFIX}${credential}${CA_CERT_SUFFIX}`;
    secrets.push(ca);
    common.combined_validation_context = {
      default_validation_context:
        (tls.subjectAltNames ?? []).length > 0
          ? { match_subject_alt_names: tls.subjectAltNames.map((n) => ({ exact: n })) }
          : {},
      validation_context_sds_secret_config: { name: ca, sds_config: ADS },
    };
    context.require_client_certificate = true;
  }
  const chain: Json = {
    filters: [gatewayHcm(`outbound_0.0.0.0_${port}`, routeName)],
    transport_socket: { name: TLS_TRANSPORT_SOCKET, typed_config: context },
  };
  return { chain, route: routeConfiguration(routeName, [s], port, base), secrets };
}

/** Istio's TLS version names (TLSV1_2) as Envoy's enum spells them (TLSv1_2); TLS_AUTO as is. */
function envoyTlsVersion(istio: string): string {
  return istio.replace(/^TLSV/, "TLSv");
}

/** Filter chains of a TLS port by server name, none claimed twice (Envoy refuses overlapping matches). */
class SniChains {
  readonly chains: Json[] = [];
  private readonly claimed = new Set<string>();

  constructor(
    readonly port: number,
    private readonly problems: Problems,
  ) {}

  /** `names`: hosts or wildcards; "*" is a chain without server_names. `chain`: filters (and transport socket). */
  add(names: readonly string[], chain: Json, where: string): void {
    const wanted = names.includes("*") ? [""] : [...new Set(names.map((n) => n.toLowerCase()))];
    const fresh = wanted.filter((n) => !this.claimed.has(n));
    const taken = wanted.filter((n) => this.claimed.has(n));
    if (taken.length > 0)
      this.problems.add(
        `${where}: SNI ${taken.map((n) => (n === "" ? "*" : n)).join(", ")} on port ${this.port} is already served by an earlier server or rule; left out for those names`,
      );
    if (fresh.length === 0) return;
    for (const n of fresh) this.claimed.add(n);
    const match = fresh[0] === "" ? {} : { filter_chain_match: { server_names: fresh } };
    this.chains.push({ ...match, ...chain });
  }
}

/** PASSTHROUGH: the bound VirtualServices' tls matches, their sniHosts within the server's hosts. */
function passthroughChains(s: BoundServer, port: number, base: Base, chains: SniChains): void {
  let routed = 0;
  for (const { vs } of boundVirtualServices(s.gateway, base.world)) {
    const ctx: DestinationContext = { ...base, namespace: vs.metadata.namespace, port, gateway: s.key };
    const where = `VirtualService ${vs.metadata.namespace}/${vs.metadata.name} tls`;
    (vs.spec.tls ?? []).forEach((route, r) => {
      if ((route.route ?? []).length === 0) return;
      (route.match ?? []).forEach((m, i) => {
        if (!l4Applies(m, vs, ctx, "tls")) return;
        const names = commonHosts(
          (m.sniHosts ?? []).map((h) => h.toLowerCase()),
          vs,
          s,
        );
        if (names.length === 0) return;
        const target = routeTarget(route.route, ctx, `${where}[${r}]`);
        if (target === undefined) return;
        routed++;
        const stat = "cluster" in target ? target.cluster : `${vs.metadata.name}.${vs.metadata.namespace}`;
        chains.add(names, { filters: [tcpProxy(stat, target)] }, `${where}[${r}].match[${i}]`);
      });
    });
  }
  if (routed === 0) unrouted(s, port, base.problems, "tls");
}

/**
 * AUTO_PASSTHROUGH: every service port (and DestinationRule subset) whose host the server covers, by the SNI a
 * sidecar of another network sends (`outbound_.<port>_.<subset>_.<host>`), to that cluster; no VirtualService.
 */
function autoPassthroughChains(s: BoundServer, base: Base, chains: SniChains): void {
  const hosts = serverHosts(s);
  for (const service of base.world.servicesVisibleTo(base.proxy.namespace)) {
    if (service.resolution === "NONE") continue;
    if (
      !hosts.some(
        (h) => (h.namespace === "*" || h.namespace === service.namespace) && hostMatches(h.host, service.hostname),
      )
    )
      continue;
    const rule = base.world.destinationRuleFor(service.hostname, base.proxy);
    const subsets = [undefined, ...(rule?.spec.subsets ?? []).map((x) => x.name)];
    for (const p of service.ports) {
      for (const subset of subsets) {
        const cluster = outboundClusterName(p.number, subset, service.hostname);
        const sni = `outbound_.${p.number}_.${subset ?? ""}_.${service.hostname}`;
        chains.add([sni], { filters: [tcpProxy(cluster, { cluster })] }, serverWhere(s.gateway, s.index));
      }
    }
  }
}

/** TCP: the first bound VirtualService with a tcp route that applies to this gateway and port. */
function tcpTarget(
  s: BoundServer,
  port: number,
  base: Base,
): { stat: string; target: ReturnType<typeof routeTarget> & object } | undefined {
  for (const { vs, hosts } of boundVirtualServices(s.gateway, base.world)) {
    if (commonHosts(hosts, vs, s).length === 0) continue;
    const ctx: DestinationContext = { ...base, namespace: vs.metadata.namespace, port, gateway: s.key };
    const route = tcpRouteFor(vs, ctx);
    if (route === undefined) continue;
    const target = routeTarget(route.route, ctx, `VirtualService ${vs.metadata.namespace}/${vs.metadata.name} tcp`);
    if (target === undefined) continue;
    const stat = "cluster" in target ? target.cluster : `${vs.metadata.name}.${vs.metadata.namespace}`;
    return { stat, target };
  }
  unrouted(s, port, base.problems, "tcp");
  return undefined;
}
