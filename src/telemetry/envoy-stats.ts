// The stats Envoy users look at first, pre-created per owner (cluster, connection manager, listener, TCP proxy)
// with Envoy's Prometheus names and tags, so Envoy dashboards and alerts keep working. Created when configuration
// arrives; the data path holds the returned object and only does `stats.rqTotal.inc()`.

import type net from "node:net";
import type { Clock } from "../api/clock.ts";
import type { Counter, Gauge, Histogram, Labels, StatsStore } from "./stats.ts";

/** A socket's byte counts (net.Socket keeps them itself, so reading them at close costs nothing per read). */
export interface ByteCounts {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/** Response classes 1xx..5xx, indexed by the first digit. Slot 0 is unused. */
type ClassCounters = readonly [undefined, Counter, Counter, Counter, Counter, Counter];

function classCounters(store: StatsStore, name: string, help: string, labels: Labels): ClassCounters {
  const c = (d: number) => store.counter(name, help, { envoy_response_code_class: String(d), ...labels });
  return [undefined, c(1), c(2), c(3), c(4), c(5)];
}

// ---------------------------------------------------------------------------------------------------------------
// cluster.<name>.*

export class ClusterStats {
  readonly labels: Labels;
  readonly upstreamRqTotal: Counter;
  readonly upstreamRqCompleted: Counter;
  readonly upstreamRq1xx: Counter;
  readonly upstreamRq2xx: Counter;
  readonly upstreamRq3xx: Counter;
  readonly upstreamRq4xx: Counter;
  readonly upstreamRq5xx: Counter;
  readonly upstreamRqTime: Histogram;
  readonly upstreamRqActive: Gauge;
  readonly upstreamRqPendingActive: Gauge;
  readonly upstreamRqPendingTotal: Counter;
  readonly upstreamRqTimeout: Counter;
  readonly upstreamRqPerTryTimeout: Counter;
  readonly upstreamRqPendingOverflow: Counter;
  readonly upstreamRqRetry: Counter;
  readonly upstreamRqRetrySuccess: Counter;
  readonly upstreamRqRetryLimitExceeded: Counter;
  readonly upstreamRqRetryBackoffExponential: Counter;
  readonly upstreamRqRetryOverflow: Counter;
  readonly upstreamRqRxReset: Counter;
  readonly upstreamRqTxReset: Counter;
  readonly upstreamRqMaxDurationReached: Counter;
  readonly upstreamCxTotal: Counter;
  readonly upstreamCxActive: Gauge;
  readonly upstreamCxHttp1Total: Counter;
  readonly upstreamCxHttp2Total: Counter;
  readonly upstreamCxConnectFail: Counter;
  readonly upstreamCxConnectTimeout: Counter;
  readonly upstreamCxConnectMs: Histogram;
  readonly upstreamCxLengthMs: Histogram;
  readonly upstreamCxDestroy: Counter;
  readonly upstreamCxDestroyLocal: Counter;
  readonly upstreamCxDestroyRemote: Counter;
  readonly upstreamCxIdleTimeout: Counter;
  readonly upstreamCxMaxRequests: Counter;
  readonly upstreamCxMaxDurationReached: Counter;
  readonly upstreamCxNoneHealthy: Counter;
  readonly upstreamCxOverflow: Counter;
  readonly upstreamCxPoolOverflow: Counter;
  readonly upstreamCxRxBytesTotal: Counter;
  readonly upstreamCxTxBytesTotal: Counter;
  readonly membershipTotal: Gauge;
  readonly membershipHealthy: Gauge;
  readonly membershipDegraded: Gauge;
  readonly membershipChange: Counter;
  readonly lbHealthyPanic: Counter;

  private readonly store: StatsStore;
  private readonly byClass: ClassCounters;
  /** upstream_rq_<code> counters, created on first use (a cluster sees a handful of codes), indexed by code. */
  private readonly byCode: (Counter | undefined)[] = [];

  constructor(store: StatsStore, clusterName: string) {
    const labels: Labels = { envoy_cluster_name: clusterName };
    this.store = store;
    this.labels = labels;
    const counter = (name: string, help: string) => store.counter("envoy_cluster_" + name, help, labels);
    const gauge = (name: string, help: string) => store.gauge("envoy_cluster_" + name, help, labels);
    const histogram = (name: string, help: string) => store.histogram("envoy_cluster_" + name, help, labels);

    this.upstreamRqTotal = counter("upstream_rq_total", "Total requests");
    this.upstreamRqCompleted = counter("upstream_rq_completed", "Total upstream requests completed");
    this.byClass = classCounters(store, "envoy_cluster_upstream_rq_xx", "Upstream responses by class", labels);
    [, this.upstreamRq1xx, this.upstreamRq2xx, this.upstreamRq3xx, this.upstreamRq4xx, this.upstreamRq5xx] =
      this.byClass;
    this.upstreamRqTime = histogram("upstream_rq_time", "Request time milliseconds");
    this.upstreamRqActive = gauge("upstream_rq_active", "Total active requests");
    this.upstreamRqPendingActive = gauge("upstream_rq_pending_active", "Total active requests pending a connection");
    this.upstreamRqPendingTotal = counter("upstream_rq_pending_total", "Total requests pending a connection");
    this.upstreamRqTimeout = counter("upstream_rq_timeout", "Total requests that timed out waiting for a response");
    this.upstreamRqPerTryTimeout = counter(
      "upstream_rq_per_try_timeout",
      "Total requests that hit the per try timeout",
    );
    this.upstreamRqPendingOverflow = counter(
      "upstream_rq_pending_overflow",
      "Total requests that overflowed connection pool or requests (mainly for HTTP/2 and above) circuit breaking and were failed",
    );
    this.upstreamRqRetry = counter("upstream_rq_retry", "Total request retries");
    this.upstreamRqRetrySuccess = counter("upstream_rq_retry_success", "Total request retry successes");
    this.upstreamRqRetryLimitExceeded = counter(
      "upstream_rq_retry_limit_exceeded",
      "Total requests not retried due to exceeding the configured number of maximum retries",
    );
    this.upstreamRqRetryBackoffExponential = counter(
      "upstream_rq_retry_backoff_exponential",
      "Total retries using the exponential backoff strategy",
    );
    this.upstreamRqRetryOverflow = counter(
      "upstream_rq_retry_overflow",
      "Total requests not retried due to circuit breaking or exceeding the retry budget",
    );
    this.upstreamRqRxReset = counter("upstream_rq_rx_reset", "Total requests that were reset remotely");
    this.upstreamRqTxReset = counter("upstream_rq_tx_reset", "Total requests that were reset locally");
    this.upstreamRqMaxDurationReached = counter(
      "upstream_rq_max_duration_reached",
      "Total requests closed due to max duration reached",
    );
    this.upstreamCxTotal = counter("upstream_cx_total", "Total connections");
    this.upstreamCxActive = gauge("upstream_cx_active", "Total active connections");
    this.upstreamCxHttp1Total = counter("upstream_cx_http1_total", "Total HTTP/1.1 connections");
    this.upstreamCxHttp2Total = counter("upstream_cx_http2_total", "Total HTTP/2 connections");
    this.upstreamCxConnectFail = counter("upstream_cx_connect_fail", "Total connection failures");
    this.upstreamCxConnectTimeout = counter("upstream_cx_connect_timeout", "Total connection connect timeouts");
    this.upstreamCxConnectMs = histogram("upstream_cx_connect_ms", "Connection establishment milliseconds");
    this.upstreamCxLengthMs = histogram("upstream_cx_length_ms", "Connection length milliseconds");
    this.upstreamCxDestroy = counter("upstream_cx_destroy", "Total destroyed connections");
    this.upstreamCxDestroyLocal = counter("upstream_cx_destroy_local", "Total connections destroyed locally");
    this.upstreamCxDestroyRemote = counter("upstream_cx_destroy_remote", "Total connections destroyed remotely");
    this.upstreamCxIdleTimeout = counter("upstream_cx_idle_timeout", "Total connection idle timeouts");
    this.upstreamCxMaxRequests = counter(
      "upstream_cx_max_requests",
      "Total connections closed due to maximum requests",
    );
    this.upstreamCxMaxDurationReached = counter(
      "upstream_cx_max_duration_reached",
      "Total connections closed due to max duration reached",
    );
    this.upstreamCxNoneHealthy = counter(
      "upstream_cx_none_healthy",
      "Total times connection not established due to no healthy hosts",
    );
    this.upstreamCxOverflow = counter(
      "upstream_cx_overflow",
      "Total times that the cluster's connection circuit breaker overflowed",
    );
    this.upstreamCxPoolOverflow = counter(
      "upstream_cx_pool_overflow",
      "Total times that the cluster's connection pool circuit breaker overflowed",
    );
    this.upstreamCxRxBytesTotal = counter("upstream_cx_rx_bytes_total", "Total received connection bytes");
    this.upstreamCxTxBytesTotal = counter("upstream_cx_tx_bytes_total", "Total sent connection bytes");
    this.membershipTotal = gauge("membership_total", "Current cluster membership total");
    this.membershipHealthy = gauge(
      "membership_healthy",
      "Current cluster healthy total (inclusive of both health checking and outlier detection)",
    );
    this.membershipDegraded = gauge("membership_degraded", "Current cluster degraded total");
    this.membershipChange = counter("membership_change", "Total cluster membership changes");
    this.lbHealthyPanic = counter(
      "lb_healthy_panic",
      "Total requests load balanced with the load balancer in panic mode",
    );
  }

  /** Counts one upstream response: its class (upstream_rq_2xx) and its exact code (upstream_rq_200). */
  countResponse(code: number): void {
    const cls = (code / 100) | 0;
    if (cls >= 1 && cls <= 5) {
      this.byClass[cls]!.inc();
      let c = this.byCode[code];
      if (c === undefined) {
        c = this.store.counter("envoy_cluster_upstream_rq", "Upstream responses by code", {
          envoy_response_code: String(code),
          ...this.labels,
        });
        this.byCode[code] = c;
      }
      c.inc();
    }
    this.upstreamRqCompleted.inc();
  }

  /**
   * An upstream connection opened on `socket` (HTTP pools and tcp_proxy): upstream_cx_connect_ms when it
   * connects; upstream_cx_length_ms and its bytes (upstream_cx_rx/tx_bytes_total) when it closes. The bytes are
   * added once, at close: a long-lived connection's bytes show when it ends (Envoy flushes them periodically).
   */
  trackConnection(socket: net.Socket, clock: Clock): void {
    const start = clock.now();
    socket.once("connect", () => this.upstreamCxConnectMs.observe(clock.now() - start));
    socket.once("close", () => {
      this.upstreamCxLengthMs.observe(clock.now() - start);
      this.upstreamCxRxBytesTotal.inc(socket.bytesRead);
      this.upstreamCxTxBytesTotal.inc(socket.bytesWritten);
    });
  }

  /** An upstream connection closed: by the upstream (remote) or by the proxy (local, a connect timeout too). */
  connectionDestroyed(remote: boolean): void {
    this.upstreamCxDestroy.inc();
    if (remote) this.upstreamCxDestroyRemote.inc();
    else this.upstreamCxDestroyLocal.inc();
  }

  /** A connect failed (refused, reset, or `timeout`: connect_timeout passed); both count upstream_cx_connect_fail. */
  connectFailed(timeout: boolean): void {
    this.upstreamCxConnectFail.inc();
    if (timeout) this.upstreamCxConnectTimeout.inc();
  }
}

export function createClusterStats(store: StatsStore, clusterName: string): ClusterStats {
  return new ClusterStats(store, clusterName);
}

/** Drops every cluster.<name>.* series (a cluster removed from configuration). */
export function removeClusterStats(store: StatsStore, clusterName: string): void {
  store.removeWhere((_, l) => l.envoy_cluster_name === clusterName);
}

// ---------------------------------------------------------------------------------------------------------------
// http.<stat_prefix>.* (connection manager, plus the router's no_route/no_cluster, which Envoy emits there too)

export class HttpConnManagerStats {
  readonly labels: Labels;
  readonly downstreamRqTotal: Counter;
  readonly downstreamRqHttp1Total: Counter;
  readonly downstreamRqHttp2Total: Counter;
  readonly downstreamRq1xx: Counter;
  readonly downstreamRq2xx: Counter;
  readonly downstreamRq3xx: Counter;
  readonly downstreamRq4xx: Counter;
  readonly downstreamRq5xx: Counter;
  readonly downstreamRqCompleted: Counter;
  readonly downstreamRqActive: Gauge;
  readonly downstreamRqTime: Histogram;
  readonly downstreamRqTimeout: Counter;
  readonly downstreamRqIdleTimeout: Counter;
  readonly downstreamRqRxReset: Counter;
  readonly downstreamRqWsOnNonWsRoute: Counter;
  readonly downstreamCxTotal: Counter;
  readonly downstreamCxActive: Gauge;
  readonly downstreamCxHttp1Total: Counter;
  readonly downstreamCxHttp2Total: Counter;
  readonly downstreamCxHttp1Active: Gauge;
  readonly downstreamCxHttp2Active: Gauge;
  readonly downstreamCxUpgradesTotal: Counter;
  readonly downstreamCxUpgradesActive: Gauge;
  readonly downstreamCxDestroy: Counter;
  readonly downstreamCxDestroyLocal: Counter;
  readonly downstreamCxDestroyRemote: Counter;
  readonly downstreamCxIdleTimeout: Counter;
  readonly downstreamCxProtocolError: Counter;
  readonly downstreamCxDrainClose: Counter;
  readonly downstreamCxLengthMs: Histogram;
  readonly downstreamCxRxBytesTotal: Counter;
  readonly downstreamCxTxBytesTotal: Counter;
  /** Router: requests with no matching route (response flag NR). */
  readonly noRoute: Counter;
  /** Router: requests whose target cluster does not exist. */
  readonly noCluster: Counter;
  readonly rqDirectResponse: Counter;
  readonly rqRedirect: Counter;
  readonly rqTotal: Counter;

  private readonly byClass: ClassCounters;

  constructor(store: StatsStore, statPrefix: string) {
    const labels: Labels = { envoy_http_conn_manager_prefix: statPrefix };
    this.labels = labels;
    const counter = (name: string, help: string) => store.counter("envoy_http_" + name, help, labels);
    const gauge = (name: string, help: string) => store.gauge("envoy_http_" + name, help, labels);
    const histogram = (name: string, help: string) => store.histogram("envoy_http_" + name, help, labels);

    this.downstreamRqTotal = counter("downstream_rq_total", "Total requests");
    this.downstreamRqHttp1Total = counter("downstream_rq_http1_total", "Total HTTP/1.1 requests");
    this.downstreamRqHttp2Total = counter("downstream_rq_http2_total", "Total HTTP/2 requests");
    this.byClass = classCounters(store, "envoy_http_downstream_rq_xx", "Downstream responses by class", labels);
    [, this.downstreamRq1xx, this.downstreamRq2xx, this.downstreamRq3xx, this.downstreamRq4xx, this.downstreamRq5xx] =
      this.byClass;
    this.downstreamRqCompleted = counter("downstream_rq_completed", "Total requests that resulted in a response");
    this.downstreamRqActive = gauge("downstream_rq_active", "Total active requests");
    this.downstreamRqTime = histogram("downstream_rq_time", "Total time for request and response (milliseconds)");
    this.downstreamRqTimeout = counter(
      "downstream_rq_timeout",
      "Total requests closed due to a timeout on the request path",
    );
    this.downstreamRqIdleTimeout = counter("downstream_rq_idle_timeout", "Total requests closed due to idle timeout");
    this.downstreamRqRxReset = counter("downstream_rq_rx_reset", "Total request resets received");
    this.downstreamRqWsOnNonWsRoute = counter(
      "downstream_rq_ws_on_non_ws_route",
      "Total upgrade requests rejected by non upgrade routes",
    );
    this.downstreamCxTotal = counter("downstream_cx_total", "Total connections");
    this.downstreamCxActive = gauge("downstream_cx_active", "Total active connections");
    this.downstreamCxHttp1Total = counter("downstream_cx_http1_total", "Total HTTP/1.1 connections");
    this.downstreamCxHttp2Total = counter("downstream_cx_http2_total", "Total HTTP/2 connections");
    this.downstreamCxHttp1Active = gauge("downstream_cx_http1_active", "Total active HTTP/1.1 connections");
    this.downstreamCxHttp2Active = gauge("downstream_cx_http2_active", "Total active HTTP/2 connections");
    this.downstreamCxUpgradesTotal = counter("downstream_cx_upgrades_total", "Total successfully upgraded connections");
    this.downstreamCxUpgradesActive = gauge("downstream_cx_upgrades_active", "Total active upgraded connections");
    this.downstreamCxDestroy = counter("downstream_cx_destroy", "Total connections destroyed");
    this.downstreamCxDestroyLocal = counter(
      "downstream_cx_destroy_local",
      "Total connections destroyed due to local close",
    );
    this.downstreamCxDestroyRemote = counter(
      "downstream_cx_destroy_remote",
      "Total connections destroyed due to remote close",
    );
    this.downstreamCxIdleTimeout = counter(
      "downstream_cx_idle_timeout",
      "Total connections closed due to idle timeout",
    );
    this.downstreamCxProtocolError = counter("downstream_cx_protocol_error", "Total protocol errors");
    this.downstreamCxDrainClose = counter("downstream_cx_drain_close", "Total connections closed due to draining");
    this.downstreamCxLengthMs = histogram("downstream_cx_length_ms", "Connection length milliseconds");
    this.downstreamCxRxBytesTotal = counter("downstream_cx_rx_bytes_total", "Total bytes received");
    this.downstreamCxTxBytesTotal = counter("downstream_cx_tx_bytes_total", "Total bytes sent");
    this.noRoute = counter("no_route", "Total requests that had no route and resulted in a 404");
    this.noCluster = counter(
      "no_cluster",
      "Total requests in which the target cluster did not exist and resulted in a 503",
    );
    this.rqDirectResponse = counter("rq_direct_response", "Total requests that resulted in a direct response");
    this.rqRedirect = counter("rq_redirect", "Total requests that resulted in a redirect response");
    this.rqTotal = counter("rq_total", "Total routed requests");
  }

  /** Counts one response sent downstream by its class (downstream_rq_2xx). */
  countResponse(code: number): void {
    const cls = (code / 100) | 0;
    if (cls >= 1 && cls <= 5) this.byClass[cls]!.inc();
    this.downstreamRqCompleted.inc();
  }

  /**
   * The rare part of a completed request, called only when it carries response flags: a client that went away
   * mid-request (DC: downstream_rq_rx_reset), request_timeout (downstream_rq_timeout) or stream_idle_timeout
   * (downstream_rq_idle_timeout), told apart by the response code details the codecs record.
   */
  countFlagged(flags: string, details: string): void {
    if (flags === "DC" || DC_FLAG.test(flags)) this.downstreamRqRxReset.inc();
    if (details.startsWith("request_overall_timeout")) this.downstreamRqTimeout.inc();
    else if (details.startsWith("stream_idle_timeout")) this.downstreamRqIdleTimeout.inc();
  }

  /** A codec took a downstream connection. */
  connectionOpened(http2: boolean): void {
    this.downstreamCxTotal.inc();
    this.downstreamCxActive.inc();
    if (http2) {
      this.downstreamCxHttp2Total.inc();
      this.downstreamCxHttp2Active.inc();
    } else {
      this.downstreamCxHttp1Total.inc();
      this.downstreamCxHttp1Active.inc();
    }
  }

  /**
   * It closed after `lengthMs`: closed by the proxy (`local`: idle timeout, protocol error, drain, connection:
   * close) or by the client; `drain` when the proxy closed it because its listener drains. Its bytes (`socket`'s own
   * counts) are added here, once.
   */
  connectionClosed(http2: boolean, socket: ByteCounts, lengthMs: number, local: boolean, drain: boolean): void {
    this.downstreamCxActive.dec();
    if (http2) this.downstreamCxHttp2Active.dec();
    else this.downstreamCxHttp1Active.dec();
    this.downstreamCxDestroy.inc();
    if (local) {
      this.downstreamCxDestroyLocal.inc();
      if (drain) this.downstreamCxDrainClose.inc();
    } else this.downstreamCxDestroyRemote.inc();
    this.downstreamCxLengthMs.observe(lengthMs);
    this.downstreamCxRxBytesTotal.inc(socket.bytesRead);
    this.downstreamCxTxBytesTotal.inc(socket.bytesWritten);
  }
}

const DC_FLAG = /(^|,)DC(,|$)/;

export function createHttpConnManagerStats(store: StatsStore, statPrefix: string): HttpConnManagerStats {
  return new HttpConnManagerStats(store, statPrefix);
}

// ---------------------------------------------------------------------------------------------------------------
// listener.<address>.*

/** Envoy's listener stat scope: "0.0.0.0:15001" → "0.0.0.0_15001", "[::]:80" → "[__]_80" (every ':' → '_'). */
export function listenerStatAddress(address: string | { address: string; port: number }): string {
  const text =
    typeof address === "string"
      ? address
      : address.address.includes(":")
        ? `[${address.address}]:${address.port}`
        : `${address.address}:${address.port}`;
  return text.replace(/:/g, "_");
}

export class ListenerStats {
  readonly labels: Labels;
  readonly downstreamCxTotal: Counter;
  readonly downstreamCxActive: Gauge;
  readonly downstreamCxDestroy: Counter;
  readonly downstreamCxLengthMs: Histogram;
  readonly downstreamPreCxTimeout: Counter;
  readonly downstreamPreCxActive: Gauge;
  readonly noFilterChainMatch: Counter;

  constructor(store: StatsStore, address: string | { address: string; port: number }) {
    const labels: Labels = { envoy_listener_address: listenerStatAddress(address) };
    this.labels = labels;
    const counter = (name: string, help: string) => store.counter("envoy_listener_" + name, help, labels);
    const gauge = (name: string, help: string) => store.gauge("envoy_listener_" + name, help, labels);
    this.downstreamCxTotal = counter("downstream_cx_total", "Total connections");
    this.downstreamCxActive = gauge("downstream_cx_active", "Total active connections");
    this.downstreamCxDestroy = counter("downstream_cx_destroy", "Total destroyed connections");
    this.downstreamCxLengthMs = store.histogram(
      "envoy_listener_downstream_cx_length_ms",
      "Connection length milliseconds",
      labels,
    );
    this.downstreamPreCxTimeout = counter(
      "downstream_pre_cx_timeout",
      "Sockets that timed out during listener filter processing",
    );
    this.downstreamPreCxActive = gauge(
      "downstream_pre_cx_active",
      "Sockets currently undergoing listener filter processing",
    );
    this.noFilterChainMatch = counter("no_filter_chain_match", "Total connections that didn't match any filter chain");
  }
}

export function createListenerStats(
  store: StatsStore,
  address: string | { address: string; port: number },
): ListenerStats {
  return new ListenerStats(store, address);
}

// ---------------------------------------------------------------------------------------------------------------
// tcp.<stat_prefix>.*

export class TcpProxyStats {
  readonly labels: Labels;
  readonly downstreamCxTotal: Counter;
  readonly downstreamCxNoRoute: Counter;
  readonly downstreamCxRxBytesTotal: Counter;
  readonly downstreamCxTxBytesTotal: Counter;
  readonly downstreamFlowControlPausedReadingTotal: Counter;
  readonly downstreamFlowControlResumedReadingTotal: Counter;
  readonly idleTimeout: Counter;

  constructor(store: StatsStore, statPrefix: string) {
    const labels: Labels = { envoy_tcp_prefix: statPrefix };
    this.labels = labels;
    const counter = (name: string, help: string) => store.counter("envoy_tcp_" + name, help, labels);
    this.downstreamCxTotal = counter("downstream_cx_total", "Total number of connections handled by the filter");
    this.downstreamCxNoRoute = counter(
      "downstream_cx_no_route",
      "Number of connections for which no matching route was found or the cluster for the route was not found",
    );
    this.downstreamCxRxBytesTotal = counter(
      "downstream_cx_rx_bytes_total",
      "Total bytes read from the downstream connection",
    );
    this.downstreamCxTxBytesTotal = counter(
      "downstream_cx_tx_bytes_total",
      "Total bytes written to the downstream connection",
    );
    this.downstreamFlowControlPausedReadingTotal = counter(
      "downstream_flow_control_paused_reading_total",
      "Total number of times flow control paused reading from downstream",
    );
    this.downstreamFlowControlResumedReadingTotal = counter(
      "downstream_flow_control_resumed_reading_total",
      "Total number of times flow control resumed reading from downstream",
    );
    this.idleTimeout = counter("idle_timeout", "Total number of connections closed due to idle timeout");
  }
}

export function createTcpProxyStats(store: StatsStore, statPrefix: string): TcpProxyStats {
  return new TcpProxyStats(store, statPrefix);
}

// ---------------------------------------------------------------------------------------------------------------
// server.*

export class ServerStats {
  readonly unhandledErrors: Counter;

  constructor(store: StatsStore) {
    // Trellis's own (Envoy aborts instead): a throw or an unhandled 'error' that escaped the data path's handlers
    // and was caught by the last line (a connection's guard, or the process's uncaughtException/unhandledRejection).
    this.unhandledErrors = store.counter(
      "envoy_server_unhandled_errors",
      "Errors no handler on the data path caught; the connection was closed and the proxy kept serving",
    );
  }
}
