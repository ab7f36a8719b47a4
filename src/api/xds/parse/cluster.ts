// Cluster → how to reach a set of endpoints: discovery type, load balancer, upstream protocol, timeouts, health
// checks, outlier detection, circuit breakers, TCP keepalive. Fields not implemented (upstream TLS…) are refused.

import type { Cluster, LbPolicy, UpstreamTlsContext } from "../types.ts";
import { describe, isPlainObject, ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import { readClusterLoadAssignment } from "./endpoint.ts";
import { readPercent } from "./percent.ts";
import { readHealthChecks } from "./health-check.ts";
import { readOutlierDetection } from "./outlier-detection.ts";
import { readCircuitBreakers } from "./circuit-breakers.ts";
import {
  readCommonHttpProtocolOptions,
  readHttp2MaxConcurrentStreams,
  readUpstreamHttp1Options,
} from "./protocol-options.ts";
import { readTcpKeepalive } from "./upstream-connection-options.ts";
import { readSlowStart, ROUND_ROBIN_SPEC } from "./slow-start.ts";
import { readClusterType } from "./dns-cache.ts";
import { readUpstreamTransportSocket } from "./transport-socket.ts";
import { isUpstreamProxyProtocol, readUpstreamProxyProtocol } from "./upstream-proxy-protocol.ts";

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_DNS_REFRESH_RATE_MS = 5_000;
export const DEFAULT_CHOICE_COUNT = 2;
export const DEFAULT_MINIMUM_RING_SIZE = 1024;
export const MAX_RING_SIZE = 8_388_608;
export const DEFAULT_MAGLEV_TABLE_SIZE = 65_537;
/** Envoy's default common_lb_config.healthy_panic_threshold, in percent. */
export const DEFAULT_HEALTHY_PANIC_THRESHOLD = 50;
/** Envoy's upper bound on maglev_lb_config.table_size. */
const MAX_MAGLEV_TABLE_SIZE = 5_000_011;

export const HTTP_PROTOCOL_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
export const HTTP_PROTOCOL_OPTIONS_TYPE_URL = `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS_KEY}`;

const CLUSTER_SPEC = {
  handled: [
    "name",
    "type",
    "connect_timeout",
    "lb_policy",
    "least_request_lb_config",
    "round_robin_lb_config",
    "ring_hash_lb_config",
    "maglev_lb_config",
    "typed_extension_protocol_options",
    "http2_protocol_options",
    "http_protocol_options",
    "common_http_protocol_options",
    "max_requests_per_connection",
    "dns_refresh_rate",
    "dns_lookup_family",
    "load_assignment",
    "health_checks",
    "outlier_detection",
    "common_lb_config",
    "circuit_breakers",
    "eds_cluster_config",
    "upstream_connection_options",
    "cluster_type",
    "transport_socket",
    "original_dst_lb_config",
    "cleanup_interval",
  ],
  ignored: [
    // Extra stats families (timeout budgets, request/response sizes) Trellis does not export.
    "track_cluster_stats",
    "alt_stat_name",
    "metadata",
    "wait_for_warm_on_init",
    "respect_dns_ttl",
    "dns_failure_refresh_rate",
    "dns_jitter",
    "track_timeout_budgets",
  ],
  unsupported: [
    "transport_socket_matches",
    "per_connection_buffer_limit_bytes",
    "lb_subset_config",
    "close_connections_on_host_health_failure",
    "ignore_health_on_host_removal",
    "dns_resolvers",
    "use_tcp_for_dns_lookups",
    "dns_resolution_config",
    "typed_dns_resolver_config",
    "upstream_bind_config",
    "protocol_selection",
    "filters",
    "load_balancing_policy",
    "lrs_server",
    "upstream_config",
    "preconnect_policy",
    "connection_pool_per_downstream_connection",
    "upstream_http_protocol_options",
  ],
} as const;

const EDS_CLUSTER_CONFIG_SPEC = { handled: ["service_name", "eds_config"] } as const;
const CONFIG_SOURCE_SPEC = {
  handled: ["ads"],
  ignored: ["initial_fetch_timeout", "resource_api_version", "authorities"],
  unsupported: ["path", "path_config_source", "api_config_source", "self"],
} as const;

const LEAST_REQUEST_SPEC = {
  handled: ["choice_count", "slow_start_config"],
  unsupported: ["active_request_bias", "locality_lb_config"],
} as const;
const RING_HASH_SPEC = {
  handled: ["minimum_ring_size", "maximum_ring_size", "hash_function"],
  unsupported: [
    "use_hostname_for_hashing",
    "hash_balance_factor",
    "consistent_hashing_lb_config",
    "locality_weighted_lb_config",
  ],
} as const;
const COMMON_LB_SPEC = {
  handled: ["healthy_panic_threshold", "locality_weighted_lb_config"],
  // Batches membership updates in Envoy; here every update is applied at once, which only costs rebuilds.
  ignored: ["update_merge_window"],
  unsupported: [
    "zone_aware_lb_config",
    "ignore_new_hosts_until_first_hc",
    "close_connections_on_host_set_change",
    "consistent_hashing_lb_config",
    "override_host_status",
  ],
} as const;
/** An empty message: its presence turns locality-weighted balancing on. */
const LOCALITY_WEIGHTED_SPEC = { handled: [] } as const;
const MAGLEV_SPEC = {
  handled: ["table_size"],
  unsupported: ["consistent_hashing_lb_config", "locality_weighted_lb_config"],
} as const;
const HTTP_PROTOCOL_OPTIONS_SPEC = {
  handled: ["@type", "common_http_protocol_options", "explicit_http_config", "use_downstream_protocol_config"],
  unsupported: [
    "upstream_http_protocol_options",
    "auto_config",
    "http_filters",
    "header_validation_config",
    "outlier_detection",
  ],
} as const;
const EXPLICIT_HTTP_CONFIG_SPEC = {
  handled: ["http_protocol_options", "http2_protocol_options"],
  unsupported: ["http3_protocol_options"],
} as const;
/** UseDownstreamHttpConfig: the codec options for each protocol a downstream may bring; HTTP/3 is not served. */
const USE_DOWNSTREAM_HTTP_CONFIG_SPEC = EXPLICIT_HTTP_CONFIG_SPEC;

const CLUSTER_TYPES: readonly (Cluster["type"] | undefined)[] = [
  "STATIC",
  "STRICT_DNS",
  "LOGICAL_DNS",
  "EDS",
  "ORIGINAL_DST",
];
/** Envoy's default cleanup_interval of an ORIGINAL_DST cluster: 5 s. */
export const DEFAULT_ORIGINAL_DST_CLEANUP_INTERVAL_MS = 5_000;
/** The header use_http_header reads when http_header_name is empty. */
export const ORIGINAL_DST_HOST_HEADER = "x-envoy-original-dst-host";
const ORIGINAL_DST_LB_SPEC = {
  handled: ["use_http_header", "http_header_name", "upstream_port_override"],
  unsupported: ["metadata_key"],
} as const;
const LB_POLICIES: readonly (LbPolicy | undefined)[] = [
  "ROUND_ROBIN",
  "LEAST_REQUEST",
  "RING_HASH",
  "RANDOM",
  undefined,
  "MAGLEV",
];
const UNSUPPORTED_LB_POLICIES = [
  undefined,
  undefined,
  undefined,
  undefined,
  "ORIGINAL_DST_LB",
  undefined,
  "CLUSTER_PROVIDED",
  "LOAD_BALANCING_POLICY_CONFIG",
];
const DNS_LOOKUP_FAMILIES: readonly Cluster["dnsLookupFamily"][] = [
  "AUTO",
  "V4_ONLY",
  "V6_ONLY",
  "V4_PREFERRED",
  "ALL",
];

/** Reads a Cluster at `path`, reporting into `ctx`. */
export function readCluster(ctx: ParseContext, raw: unknown, path: string): Cluster {
  const cluster = Fields.open(ctx, raw, path, CLUSTER_SPEC);
  const name = cluster.requiredString("name");
  const type = cluster.enumValue("type", CLUSTER_TYPES, "STATIC");
  const connectTimeoutMs = positiveDuration(cluster, "connect_timeout", DEFAULT_CONNECT_TIMEOUT_MS);
  const protocol = readUpstreamProtocol(cluster);
  const edsServiceName = readEdsServiceName(cluster, type, name);
  // cluster_type (a custom cluster: the dynamic forward proxy) replaces `type`; its hosts come from its DNS cache,
  // and the cluster picks the host itself (lb_policy CLUSTER_PROVIDED, or unset).
  const dynamicForwardProxy = cluster.has("cluster_type") ? readClusterType(cluster) : undefined;
  if (cluster.has("cluster_type") && cluster.has("load_assignment"))
    cluster.report(
      "load_assignment",
      "a dynamic forward proxy cluster takes its hosts from the request, not from load_assignment",
    );
  const lbRaw = cluster.raw("lb_policy");
  const clusterProvided = lbRaw === "CLUSTER_PROVIDED" || lbRaw === 6 || lbRaw === "cluster_provided";
  const originalDst = type === "ORIGINAL_DST" ? readOriginalDst(cluster, clusterProvided) : undefined;
  if (type !== "ORIGINAL_DST" && cluster.has("original_dst_lb_config"))
    cluster.report("original_dst_lb_config", `only for type ORIGINAL_DST, not ${type}`);
  const lbPolicy =
    (cluster.has("cluster_type") && clusterProvided) || type === "ORIGINAL_DST"
      ? "ROUND_ROBIN"
      : cluster.enumValue("lb_policy", LB_POLICIES, "ROUND_ROBIN", UNSUPPORTED_LB_POLICIES);
  const leastRequest = cluster.message("least_request_lb_config", LEAST_REQUEST_SPEC);
  const roundRobin = cluster.message("round_robin_lb_config", ROUND_ROBIN_SPEC);
  const commonLb = cluster.message("common_lb_config", COMMON_LB_SPEC);
  const tcpKeepalive = readTcpKeepalive(cluster);
  // transport_socket: the upstream PROXY protocol socket is implemented (wrapping raw_buffer); raw_buffer is
  // nothing; envoy.transport_sockets.tls is TLS origination; any other is refused with its path (transport-socket.ts).
  let upstreamProxyProtocol: 1 | 2 | undefined;
  let tls: UpstreamTlsContext | undefined;
  if (isUpstreamProxyProtocol(cluster.raw("transport_socket")))
    upstreamProxyProtocol = readUpstreamProxyProtocol(
      ctx,
      cluster.raw("transport_socket"),
      cluster.at("transport_socket"),
    );
  else tls = readUpstreamTransportSocket(cluster, "transport_socket");
  return {
    ...(tls === undefined ? {} : { tls }),
    ...(edsServiceName === undefined ? {} : { edsServiceName }),
    name,
    type,
    connectTimeoutMs,
    lbPolicy,
    leastRequestChoiceCount: leastRequest.integer("choice_count", DEFAULT_CHOICE_COUNT, 2),
    ...readSlowStart(lbPolicy, roundRobin, leastRequest),
    ringHash: readRingHash(cluster),
    maglevTableSize: readMaglevTableSize(cluster),
    http2: protocol.http2,
    upstreamIdleTimeoutMs: protocol.idleTimeoutMs,
    maxRequestsPerConnection: protocol.maxRequestsPerConnection,
    ...optionalProtocolFields(protocol),
    dnsRefreshRateMs: positiveDuration(cluster, "dns_refresh_rate", DEFAULT_DNS_REFRESH_RATE_MS),
    dnsLookupFamily: cluster.enumValue("dns_lookup_family", DNS_LOOKUP_FAMILIES, "AUTO"),
    loadAssignment: readLoadAssignment(cluster, type),
    healthChecks: readHealthChecks(cluster),
    outlierDetection: cluster.has("outlier_detection")
      ? readOutlierDetection(ctx, cluster.raw("outlier_detection"), cluster.at("outlier_detection"))
      : undefined,
    healthyPanicThreshold: readHealthyPanicThreshold(commonLb),
    ...(readLocalityWeighted(commonLb) ? { localityWeightedLb: true } : {}),
    circuitBreakers: readCircuitBreakers(cluster),
    ...(tcpKeepalive === undefined ? {} : { tcpKeepalive }),
    ...(dynamicForwardProxy === undefined ? {} : { dynamicForwardProxy }),
    ...(originalDst === undefined ? {} : { originalDst }),
    ...(upstreamProxyProtocol === undefined ? {} : { upstreamProxyProtocol }),
    extensions: cluster.extensions(),
  };
}

/**
 * type ORIGINAL_DST: lb_policy CLUSTER_PROVIDED (or left out), no load_assignment (its hosts come from the
 * connections), original_dst_lb_config and cleanup_interval — Envoy's rules.
 */
function readOriginalDst(cluster: Fields, clusterProvided: boolean): Cluster["originalDst"] {
  if (cluster.has("lb_policy") && !clusterProvided)
    cluster.report(
      "lb_policy",
      `a cluster of type ORIGINAL_DST takes lb_policy CLUSTER_PROVIDED, got ${describe(cluster.raw("lb_policy"))}`,
    );
  if (cluster.has("load_assignment"))
    cluster.report(
      "load_assignment",
      "a cluster of type ORIGINAL_DST takes its hosts from the connections, not from load_assignment",
    );
  const config = cluster.message("original_dst_lb_config", ORIGINAL_DST_LB_SPEC);
  const port = config.optionalInteger("upstream_port_override", 1, 65535);
  const header = (config.string("http_header_name") ?? "").toLowerCase();
  const out = {
    useHttpHeader: config.bool("use_http_header", false),
    httpHeaderName: header,
    ...(port === undefined ? {} : { upstreamPortOverride: port }),
    cleanupIntervalMs: positiveDuration(cluster, "cleanup_interval", DEFAULT_ORIGINAL_DST_CLEANUP_INTERVAL_MS),
  };
  return out;
}

/**
 * load_assignment: host names for the DNS types; a LOGICAL_DNS cluster has exactly one endpoint, as Envoy requires
 * (its one logical host connects to the first address of the latest answer).
 */
function readLoadAssignment(cluster: Fields, type: Cluster["type"]): Cluster["loadAssignment"] {
  if (!cluster.has("load_assignment")) {
    if (type === "LOGICAL_DNS") cluster.requireField("load_assignment");
    return undefined;
  }
  const at = cluster.at("load_assignment");
  const assignment = readClusterLoadAssignment(cluster.ctx, cluster.raw("load_assignment"), at, {
    allowHostNames: type === "STRICT_DNS" || type === "LOGICAL_DNS",
  });
  if (type === "LOGICAL_DNS") {
    const groups = assignment.endpoints;
    if (groups.length !== 1 || groups[0]!.lbEndpoints.length !== 1)
      cluster.ctx.report(
        `${at}.endpoints`,
        "a LOGICAL_DNS cluster takes exactly one endpoint (one locality with one lb_endpoint)",
      );
  }
  return assignment;
}

/** Parses one Cluster resource; throws ConfigError naming every problem. */
export function parseCluster(raw: unknown, path?: string): Cluster {
  const ctx = new ParseContext();
  const cluster = readCluster(ctx, raw, path ?? "");
  ctx.throwIfFailed(path ?? (cluster.name === "" ? "cluster" : `cluster ${cluster.name}`));
  return cluster;
}

/**
 * eds_cluster_config: {service_name, eds_config: {ads: {}}} of a `type: EDS` cluster. The endpoints come over the
 * same ADS stream, requested by service_name (the cluster's name when unset).
 */
function readEdsServiceName(cluster: Fields, type: Cluster["type"], name: string): string | undefined {
  if (type !== "EDS") {
    if (cluster.has("eds_cluster_config")) cluster.report("eds_cluster_config", `only for type EDS, not ${type}`);
    return undefined;
  }
  const eds = cluster.message("eds_cluster_config", EDS_CLUSTER_CONFIG_SPEC);
  if (eds.has("eds_config")) {
    const source = eds.message("eds_config", CONFIG_SOURCE_SPEC);
    if (!source.broken && !source.has("ads")) source.report("ads", "required: Trellis fetches endpoints over ADS only");
    if (source.has("ads")) source.map("ads");
  }
  const serviceName = eds.string("service_name");
  return serviceName === undefined || serviceName === "" ? name : serviceName;
}

function positiveDuration(fields: Fields, name: string, fallback: number): number {
  const value = fields.durationMs(name);
  if (value === undefined) return fallback;
  if (value > 0) return value;
  fields.report(name, "expected a duration greater than 0");
  return fallback;
}

function readRingHash(cluster: Fields): Cluster["ringHash"] {
  const ring = cluster.message("ring_hash_lb_config", RING_HASH_SPEC);
  ring.enumValue("hash_function", ["XX_HASH"], "XX_HASH", [undefined, "MURMUR_HASH_2"]);
  const minimumRingSize = ring.integer("minimum_ring_size", DEFAULT_MINIMUM_RING_SIZE, 1, MAX_RING_SIZE);
  const maximumRingSize = ring.integer("maximum_ring_size", MAX_RING_SIZE, 1, MAX_RING_SIZE);
  if (minimumRingSize > maximumRingSize) {
    ring.report("minimum_ring_size", `is ${minimumRingSize}, more than maximum_ring_size ${maximumRingSize}`);
  }
  return { minimumRingSize, maximumRingSize };
}

/** common_lb_config.healthy_panic_threshold: a Percent; proto3's unset value 0 disables panic. */
function readHealthyPanicThreshold(common: Fields): number {
  return readPercent(common, "healthy_panic_threshold", DEFAULT_HEALTHY_PANIC_THRESHOLD);
}

/** common_lb_config.locality_weighted_lb_config: an empty message; set (and an object) turns the feature on. */
function readLocalityWeighted(common: Fields): boolean {
  if (!common.has("locality_weighted_lb_config")) return false;
  return !common.message("locality_weighted_lb_config", LOCALITY_WEIGHTED_SPEC).broken;
}

function readMaglevTableSize(cluster: Fields): number {
  const maglev = cluster.message("maglev_lb_config", MAGLEV_SPEC);
  const size = maglev.integer("table_size", DEFAULT_MAGLEV_TABLE_SIZE, 1, MAX_MAGLEV_TABLE_SIZE);
  if (!isPrime(size)) {
    maglev.report("table_size", `expected a prime number, got ${size}`);
    return DEFAULT_MAGLEV_TABLE_SIZE;
  }
  return size;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

interface UpstreamProtocol {
  http2: boolean;
  useDownstreamProtocol: boolean;
  idleTimeoutMs: number;
  maxRequestsPerConnection: number;
  maxConnectionDurationMs: number;
  http2MaxConcurrentStreams: number | undefined;
}

/** The Cluster fields that are present only when configured (nothing to check for a cluster without them). */
function optionalProtocolFields(
  p: UpstreamProtocol,
): Pick<Cluster, "maxConnectionDurationMs" | "http2MaxConcurrentStreams" | "useDownstreamProtocol"> {
  const out: ReturnType<typeof optionalProtocolFields> = {};
  if (p.maxConnectionDurationMs > 0) out.maxConnectionDurationMs = p.maxConnectionDurationMs;
  if (p.http2MaxConcurrentStreams !== undefined) out.http2MaxConcurrentStreams = p.http2MaxConcurrentStreams;
  if (p.useDownstreamProtocol) out.useDownstreamProtocol = true;
  return out;
}

/**
 * The upstream HTTP protocol, from typed_extension_protocol_options' HttpProtocolOptions or from the deprecated
 * cluster-level fields (http2_protocol_options, common_http_protocol_options, max_requests_per_connection).
 */
function readUpstreamProtocol(cluster: Fields): UpstreamProtocol {
  const deprecated = ["http2_protocol_options", "http_protocol_options", "common_http_protocol_options"];
  const typed = cluster.map("typed_extension_protocol_options");
  const typedPath = cluster.at("typed_extension_protocol_options");
  let fromTyped: UpstreamProtocol | undefined;
  for (const [key, value] of Object.entries(typed)) {
    const at = `${typedPath}[${JSON.stringify(key)}]`;
    if (key === HTTP_PROTOCOL_OPTIONS_KEY) fromTyped = readHttpProtocolOptions(cluster.ctx, value, at);
    else cluster.ctx.report(at, `protocol options ${describe(key)} are not supported yet`);
  }
  if (fromTyped !== undefined) {
    for (const name of [...deprecated, "max_requests_per_connection"]) {
      if (cluster.has(name)) cluster.report(name, `cannot be combined with ${HTTP_PROTOCOL_OPTIONS_KEY}`);
    }
    return fromTyped;
  }
  cluster.oneOf(["http_protocol_options", "http2_protocol_options"], false);
  const http2 = cluster.has("http2_protocol_options");
  if (cluster.has("http_protocol_options")) readUpstreamHttp1Options(cluster, "http_protocol_options");
  const common = readCommonHttpProtocolOptions(cluster, "common_http_protocol_options", true);
  const maxRequests = cluster.optionalInteger("max_requests_per_connection");
  return {
    http2,
    useDownstreamProtocol: false,
    idleTimeoutMs: common.idleTimeoutMs,
    maxRequestsPerConnection: maxRequests ?? common.maxRequestsPerConnection,
    maxConnectionDurationMs: common.maxConnectionDurationMs,
    http2MaxConcurrentStreams: http2 ? readHttp2MaxConcurrentStreams(cluster, "http2_protocol_options") : undefined,
  };
}

/**
 * HttpProtocolOptions: one upstream protocol (explicit_http_config), or the downstream's
 * (use_downstream_protocol_config); auto_config (ALPN) is not supported.
 */
function readHttpProtocolOptions(ctx: ParseContext, raw: unknown, path: string): UpstreamProtocol {
  const options = Fields.open(ctx, raw, path, HTTP_PROTOCOL_OPTIONS_SPEC);
  const typeUrl = options.raw("@type");
  if (isPlainObject(raw) && typeUrl !== undefined && typeUrl !== HTTP_PROTOCOL_OPTIONS_TYPE_URL) {
    options.report("@type", `expected ${HTTP_PROTOCOL_OPTIONS_TYPE_URL}, got ${describe(typeUrl)}`);
  }
  const common = readCommonHttpProtocolOptions(options, "common_http_protocol_options", true);
  const protocol: UpstreamProtocol = {
    http2: false,
    useDownstreamProtocol: false,
    idleTimeoutMs: common.idleTimeoutMs,
    maxRequestsPerConnection: common.maxRequestsPerConnection,
    maxConnectionDurationMs: common.maxConnectionDurationMs,
    http2MaxConcurrentStreams: undefined,
  };
  const which = options.oneOf(["explicit_http_config", "use_downstream_protocol_config"], true);
  if (which === "explicit_http_config") {
    const explicit = options.message("explicit_http_config", EXPLICIT_HTTP_CONFIG_SPEC);
    const kind = explicit.oneOf(["http_protocol_options", "http2_protocol_options"], true);
    if (kind === "http_protocol_options") readUpstreamHttp1Options(explicit, kind);
    protocol.http2 = kind === "http2_protocol_options";
    if (protocol.http2) protocol.http2MaxConcurrentStreams = readHttp2MaxConcurrentStreams(explicit, kind!);
  } else if (which === "use_downstream_protocol_config") {
    // Either protocol may be left out: Envoy still follows the downstream (an HTTP/2 request goes out as HTTP/2).
    const config = options.message("use_downstream_protocol_config", USE_DOWNSTREAM_HTTP_CONFIG_SPEC);
    if (config.has("http_protocol_options")) readUpstreamHttp1Options(config, "http_protocol_options");
    protocol.useDownstreamProtocol = !config.broken;
    protocol.http2MaxConcurrentStreams = readHttp2MaxConcurrentStreams(config, "http2_protocol_options");
  }
  return protocol;
}
