// Outbound clusters: one per reachable service port, plus one per DestinationRule subset, with the merged traffic
// policy (traffic-policy.ts) applied the way Istio's cluster builder applies it. Istio's defaults where the user
// wrote nothing: connect_timeout 10s, LEAST_REQUEST, circuit breakers effectively unlimited (Envoy's 1024 would
// be a surprise limit), outlier detection off.

import type { ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection } from "../../api/resources/types.ts";
import type { Json } from "./envoy.ts";
import { ADS, duration, HTTP_PROTOCOL_OPTIONS_KEY, HTTP_PROTOCOL_OPTIONS_TYPE } from "./envoy.ts";
import { localityEndpoints } from "./endpoints.ts";
import { isHttp2Protocol, isHttpProtocol, outboundClusterName } from "./names.ts";
import type { Problems } from "./problems.ts";
import type { EffectivePolicy } from "./traffic-policy.ts";
import { applyWarmup } from "./warmup.ts";
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
}

export function outboundCluster(spec: ClusterSpec, problems: Problems): Json {
  const { service, port, subset, policy } = spec;
  const name = outboundClusterName(port.number, subset?.name, service.hostname);
  const where = `cluster ${name}`;
  const cluster: Json = { name };
  if (service.resolution === "DNS") {
    cluster.type = "STRICT_DNS";
    cluster.load_assignment = {
      cluster_name: name,
      endpoints: localityEndpoints(service, port, subset?.labels),
    };
  } else {
    cluster.type = "EDS";
    cluster.eds_cluster_config = { service_name: name, eds_config: ADS };
  }
  const pool = policy.connectionPool;
  cluster.connect_timeout = duration(pool?.tcp?.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS);
  Object.assign(cluster, loadBalancer(policy.loadBalancer, where, problems));
  applyWarmup(cluster, policy.loadBalancer, where, spec.rule, problems);
  cluster.circuit_breakers = circuitBreakers(pool);
  const http = isHttpProtocol(port.protocol);
  const protocolOptions = http ? httpProtocolOptions(port, pool, where, problems) : undefined;
  if (protocolOptions !== undefined) cluster.typed_extension_protocol_options = protocolOptions;
  if (!http && pool?.http !== undefined && Object.keys(pool.http).length > 0) {
    problems.add(`${where}: connectionPool.http does not apply to a ${port.protocol} port; ignored`);
  }
  reportUnsupportedPool(pool, where, problems);
  if (policy.outlierDetection !== undefined) {
    cluster.outlier_detection = outlierDetection(policy.outlierDetection);
    // Istio: min_health_percent (default 0) becomes the panic threshold, so with outlier detection on, panic
    // routing is off unless the user asked for it.
    cluster.common_lb_config = { healthy_panic_threshold: { value: policy.outlierDetection.minHealthPercent ?? 0 } };
  }
  return cluster;
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

/** typed_extension_protocol_options for an HTTP port: HTTP/2 upstreams, max requests per connection, idle timeout. */
function httpProtocolOptions(
  port: ServicePortModel,
  pool: ConnectionPoolSettings | undefined,
  where: string,
  problems: Problems,
): Json | undefined {
  let http2 = isHttp2Protocol(port.protocol);
  if (pool?.http?.h2UpgradePolicy === "UPGRADE") http2 = true;
  if (pool?.http?.useClientProtocol === true) {
    problems.add(`${where}: connectionPool.http.useClientProtocol is not supported; the port's protocol is used`);
  }
  const common: Json = {};
  if (pool?.http?.idleTimeout !== undefined) common.idle_timeout = duration(pool.http.idleTimeout);
  if (pool?.http?.maxRequestsPerConnection !== undefined) {
    common.max_requests_per_connection = pool.http.maxRequestsPerConnection;
  }
  if (!http2 && Object.keys(common).length === 0) return undefined;
  const options: Json = {
    "@type": HTTP_PROTOCOL_OPTIONS_TYPE,
    explicit_http_config: http2 ? { http2_protocol_options: {} } : { http_protocol_options: {} },
  };
  if (Object.keys(common).length > 0) options.common_http_protocol_options = common;
  return { [HTTP_PROTOCOL_OPTIONS_KEY]: options };
}

function reportUnsupportedPool(pool: ConnectionPoolSettings | undefined, where: string, problems: Problems): void {
  if (pool?.tcp?.tcpKeepalive !== undefined) problems.add(`${where}: connectionPool.tcp.tcpKeepalive is not supported`);
  if (pool?.tcp?.maxConnectionDuration !== undefined) {
    problems.add(`${where}: connectionPool.tcp.maxConnectionDuration is not supported`);
  }
  if (pool?.http?.maxConcurrentStreams !== undefined) {
    problems.add(`${where}: connectionPool.http.maxConcurrentStreams is not supported`);
  }
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
