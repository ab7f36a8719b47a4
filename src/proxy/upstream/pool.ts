// The contract between the router and an endpoint's connection pool, for every upstream protocol (HTTP/1.1 pool,
// HTTP/2 session). The router hands over a request and a handler; the pool connects (or reuses a connection),
// writes the request, streams its body from `request.body`, and reports the response through the handler.
// Handler callbacks are plain methods on one object made per request by the router: no promise, no emitter.

import type { Duplex } from "node:stream";
import type { Headers } from "../http/headers.ts";
import type { HttpProtocol, RequestBody } from "../http/exchange.ts";

/** What the pool needs of a request; an Exchange (after rewrites) satisfies it. */
export interface UpstreamRequest {
  method: string;
  path: string;
  authority: string;
  scheme: string;
  /** Names lower-case; no pseudo-headers, no Host, no hop-by-hop headers. */
  headers: Headers;
  body: RequestBody;
  /**
   * Lower-cased upgrade token for an HTTP/1.1 upgrade ("websocket"), or "connect" for CONNECT; only the HTTP/1.1
   * pool supports them. Such a request takes a fresh connection that never returns to the pool.
   */
  upgrade: string | undefined;
  /**
   * The protocol the request came in; only a cluster with use_downstream_protocol_config reads it (its pool picks
   * HTTP/2 or HTTP/1.1 by it). Absent = HTTP/1.1.
   */
  readonly protocol?: HttpProtocol;
}

/**
 * Why a request got no connection: the connect failed or timed out, or the cluster's circuit breakers
 * (max_connections with max_pending_requests full) refused to queue it ("overflow": Envoy's UO).
 */
/**
 * Why the pool retired a connection that still worked (Envoy's upstream_cx_idle_timeout, upstream_cx_max_requests,
 * upstream_cx_max_duration_reached).
 */
export type RetireReason = "idle_timeout" | "max_requests" | "max_duration";

export type ConnectFailure = "connect_timeout" | "connection_refused" | "connection_failure" | "overflow";

export interface UpstreamHandler {
  /** No connection could be made to the endpoint (Envoy's UF; after connect_timeout, still UF with that detail). */
  onConnectFailure(reason: ConnectFailure, err: Error | undefined): void;
  /** The response head; called once, before any onData. 1xx interim responses other than 101 are not reported. */
  onHead(status: number, headers: Headers): void;
  /** Body bytes; return false to pause the upstream until UpstreamStream.resume(). */
  onData(chunk: Buffer): boolean;
  /** The response is complete; trailers where the protocol had them. */
  onEnd(trailers: Headers | undefined): void;
  /** The upstream reset or closed the stream after connecting (Envoy's UC before the head, UR after). */
  onReset(err: Error): void;
  /**
   * A 101 Switching Protocols answer to an upgrade request, or a 2xx to a CONNECT: from here the caller owns
   * `socket` (bytes in both directions, `head` already read past the response head). The pool forgets the
   * connection.
   */
  onUpgrade?(headers: Headers, socket: Duplex, head: Buffer): void;
}

export interface UpstreamStream {
  /** Abandons the request: its connection is closed (HTTP/1.1) or its stream reset (HTTP/2). Idempotent. */
  abort(): void;
  /** Resumes a response paused by onData returning false. */
  resume(): void;
}

export interface ConnectionPool {
  request(request: UpstreamRequest, handler: UpstreamHandler): UpstreamStream;
  /** Requests in flight plus waiting for a connection (LEAST_REQUEST and /clusters read this). */
  readonly active: number;
  /** Connections open or opening (an empty pool may be reclaimed under max_connection_pools). */
  readonly connections: number;
  /** Idle connections are closed now; busy ones after their response. New requests are refused afterwards. */
  close(): void;
}

/**
 * The cluster's circuit breakers as one endpoint's pool sees them (max_connections, per-host max_connections,
 * max_pending_requests). A pool without them (unit tests, standalone use) has no limits.
 */
export interface PoolBreakers {
  /** Whether one more connection may be opened to this endpoint now. */
  canOpenConnection(): boolean;
  /** A connection was wanted and refused by the limits (upstream_cx_overflow). */
  connectionOverflow(): void;
  /** Takes a place in the pending queue; false when max_pending_requests is full (upstream_rq_pending_overflow). */
  tryStartPending(): boolean;
  /** Gives the place back (the request got a connection, was aborted or failed). */
  endPending(): void;
}

export interface PoolOptions {
  connectTimeoutMs: number;
  /** Idle upstream connections are closed after this long; 0 = never. */
  idleTimeoutMs: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  /**
   * A connection up this long takes no new request and closes once its requests are done (Envoy's
   * common_http_protocol_options.max_connection_duration). Absent or 0 = no limit.
   */
  maxConnectionDurationMs?: number;
  /** The cluster's circuit breakers; absent = no limits. */
  breakers?: PoolBreakers;
}
