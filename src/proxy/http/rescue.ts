// The one rescue table (linkerd2-proxy's ClientRescue, Envoy's response code details): every reason the proxy
// answers a request by itself, with the stage that raised it (route, backend, endpoint — or the downstream codec),
// the HTTP status, the response flag, the detail that names the resource at fault, and the gRPC status where the
// HTTP mapping would mislead a gRPC client. Call sites name a cause and the resource; status, flag, details and
// gRPC status are decided here and nowhere else. A cause is a frozen constant, so rescuing allocates nothing
// beyond the reply itself: an attacker's stream of 404s costs no error objects.

import { GrpcStatus, type GrpcStatusCode } from "./grpc-status.ts";
import type { Exchange } from "./exchange.ts";
import { Headers } from "./headers.ts";
import { sendLocalReply } from "./local-reply.ts";

/** Where on the data path a cause arises: Route → Backend → Endpoint, as DESIGN.md §2 names them. */
export type Stage = "downstream" | "route" | "backend" | "endpoint";

export interface Cause {
  /** Stable code (scripts and tests match on it, never on text). */
  readonly code: string;
  readonly stage: Stage;
  /** The HTTP status of the local reply (a fault abort or a rate limit may configure another). */
  readonly status: number;
  /** Envoy's response flag, in x-trellis-response-flags and the access log's %RESPONSE_FLAGS%. */
  readonly flag: string;
  /** Envoy's response code detail; the reply's details are `detail:subject`. */
  readonly detail: string;
  /** The gRPC status a gRPC caller gets; absent = gRPC's canonical mapping of `status`. */
  readonly grpcStatus?: GrpcStatusCode;
  /**
   * Envoy's body for this reply ("no healthy upstream", "" for none); absent: the details and a newline (the
   * downstream codec's refusals, which Envoy words per codec).
   */
  readonly body?: string;
  /** An upstream reset before the response: Envoy's body names the reason ("connection termination"). */
  readonly resetReason?: string;
}

function cause(
  code: string,
  stage: Stage,
  status: number,
  flag: string,
  detail: string,
  reply?: { body?: string; resetReason?: string; grpcStatus?: GrpcStatusCode },
): Cause {
  return Object.freeze({ code, stage, status, flag, detail, ...reply });
}

const RESET_BODY = "upstream connect error or disconnect/reset before headers. ";

export const CAUSES = {
  // ---- downstream: the request itself, or the client's pace
  malformedRequest: cause("TRELLIS_MALFORMED_REQUEST", "downstream", 400, "DPE", "malformed_request"),
  requestTimeout: cause("TRELLIS_REQUEST_TIMEOUT", "downstream", 408, "DPE", "request_overall_timeout", {
    body: "request timeout",
  }),
  streamIdleTimeout: cause("TRELLIS_STREAM_IDLE_TIMEOUT", "downstream", 408, "SI", "stream_idle_timeout", {
    body: "stream timeout",
  }),
  // A request target an intermediary must not forward (RFC 9113 §8.3.1, RFC 9110 §7.1): HTTP/2 only, as HTTP/1.1's
  // codec refuses such a target itself.
  invalidPath: cause("TRELLIS_INVALID_PATH", "downstream", 400, "DPE", "http.invalid_path"),
  invalidAuthority: cause("TRELLIS_INVALID_AUTHORITY", "downstream", 400, "DPE", "http.invalid_authority"),
  bodyDisallowed: cause("TRELLIS_BODY_DISALLOWED", "downstream", 400, "DPE", "http1.body_disallowed"),
  // A request the upstream's codec cannot carry (HTTP/2: two content-type fields, a connection-specific field): the
  // client's error, never the endpoint's.
  requestNotEncodable: cause("TRELLIS_REQUEST_NOT_ENCODABLE", "downstream", 400, "DPE", "request_not_encodable"),
  // ---- route: which rule, and the rule's own limits
  noVirtualHost: cause("TRELLIS_NO_VIRTUAL_HOST", "route", 404, "NR", "no_virtual_host", { body: "" }),
  noRoute: cause("TRELLIS_NO_ROUTE", "route", 404, "NR", "route_not_found", { body: "" }),
  routeConfigNotReceived: cause("TRELLIS_ROUTE_CONFIG_PENDING", "route", 404, "NR", "route_config_not_yet_received", {
    body: "",
  }),
  // Envoy answers 403 with the detail upgrade_failed and no flag; Trellis says UPG so the reply is not opaque.
  upgradeRefused: cause("TRELLIS_UPGRADE_REFUSED", "route", 403, "UPG", "upgrade_failed", { body: "" }),
  routeTimeout: cause("TRELLIS_ROUTE_TIMEOUT", "route", 504, "UT", "upstream_response_timeout", {
    body: "upstream request timeout",
    grpcStatus: GrpcStatus.DEADLINE_EXCEEDED,
  }),
  grpcDeadline: cause("TRELLIS_GRPC_DEADLINE", "route", 504, "UT", "grpc_timeout_exceeded", {
    body: "upstream request timeout",
    grpcStatus: GrpcStatus.DEADLINE_EXCEEDED,
  }),
  maxStreamDuration: cause("TRELLIS_MAX_STREAM_DURATION", "route", 408, "UMSDR", "max_stream_duration_reached", {
    body: "upstream max stream duration reached",
  }),
  faultAbort: cause("TRELLIS_FAULT_ABORT", "route", 503, "FI", "fault_filter_abort", { body: "fault filter abort" }),
  rateLimited: cause("TRELLIS_RATE_LIMITED", "route", 429, "RL", "local_rate_limited", { body: "local_rate_limited" }),
  // ---- backend: the cluster as a whole
  clusterNotFound: cause("TRELLIS_CLUSTER_NOT_FOUND", "backend", 503, "NC", "cluster_not_found", { body: "" }),
  noHealthyUpstream: cause("TRELLIS_NO_HEALTHY_UPSTREAM", "backend", 503, "UH", "no_healthy_upstream", {
    body: "no healthy upstream",
  }),
  overflow: cause("TRELLIS_OVERFLOW", "backend", 503, "UO", "upstream_reset_before_response_started{overflow}", {
    resetReason: "overflow",
  }),
  // The dynamic forward proxy: the request's host did not resolve (Envoy's DF flag), or the DNS cache is full; the
  // bodies are Envoy's (ResponseStrings).
  dnsResolutionFailed: cause("TRELLIS_DNS_RESOLUTION_FAILED", "backend", 503, "DF", "dns_resolution_failure", {
    body: "DNS resolution failure",
  }),
  dnsCacheOverflow: cause("TRELLIS_DNS_CACHE_OVERFLOW", "backend", 503, "UO", "dns_cache_overflow", {
    body: "DNS cache overflow",
  }),
  dnsPendingOverflow: cause(
    "TRELLIS_DNS_PENDING_OVERFLOW",
    "backend",
    503,
    "UO",
    "dynamic_forward_proxy_pending_request_overflow",
    { body: "Dynamic forward proxy pending request overflow" },
  ),
  // ---- endpoint: one address and its connection
  connectFailure: cause(
    "TRELLIS_CONNECT_FAILURE",
    "endpoint",
    503,
    "UF",
    "upstream_reset_before_response_started{connection_failure}",
    { resetReason: "connection failure" },
  ),
  connectRefused: cause(
    "TRELLIS_CONNECT_REFUSED",
    "endpoint",
    503,
    "UF",
    "upstream_reset_before_response_started{connection_refused}",
    // Envoy has no reason of its own for a refusal: a connection failure whose transport reason is ECONNREFUSED.
    { resetReason: "connection failure, transport failure reason: delayed connect error: 111" },
  ),
  connectTimeout: cause(
    "TRELLIS_CONNECT_TIMEOUT",
    "endpoint",
    503,
    "UF",
    "upstream_reset_before_response_started{connect_timeout}",
    { resetReason: "connection timeout" },
  ),
  connectionTermination: cause(
    "TRELLIS_UPSTREAM_RESET",
    "endpoint",
    503,
    "UC",
    "upstream_reset_before_response_started{connection_termination}",
    { resetReason: "connection termination" },
  ),
  remoteReset: cause(
    "TRELLIS_UPSTREAM_REFUSED_STREAM",
    "endpoint",
    503,
    "UR",
    "upstream_reset_before_response_started{remote_reset}",
    { resetReason: "remote reset" },
  ),
  upstreamProtocolError: cause("TRELLIS_UPSTREAM_PROTOCOL_ERROR", "endpoint", 502, "UPE", "upstream_protocol_error", {
    resetReason: "protocol error",
  }),
  perTryTimeout: cause("TRELLIS_PER_TRY_TIMEOUT", "endpoint", 504, "UT", "upstream_per_try_timeout", {
    body: "upstream request timeout",
    grpcStatus: GrpcStatus.DEADLINE_EXCEEDED,
  }),
} as const satisfies Record<string, Cause>;

/**
 * A connection failure with its transport failure reason ("TLS error: CERTIFICATE_VERIFY_FAILED: …"), as Envoy
 * words it: the details `upstream_reset_before_response_started{connection_failure,TLS_error:_…}` (spaces as
 * underscores), the body's reset reason `connection failure, transport failure reason: TLS error: …`. Made only
 * for such a failure (rare), so the frozen causes above stay the common path.
 */
export function connectFailureWithReason(reason: string): Cause {
  const c = CAUSES.connectFailure;
  return cause(
    c.code,
    c.stage,
    c.status,
    c.flag,
    `upstream_reset_before_response_started{connection_failure,${reason.replace(/[\s,{}]/g, "_")}}`,
    { resetReason: `${c.resetReason}, transport failure reason: ${reason}` },
  );
}

/** Options of one reply: a configured status (fault abort, rate limit), its own body, extra headers, gRPC status. */
export interface RescueOptions {
  status?: number;
  body?: string;
  headers?: Headers;
  grpcStatus?: number;
  /** Appended to the details after ": " (e.g. the upstream parser's complaint). */
  message?: string;
}

/**
 * Answers `ex` from the proxy for `c` about `subject`: the one place where a cause becomes status, flag,
 * `x-trellis-details` and gRPC status. After the response head is out, the stream is reset instead (the flag and
 * details are kept for the access log).
 */
export function rescue(ex: Exchange, c: Cause, subject: string, options?: RescueOptions): void {
  let details = subject === "" ? c.detail : `${c.detail}:${subject}`;
  if (options?.message !== undefined) details += `: ${options.message}`;
  let headers = options?.headers;
  // Envoy's rate limit filters say so in x-envoy-ratelimited (the router's retry_on envoy-ratelimited reads it).
  if (c === CAUSES.rateLimited) {
    headers = headers === undefined ? new Headers() : headers;
    if (!headers.has("x-envoy-ratelimited")) headers.add("x-envoy-ratelimited", "true");
  }
  sendLocalReply(
    ex,
    options?.status ?? c.status,
    c.flag,
    details,
    options?.body ?? envoyBody(ex, c),
    headers,
    options?.grpcStatus ?? c.grpcStatus,
  );
}

/** Envoy's body for `c`: its own text, or the upstream reset sentence (which says whether retries came first). */
function envoyBody(ex: Exchange, c: Cause): string | undefined {
  if (c.resetReason === undefined) return c.body;
  return ex.info.attempts > 1
    ? `${RESET_BODY}retried and the latest reset reason: ${c.resetReason}`
    : `${RESET_BODY}reset reason: ${c.resetReason}`;
}
