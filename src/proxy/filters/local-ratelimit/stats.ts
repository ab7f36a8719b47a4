// The local rate limit filters' counters under Envoy's names. Envoy's stat names are
// `<stat_prefix>.http_local_rate_limit.<counter>` (HTTP) and `local_rate_limit.<stat_prefix>.rate_limited`
// (network); its tag extraction turns the prefix into the envoy_local_http_ratelimit_prefix /
// envoy_local_network_ratelimit_prefix labels, which is what the store keeps (Prometheus names and labels).

import type { Counter, StatsStore } from "../../../telemetry/stats.ts";

export interface HttpLocalRateLimitStats {
  /** Requests the filter considered (filter_enabled said yes). */
  enabled: Counter;
  /** Requests answered with the limited status. */
  enforced: Counter;
  /** Requests that found no token (enforced or not). */
  rateLimited: Counter;
  /** Requests that took a token. */
  ok: Counter;
}

export function createHttpLocalRateLimitStats(store: StatsStore, statPrefix: string): HttpLocalRateLimitStats {
  const labels = { envoy_local_http_ratelimit_prefix: statPrefix };
  const counter = (name: string, help: string): Counter =>
    store.counter("envoy_http_local_rate_limit_" + name, help, labels);
  return {
    enabled: counter("enabled", "Total requests for which the rate limiter was consulted"),
    enforced: counter("enforced", "Total requests for which rate limiting was applied (limited status returned)"),
    rateLimited: counter("rate_limited", "Total responses without an available token (enforced or not)"),
    ok: counter("ok", "Total under-limit requests"),
  };
}

export function createNetworkLocalRateLimitStats(store: StatsStore, statPrefix: string): { rateLimited: Counter } {
  return {
    rateLimited: store.counter(
      "envoy_local_rate_limit_rate_limited",
      "Total connections that have been closed due to rate limit exceeded",
      { envoy_local_network_ratelimit_prefix: statPrefix },
    ),
  };
}
