// A cluster at run time: its membership (endpoints and the balancer over them), its circuit breakers (resource
// managers per priority), one connection pool per endpoint, created on first use, and its active health checker
// and outlier detector when configured. Built from the typed Cluster when configuration arrives; the connection
// options (TCP keepalive, max connection duration, HTTP/2 stream cap, the downstream's protocol) are fixed here,
// so a cluster without them pays nothing for them per request.

import type net from "node:net";
import type { Clock } from "../../api/clock.ts";
import type { Cluster } from "../../api/xds/types.ts";
import type { ClusterStats } from "../../telemetry/envoy-stats.ts";
import { Http1ConnectionPool } from "../http1/pool.ts";
import { DEFAULT_LIMITS } from "../http1/limits.ts";
import { H2ConnectionPool } from "../http2/upstream-pool.ts";
import type { Endpoint } from "./endpoint.ts";
import type { ConnectionPool, PoolOptions, RetireReason } from "./pool.ts";
import { DownstreamProtocolPool } from "./downstream-protocol-pool.ts";
import { SecretStore } from "../tls/secrets.ts";
import { SslStats } from "../tls/stats.ts";
import { UpstreamTls } from "../tls/upstream.ts";
import { keepAliveDelayMs, netConnect, upstreamConnector, type UpstreamConnect } from "./connect.ts";
import { proxyProtocolConnector } from "./proxy-protocol-socket.ts";
import type { ClusterMembership } from "./membership.ts";
import type { PickContext } from "./balancer.ts";
import type { OutlierReporter } from "./outlier-reporter.ts";
import { OutlierDetector } from "./outlier/detector.ts";
import type { StatsStore } from "../../telemetry/stats.ts";
import { createHealthCheckStats } from "../../telemetry/health-check-stats.ts";
import { HealthChecker } from "./health/checker.ts";
import { ClusterResources, EndpointBreakers, refuseWithOverflow } from "./circuit-breakers.ts";

/** What a cluster's run-time parts (pools, health checking, outlier detection) share with the proxy. */
export interface ClusterContext {
  clock: Clock;
  /** Uniform in [0, 1): jitter and percentages; tests pass a seeded generator. */
  random: () => number;
  store: StatsStore;
  log: (line: string) => void;
  /**
   * Whether address:port is where one of this proxy's own listeners listens (an ORIGINAL_DST cluster's loop guard).
   * Absent: nothing is known to be the proxy's own.
   */
  isOwnListener?: (address: string, port: number) => boolean;
  /** Secrets for the cluster's TLS context (SDS, static). */
  secrets?: SecretStore;
}

export class UpstreamCluster {
  readonly name: string;
  /** Outlier detection, when the cluster configures it; the router reports each attempt's result to it. */
  outlier: OutlierReporter | undefined;
  /** Active health checking (health_checks), when the cluster configures it; runs from initialize() to close(). */
  readonly healthChecker: HealthChecker | undefined;
  /** The same detector with its state (success rates for /clusters, the active-health-check hook). */
  readonly outlierDetector: OutlierDetector | undefined;
  /**
   * The circuit breakers at DEFAULT priority: every request is routed at DEFAULT here. The router calls
   * tryStartRequest/endRequest per attempt and tryStartRetry/endRetry per retry; pools and the TCP proxy count
   * connections and pending requests.
   */
  readonly resources: ClusterResources;
  /** HIGH priority thresholds: built so /clusters and the stats show them as Envoy does; nothing routes at HIGH. */
  readonly highPriorityResources: ClusterResources;
  /**
   * upstream_connection_options.tcp_keepalive as net.connect's keepalive delay (0 = the system's idle time);
   * undefined = no keepalive. The TCP proxy reads it; the pools get `connect`.
   */
  readonly keepAliveMs: number | undefined;
  /** The HTTP/1.1 pools' (and, over TLS, offering ALPN http/1.1 when the context names no protocol). */
  private readonly connect: UpstreamConnect;
  /** The HTTP/2 pools': over TLS, ALPN h2 when the context names no protocol (Envoy's fallback). */
  private readonly connectH2: UpstreamConnect;
  /** The cluster's TLS origination (undefined: plaintext). */
  readonly upstreamTls: UpstreamTls | undefined;
  private readonly clock: Clock;
  private readonly pools = new Map<string, ConnectionPool>();
  private closed = false;
  /** The hosts as of the last membership change (membership_change counts changes of this). */
  private hosts = "";

  constructor(
    readonly config: Cluster,
    readonly membership: ClusterMembership,
    readonly stats: ClusterStats,
    readonly context: ClusterContext,
  ) {
    this.name = config.name;
    this.clock = context.clock;
    this.keepAliveMs = keepAliveDelayMs(config.tcpKeepalive);
    const connect = this.keepAliveMs === undefined ? netConnect : upstreamConnector(this.keepAliveMs);
    const plain =
      config.upstreamProxyProtocol === undefined
        ? connect
        : proxyProtocolConnector(connect, config.upstreamProxyProtocol);
    // transport_socket envoy.transport_sockets.tls: every connection of the pools (and tcp_proxy) is TLS.
    this.upstreamTls =
      config.tls === undefined
        ? undefined
        : new UpstreamTls(
            config.tls,
            context.secrets ?? new SecretStore(),
            new SslStats(context.store, { kind: "cluster", name: config.name }),
            config.name,
          );
    this.connect = this.upstreamTls === undefined ? plain : this.upstreamTls.wrap(plain, ["http/1.1"]);
    this.connectH2 = this.upstreamTls === undefined ? plain : this.upstreamTls.wrap(plain, ["h2"]);
    const cb = config.circuitBreakers;
    this.resources = new ClusterResources(
      "DEFAULT",
      cb.default,
      cb.perHostMaxConnections.default,
      stats,
      context.store,
    );
    this.highPriorityResources = new ClusterResources(
      "HIGH",
      cb.high,
      cb.perHostMaxConnections.high,
      stats,
      context.store,
    );
    membership.onChange((_endpoints, removed) => this.onMembershipChange(removed));
    membership.onPanicPick = () => stats.lbHealthyPanic.inc();
    if (config.outlierDetection !== undefined) {
      this.outlierDetector = new OutlierDetector(config.outlierDetection, membership, context, config.name);
      this.outlier = this.outlierDetector;
    }
    const hc = config.healthChecks[0];
    if (hc !== undefined) {
      this.healthChecker = new HealthChecker(config, hc, membership, {
        clock: context.clock,
        random: context.random,
        stats: createHealthCheckStats(context.store, config.name),
        log: context.log,
        // Envoy's rule: until the cluster has made an upstream connection, checks run at no_traffic_interval.
        hasTraffic: () => stats.upstreamCxTotal.value > 0,
      });
      // successful_active_health_check_uneject_host: a passing check returns an endpoint outlier detection ejected.
      const detector = this.outlierDetector;
      if (detector !== undefined)
        this.healthChecker.onCheck((key, result) => {
          if (!result.ok) return;
          const endpoint = membership.endpoints.find((e) => e.key === key);
          if (endpoint !== undefined) detector.onActiveHealthCheckPassed(endpoint);
        });
    }
    this.updateMembershipGauges();
  }

  /**
   * Starts what runs on its own (active health checks). Resolves when the cluster is warm — every endpoint has
   * had its first health check, as Envoy's cluster warming waits for — so the first request finds healthy ones.
   */
  initialize(): Promise<void> {
    return this.healthChecker?.start() ?? Promise.resolve();
  }

  /**
   * A retry may start: max_retries, or the retry budget, of the DEFAULT priority has room; false counts
   * upstream_rq_retry_overflow. (The router calls these; they are resources.tryStartRetry/endRetry.)
   */
  tryStartRetry(): boolean {
    return this.resources.tryStartRetry();
  }

  endRetry(): void {
    this.resources.endRetry();
  }

  /** One upstream request (an attempt, a mirror copy) to `endpoint` starts: the counters /clusters and stats show. */
  requestStarted(endpoint: Endpoint): void {
    endpoint.activeRequests++;
    endpoint.rqTotal++;
    this.stats.upstreamRqTotal.inc();
    this.stats.upstreamRqActive.inc();
  }

  /**
   * The request started with requestStarted was never sent (the pool could not encode it): the endpoint's counts
   * are as if it had not been tried (the cluster's upstream_rq_total keeps it, as Envoy counts every request the
   * router starts).
   */
  requestNotSent(endpoint: Endpoint): void {
    endpoint.activeRequests--;
    endpoint.rqTotal--;
    this.stats.upstreamRqActive.dec();
  }

  /**
   * It ended with the upstream's status `code`, or 0 when there was none (reset, connect failure, timeout): a
   * response counts by its class, a failure to get one is an error of this host.
   */
  requestEnded(endpoint: Endpoint, code: number, durationMs: number): void {
    endpoint.activeRequests--;
    const stats = this.stats;
    stats.upstreamRqActive.dec();
    if (code >= 500 || code === 0) endpoint.rqError++;
    else endpoint.rqSuccess++;
    if (code > 0) stats.countResponse(code);
    stats.upstreamRqTime.observe(durationMs);
  }

  pick(ctx: PickContext): Endpoint | undefined {
    return this.membership.pick(ctx);
  }

  /**
   * The pool of an endpoint, made on first use. At max_connection_pools an empty pool of another endpoint is
   * reclaimed; with none, the request is refused with "overflow" (Envoy counts upstream_cx_pool_overflow).
   */
  poolFor(endpoint: Endpoint): ConnectionPool {
    let pool = this.pools.get(endpoint.key);
    if (pool === undefined) {
      if (!this.resources.tryCreatePool() && !(this.reclaimEmptyPool() && this.resources.tryCreatePool()))
        return POOL_OVERFLOW;
      pool = this.createPool(endpoint);
      this.pools.set(endpoint.key, pool);
    }
    return pool;
  }

  /** Closes one pool with no connection and no request, to make room under max_connection_pools. */
  private reclaimEmptyPool(): boolean {
    for (const [key, pool] of this.pools) {
      if (pool.connections === 0 && pool.active === 0) {
        this.removePool(key, pool);
        return true;
      }
    }
    return false;
  }

  private removePool(key: string, pool: ConnectionPool): void {
    pool.close();
    this.pools.delete(key);
    this.resources.poolRemoved();
  }

  private createPool(endpoint: Endpoint): ConnectionPool {
    const c = this.config;
    const options: PoolOptions & { clock: Clock; connect: UpstreamConnect } = {
      clock: this.clock,
      connect: this.connect,
      connectTimeoutMs: c.connectTimeoutMs,
      idleTimeoutMs: c.upstreamIdleTimeoutMs,
      maxRequestsPerConnection: c.maxRequestsPerConnection,
      maxConnectionDurationMs: c.maxConnectionDurationMs ?? 0,
      breakers: new EndpointBreakers(this.resources, endpoint),
    };
    if (c.useDownstreamProtocol) {
      return new DownstreamProtocolPool((http2) => this.createProtocolPool(endpoint, options, http2));
    }
    return this.createProtocolPool(endpoint, options, c.http2);
  }

  private createProtocolPool(
    endpoint: Endpoint,
    options: PoolOptions & { clock: Clock; connect: UpstreamConnect },
    http2: boolean,
  ): ConnectionPool {
    const stats = this.stats;
    const resources = this.resources;
    const clock = this.clock;
    const poolStats = {
      onConnectionOpened: (socket: net.Socket) => {
        stats.trackConnection(socket, clock);
        stats.upstreamCxTotal.inc();
        stats.upstreamCxActive.inc();
        if (http2) stats.upstreamCxHttp2Total.inc();
        else stats.upstreamCxHttp1Total.inc();
        resources.connectionOpened(endpoint);
      },
      onConnectionClosed: (remote: boolean) => {
        stats.connectionDestroyed(remote);
        stats.upstreamCxActive.dec();
        resources.connectionClosed(endpoint);
      },
      onConnectFailure: (timeout: boolean) => stats.connectFailed(timeout),
      onRetired: (reason: RetireReason) => {
        if (reason === "idle_timeout") stats.upstreamCxIdleTimeout.inc();
        else if (reason === "max_requests") stats.upstreamCxMaxRequests.inc();
        else stats.upstreamCxMaxDurationReached.inc();
      },
    };
    if (http2) {
      const maxConcurrentStreams = this.config.http2MaxConcurrentStreams;
      return new H2ConnectionPool(endpoint, { ...options, connect: this.connectH2, maxConcurrentStreams }, poolStats);
    }
    return new Http1ConnectionPool(endpoint.address, endpoint.port, { ...options, limits: DEFAULT_LIMITS }, poolStats);
  }

  /** Closes the pool of an endpoint that is no longer reachable through this cluster (a dynamic host that left). */
  closePoolOf(endpoint: Endpoint): void {
    const pool = this.pools.get(endpoint.key);
    if (pool !== undefined) this.removePool(endpoint.key, pool);
  }

  /** Pools of endpoints that left the cluster are closed gracefully (requests in flight finish). */
  private onMembershipChange(removed: readonly Endpoint[]): void {
    this.updateMembershipGauges();
    for (const e of removed) {
      const pool = this.pools.get(e.key);
      if (pool === undefined || this.membership.endpoints.some((x) => x.key === e.key)) continue;
      this.removePool(e.key, pool);
    }
  }

  /**
   * membership_total, membership_healthy (degraded hosts not included, as in Envoy) and membership_degraded follow
   * every change of membership or health; membership_change counts changes of the set of hosts (addresses), not of
   * their health, the first hosts included.
   */
  private updateMembershipGauges(): void {
    const endpoints = this.membership.endpoints;
    let healthy = 0;
    let degraded = 0;
    for (const e of endpoints) {
      if (e.healthStatus === "DEGRADED") degraded++;
      else if (e.healthy) healthy++;
    }
    this.stats.membershipTotal.set(endpoints.length);
    this.stats.membershipHealthy.set(healthy);
    this.stats.membershipDegraded.set(degraded);
    const hosts = endpoints
      .map((e) => e.key)
      .sort()
      .join(" ");
    if (hosts !== this.hosts) {
      this.hosts = hosts;
      this.stats.membershipChange.inc();
    }
  }

  /** Pool state per endpoint, for /clusters. */
  poolOf(endpoint: Endpoint): ConnectionPool | undefined {
    return this.pools.get(endpoint.key);
  }

  /**
   * A cluster replaced or removed by CDS: health checking and outlier detection stop now; the pools close once no
   * request is in flight on them (requests already queued or running finish), or after `maxWaitMs` at most.
   */
  retire(maxWaitMs: number): void {
    this.healthChecker?.stop();
    this.outlierDetector?.stop();
    const deadline = this.clock.now() + maxWaitMs;
    const check = (): void => {
      let busy = 0;
      for (const pool of this.pools.values()) busy += pool.active;
      if (busy === 0 || this.clock.now() >= deadline) this.close();
      else this.clock.setTimer(Math.min(100, Math.max(1, deadline - this.clock.now())), check);
    };
    check();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.healthChecker?.stop();
    this.outlierDetector?.stop();
    for (const [key, pool] of [...this.pools]) this.removePool(key, pool);
  }
}

/** The "pool" of an endpoint that max_connection_pools leaves without one: it refuses every request (503 UO). */
const POOL_OVERFLOW: ConnectionPool = {
  active: 0,
  connections: 0,
  request: (_request, handler) => refuseWithOverflow(handler, "max_connection_pools"),
  close: () => {},
};
