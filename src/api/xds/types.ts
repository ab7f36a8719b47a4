// The proxy's configuration as typed data: a normalised subset of Envoy's v3 API (Listener, RouteConfiguration,
// Cluster, ClusterLoadAssignment). The static bootstrap parser and, later, the xDS client both produce exactly
// these types, so the proxy has one way in. Names follow Envoy's fields in camelCase; durations are milliseconds;
// defaults are already applied (a consumer never has to know Envoy's defaults).

import type { DownstreamTlsContext, UpstreamTlsContext } from "./parse/tls-context.ts";
import type { Secret } from "./parse/secret.ts";

export type { Secret } from "./parse/secret.ts";

export type { DownstreamTlsContext, UpstreamTlsContext } from "./parse/tls-context.ts";

export interface SocketAddress {
  /** An IP address (v4 or v6) or, for STRICT_DNS clusters, a host name. */
  address: string;
  port: number;
}

export interface NodeInfo {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
}

export interface AdminConfig {
  address: SocketAddress;
  /**
   * Where the admin server logs each request it answers: `access_log` entries kept raw (the access-log module in
   * telemetry/ parses them when the proxy is built), and the older `access_log_path` (Envoy's default format).
   */
  accessLog: Record<string, unknown>[];
  accessLogPath?: string;
}

export interface Bootstrap {
  node: NodeInfo;
  admin: AdminConfig | undefined;
  /** secrets: static_resources.secrets, named by SDS references without sds_config. */
  staticResources: { listeners: Listener[]; clusters: Cluster[]; secrets?: Secret[] };
  /** Trellis extension (`trellis.drain_timeout` in the file): how long SIGTERM waits for requests in flight. */
  drainTimeoutMs: number;
  /** dynamic_resources: listeners and clusters over ADS from the control plane reached through a static cluster. */
  dynamicResources?: DynamicResources;
}

export interface DynamicResources {
  /** The static cluster named by ads_config's envoy_grpc.cluster_name. */
  adsCluster: string;
  /** Its endpoints as HOST:PORT ([v6]:PORT), tried in turn. */
  servers: string[];
  /** ads_config.api_type: GRPC (state of the world) or DELTA_GRPC. */
  protocol: "sotw" | "delta";
}

// ---------------------------------------------------------------------------------------------------------------
// Listeners

export interface Listener {
  name: string;
  address: SocketAddress;
  filterChains: FilterChain[];
  /** Envoy's default_filter_chain: taken when no chain's filter_chain_match fits the connection. */
  defaultFilterChain: FilterChain | undefined;
  /** Listener filters, in order: they look at a new connection before a filter chain is chosen. */
  listenerFilters: ListenerFilter[];
  /** listener_filters_timeout (default 15 s; 0 = none): how long the listener filters may wait for bytes. */
  listenerFiltersTimeoutMs: number;
  /** continue_on_listener_filters_timeout (default false: the connection is closed at the timeout). */
  continueOnListenerFiltersTimeout: boolean;
  /** Envoy's per_connection_buffer_limit_bytes (default 1 MiB): how much is read ahead before back-pressure. */
  perConnectionBufferLimitBytes: number;
  /**
   * use_original_dst (default false): a connection whose original destination (original_dst listener filter) is
   * another address is handed to the listener bound there (or a bind_to_port: false one on 0.0.0.0:port), as Envoy.
   */
  useOriginalDst: boolean;
  /**
   * bind_to_port (default true). false: the listener has no socket of its own; it only takes connections another
   * listener with use_original_dst hands it.
   */
  bindToPort: boolean;
}

/**
 * A listener filter: envoy.filters.listener.tls_inspector (no settings), envoy.filters.listener.proxy_protocol, or
 * envoy.filters.listener.original_dst (no settings: the connection's local address becomes its original destination).
 */
export type ListenerFilter = (
  | { kind: "tls_inspector"; name: string }
  | { kind: "http_inspector"; name: string }
  | { kind: "original_dst"; name: string }
  | {
      kind: "proxy_protocol";
      name: string;
      /** allow_requests_without_proxy_protocol: a connection that starts with no PROXY header goes on as it is. */
      allowWithout: boolean;
      /** disallowed_versions: a header of these versions closes the connection. */
      disallowedVersions: readonly (1 | 2)[];
    }
) & {
  /** filter_disabled: the filter is skipped for a connection this matches (by its original destination port). */
  disabled?: ListenerFilterPredicate;
};

/** Envoy's ListenerFilterChainMatchPredicate. */
export type ListenerFilterPredicate =
  | { kind: "any" }
  /** Int32Range: half-open, [start, end). */
  | { kind: "destination_port_range"; start: number; end: number }
  | { kind: "not"; rule: ListenerFilterPredicate }
  | { kind: "or" | "and"; rules: readonly ListenerFilterPredicate[] };

/**
 * The subset of Envoy's FilterChainMatch implemented: an empty list or string means "any". Server names are lower
 * case, exact ("a.example.com") or wildcard ("*.example.com").
 */
export interface FilterChainMatch {
  destinationPort: number | undefined;
  serverNames: string[];
  /** "" (any), "tls" or "raw_buffer". */
  transportProtocol: string;
  applicationProtocols: string[];
  /** prefix_ranges: the connection's destination (local) address is in one of these; [] = any. */
  prefixRanges: CidrRange[];
  /** source_prefix_ranges: the connection's source (remote) address is in one of these; [] = any. */
  sourcePrefixRanges: CidrRange[];
}

export interface FilterChain {
  name: string;
  match: FilterChainMatch;
  /**
   * Network filters in order: zero or more non-terminal ones (local_ratelimit), then exactly one terminal one
   * (http_connection_manager or tcp_proxy), last.
   */
  filters: NetworkFilter[];
  /** transport_socket envoy.transport_sockets.tls: the chain terminates TLS with this context (undefined: plaintext). */
  tls?: DownstreamTlsContext;
  /** transport_socket_connect_timeout: how long the TLS handshake may take (undefined: the terminal's idle timeout). */
  transportSocketConnectTimeoutMs?: number;
}

export type NetworkFilter =
  | { kind: "http_connection_manager"; name: string; config: HttpConnectionManager }
  | { kind: "tcp_proxy"; name: string; config: TcpProxy }
  | { kind: "local_ratelimit"; name: string; config: NetworkLocalRateLimit };

/** envoy.type.v3.TokenBucket: starts full; tokensPerFill come back every fillIntervalMs, never above maxTokens. */
export interface TokenBucket {
  maxTokens: number;
  /** Default 1. */
  tokensPerFill: number;
  fillIntervalMs: number;
}

/** envoy.filters.network.local_ratelimit: each new connection takes a token; none left → closed at once. */
export interface NetworkLocalRateLimit {
  statPrefix: string;
  tokenBucket: TokenBucket;
  /** runtime_enabled.default_value (there is no runtime: the key is accepted and ignored). Default true. */
  enabled: boolean;
}

export type CodecType = "AUTO" | "HTTP1" | "HTTP2";

export interface HttpConnectionManager {
  statPrefix: string;
  codecType: CodecType;
  /** The inline route_config; undefined when the routes come by RDS (`rds`). Exactly one of the two is set. */
  routeConfig: RouteConfiguration | undefined;
  /** rds: the route configuration is discovered over ADS by this name (`trellis proxy --xds`). */
  rds: { routeConfigName: string } | undefined;
  /** Envoy's request_timeout: whole request received from downstream; 0 = disabled (Envoy's default). */
  requestTimeoutMs: number;
  /** Envoy's request_headers_timeout: the request head complete after its first byte; 0 = disabled (default). */
  requestHeadersTimeoutMs: number;
  /** Envoy's stream_idle_timeout, default 5 min; 0 = disabled. */
  streamIdleTimeoutMs: number;
  /** common_http_protocol_options.idle_timeout for downstream connections, default 1 h; 0 = disabled. */
  idleTimeoutMs: number;
  /** HTTP filters in order; the router (envoy.filters.http.router) is implicit at the end. */
  httpFilters: HttpFilter[];
  /** upgrade_configs: the upgrade types allowed (e.g. "websocket"). */
  upgradeTypes: string[];
  /** generate_request_id, default true: add x-request-id when absent. */
  generateRequestId: boolean;
  /**
   * use_remote_address, default false: the peer's address is the client's (appended to x-forwarded-for, decides
   * whether the request is internal); false: the client is read from x-forwarded-for, which is not appended.
   */
  useRemoteAddress: boolean;
  /** xff_num_trusted_hops, default 0: addresses at the right of x-forwarded-for added by trusted proxies. */
  xffNumTrustedHops: number;
  /** skip_xff_append, default false: with use_remote_address, leave x-forwarded-for as received. */
  skipXffAppend: boolean;
  /** internal_address_config; undefined = Envoy's default (RFC 1918, fd00::/8, loopback). */
  internalAddressConfig: InternalAddressConfig | undefined;
  /** preserve_external_request_id, default false: an edge request's x-request-id is kept instead of replaced. */
  preserveExternalRequestId: boolean;
  /** server_name: the `server` header on locally generated replies. Default "trellis". */
  serverName: string;
  /** max_request_headers_kb, default 60. */
  maxRequestHeadersKb: number;
  /** http_protocol_options.default_host_for_http_10: the authority of an HTTP/1.0 request without Host. */
  defaultHostForHttp10?: string;
  /** http2_protocol_options: what the HTTP/2 codec announces (SETTINGS) and the receive windows it keeps. */
  http2?: DownstreamHttp2Options;
  /** access_log entries as received; the proxy parses them with the access-log module (telemetry/). */
  accessLog: Record<string, unknown>[];
  /**
   * local_reply_config, raw: mappers and body_format, which use the access log's formats; the proxy parses and
   * compiles it (src/proxy/http/local-reply-config.ts). Absent: local replies as they are.
   */
  localReplyConfig?: Record<string, unknown>;
}

export interface InternalAddressConfig {
  /** Unix-socket peers are internal. */
  unixSockets: boolean;
  /** Peers in these ranges are internal; an empty list (with the message present) makes every IP peer external. */
  cidrRanges: CidrRange[];
}

export interface CidrRange {
  addressPrefix: string;
  prefixLen: number;
}

export interface HttpFilter {
  name: string;
  /** The type URL of typed_config, e.g. type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault. */
  typeUrl: string;
  /** typed_config minus `@type`, as received; parsed by the filter's own factory. */
  config: Record<string, unknown>;
}

export interface TcpProxy {
  statPrefix: string;
  /** Exactly one of cluster / weightedClusters is set. */
  cluster: string | undefined;
  weightedClusters: WeightedCluster[] | undefined;
  /** idle_timeout, default 1 h; 0 = disabled. */
  idleTimeoutMs: number;
}

export interface WeightedCluster {
  name: string;
  weight: number;
  requestHeadersToAdd: HeaderValueOption[];
  requestHeadersToRemove: string[];
  responseHeadersToAdd: HeaderValueOption[];
  responseHeadersToRemove: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Routes

export interface HeaderValueOption {
  key: string;
  value: string;
  /** Envoy's append_action; `append` (the deprecated bool) maps true → APPEND_IF_EXISTS_OR_ADD, false → OVERWRITE_IF_EXISTS_OR_ADD. */
  appendAction: "APPEND_IF_EXISTS_OR_ADD" | "ADD_IF_ABSENT" | "OVERWRITE_IF_EXISTS_OR_ADD" | "OVERWRITE_IF_EXISTS";
}

export interface HeaderEdits {
  requestHeadersToAdd: HeaderValueOption[];
  requestHeadersToRemove: string[];
  responseHeadersToAdd: HeaderValueOption[];
  responseHeadersToRemove: string[];
}

export interface RouteConfiguration extends HeaderEdits {
  name: string;
  virtualHosts: VirtualHost[];
}

/** One entry of typed_per_filter_config: a filter's configuration for the requests of one virtual host or route. */
export interface FilterConfigOverride {
  /** The config's `@type` ("" when `disabled` and no config was given). */
  typeUrl: string;
  /** The config minus `@type`, validated by the filter's factory when the route table is compiled. */
  config: Record<string, unknown>;
  /** FilterConfig.disabled: the filter does nothing for these requests. */
  disabled: boolean;
}

export interface VirtualHost extends HeaderEdits {
  name: string;
  /** Filter name → its configuration for this virtual host's requests (a route's own entry wins). */
  typedPerFilterConfig: Record<string, FilterConfigOverride>;
  /** exact, `*.suffix`, `prefix*`, `*`; each with or without `:port`. Lower-cased. */
  domains: string[];
  routes: Route[];
}

export interface Route extends HeaderEdits {
  /** The route's name, or `<vhost>/<index>` when it has none (used in flags, logs and stats). */
  name: string;
  match: RouteMatch;
  action: RouteAction | RedirectAction | DirectResponseAction;
  /** Filter name → its configuration for this route's requests. */
  typedPerFilterConfig: Record<string, FilterConfigOverride>;
}

export type PathMatch =
  | { kind: "prefix"; value: string }
  | { kind: "path"; value: string }
  | { kind: "safe_regex"; regex: string }
  | { kind: "path_separated_prefix"; value: string }
  /** connect_matcher: {}: CONNECT requests only (which match no other kind). */
  | { kind: "connect" };

export interface RouteMatch {
  path: PathMatch;
  /** case_sensitive, default true; applies to prefix and path. */
  caseSensitive: boolean;
  headers: HeaderMatcher[];
  queryParameters: QueryParameterMatcher[];
  /** grpc: {} — match only requests with content-type application/grpc. */
  grpc: boolean;
}

export type StringMatch =
  | { kind: "exact" | "prefix" | "suffix" | "contains"; value: string; ignoreCase: boolean }
  | { kind: "safe_regex"; regex: string };

export interface HeaderMatcher {
  /** Lower-cased header name; `:method`, `:path`, `:authority`, `:scheme` address the pseudo-headers. */
  name: string;
  /** `present` tests presence only; otherwise the string match applies to the value. */
  match: StringMatch | { kind: "present"; present: boolean };
  invertMatch: boolean;
  /** treat_missing_header_as_empty, default false. */
  treatMissingAsEmpty: boolean;
}

export interface QueryParameterMatcher {
  name: string;
  /** undefined with presentMatch false never happens: the parser requires one of them. */
  stringMatch: StringMatch | undefined;
  presentMatch: boolean;
}

export type HashPolicy =
  | { kind: "header"; headerName: string; terminal: boolean }
  | { kind: "cookie"; name: string; ttlMs: number | undefined; path: string; terminal: boolean }
  | { kind: "source_ip"; terminal: boolean }
  | { kind: "query_parameter"; name: string; terminal: boolean };

/** The retry_on conditions Trellis implements (Envoy's names; gRPC ones apply to gRPC responses). */
export const RETRY_ON_CONDITIONS = [
  "5xx",
  "gateway-error",
  "reset",
  "reset-before-request",
  "connect-failure",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "retriable-headers",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
  "envoy-ratelimited",
] as const;
export type RetryOn = (typeof RETRY_ON_CONDITIONS)[number];

export interface RetryPolicy {
  retryOn: RetryOn[];
  /** num_retries, default 1: attempts = 1 + numRetries. */
  numRetries: number;
  /** per_try_timeout; 0 = none (the route timeout bounds all attempts together). */
  perTryTimeoutMs: number;
  /** per_try_idle_timeout; 0 = none. */
  perTryIdleTimeoutMs: number;
  /** retry_host_predicate previous_hosts: a retry avoids endpoints already tried. */
  previousHostsPredicate: boolean;
  /** host_selection_retry_max_attempts, default 1: how many picks a predicate may reject. */
  hostSelectionRetryMaxAttempts: number;
  retriableStatusCodes: number[];
  /** retry_back_off: base default 25 ms, max default 10 × base. */
  backOff: { baseIntervalMs: number; maxIntervalMs: number };
  /** retriable_headers: a response matching any of these is retried (retry_on retriable-headers). */
  retriableHeaders: HeaderMatcher[];
  /** retriable_request_headers: retries happen only for requests matching one of these (all requests if empty). */
  retriableRequestHeaders: HeaderMatcher[];
  /**
   * retry_priority envoy.retry_priorities.previous_priorities: every `updateFrequency` attempts, a retry's
   * priority load leaves out the priorities already attempted (undefined: the cluster's own load).
   */
  previousPriorities?: { updateFrequency: number };
}

export interface RequestMirrorPolicy {
  cluster: string;
  /** runtime_fraction's default_value as a probability in [0, 1]; 1 when absent (every request). */
  fraction: number;
  /** disable_shadow_host_suffix_append: keep the authority as is instead of appending "-shadow". */
  disableShadowHostSuffixAppend: boolean;
}

export interface MaxStreamDuration {
  /** max_stream_duration: the whole exchange, from the request head to the end; 0 = none. */
  maxStreamDurationMs: number;
  /**
   * grpc_timeout_header_max (or the deprecated max_grpc_timeout): the cap on a gRPC request's grpc-timeout.
   * Trellis always honours grpc-timeout (tightening the route timeout, never loosening it); this caps it further.
   */
  grpcTimeoutHeaderMaxMs: number;
  /** grpc_timeout_header_offset (deprecated grpc_timeout_offset): subtracted from grpc-timeout, for network time. */
  grpcTimeoutHeaderOffsetMs: number;
}

export interface RouteAction {
  kind: "route";
  /** Exactly one of cluster / weightedClusters is set. */
  cluster: string | undefined;
  weightedClusters: WeightedCluster[] | undefined;
  prefixRewrite: string | undefined;
  regexRewrite: { regex: string; substitution: string } | undefined;
  /**
   * auto_host_rewrite: Host becomes the chosen endpoint's host name (STRICT_DNS, LOGICAL_DNS, and EDS endpoints with
   * a hostname; no effect on other clusters, as in Envoy).
   */
  autoHostRewrite?: boolean;
  hostRewriteLiteral: string | undefined;
  /** timeout, default 15 s; 0 = disabled. */
  timeoutMs: number;
  /** idle_timeout of the stream on this route; undefined = the connection manager's stream_idle_timeout. */
  idleTimeoutMs: number | undefined;
  hashPolicy: HashPolicy[];
  /** retry_policy of the route, else of its virtual host; undefined = no retries. */
  retryPolicy: RetryPolicy | undefined;
  requestMirrorPolicies: RequestMirrorPolicy[];
  maxStreamDuration: MaxStreamDuration;
  /** per_request_buffer_limit_bytes: how much request body is kept for a retry; undefined = the listener's limit. */
  perRequestBufferLimitBytes: number | undefined;
  /** Per-route upgrade_configs overrides: type → enabled. */
  upgradeOverrides: Record<string, boolean>;
  /**
   * The CONNECT upgrade config has connect_config: the proxy terminates a CONNECT itself (answers 200 once a TCP
   * connection to the chosen endpoint is open, then joins the two) instead of forwarding it upstream.
   */
  connectTerminate?: boolean;
  /** Raw Envoy fields a later stage implements (retry_policy, request_mirror_policies, …), kept, not dropped. */
  extensions: Record<string, unknown>;
}

export interface RedirectAction {
  kind: "redirect";
  schemeRedirect: string | undefined;
  httpsRedirect: boolean;
  hostRedirect: string | undefined;
  portRedirect: number | undefined;
  pathRedirect: string | undefined;
  prefixRewrite: string | undefined;
  /** 301 (MOVED_PERMANENTLY, default), 302, 303, 307, 308. */
  responseCode: number;
  stripQuery: boolean;
}

export interface DirectResponseAction {
  kind: "direct_response";
  status: number;
  /** body.inline_string (or inline_bytes decoded); undefined = no body. */
  body: string | undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Clusters and endpoints

export type LbPolicy = "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM" | "RING_HASH" | "MAGLEV";

/** A dynamic forward proxy's DNS cache (DnsCacheConfig), as the HTTP filter and the cluster both name it. */
export interface DnsCacheConfig {
  /** The cache's name: the filter and the cluster share the cache of this name (stats: dns_cache.<name>.*). */
  name: string;
  dnsLookupFamily: Cluster["dnsLookupFamily"];
  /** A resolved host is resolved again this often while it is in the cache (default 60 s). */
  dnsRefreshRateMs: number;
  /** A host not used for this long leaves the cache (default 5 min). */
  hostTtlMs: number;
  /** At most this many hosts (default 1024); a request for one more is refused (host_overflow). */
  maxHosts: number;
  /** dns_cache_circuit_breaker.max_pending_requests (default 1024): requests waiting for an answer at once. */
  maxPendingRequests: number;
  /** dns_query_timeout (default 5 s): a lookup not answered by then fails. */
  dnsQueryTimeoutMs: number;
}

export interface Cluster {
  name: string;
  /** transport_socket envoy.transport_sockets.tls: connections to the endpoints are TLS (undefined: plaintext). */
  tls?: UpstreamTlsContext;
  /**
   * cluster_type envoy.clusters.dynamic_forward_proxy: the upstream is the request's :authority, resolved through
   * this DNS cache (shared with the dynamic_forward_proxy HTTP filter of the same cache name). `type` is then
   * STATIC with no load assignment. Absent for every other cluster.
   */
  dynamicForwardProxy?: DnsCacheConfig;
  type: "STATIC" | "STRICT_DNS" | "LOGICAL_DNS" | "EDS" | "ORIGINAL_DST";
  /**
   * type ORIGINAL_DST (lb_policy CLUSTER_PROVIDED): the upstream host is the downstream connection's original
   * destination; original_dst_lb_config's fields. Absent for every other type.
   */
  originalDst?: OriginalDstConfig;
  /** connect_timeout, default 5 s. */
  connectTimeoutMs: number;
  lbPolicy: LbPolicy;
  /** least_request_lb_config.choice_count, default 2. */
  leastRequestChoiceCount: number;
  /** ring_hash_lb_config: minimum_ring_size default 1024, maximum_ring_size default 8M. */
  ringHash: { minimumRingSize: number; maximumRingSize: number };
  /** maglev_lb_config.table_size, default 65537 (must be prime). */
  maglevTableSize: number;
  /** Upstream speaks HTTP/2 (typed_extension_protocol_options … explicit_http_config.http2_protocol_options). */
  http2: boolean;
  /** common_http_protocol_options.idle_timeout for pooled upstream connections, default 1 h; 0 = disabled. */
  upstreamIdleTimeoutMs: number;
  /** common_http_protocol_options.max_requests_per_connection; 0 = unlimited. */
  maxRequestsPerConnection: number;
  /**
   * common_http_protocol_options.max_connection_duration: an upstream HTTP connection this old (counted from its
   * connect) takes no new request and closes once its requests are done. Absent (or 0) = no limit.
   */
  maxConnectionDurationMs?: number;
  /**
   * http2_protocol_options.max_concurrent_streams of the upstream HTTP/2 codec (explicit_http_config or
   * use_downstream_protocol_config): streams one session carries at most. Absent = the pool's default (1024).
   */
  http2MaxConcurrentStreams?: number;
  /**
   * HttpProtocolOptions.use_downstream_protocol_config: each request goes upstream in the protocol it came in
   * (HTTP/2 → the endpoint's HTTP/2 pool, HTTP/1.x → its HTTP/1.1 pool); `http2` is false then. Absent = off.
   */
  useDownstreamProtocol?: true;
  /** upstream_connection_options.tcp_keepalive: SO_KEEPALIVE on every upstream connection. Absent = off. */
  tcpKeepalive?: TcpKeepalive;
  /** dns_refresh_rate, default 5 s (STRICT_DNS only). */
  dnsRefreshRateMs: number;
  /** dns_lookup_family: AUTO (v6 then v4 in Envoy; here the system's order), V4_ONLY, V6_ONLY, V4_PREFERRED, ALL. */
  dnsLookupFamily: "AUTO" | "V4_ONLY" | "V6_ONLY" | "V4_PREFERRED" | "ALL";
  /**
   * EDS clusters: eds_cluster_config.service_name, the name the endpoints are requested by (the cluster's name
   * when unset); undefined for other types.
   */
  edsServiceName?: string;
  /** load_assignment (STATIC, STRICT_DNS); for EDS it arrives separately. */
  loadAssignment: ClusterLoadAssignment | undefined;
  /** health_checks: active health checking of every endpoint; [] = none. */
  healthChecks: HealthCheck[];
  /** outlier_detection: passive health checking; undefined when the cluster has none. */
  outlierDetection: OutlierDetection | undefined;
  /**
   * common_lb_config.healthy_panic_threshold, in percent (default 50): a priority level with fewer healthy hosts
   * than this balances across all of its hosts. 0 disables panic.
   */
  healthyPanicThreshold: number;
  /**
   * slow_start_config of round_robin_lb_config (ROUND_ROBIN) or least_request_lb_config (LEAST_REQUEST); absent
   * when the policy's config has none or its window is 0 (Envoy: slow start off).
   */
  slowStart?: SlowStartConfig;
  /**
   * common_lb_config.locality_weighted_lb_config is set: within a priority level a pick first chooses a locality
   * by its load_balancing_weight scaled by its health, then a host in it (lb/locality-weighted.ts). Absent = off.
   */
  localityWeightedLb?: boolean;
  /** circuit_breakers, with Envoy's defaults for every priority that has no entry. */
  circuitBreakers: CircuitBreakers;
  /**
   * transport_socket envoy.transport_sockets.upstream_proxy_protocol around raw_buffer: every upstream connection
   * starts with a PROXY protocol header of this version. Absent: none.
   */
  upstreamProxyProtocol?: 1 | 2;
  /** Raw Envoy fields a later stage implements (transport_socket, …). */
  extensions: Record<string, unknown>;
}

/** Cluster.OriginalDstLbConfig, plus the cluster's cleanup_interval. */
export interface OriginalDstConfig {
  /** use_http_header: an HTTP request's x-envoy-original-dst-host (or httpHeaderName) names the host instead. */
  useHttpHeader: boolean;
  /** http_header_name, lower case; "" = x-envoy-original-dst-host. */
  httpHeaderName: string;
  /** upstream_port_override: this port, whatever the original destination's. */
  upstreamPortOverride?: number;
  /** cleanup_interval (default 5 s): a host unused this long is removed. */
  cleanupIntervalMs: number;
}

/**
 * Envoy's core.v3.TcpKeepalive; a field left out keeps the operating system's value. Node (libuv) sets only the
 * idle time: with `timeS` set, libuv also fixes the probe interval at 1 s and the probe count at 10 on Linux, so
 * `probes` and `intervalS` are parsed and checked but not applied (docs/bootstrap.md).
 */
export interface TcpKeepalive {
  /** keepalive_probes: unanswered probes before the connection is dropped. */
  probes?: number;
  /** keepalive_time: seconds of idleness before the first probe. */
  timeS?: number;
  /** keepalive_interval: seconds between probes. */
  intervalS?: number;
}

/** Envoy's Cluster.SlowStartConfig: a new endpoint's weight ramps up over the window. */
export interface SlowStartConfig {
  /** slow_start_window, > 0. */
  windowMs: number;
  /** aggression.default_value (a RuntimeDouble; no runtime here), > 0, default 1.0 (a linear ramp). */
  aggression: number;
  /** min_weight_percent.value, 0-100, default 10: the floor of the ramp, in percent of the weight. */
  minWeightPercent: number;
}

/**
 * One entry of a cluster's health_checks (Envoy's core.v3.HealthCheck). Durations in milliseconds with Envoy's
 * defaults applied: the optional intervals fall back the way Envoy's do (unhealthy_interval → interval, the edge
 * intervals → their state's interval, no_traffic_healthy_interval → no_traffic_interval).
 */
export interface HealthCheck {
  timeoutMs: number;
  intervalMs: number;
  /** initial_jitter: the first check waits a random time in [0, initial_jitter); 0 = checks at once. */
  initialJitterMs: number;
  /** interval_jitter: a random [0, interval_jitter) added to every interval. */
  intervalJitterMs: number;
  /** interval_jitter_percent: a random [0, percent × interval / 100) added to every interval. */
  intervalJitterPercent: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
  /** no_traffic_interval, default 60 s: used until the cluster has made its first upstream connection. */
  noTrafficIntervalMs: number;
  noTrafficHealthyIntervalMs: number;
  unhealthyIntervalMs: number;
  unhealthyEdgeIntervalMs: number;
  healthyEdgeIntervalMs: number;
  /** reuse_connection, default true: one connection per endpoint kept across checks. */
  reuseConnection: boolean;
  /** always_log_health_check_failures: log every failed check, not only the ones that change health. */
  alwaysLogHealthCheckFailures: boolean;
  /** always_log_health_check_success: log every passed check too. */
  alwaysLogHealthCheckSuccess: boolean;
  check: HttpHealthCheck | TcpHealthCheck | GrpcHealthCheck;
}

/** A half-open range [start, end) of HTTP statuses (Envoy's type.v3.Int64Range). */
export interface StatusRange {
  start: number;
  end: number;
}

export interface HttpHealthCheck {
  kind: "http";
  /** host: the Host/:authority sent; undefined = the cluster's name. */
  host: string | undefined;
  path: string;
  /** method, default GET. */
  method: string;
  requestHeadersToAdd: HeaderValueOption[];
  requestHeadersToRemove: string[];
  /** expected_statuses, default [200, 201). */
  expectedStatuses: StatusRange[];
  /** retriable_statuses: failures that count toward unhealthy_threshold instead of failing the host at once. */
  retriableStatuses: StatusRange[];
  /** codec_client_type as written; undefined = the cluster's upstream protocol (HTTP/2 clusters check over h2c). */
  codecClientType: "HTTP1" | "HTTP2" | undefined;
}

export interface TcpHealthCheck {
  kind: "tcp";
  /** send: bytes written after connecting; empty = connect-only check. */
  send: Uint8Array;
  /** receive: blocks that must all arrive, in order (not necessarily adjacent); [] = connecting is enough. */
  receive: Uint8Array[];
}

export interface GrpcHealthCheck {
  kind: "grpc";
  /** service_name sent in grpc.health.v1.HealthCheckRequest; "" = the server as a whole. */
  serviceName: string;
  /** authority: the :authority sent; undefined = the cluster's name. */
  authority: string | undefined;
}

/**
 * A cluster's outlier_detection (envoy.config.cluster.v3.OutlierDetection) with Envoy's defaults applied. Counts are
 * integers, percentages integers 0-100, times milliseconds.
 */
export interface OutlierDetection {
  /** consecutive_5xx, default 5. */
  consecutive5xx: number;
  /** consecutive_gateway_failure (502, 503, 504 and, without the split, local-origin failures), default 5. */
  consecutiveGatewayFailure: number;
  /** consecutive_local_origin_failure, default 5 (counted only with splitExternalLocalOriginErrors). */
  consecutiveLocalOriginFailure: number;
  /** interval between analysis sweeps, default 10 s. */
  intervalMs: number;
  /** base_ejection_time, default 30 s; multiplied by the host's ejection count. */
  baseEjectionTimeMs: number;
  /** max_ejection_time, default the larger of 300 s and base_ejection_time. */
  maxEjectionTimeMs: number;
  /** max_ejection_time_jitter, default 0: up to this much is added to each ejection, at random. */
  maxEjectionTimeJitterMs: number;
  /** max_ejection_percent, default 10. */
  maxEjectionPercent: number;
  /** enforcing_consecutive_5xx, default 100. */
  enforcingConsecutive5xx: number;
  /** enforcing_consecutive_gateway_failure, default 0. */
  enforcingConsecutiveGatewayFailure: number;
  /** enforcing_consecutive_local_origin_failure, default 100. */
  enforcingConsecutiveLocalOriginFailure: number;
  /** enforcing_success_rate, default 100. */
  enforcingSuccessRate: number;
  /** enforcing_local_origin_success_rate, default 100. */
  enforcingLocalOriginSuccessRate: number;
  /** enforcing_failure_percentage, default 0. */
  enforcingFailurePercentage: number;
  /** enforcing_failure_percentage_local_origin, default 0. */
  enforcingFailurePercentageLocalOrigin: number;
  /** success_rate_minimum_hosts, default 5. */
  successRateMinimumHosts: number;
  /** success_rate_request_volume, default 100. */
  successRateRequestVolume: number;
  /** success_rate_stdev_factor in thousandths, default 1900 (a factor of 1.9). */
  successRateStdevFactor: number;
  /** failure_percentage_threshold, default 85. */
  failurePercentageThreshold: number;
  /** failure_percentage_minimum_hosts, default 5. */
  failurePercentageMinimumHosts: number;
  /** failure_percentage_request_volume, default 50. */
  failurePercentageRequestVolume: number;
  /** split_external_local_origin_errors, default false. */
  splitExternalLocalOriginErrors: boolean;
  /** successful_active_health_check_uneject_host, default true. */
  successfulActiveHealthCheckUnejectHost: boolean;
  /** always_eject_one_host, default false: one host may be ejected even beyond max_ejection_percent. */
  alwaysEjectOneHost: boolean;
}

/** Envoy's RoutingPriority. Trellis routes every request at DEFAULT; HIGH thresholds are kept and shown only. */
export type RoutingPriority = "DEFAULT" | "HIGH";

/** circuit_breakers.thresholds[].retry_budget: concurrent retries as a share of the cluster's requests. */
export interface RetryBudget {
  /** budget_percent.value, default 20.0 (of active plus pending requests). */
  budgetPercent: number;
  /** min_retry_concurrency, default 3: the budget never allows fewer concurrent retries. */
  minRetryConcurrency: number;
}

/** One priority's circuit breaker thresholds (Envoy's CircuitBreakers.Thresholds). */
export interface CircuitBreakerThresholds {
  /** max_connections, default 1024: upstream connections of the cluster, all endpoints together. */
  maxConnections: number;
  /** max_pending_requests, default 1024: requests waiting for a connection, cluster-wide. */
  maxPendingRequests: number;
  /** max_requests, default 1024: requests in flight to the cluster. */
  maxRequests: number;
  /** max_retries, default 3: concurrent retries (ignored when retryBudget is set, as in Envoy). */
  maxRetries: number;
  /** retry_budget; undefined = max_retries applies. */
  retryBudget: RetryBudget | undefined;
  /** track_remaining, default false: publish the remaining_* gauges. */
  trackRemaining: boolean;
  /** max_connection_pools, default 4294967295 (unlimited). */
  maxConnectionPools: number;
}

export interface CircuitBreakers {
  /** thresholds[] with priority DEFAULT (or Envoy's defaults). */
  default: CircuitBreakerThresholds;
  /** thresholds[] with priority HIGH (or Envoy's defaults). */
  high: CircuitBreakerThresholds;
  /** per_host_thresholds[].max_connections by priority; undefined = no per-endpoint limit (Envoy's default). */
  perHostMaxConnections: { default: number | undefined; high: number | undefined };
}

export interface ClusterLoadAssignment {
  clusterName: string;
  endpoints: LocalityLbEndpoints[];
}

export interface Locality {
  region: string;
  zone: string;
  subZone: string;
}

export interface LocalityLbEndpoints {
  locality: Locality | undefined;
  lbEndpoints: LbEndpoint[];
  /**
   * load_balancing_weight of the locality; undefined = not set (with locality-weighted balancing on, such a
   * locality gets no traffic, as in Envoy).
   */
  loadBalancingWeight: number | undefined;
  priority: number;
}

export type HealthStatus = "UNKNOWN" | "HEALTHY" | "UNHEALTHY" | "DRAINING" | "TIMEOUT" | "DEGRADED";

export interface LbEndpoint {
  address: SocketAddress;
  /** load_balancing_weight, default 1. */
  loadBalancingWeight: number;
  healthStatus: HealthStatus;
  /** endpoint.hostname, if given (used as the host header by auto_host_rewrite later). */
  hostname: string | undefined;
  /** endpoint.health_check_config: where and as whom active health checks reach this endpoint. */
  healthCheckConfig?: EndpointHealthCheckConfig;
}

export interface DownstreamHttp2Options {
  maxConcurrentStreams?: number;
  initialStreamWindowSize?: number;
  initialConnectionWindowSize?: number;
}

export interface EndpointHealthCheckConfig {
  /** port_value: health checks go to this port instead of the endpoint's. */
  port?: number;
  /** hostname: the Host (HTTP) or :authority (gRPC) of this endpoint's health checks, before the check's own. */
  hostname?: string;
}
