// The sidecar as a whole: typed configuration in, listeners, clusters and the admin server out. Static resources
// (the bootstrap) are built, and every configuration error thrown, before the first port is bound; dynamic ones
// (xDS) arrive through applyResources, all or nothing per response (config/runtime.ts). Shutdown drains gracefully.

import { dnsCacheManager } from "./upstream/dns-cache.ts";
import type { Clock } from "../api/clock.ts";
import { CoarseClock } from "./coarse-clock.ts";
import { redactSecrets } from "./tls/redact.ts";
import { TrellisError } from "../api/errors.ts";
import type { Bootstrap } from "../api/xds/types.ts";
import { TYPE_URL } from "../api/xds/wire/codec.ts";
import { StatsStore } from "../telemetry/stats.ts";
import type { AccessLogConfig } from "../telemetry/access-log.ts";
import { adminAccessLogConfigs, openAdminAccessLog } from "./admin/access-log.ts";
import { startAdminServer, type AdminServer, type AdminTarget, type ClusterStatus } from "./admin/server.ts";
import { AccessLogManager } from "./http/access-logger.ts";
import type { UpstreamCluster } from "./upstream/cluster.ts";
import type { DnsLookup } from "./upstream/dns.ts";
import type { ClusterResources } from "./upstream/circuit-breakers.ts";
import { RuntimeConfig, waitForConnections } from "./config/runtime.ts";
import { unhandledErrorReporter, type UnhandledErrorReporter } from "./listener/guard.ts";
import type { XdsTarget } from "./config/target.ts";

export interface ProxyOptions {
  /** Default: the system clock with coarse long timers (coarse-clock.ts); tests pass a ManualClock. */
  clock?: Clock;
  /** Where the configuration came from (for logs and /server_info). */
  source?: string;
  /** Called by POST /quitquitquit (the CLI exits the process after shutdown). */
  onQuit?: () => void;
  log?: (line: string) => void;
  /** Uniform in [0, 1) for every random decision (balancing, splits, faults, jitter); tests pass a seeded one. */
  random?: () => number;
  /**
   * The DNS resolver of STRICT_DNS and LOGICAL_DNS clusters and of the dynamic forward proxy's DNS caches (default:
   * the system's, getaddrinfo); tests map names to 127.0.0.x.
   */
  dnsLookup?: DnsLookup;
}

export type ProxyState = "PRE_INITIALIZING" | "LIVE" | "DRAINING" | "STOPPED";

export class Proxy implements AdminTarget, XdsTarget {
  readonly stats = new StatsStore();
  readonly clock: Clock;
  private readonly random: () => number;
  private readonly runtime: RuntimeConfig;
  private readonly accessLogManager: AccessLogManager;
  private admin: AdminServer | undefined;
  /** The admin server's own access logs (admin.access_log, admin.access_log_path), checked at construction. */
  private readonly adminAccessLogs: AccessLogConfig[];
  private state: ProxyState = "PRE_INITIALIZING";
  private readonly startedAt: number;
  private shutdownPromise: Promise<void> | undefined;
  private readonly reportUnhandled: UnhandledErrorReporter;

  /** Builds every static run-time object; throws ConfigError (nothing bound yet) when the configuration is unusable. */
  constructor(
    readonly bootstrap: Bootstrap,
    private readonly options: ProxyOptions = {},
  ) {
    this.clock = options.clock ?? new CoarseClock();
    this.random = options.random ?? Math.random;
    this.startedAt = this.clock.wallNow();
    // A failed access log write loses that batch's lines (the sink counts them); it is logged, the first time and
    // then every 1000th, so a dead disk or a closed stdout does not flood the log.
    let logWriteFailures = 0;
    this.accessLogManager = new AccessLogManager(this.clock, {
      onError: (err, path) => {
        if (logWriteFailures++ % 1000 === 0)
          this.log(`access log ${path}: write failed: ${err.message} (${logWriteFailures} failed batches so far)`);
      },
    });
    this.reportUnhandled = unhandledErrorReporter(this.stats, (line) => this.log(line));
    if (options.dnsLookup !== undefined) dnsCacheManager(this.stats).lookup = options.dnsLookup;
    this.runtime = new RuntimeConfig({
      clock: this.clock,
      random: this.random,
      stats: this.stats,
      log: (line) => this.log(line),
      accessLogManager: this.accessLogManager,
      drainTimeoutMs: () => this.bootstrap.drainTimeoutMs,
      ...(options.dnsLookup === undefined ? {} : { dnsLookup: options.dnsLookup }),
    });
    this.runtime.addStatic(
      bootstrap.staticResources.clusters,
      bootstrap.staticResources.listeners,
      bootstrap.staticResources.secrets,
    );
    this.adminAccessLogs =
      bootstrap.admin === undefined ? [] : adminAccessLogConfigs(bootstrap.admin, options.source ?? "bootstrap");
  }

  /** Binds every listener (all or none), starts DNS resolution and the admin server. */
  async start(): Promise<void> {
    // STRICT_DNS clusters start with their first answers and health-checked clusters with their first round of
    // checks (Envoy's cluster warming), so the first request does not meet an empty or unknown cluster.
    try {
      await this.runtime.start();
      if (this.bootstrap.admin) {
        const request = await openAdminAccessLog(this.adminAccessLogs, this.accessLogManager, this.clock);
        this.admin = await startAdminServer(
          this,
          this.bootstrap.admin.address,
          request === undefined ? undefined : { request, now: () => this.clock.now() },
        );
      }
    } catch (err) {
      for (const l of this.runtime.allListenerRuntimes()) l.destroy();
      const e = err as NodeJS.ErrnoException;
      if (err instanceof TrellisError) throw err;
      throw new TrellisError("TRELLIS_BIND_FAILED", `cannot bind: ${e.message}`, { cause: err });
    }
    this.state = "LIVE";
  }

  // ---- XdsTarget: what the xDS client drives --------------------------------------------------------------------

  /**
   * Applies one xDS response of `typeUrl` (its resources as Envoy JSON), all or nothing. Rejects with
   * XdsUpdateRejected (every problem: resource, field path, expectation); the last good configuration stays.
   */
  applyResources(typeUrl: string, versionInfo: string, resources: readonly Record<string, unknown>[]): Promise<void> {
    if (this.state === "DRAINING" || this.state === "STOPPED")
      return Promise.reject(new TrellisError("TRELLIS_PROXY_STOPPING", "the proxy is shutting down"));
    return this.runtime.apply(typeUrl, versionInfo, resources);
  }

  /** Route configuration names the listeners in service use (RDS subscription). */
  routeConfigNames(): string[] {
    return this.runtime.routes.referencedNames();
  }

  /** SDS secret names the TLS contexts receive over ADS (SDS subscription). */
  secretNames(): string[] {
    return this.runtime.secretNames();
  }

  /** Service names of the EDS clusters (EDS subscription). */
  edsServiceNames(): string[] {
    return this.runtime.edsServiceNames();
  }

  /** A cluster's run-time object, by name (admin views and tests look inside). */
  cluster(name: string): UpstreamCluster | undefined {
    return this.runtime.clusters.get(name);
  }

  /** The addresses actually bound (port 0 resolved), by listener name. */
  listenerAddresses(): Record<string, { address: string; port: number }> {
    const out: Record<string, { address: string; port: number }> = {};
    for (const [name, l] of this.runtime.activeListeners()) out[name] = l.address;
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
    // The clock's timers never hold the event loop (clock.ts), and once the listeners are closed and the last
    // connection has ended they can be all that is left: the drain's poll, the access log's flush timer. Node then
    // runs out of work with the shutdown promise unsettled (exit 13, the access log's last batch never written).
    // One ref'd timer holds the process until the drain, the flush and the close are done.
    const hold = setInterval(noop, 1 << 30);
    try {
      const idleGraceMs = Math.min(250, drainTimeoutMs / 2);
      const listeners = this.runtime.allListenerRuntimes();
      for (const l of listeners) l.drain(idleGraceMs);
      await waitForConnections(listeners, this.clock, drainTimeoutMs);
      for (const l of this.runtime.allListenerRuntimes()) l.destroy();
      this.runtime.stopResolvers();
      for (const c of this.runtime.clusters.values()) c.close();
      await this.admin?.close();
      await this.accessLogManager.closeAll();
    } finally {
      clearInterval(hold);
      this.state = "STOPPED";
    }
  }

  /**
   * The process's last line (`trellis proxy` calls this from uncaughtException and unhandledRejection): counted in
   * server.unhandled_errors and logged; the proxy keeps serving. No connection is known there; throws from a
   * downstream connection's callbacks are caught earlier, with the connection (listener/guard.ts).
   */
  unhandledError(err: unknown, origin: string): void {
    this.reportUnhandled(err, `${origin}, no connection known`);
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

  /** Envoy's /config_dump; every private key is shown as [redacted] (tls/redact.ts). */
  configDump(): unknown {
    const b = this.bootstrap;
    const dynamic = this.runtime.dynamicDump();
    const version = (typeUrl: string): string => this.runtime.versions.get(typeUrl) ?? "";
    return redactSecrets({
      configs: [
        {
          "@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
          bootstrap: { node: b.node, admin: b.admin },
        },
        {
          "@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
          version_info: version(TYPE_URL.listener),
          static_listeners: b.staticResources.listeners.map((listener) => ({ listener })),
          dynamic_listeners: dynamic.listeners,
        },
        {
          "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
          version_info: version(TYPE_URL.cluster),
          static_clusters: b.staticResources.clusters.map((cluster) => ({ cluster })),
          dynamic_active_clusters: dynamic.clusters,
        },
        {
          "@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
          static_route_configs: b.staticResources.listeners.flatMap((l) =>
            l.filterChains.flatMap((fc) =>
              fc.filters.flatMap((f) =>
                f.kind === "http_connection_manager" && f.config.routeConfig !== undefined
                  ? [{ route_config: f.config.routeConfig }]
                  : [],
              ),
            ),
          ),
          dynamic_route_configs: dynamic.routes,
        },
        // Envoy shows endpoints only with ?include_eds; here they are shown whenever EDS has sent some.
        ...(dynamic.endpoints.length === 0
          ? []
          : [
              {
                "@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
                dynamic_endpoint_configs: dynamic.endpoints,
              },
            ]),
        ...((b.staticResources.secrets ?? []).length === 0 && dynamic.secrets.length === 0
          ? []
          : [
              {
                "@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump",
                static_secrets: (b.staticResources.secrets ?? []).map((secret) => ({ name: secret.name, secret })),
                dynamic_active_secrets: dynamic.secrets,
              },
            ]),
      ],
    });
  }

  clusters(): ClusterStatus[] {
    return [...this.runtime.clusters.values()].map((c) => ({
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
    for (const l of this.runtime.allListenerRuntimes()) l.drain();
    this.state = "DRAINING";
  }

  quit(): void {
    void this.shutdown().then(() => this.options.onQuit?.());
  }
}

function noop(): void {}

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
