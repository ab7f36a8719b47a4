// Small builders for Envoy v3 JSON (what a user would write in a bootstrap: snake_case, "@type" on Anys, durations
// as "1.5s"). Every resource translate emits is made of these, so the spelling lives in one place.

export type Json = Record<string, unknown>;

export const HCM_NAME = "envoy.filters.network.http_connection_manager";
export const HCM_TYPE =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
export const TCP_PROXY_NAME = "envoy.filters.network.tcp_proxy";
export const TCP_PROXY_TYPE = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
export const FAULT_NAME = "envoy.filters.http.fault";
export const FAULT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
export const CORS_NAME = "envoy.filters.http.cors";
export const CORS_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors";
export const CORS_POLICY_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";
export const ROUTER_NAME = "envoy.filters.http.router";
export const ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
export const HTTP_PROTOCOL_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
export const HTTP_PROTOCOL_OPTIONS_TYPE = `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS_KEY}`;
export const PREVIOUS_HOSTS_NAME = "envoy.retry_host_predicates.previous_hosts";
export const PREVIOUS_HOSTS_TYPE =
  "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate";

/** Milliseconds → a protobuf JSON duration ("0s", "1.5s", "0.010s"). */
export function duration(ms: number): string {
  const whole = Math.max(0, Math.round(ms));
  const seconds = Math.floor(whole / 1000);
  const rest = whole % 1000;
  return rest === 0 ? `${seconds}s` : `${seconds}.${String(rest).padStart(3, "0")}s`;
}

export function socketAddress(address: string, port: number): Json {
  return { socket_address: { address, port_value: port } };
}

/** An Istio percentage (0–100, fractions allowed) as a FractionalPercent over a million, as Istio writes it. */
export function fractionalPercent(percent: number): Json {
  const clamped = Math.min(100, Math.max(0, percent));
  return { numerator: Math.round(clamped * 10_000), denominator: "MILLION" };
}

/** Config source for everything that arrives over the same ADS stream. */
export const ADS: Json = { ads: {} };

/** http_connection_manager reading route configuration `routeName` by RDS. */
/**
 * An HTTP connection manager whose routes come over RDS (`routes` names the RouteConfiguration), or inline (`routes`
 * is the RouteConfiguration itself: an inbound listener's, which no other proxy shares, as in Istio).
 */
export function httpConnectionManager(statPrefix: string, routes: string | Json, httpFilters: Json[]): Json {
  return {
    name: HCM_NAME,
    typed_config: {
      "@type": HCM_TYPE,
      stat_prefix: statPrefix,
      codec_type: "AUTO",
      ...(typeof routes === "string"
        ? { rds: { route_config_name: routes, config_source: ADS } }
        : { route_config: routes }),
      http_filters: [...httpFilters, { name: ROUTER_NAME, typed_config: { "@type": ROUTER_TYPE } }],
    },
  };
}

export function tcpProxy(
  statPrefix: string,
  target: { cluster: string } | { weighted: { name: string; weight: number }[] },
  idleTimeoutMs?: number,
): Json {
  const config: Json = { "@type": TCP_PROXY_TYPE, stat_prefix: statPrefix };
  if ("cluster" in target) config.cluster = target.cluster;
  else config.weighted_clusters = { clusters: target.weighted };
  if (idleTimeoutMs !== undefined) config.idle_timeout = duration(idleTimeoutMs);
  return { name: TCP_PROXY_NAME, typed_config: config };
}

export function listener(name: string, address: string, port: number, networkFilter: Json): Json {
  return { name, address: socketAddress(address, port), filter_chains: [{ filters: [networkFilter] }] };
}
