// Envoy's per-cluster resource manager (circuit_breakers): counts of connections, requests waiting for a
// connection, requests in flight, concurrent retries and connection pools, each against its threshold. Callers ask
// before taking a resource and give it back exactly once; a refusal is counted in Envoy's overflow stat and the
// request is answered at once (503 UO), never queued beyond the limits.
//
// Accounting, as the data path uses it:
// - connections: every upstream connection of the cluster from the moment it starts connecting until it closes
//   (HTTP/1.1 and HTTP/2 pools, WebSocket tunnels, TCP proxy sessions); per endpoint too (Endpoint.connections)
//   for per_host_thresholds.
// - pending requests: requests queued in an HTTP/1.1 pool because max_connections stopped it opening one.
// - requests: upstream attempts in flight, counted by the router from dispatch until the attempt ends (so a
//   request waiting in a pool queue is both pending and a request here; Envoy's "requests + pending" for the retry
//   budget is therefore this count alone).
// - retries: retries in flight, counted by the router.
// - connection pools: endpoint pools of the cluster.
//
// The happy path is an integer compare and an add per call; gauges are plain property writes.

import { TrellisError } from "../../api/errors.ts";
import type { CircuitBreakerThresholds, RetryBudget, RoutingPriority } from "../../api/xds/types.ts";
import type { ClusterStats } from "../../telemetry/envoy-stats.ts";
import { Gauge, type StatsStore } from "../../telemetry/stats.ts";
import type { Endpoint } from "./endpoint.ts";
import type { PoolBreakers, UpstreamHandler, UpstreamStream } from "./pool.ts";

/** One limited resource: how many are taken, the most allowed, and the gauges that publish it. */
export class Resource {
  count = 0;

  constructor(
    readonly max: number,
    /** circuit_breakers.<priority>.<x>_open: 1 while the resource is at its limit. */
    private readonly open: Gauge,
    /** circuit_breakers.<priority>.remaining_<x>, only with track_remaining. */
    private readonly remaining: Gauge | undefined,
  ) {
    this.publish(max);
  }

  canCreate(): boolean {
    return this.count < this.max;
  }

  inc(): void {
    this.count++;
    this.publish(this.max);
  }

  dec(): void {
    this.count--;
    this.publish(this.max);
  }

  /** Updates the gauges against `max` (the retry budget's maximum moves with the requests in flight). */
  publish(max: number): void {
    this.open.value = this.count >= max ? 1 : 0;
    if (this.remaining !== undefined) this.remaining.value = max > this.count ? max - this.count : 0;
  }
}

/** The resources of one cluster at one routing priority (Envoy's ResourceManagerImpl). */
export class ClusterResources {
  readonly connections: Resource;
  readonly pendingRequests: Resource;
  readonly requests: Resource;
  readonly retries: Resource;
  readonly connectionPools: Resource;
  /** per_host_thresholds max_connections; Infinity when not configured. */
  readonly perHostMaxConnections: number;
  /** retry_budget; undefined = max_retries. */
  readonly retryBudget: RetryBudget | undefined;

  constructor(
    readonly priority: RoutingPriority,
    readonly thresholds: CircuitBreakerThresholds,
    perHostMaxConnections: number | undefined,
    private readonly stats: ClusterStats,
    store: StatsStore,
  ) {
    const scope = `envoy_cluster_circuit_breakers_${priority === "DEFAULT" ? "default" : "high"}_`;
    // Routes cannot ask for HIGH priority (route priority is refused), so HIGH's gauges could never move: they are
    // kept off the stats (unregistered) while /clusters still shows HIGH's thresholds.
    const gauge = (name: string, help: string): Gauge =>
      priority === "HIGH" ? new Gauge() : store.gauge(scope + name, help, stats.labels);
    const track = thresholds.trackRemaining;
    const remaining = (name: string, help: string): Gauge | undefined => (track ? gauge(name, help) : undefined);
    this.connections = new Resource(
      thresholds.maxConnections,
      gauge("cx_open", "Whether the connection circuit breaker is at its limit (0 closed, 1 open)"),
      remaining("remaining_cx", "Connections remaining until the circuit breaker opens"),
    );
    this.pendingRequests = new Resource(
      thresholds.maxPendingRequests,
      gauge("rq_pending_open", "Whether the pending requests circuit breaker is at its limit (0 closed, 1 open)"),
      remaining("remaining_pending", "Pending requests remaining until the circuit breaker opens"),
    );
    this.requests = new Resource(
      thresholds.maxRequests,
      gauge("rq_open", "Whether the requests circuit breaker is at its limit (0 closed, 1 open)"),
      remaining("remaining_rq", "Requests remaining until the circuit breaker opens"),
    );
    this.retryBudget = thresholds.retryBudget;
    this.retries = new Resource(
      this.retryBudget === undefined ? thresholds.maxRetries : this.budgetMax(),
      gauge("rq_retry_open", "Whether the retry circuit breaker is at its limit (0 closed, 1 open)"),
      remaining("remaining_retries", "Retries remaining until the circuit breaker opens"),
    );
    this.connectionPools = new Resource(
      thresholds.maxConnectionPools,
      gauge("cx_pool_open", "Whether the connection pool circuit breaker is at its limit (0 closed, 1 open)"),
      remaining("remaining_cx_pools", "Connection pools remaining until the circuit breaker opens"),
    );
    this.perHostMaxConnections = perHostMaxConnections ?? Infinity;
  }

  // ---- connections (pools and the TCP proxy) ---------------------------------------------------------------------

  /** Whether one more connection to `endpoint` is within max_connections and the per-host max_connections. */
  canOpenConnection(endpoint: Endpoint): boolean {
    return this.connections.count < this.connections.max && endpoint.connections < this.perHostMaxConnections;
  }

  /** A connection was wanted and the limits said no (Envoy's upstream_cx_overflow). */
  connectionOverflow(): void {
    this.stats.upstreamCxOverflow.inc();
  }

  connectionOpened(endpoint: Endpoint): void {
    this.connections.inc();
    endpoint.connections++;
  }

  connectionClosed(endpoint: Endpoint): void {
    this.connections.dec();
    endpoint.connections--;
  }

  // ---- pending requests (the HTTP/1.1 pool's queue) ---------------------------------------------------------------

  /** Takes a place in a pool's queue; false (counted in upstream_rq_pending_overflow) when max_pending_requests is full. */
  tryStartPending(): boolean {
    const pending = this.pendingRequests;
    if (pending.count >= pending.max) {
      this.stats.upstreamRqPendingOverflow.inc();
      return false;
    }
    pending.inc();
    this.stats.upstreamRqPendingTotal.inc();
    this.stats.upstreamRqPendingActive.inc();
    return true;
  }

  endPending(): void {
    this.pendingRequests.dec();
    this.stats.upstreamRqPendingActive.dec();
  }

  // ---- requests and retries (the router) -------------------------------------------------------------------------

  /**
   * Starts one upstream attempt; false when max_requests is reached (counted in upstream_rq_pending_overflow, where
   * Envoy counts it: "overflowed connection pool or requests circuit breaking").
   */
  tryStartRequest(): boolean {
    const requests = this.requests;
    if (requests.count >= requests.max) {
      this.stats.upstreamRqPendingOverflow.inc();
      return false;
    }
    requests.inc();
    if (this.retryBudget !== undefined) this.retries.publish(this.budgetMax());
    return true;
  }

  endRequest(): void {
    this.requests.dec();
    if (this.retryBudget !== undefined) this.retries.publish(this.budgetMax());
  }

  /** Concurrent retries allowed now: max_retries, or the retry budget's share of the requests in flight. */
  retryMax(): number {
    return this.retryBudget === undefined ? this.retries.max : this.budgetMax();
  }

  /** Starts one retry; false (counted in upstream_rq_retry_overflow) when max_retries or the budget is used up. */
  tryStartRetry(): boolean {
    const retries = this.retries;
    const max = this.retryMax();
    if (retries.count >= max) {
      this.stats.upstreamRqRetryOverflow.inc();
      return false;
    }
    retries.count++;
    retries.publish(max);
    return true;
  }

  endRetry(): void {
    this.retries.count--;
    this.retries.publish(this.retryMax());
  }

  /**
   * Envoy's RetryBudgetImpl::max(): max(min_retry_concurrency, ⌊budget_percent % × requests in flight⌋). Requests
   * here include those waiting in a pool queue, which is Envoy's requests + pending.
   */
  private budgetMax(): number {
    const budget = this.retryBudget!;
    const share = Math.floor((budget.budgetPercent / 100) * this.requests.count + 1e-9);
    return share > budget.minRetryConcurrency ? share : budget.minRetryConcurrency;
  }

  // ---- connection pools -------------------------------------------------------------------------------------------

  /** Takes a place for a new endpoint pool; false (counted in upstream_cx_pool_overflow) at max_connection_pools. */
  tryCreatePool(): boolean {
    const pools = this.connectionPools;
    if (pools.count >= pools.max) {
      this.stats.upstreamCxPoolOverflow.inc();
      return false;
    }
    pools.inc();
    return true;
  }

  poolRemoved(): void {
    this.connectionPools.dec();
  }
}

/** The breakers one endpoint's pool consults: the cluster's resources and that endpoint's connection count. */
export class EndpointBreakers implements PoolBreakers {
  constructor(
    private readonly resources: ClusterResources,
    private readonly endpoint: Endpoint,
  ) {}

  canOpenConnection(): boolean {
    return this.resources.canOpenConnection(this.endpoint);
  }

  connectionOverflow(): void {
    this.resources.connectionOverflow();
  }

  tryStartPending(): boolean {
    return this.resources.tryStartPending();
  }

  endPending(): void {
    this.resources.endPending();
  }
}

/** A request refused by a circuit breaker; the router answers it with 503 and flag UO. */
export class CircuitBreakerOverflowError extends TrellisError {
  constructor(what: string) {
    super("TRELLIS_UPSTREAM_OVERFLOW", `circuit breaker overflow: ${what}`);
  }
}

/**
 * Refuses a request with the "overflow" connect outcome. Reported in a microtask, like every pool failure, so the
 * caller holds its UpstreamStream first; aborting that stream before then cancels the report. Allocates only on
 * this (refusal) path.
 */
export function refuseWithOverflow(handler: UpstreamHandler, what: string): UpstreamStream {
  const stream = new RefusedStream(handler, what);
  queueMicrotask(stream.report);
  return stream;
}

class RefusedStream implements UpstreamStream {
  private cancelled = false;

  constructor(
    private readonly handler: UpstreamHandler,
    private readonly what: string,
  ) {}

  readonly report = (): void => {
    if (!this.cancelled) this.handler.onConnectFailure("overflow", new CircuitBreakerOverflowError(this.what));
  };

  abort(): void {
    this.cancelled = true;
  }

  resume(): void {}
}
