// Typed configuration → run-time objects: a Cluster becomes an UpstreamCluster (with its DNS resolver), a Listener
// a ListenerRuntime with, per filter chain, its connection manager or TCP proxy. Building binds nothing and starts nothing that must
// be stopped (timers start in start()/initialize()), so an update that fails halfway throws its half away.

import type { Clock } from "../../api/clock.ts";
import { TrellisError } from "../../api/errors.ts";
import type { Cluster, ClusterLoadAssignment, FilterChain, Listener } from "../../api/xds/types.ts";
import { createClusterStats, createListenerStats, createTcpProxyStats } from "../../telemetry/envoy-stats.ts";
import type { StatsStore } from "../../telemetry/stats.ts";
import { PendingAccessLogger, parseAccessLogs } from "../http/access-logger.ts";
import { HttpConnectionManagerRuntime, type RouteTableSource } from "../http/connection-manager.ts";
import { NetworkLocalRateLimitFilter } from "../filters/local-ratelimit/network-filter.ts";
import type { ConnectionFilter } from "../listener/connection-filter.ts";
import { FilterChainRuntime, type ListenerTerminal } from "../listener/filter-chain.ts";
import { ListenerRuntime } from "../listener/listener.ts";
import { DownstreamTls } from "../tls/downstream.ts";
import { SecretStore } from "../tls/secrets.ts";
import { SslStats } from "../tls/stats.ts";
import { unhandledErrorReporter } from "../listener/guard.ts";
import { HttpInspector, HttpInspectorStats } from "../listener/http-inspector.ts";
import { disabledWhen } from "../listener/listener-filter.ts";
import { TlsInspector, TlsInspectorStats } from "../listener/tls-inspector.ts";
import { OriginalDestinationStats, OriginalDstFilter } from "../listener/original-destination.ts";
import { ProxyProtocolFilter, ProxyProtocolStats } from "../listener/proxy-protocol.ts";
import { TcpProxyRuntime } from "../tcp/tcp-proxy.ts";
import { UpstreamCluster } from "../upstream/cluster.ts";
import { DynamicForwardProxyCluster } from "../upstream/dynamic-forward-proxy.ts";
import { OriginalDstCluster } from "../upstream/original-dst.ts";
import { type DnsLookup, StrictDnsResolver, systemLookup } from "../upstream/dns.ts";
import { ClusterMembership, endpointsFromAssignment } from "../upstream/membership.ts";

export interface BuildContext {
  clock: Clock;
  random: () => number;
  stats: StatsStore;
  log: (line: string) => void;
  /** The proxy's cluster map: routers and TCP proxies look clusters up in it per request, by name. */
  clusters: ReadonlyMap<string, UpstreamCluster>;
  /** Route tables of RDS connection managers. */
  routes: RouteTableSource;
  /** The resolver of STRICT_DNS and LOGICAL_DNS clusters (default: the system's); tests inject their own. */
  dnsLookup?: DnsLookup;
  /** Whether address:port is one of the proxy's bound listeners (see ClusterContext). */
  isOwnListener?: (address: string, port: number) => boolean;
  /** Static and SDS secrets, named by TLS contexts (none: a context that names one is refused). */
  secrets?: SecretStore;
}

export interface BuiltCluster {
  cluster: UpstreamCluster;
  /** STRICT_DNS and LOGICAL_DNS clusters: started with the cluster, stopped when it goes. */
  resolver: StrictDnsResolver | undefined;
}

/** `assignment`: an EDS cluster's endpoints when they are already known (a changed cluster keeps its endpoints). */
export function buildCluster(ctx: BuildContext, c: Cluster, assignment?: ClusterLoadAssignment): BuiltCluster {
  const source = c.type === "STATIC" ? c.loadAssignment : c.type === "EDS" ? assignment : undefined;
  const endpoints = source ? endpointsFromAssignment(source) : [];
  const membership = new ClusterMembership(c, endpoints, ctx.random, ctx.clock);
  const clusterContext = {
    clock: ctx.clock,
    random: ctx.random,
    store: ctx.stats,
    log: ctx.log,
    isOwnListener: ctx.isOwnListener,
    ...(ctx.secrets === undefined ? {} : { secrets: ctx.secrets }),
  };
  const stats = createClusterStats(ctx.stats, c.name);
  const cluster =
    c.dynamicForwardProxy !== undefined
      ? new DynamicForwardProxyCluster(c, membership, stats, clusterContext)
      : c.type === "ORIGINAL_DST"
        ? new OriginalDstCluster(c, membership, stats, clusterContext)
        : new UpstreamCluster(c, membership, stats, clusterContext);
  const tls = cluster.upstreamTls;
  if (tls !== undefined) {
    for (const ref of tls.provider.sdsReferences)
      if (ref.source === "static" && ctx.secrets?.get(ref.name, "static") === undefined)
        throw new TrellisError(
          "TRELLIS_TLS_CONFIG",
          `cluster ${c.name}: static secret ${ref.name} is not in static_resources.secrets (or give sds_config: {ads: {}} to receive it over ADS)`,
        );
    // A bad certificate, key or CA fails the cluster now, as Envoy refuses it.
    if (tls.provider.ready) tls.provider.current();
  }
  let resolver: StrictDnsResolver | undefined;
  if ((c.type === "STRICT_DNS" || c.type === "LOGICAL_DNS") && c.loadAssignment) {
    resolver = new StrictDnsResolver(c, {
      lookup: ctx.dnsLookup ?? systemLookup,
      firstAddressOnly: c.type === "LOGICAL_DNS",
      clock: ctx.clock,
      onUpdate: (eps) => membership.update(eps),
      onError: (host, err) => ctx.log(`cluster ${c.name}: DNS lookup of ${host} failed: ${err.message}`),
    });
  }
  return { cluster, resolver };
}

export interface BuiltListener {
  runtime: ListenerRuntime;
  /** Opened before the listener takes its first connection. */
  accessLoggers: PendingAccessLogger[];
  /** The connection managers of the HTTP chains (RDS updates reach them). */
  hcms: HttpConnectionManagerRuntime[];
}

export function buildListener(ctx: BuildContext, l: Listener): BuiltListener {
  const accessLoggers: PendingAccessLogger[] = [];
  const hcms: HttpConnectionManagerRuntime[] = [];
  const statAddress = `${l.address.address}_${l.address.port}`;
  let ssl: SslStats | undefined;
  const build = (chain: FilterChain, index: number | "default"): FilterChainRuntime => {
    ssl ??= chain.tls === undefined ? undefined : new SslStats(ctx.stats, { kind: "listener", address: statAddress });
    const built = buildFilterChain(ctx, l, chain, index, ssl);
    accessLoggers.push(...built.accessLoggers);
    if (built.hcm) hcms.push(built.hcm);
    return built.runtime;
  };
  const chains = l.filterChains.map(build);
  const defaultChain = l.defaultFilterChain === undefined ? undefined : build(l.defaultFilterChain, "default");
  const listenerFilters = l.listenerFilters.map((f) =>
    disabledWhen(
      f.disabled,
      f.kind === "proxy_protocol"
        ? new ProxyProtocolFilter(f, new ProxyProtocolStats(ctx.stats))
        : f.kind === "original_dst"
          ? new OriginalDstFilter(new OriginalDestinationStats(ctx.stats))
          : f.kind === "http_inspector"
            ? new HttpInspector(new HttpInspectorStats(ctx.stats))
            : new TlsInspector(new TlsInspectorStats(ctx.stats)),
    ),
  );
  const runtime = new ListenerRuntime(
    l,
    { chains, defaultChain, listenerFilters, clock: ctx.clock },
    createListenerStats(ctx.stats, statAddress),
    unhandledErrorReporter(ctx.stats, ctx.log),
  );
  return { runtime, accessLoggers, hcms };
}

function buildFilterChain(
  ctx: BuildContext,
  l: Listener,
  chain: FilterChain,
  index: number | "default",
  ssl: SslStats | undefined,
): {
  runtime: FilterChainRuntime;
  accessLoggers: PendingAccessLogger[];
  hcm: HttpConnectionManagerRuntime | undefined;
} {
  const terminalFilter = chain.filters[chain.filters.length - 1]!;
  // The parser guarantees the shape: non-terminal filters, then one terminal filter last.
  const connectionFilters: ConnectionFilter[] = [];
  for (const f of chain.filters.slice(0, -1)) {
    if (f.kind !== "local_ratelimit")
      throw new TrellisError(
        "TRELLIS_LISTENER_SHAPE",
        `listener ${l.name}: ${f.name} cannot come before ${terminalFilter.name}`,
      );
    connectionFilters.push(new NetworkLocalRateLimitFilter(f.config, ctx.clock, ctx.stats));
  }
  let terminal: ListenerTerminal;
  let accessLoggers: PendingAccessLogger[] = [];
  let hcm: HttpConnectionManagerRuntime | undefined;
  if (terminalFilter.kind === "local_ratelimit") {
    throw new TrellisError("TRELLIS_LISTENER_SHAPE", `listener ${l.name}: the filter chain has no terminal filter`);
  } else if (terminalFilter.kind === "http_connection_manager") {
    const config = terminalFilter.config;
    const source = `listener ${l.name} http_connection_manager`;
    accessLoggers = parseAccessLogs(config.accessLog, source).map((c) => new PendingAccessLogger(c));
    hcm = new HttpConnectionManagerRuntime(
      config,
      ctx.clusters,
      ctx.clock,
      ctx.stats,
      accessLoggers,
      ctx.random,
      ctx.routes,
    );
    terminal = { kind: "http", hcm };
  } else {
    const stats = createTcpProxyStats(ctx.stats, terminalFilter.config.statPrefix);
    terminal = {
      kind: "tcp",
      tcp: new TcpProxyRuntime(
        terminalFilter.config,
        ctx.clusters,
        ctx.clock,
        {
          onSessionStart: () => stats.downstreamCxTotal.inc(),
          onSessionEnd: (info) => {
            stats.downstreamCxRxBytesTotal.inc(info.bytesReceived);
            stats.downstreamCxTxBytesTotal.inc(info.bytesSent);
            if (info.responseFlags === "UH" || info.responseFlags === "NC") stats.downstreamCxNoRoute.inc();
          },
          onIdleTimeout: () => stats.idleTimeout.inc(),
          onDownstreamPaused: () => stats.downstreamFlowControlPausedReadingTotal.inc(),
          onDownstreamResumed: () => stats.downstreamFlowControlResumedReadingTotal.inc(),
        },
        ctx.random,
      ),
    };
  }
  const tls = chain.tls === undefined ? undefined : buildDownstreamTls(ctx, l, chain, index, terminal, ssl!);
  return { runtime: new FilterChainRuntime(l, terminal, connectionFilters, tls), accessLoggers, hcm };
}

/**
 * A chain's TLS termination. Its context is built now when it names no SDS secret (a bad certificate or key fails
 * the listener, as Envoy refuses it); one that waits for a secret is built at the first handshake after it came.
 */
function buildDownstreamTls(
  ctx: BuildContext,
  l: Listener,
  chain: FilterChain,
  index: number | "default",
  terminal: ListenerTerminal,
  ssl: SslStats,
): DownstreamTls {
  const owner = `listener ${l.name} ${index === "default" ? "default_filter_chain" : `filter_chains[${index}]`}`;
  const idle = terminal.kind === "http" ? terminal.hcm.config.idleTimeoutMs : (terminal.tcp.config.idleTimeoutMs ?? 0);
  const tls = new DownstreamTls(chain.tls!, ctx.secrets ?? new SecretStore(), {
    clock: ctx.clock,
    handshakeTimeoutMs: chain.transportSocketConnectTimeoutMs ?? idle,
    stats: ssl,
    connectTimeouts: ctx.stats.counter(
      "envoy_listener_downstream_cx_transport_socket_connect_timeout",
      "Total connections that timed out during the transport socket handshake",
      { envoy_listener_address: `${l.address.address}_${l.address.port}` },
    ),
    log: ctx.log,
    owner,
  });
  for (const ref of tls.provider.sdsReferences)
    if (ref.source === "static" && ctx.secrets?.get(ref.name, "static") === undefined)
      throw new TrellisError(
        "TRELLIS_TLS_CONFIG",
        `${owner}: static secret ${ref.name} is not in static_resources.secrets (or give sds_config: {ads: {}} to receive it over ADS)`,
      );
  if (tls.provider.ready) tls.provider.current();
  return tls;
}
