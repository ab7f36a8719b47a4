// The sidecar as a whole: typed configuration in, listeners, clusters and the admin server out. Everything is
// built (and every configuration error thrown) before the first port is bound; shutdown drains gracefully.

import type { Clock } from "../api/clock.ts";
import { systemClock } from "../api/clock.ts";
import { TrellisError } from "../api/errors.ts";
import type { Bootstrap, Cluster, Listener } from "../api/xds/types.ts";
import { StatsStore } from "../telemetry/stats.ts";
import { createClusterStats, createListenerStats, createTcpProxyStats } from "../telemetry/envoy-stats.ts";
import { startAdminServer, type AdminServer, type AdminTarget, type ClusterStatus } from "./admin/server.ts";
import { HttpConnectionManagerRuntime } from "./http/connection-manager.ts";
import { AccessLogManager, PendingAccessLogger, parseAccessLogs } from "./http/access-logger.ts";
import { ListenerRuntime, type ListenerTerminal } from "./listener/listener.ts";
import { TcpProxyRuntime } from "./tcp/tcp-proxy.ts";
import type { ConnectionFilter } from "./listener/connection-filter.ts";
import { NetworkLocalRateLimitFilter } from "./filters/local-ratelimit/network-filter.ts";
import { UpstreamCluster } from "./upstream/cluster.ts";
import type { ClusterResources } from "./upstream/circuit-breakers.ts";
import { ClusterMembership, endpointsFromAssignment } from "./upstream/membership.ts";
import { StrictDnsResolver, systemLookup } from "./upstream/dns.ts";

export interface ProxyOptions {
  clock?: Clock;
  /** Where the configuration came from (for logs and /server_info). */
  source?: string;
  /** Called by POST /quitquitquit (the CLI exits the process after shutdown). */
  onQuit?: () => void;
  log?: (line: string) => void;
  /** Uniform in [0, 1) for every random decision (balancing, splits, faults, jitter); tests pass a seeded one. */
  random?: () => number;
}

export type ProxyState = "PRE_INITIALIZING" | "LIVE" | "DRAINING" | "STOPPED";

export class Proxy implements AdminTarget {
  readonly stats = new StatsStore();
  readonly clock: Clock;
  private readonly random: () => number;
  private readonly clusterMap = new Map<string, UpstreamCluster>();
  private readonly resolvers: StrictDnsResolver[] = [];
  private readonly listeners: ListenerRuntime[] = [];
  private readonly accessLoggers: PendingAccessLogger[] = [];
  private readonly accessLogManager: AccessLogManager;
  private admin: AdminServer | undefined;
  private state: ProxyState = "PRE_INITIALIZING";
  private readonly startedAt: number;
  private shutdownPromise: Promise<void> | undefined;

  /** Builds every runtime object; throws ConfigError (nothing bound yet) when the configuration is unusable. */
  constructor(
    readonly bootstrap: Bootstrap,
    private readonly options: ProxyOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.startedAt = this.clock.wallNow();
    this.accessLogManager = new AccessLogManager(this.clock);
    for (const c of bootstrap.staticResources.clusters) this.clusterMap.set(c.name, this.buildCluster(c));
    for (const l of bootstrap.staticResources.listeners) this.listeners.push(this.buildListener(l));
  }

  private buildCluster(c: Cluster): UpstreamCluster {
    const endpoints = c.loadAssignment && c.type === "STATIC" ? endpointsFromAssignment(c.loadAssignment) : [];
    const membership = new ClusterMembership(c, endpoints, this.random);
    const cluster = new UpstreamCluster(c, membership, createClusterStats(this.stats, c.name), {
      clock: this.clock,
      random: this.random,
      store: this.stats,
      log: (line) => this.log(line),
    });
    if (c.type === "STRICT_DNS" && c.loadAssignment) {
      this.resolvers.push(
        new StrictDnsResolver(c, {
          lookup: systemLookup,
          clock: this.clock,
          onUpdate: (eps) => membership.update(eps),
          onError: (host, err) => this.log(`cluster ${c.name}: DNS lookup of ${host} failed: ${err.message}`),
        }),
      );
    }
    return cluster;
  }

  private buildListener(l: Listener): ListenerRuntime {
    const chain = l.filterChains[0]!;
    const terminalFilter = chain.filters[chain.filters.length - 1]!;
    // The parser guarantees the shape: non-terminal filters, then one terminal filter last.
    const connectionFilters: ConnectionFilter[] = [];
    for (const f of chain.filters.slice(0, -1)) {
      if (f.kind !== "local_ratelimit")
        throw new TrellisError(
          "TRELLIS_LISTENER_SHAPE",
          `listener ${l.name}: ${f.name} cannot come before ${terminalFilter.name}`,
        );
      connectionFilters.push(new NetworkLocalRateLimitFilter(f.config, this.clock, this.stats));
    }
    let terminal: ListenerTerminal;
    if (terminalFilter.kind === "local_ratelimit") {
      throw new TrellisError("TRELLIS_LISTENER_SHAPE", `listener ${l.name}: the filter chain has no terminal filter`);
    } else if (terminalFilter.kind === "http_connection_manager") {
      const hcm = terminalFilter.config;
      const source = `listener ${l.name} http_connection_manager`;
      const loggers = parseAccessLogs(hcm.accessLog, source).map((c) => new PendingAccessLogger(c));
      this.accessLoggers.push(...loggers);
      terminal = {
        kind: "http",
        hcm: new HttpConnectionManagerRuntime(hcm, this.clusterMap, this.clock, this.stats, loggers, this.random),
      };
    } else {
      const stats = createTcpProxyStats(this.stats, terminalFilter.config.statPrefix);
      terminal = {
        kind: "tcp",
        tcp: new TcpProxyRuntime(
          terminalFilter.config,
          this.clusterMap,
          this.clock,
          {
            onSessionStart: () => stats.downstreamCxTotal.inc(),
            onSessionEnd: (info) => {
              stats.downstreamCxRxBytesTotal.inc(info.bytesReceived);
              stats.downstreamCxTxBytesTotal.inc(info.bytesSent);
              if (info.responseFlags === "UH" || info.responseFlags === "NC") stats.downstreamCxNoRoute.inc();
            },
          },
          this.random,
        ),
      };
    }
    return new ListenerRuntime(
      l,
      terminal,
      createListenerStats(this.stats, `${l.address.address}_${l.address.port}`),
      connectionFilters,
    );
  }

  /** Binds every listener (all or none), starts DNS resolution and the admin server. */
  async start(): Promise<void> {
    // STRICT_DNS clusters start with their first answers (as Envoy's cluster warming does), so the first request
    // does not meet an empty cluster.
    await Promise.all(this.resolvers.map((r) => r.start()));
    // Health-checked clusters start with the first round of checks done (Envoy's warming again): an endpoint is
    // pending until its first check, and a cluster of pending endpoints would serve no one well. Each check is
    // bounded by its timeout, so this wait is too.
    await Promise.all([...this.clusterMap.values()].map((c) => c.initialize()));
    const bound: ListenerRuntime[] = [];
    try {
      await Promise.all(this.accessLoggers.map((l) => l.open(this.accessLogManager)));
      for (const l of this.listeners) {
        const { address, port } = l.config.address;
        await l.listen().catch((err: NodeJS.ErrnoException) => {
          throw new TrellisError(
            "TRELLIS_BIND_FAILED",
            `listener ${l.config.name}: cannot bind ${address}:${port}: ${err.code ?? err.message}`,
            {
              cause: err,
            },
          );
        });
        bound.push(l);
      }
      if (this.bootstrap.admin) this.admin = await startAdminServer(this, this.bootstrap.admin.address);
    } catch (err) {
      for (const l of bound) l.destroy();
      for (const c of this.clusterMap.values()) c.healthChecker?.stop();
      const e = err as NodeJS.ErrnoException;
      if (err instanceof TrellisError) throw err;
      throw new TrellisError("TRELLIS_BIND_FAILED", `cannot bind: ${e.message}`, { cause: err });
    }
    this.state = "LIVE";
  }

  /** A cluster's run-time object, by name (admin views and tests look inside). */
  cluster(name: string): UpstreamCluster | undefined {
    return this.clusterMap.get(name);
  }

  /** The addresses actually bound (port 0 resolved), by listener name. */
  listenerAddresses(): Record<string, { address: string; port: number }> {
    const out: Record<string, { address: string; port: number }> = {};
    for (const l of this.listeners) out[l.config.name] = l.address;
    return out;
  }

  get adminPort(): number | undefined {
    return this.admin?.port;
  }

  /**
   * Graceful shutdown: stop accepting, let requests in flight finish (HTTP/1 answers carry connection: close,
   * HTTP/2 sessions get GOAWAY), and after `drainTimeoutMs` close whatever is left.
   */
  shutdown(drainTimeoutMs = this.bootstrap.drainTimeoutMs): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(drainTimeoutMs);
    return this.shutdownPromise;
  }

  private async doShutdown(drainTimeoutMs: number): Promise<void> {
    this.state = "DRAINING";
    const idleGraceMs = Math.min(250, drainTimeoutMs / 2);
    for (const l of this.listeners) l.drain(idleGraceMs);
    const deadline = this.clock.now() + drainTimeoutMs;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        const open = this.listeners.reduce((n, l) => n + l.openConnections, 0);
        if (open === 0 || this.clock.now() >= deadline) resolve();
        else this.clock.setTimer(Math.min(50, Math.max(1, deadline - this.clock.now())), check);
      };
      check();
    });
    for (const l of this.listeners) l.destroy();
    for (const r of this.resolvers) r.stop();
    for (const c of this.clusterMap.values()) c.close();
    await this.admin?.close();
    await this.accessLogManager.closeAll();
    this.state = "STOPPED";
  }

  private log(line: string): void {
    (this.options.log ?? ((l: string) => process.stderr.write(l + "\n")))(line);
  }

  // ---- AdminTarget ---------------------------------------------------------------------------------------------

  isReady(): boolean {
    return this.state === "LIVE";
  }

  serverInfo(): unknown {
    return {
      state: this.state,
      version: "trellis/0.1.0",
      node: this.bootstrap.node,
      uptime_seconds: Math.round((this.clock.wallNow() - this.startedAt) / 1000),
      source: this.options.source,
    };
  }

  configDump(): unknown {
    const b = this.bootstrap;
    return {
      configs: [
        {
          "@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
          bootstrap: { node: b.node, admin: b.admin },
        },
        {
          "@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
          static_listeners: b.staticResources.listeners.map((listener) => ({ listener })),
        },
        {
          "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
          static_clusters: b.staticResources.clusters.map((cluster) => ({ cluster })),
        },
        {
          "@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
          static_route_configs: b.staticResources.listeners.flatMap((l) =>
            l.filterChains.flatMap((fc) =>
              fc.filters.flatMap((f) =>
                f.kind === "http_connection_manager" ? [{ route_config: f.config.routeConfig }] : [],
              ),
            ),
          ),
        },
      ],
    };
  }

  clusters(): ClusterStatus[] {
    return [...this.clusterMap.values()].map((c) => ({
      name: c.name,
      counters: {
        ...thresholdLines("default_priority", c.resources),
        ...thresholdLines("high_priority", c.highPriorityResources),
      },
      endpoints: c.membership.endpoints.map((e) => ({
        address: e.address,
        port: e.port,
        weight: e.weight,
        healthy: e.healthy,
        healthFlags: e.healthFlagsText,
        activeRequests: e.activeRequests,
        priority: e.priority,
        locality: e.locality ? `${e.locality.region}/${e.locality.zone}/${e.locality.subZone}` : undefined,
        successRate: c.outlierDetector?.host(e)?.successRate ?? -1,
        localOriginSuccessRate: c.outlierDetector?.host(e)?.localOriginSuccessRate ?? -1,
        counters: {
          rq_active: e.activeRequests,
          rq_total: e.rqTotal,
          rq_success: e.rqSuccess,
          rq_error: e.rqError,
          rq_timeout: e.rqTimeout,
          cx_pool_active: c.poolOf(e)?.active ?? 0,
        },
      })),
    }));
  }

  drainListeners(): void {
    for (const l of this.listeners) l.drain();
    this.state = "DRAINING";
  }

  quit(): void {
    void this.shutdown().then(() => this.options.onQuit?.());
  }
}

/**
 * The circuit breaker lines of /clusters, as Envoy prints them (`backend::default_priority::max_connections::1024`);
 * max_retries is the retry budget's current allowance when a budget is configured (Envoy prints that too).
 */
function thresholdLines(prefix: string, r: ClusterResources): Record<string, number> {
  return {
    [`${prefix}::max_connections`]: r.connections.max,
    [`${prefix}::max_pending_requests`]: r.pendingRequests.max,
    [`${prefix}::max_requests`]: r.requests.max,
    [`${prefix}::max_retries`]: r.retryMax(),
  };
}
