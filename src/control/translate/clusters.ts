// Outbound clusters: one per reachable service port, plus one per DestinationRule subset, with the merged traffic
// policy (traffic-policy.ts) applied the way Istio's cluster builder applies it. Istio's defaults where the user
// wrote nothing: connect_timeout 10s, LEAST_REQUEST, circuit breakers effectively unlimited (Envoy's 1024 would
// be a surprise limit), outlier detection off. The connection pool's protocol options follow Istio's
// applyConnectionPool, applyH2Upgrade and setUpstreamProtocol (pilot/pkg/networking/core/cluster_traffic_policy.go
// and cluster_builder.go), including the order in which they overwrite one another.

import type { ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection } from "../../api/resources/types.ts";
import type { Json } from "./envoy.ts";
import { ADS, duration, HTTP_PROTOCOL_OPTIONS_KEY, HTTP_PROTOCOL_OPTIONS_TYPE } from "./envoy.ts";
import { localityEndpoints } from "./endpoints.ts";
import { dynamicForwardProxyDiscovery } from "./passthrough.ts";
import { isHttp2Protocol, isHttpProtocol, outboundClusterName } from "./names.ts";
import { isSniffedProtocol, useDownstreamProtocol } from "./sniffing.ts";
import type { Problems } from "./problems.ts";
import type { EffectivePolicy } from "./traffic-policy.ts";
import { applyWarmup } from "./warmup.ts";
import { upstreamConnectionOptions } from "./keepalive.ts";
import type { ServiceModel, ServicePortModel } from "./world.ts";

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Istio's circuit breaker default: no practical limit. */
const UNLIMITED = 4_294_967_295;
const DEFAULT_MINIMUM_RING_SIZE = 1024;

export interface ClusterSpec {
  service: ServiceModel;
  port: ServicePortModel;
  subset?: { name: string; labels: Record<string, string> };
  policy: EffectivePolicy;
  /** "namespace/name" of the DestinationRule the policy came from, for problems. */
  rule?: string;
  /**
   * For a capture-mode proxy (INTERCEPTION_MODE REDIRECT): resolution NONE and loadBalancer PASSTHROUGH become
   * ORIGINAL_DST clusters (each connection goes to the address it was dialled to), as in Istio.
   */
  capture?: boolean;
}

export function outboundCluster(spec: ClusterSpec, problems: Problems): Json {
  const { service, port, subset, policy } = spec;
  const name = outboundClusterName(port.number, subset?.name, service.hostname);
  // Problems name the DestinationRule the policy came from, when there is one: that is what the user can fix.
  const where = spec.rule === undefined ? `cluster ${name}` : `DestinationRule ${spec.rule} cluster ${name}`;
  const cluster: Json = { name };
  const dynamic = service.resolution === "DYNAMIC_DNS";
  if (spec.capture === true && (service.resolution === "NONE" || policy.loadBalancer?.simple === "PASSTHROUGH")) {
    return originalDstCluster(spec, name, where, problems);
  }
  if (service.resolution === "DNS") {
    cluster.type = "STRICT_DNS";
    cluster.load_assignment = {
      cluster_name: name,
      endpoints: localityEndpoints(service, port, subset?.labels),
    };
  } else if (dynamic) {
    // Each request's host is the one endpoint: the cluster balances nothing, and subset labels select nothing.
    if (policy.loadBalancer !== undefined) {
      problems.add(
        `${where}: loadBalancer does not apply to a DYNAMIC_DNS service (each request goes to its own host); ignored`,
      );
    }
    if (subset !== undefined && Object.keys(subset.labels).length > 0) {
      problems.add(
        `${where}: subset ${subset.name}'s labels select nothing for a DYNAMIC_DNS service; its cluster forwards to each request's host`,
      );
    }
  } else {
    cluster.type = "EDS";
    cluster.eds_cluster_config = { service_name: name, eds_config: ADS };
  }
  if (dynamic) Object.assign(cluster, dynamicForwardProxyDiscovery());
  else {
    Object.assign(cluster, loadBalancer(policy.loadBalancer, where, problems));
    applyWarmup(cluster, policy.loadBalancer, where, spec.rule, problems);
  }
  applyConnectionPool(cluster, port.protocol, policy.connectionPool, where, problems);
  if (policy.outlierDetection !== undefined) {
    cluster.outlier_detection = outlierDetection(policy.outlierDetection);
    // Istio: min_health_percent (default 0) becomes the panic threshold, so with outlier detection on, panic
    // routing is off unless the user asked for it.
    cluster.common_lb_config = { healthy_panic_threshold: { value: policy.outlierDetection.minHealthPercent ?? 0 } };
  }
  return cluster;
}

/**
 * A cluster whose one endpoint is each connection's original destination (capture mode): resolution NONE, or a
 * DestinationRule's loadBalancer PASSTHROUGH. Balancing and subset labels have nothing to choose from; the
 * connection pool and outlier detection still apply, as in Istio's ORIGINAL_DST clusters.
 */
function originalDstCluster(spec: ClusterSpec, name: string, where: string, problems: Problems): Json {
  const { service, port, subset, policy } = spec;
  const cluster: Json = { name, type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED" };
  const why = service.resolution === "NONE" ? "resolution NONE" : "loadBalancer PASSTHROUGH (the original destination)";
  if (policy.loadBalancer?.consistentHash !== undefined) {
    problems.add(`${where}: loadBalancer.consistentHash does not apply with ${why}; ignored`);
  }
  if (subset !== undefined && Object.keys(subset.labels).length > 0) {
    problems.add(
      `${where}: subset ${subset.name}'s labels select nothing with ${why}; its cluster forwards to the original destination`,
    );
  }
  if (service.resolution !== "NONE") {
    problems.add(
      `${where}: loadBalancer PASSTHROUGH sends each connection to the address its caller dialled: a caller that ` +
        `dialled the service's virtual IP (its name) reaches no instance; only calls to an instance's own address work`,
      { note: true },
    );
  }
  applyConnectionPool(cluster, port.protocol, policy.connectionPool, where, problems);
  if (policy.outlierDetection !== undefined) cluster.outlier_detection = outlierDetection(policy.outlierDetection);
  return cluster;
}

/**
 * Istio's applyConnectionPool on one cluster of a port speaking `protocol`: connect timeout, circuit breakers
 * (Istio's "no practical limit" where the pool says nothing), TCP keepalive, and for HTTP ports the upstream
 * protocol and HttpProtocolOptions; what does not apply to the port is reported. Outbound clusters always take
 * it; inbound ones only when a Sidecar sets a connection pool (inbound.ts).
 */
export function applyConnectionPool(
  cluster: Json,
  protocol: string,
  pool: ConnectionPoolSettings | undefined,
  where: string,
  problems: Problems,
): void {
  cluster.connect_timeout = duration(pool?.tcp?.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS);
  cluster.circuit_breakers = circuitBreakers(pool);
  const connectionOptions = upstreamConnectionOptions(pool, where, problems);
  if (connectionOptions !== undefined) cluster.upstream_connection_options = connectionOptions;
  // A sniffed port carries HTTP too (the connection's protocol decides, sniffing.ts).
  const http = isHttpProtocol(protocol) || isSniffedProtocol(protocol);
  const protocolOptions = http ? httpProtocolOptions(protocol, pool, where, problems) : undefined;
  if (protocolOptions !== undefined) cluster.typed_extension_protocol_options = protocolOptions;
  if (!http && pool?.http !== undefined && Object.keys(pool.http).length > 0) {
    problems.add(`${where}: connectionPool.http does not apply to a ${protocol} port; ignored`);
  }
  if (!http && pool?.tcp?.maxConnectionDuration !== undefined) {
    problems.add(
      `${where}: connectionPool.tcp.maxConnectionDuration limits HTTP connections only; ignored for a ${protocol} port`,
    );
  }
}

function loadBalancer(lb: LoadBalancerSettings | undefined, where: string, problems: Problems): Json {
  const hash = lb?.consistentHash;
  if (hash !== undefined) {
    if (hash.maglev !== undefined) {
      const out: Json = { lb_policy: "MAGLEV" };
      if (hash.maglev.tableSize !== undefined) out.maglev_lb_config = { table_size: hash.maglev.tableSize };
      return out;
    }
    return {
      lb_policy: "RING_HASH",
      ring_hash_lb_config: { minimum_ring_size: hash.ringHash?.minimumRingSize ?? DEFAULT_MINIMUM_RING_SIZE },
    };
  }
  switch (lb?.simple) {
    case "ROUND_ROBIN":
      return { lb_policy: "ROUND_ROBIN" };
    case "RANDOM":
      return { lb_policy: "RANDOM" };
    case "PASSTHROUGH":
      problems.add(`${where}: loadBalancer PASSTHROUGH (original destination) is not supported; LEAST_REQUEST used`);
      return { lb_policy: "LEAST_REQUEST" };
    default:
      // UNSPECIFIED, LEAST_REQUEST, LEAST_CONN (its old name), or nothing: Istio's default.
      return { lb_policy: "LEAST_REQUEST" };
  }
}

export function circuitBreakers(pool: ConnectionPoolSettings | undefined): Json {
  return {
    thresholds: [
      {
        max_connections: pool?.tcp?.maxConnections ?? UNLIMITED,
        max_pending_requests: pool?.http?.http1MaxPendingRequests ?? UNLIMITED,
        max_requests: pool?.http?.http2MaxRequests ?? UNLIMITED,
        max_retries: pool?.http?.maxRetries ?? UNLIMITED,
        track_remaining: true,
      },
    ],
  };
}

/**
 * typed_extension_protocol_options for an HTTP port: the upstream protocol (HTTP/2 for an HTTP/2 port or with
 * h2UpgradePolicy UPGRADE, the downstream's with useClientProtocol), max concurrent streams, and the common options
 * (idle timeout, max requests per connection, max connection duration).
 */
function httpProtocolOptions(
  protocol: string,
  pool: ConnectionPoolSettings | undefined,
  where: string,
  problems: Problems,
): Json | undefined {
  const common: Json = {};
  if (pool?.http?.idleTimeout !== undefined) common.idle_timeout = duration(pool.http.idleTimeout);
  if (pool?.http?.maxRequestsPerConnection !== undefined) {
    common.max_requests_per_connection = pool.http.maxRequestsPerConnection;
  }
  if (pool?.tcp?.maxConnectionDuration !== undefined) {
    common.max_connection_duration = duration(pool.tcp.maxConnectionDuration);
  }
  const upstream = upstreamProtocol(protocol, pool, where, problems);
  if (upstream === undefined && Object.keys(common).length === 0) return undefined;
  const options: Json = {
    "@type": HTTP_PROTOCOL_OPTIONS_TYPE,
    ...(upstream ?? { explicit_http_config: { http_protocol_options: {} } }),
  };
  if (Object.keys(common).length > 0) options.common_http_protocol_options = common;
  return { [HTTP_PROTOCOL_OPTIONS_KEY]: options };
}

/**
 * HttpProtocolOptions' upstream protocol, undefined for plain HTTP/1.1. In Istio's order: an HTTP/2 port gets
 * HTTP/2 options first, and maxConcurrentStreams is written into them; useClientProtocol then replaces them with
 * use_downstream_protocol_config, and h2UpgradePolicy UPGRADE replaces either with fresh HTTP/2 options. So
 * maxConcurrentStreams survives only on an HTTP/2 port with neither; elsewhere it is reported, not silently lost.
 */
function upstreamProtocol(
  portProtocol: string,
  pool: ConnectionPoolSettings | undefined,
  where: string,
  problems: Problems,
): Json | undefined {
  const http = pool?.http;
  const maxStreams = http?.maxConcurrentStreams;
  let protocol: Json | undefined;
  let keptMaxStreams = false;
  if (http?.h2UpgradePolicy === "UPGRADE") protocol = { explicit_http_config: { http2_protocol_options: {} } };
  else if (http?.useClientProtocol === true) {
    protocol = { use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} } };
  } else if (isHttp2Protocol(portProtocol)) {
    keptMaxStreams = maxStreams !== undefined;
    const http2 = keptMaxStreams ? { max_concurrent_streams: maxStreams } : {};
    protocol = { explicit_http_config: { http2_protocol_options: http2 } };
  } else if (isSniffedProtocol(portProtocol)) {
    // Istio's setUseDownstreamProtocol: a sniffed h2c request goes on as HTTP/2, an HTTP/1.1 one as HTTP/1.1.
    protocol = useDownstreamProtocol();
  }
  if (maxStreams !== undefined && !keptMaxStreams) {
    problems.add(
      `${where}: connectionPool.http.maxConcurrentStreams applies only to an HTTP/2 port (http2, grpc) without ` +
        "useClientProtocol or h2UpgradePolicy UPGRADE, as in Istio; ignored",
    );
  }
  return protocol;
}

/** Istio's OutlierDetection → Envoy's; what the user left out keeps Envoy's default. */
function outlierDetection(o: OutlierDetection): Json {
  const out: Json = {};
  if (o.consecutive5xxErrors !== undefined) {
    out.consecutive_5xx = o.consecutive5xxErrors;
    // 0 means "not by 5xx" in Istio; Envoy needs enforcement off for that.
    out.enforcing_consecutive_5xx = o.consecutive5xxErrors > 0 ? 100 : 0;
  }
  if (o.consecutiveGatewayErrors !== undefined) {
    out.consecutive_gateway_failure = o.consecutiveGatewayErrors;
    out.enforcing_consecutive_gateway_failure = o.consecutiveGatewayErrors > 0 ? 100 : 0;
  }
  if (o.splitExternalLocalOriginErrors !== undefined) {
    out.split_external_local_origin_errors = o.splitExternalLocalOriginErrors;
  }
  if (o.consecutiveLocalOriginFailures !== undefined) {
    out.consecutive_local_origin_failure = o.consecutiveLocalOriginFailures;
  }
  if (o.interval !== undefined) out.interval = duration(o.interval);
  if (o.baseEjectionTime !== undefined) out.base_ejection_time = duration(o.baseEjectionTime);
  if (o.maxEjectionPercent !== undefined) out.max_ejection_percent = o.maxEjectionPercent;
  return out;
}
