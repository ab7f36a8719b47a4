// envoy.filters.http.cors: Cross-Origin Resource Sharing by the route's policy (its typed_per_filter_config entry,
// else its virtual host's), with Envoy's behaviour:
// - a request without Origin, or on a route without a policy, passes untouched;
// - a preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin is answered here,
//   200 with the allow-* headers; from an origin not allowed it goes on to the upstream
//   (forward_not_matching_preflights, the default) or is answered 200 without them;
// - any other request from an allowed origin gets access-control-allow-origin (the origin itself),
//   -allow-credentials and -expose-headers on its response;
// - filter_enabled off (by its percentage) skips all of this; shadow_enabled only counts the origin.
// Counted as Envoy does: http.<stat_prefix>.cors.origin_valid / origin_invalid.
// Envoy merges a route's and its virtual host's policies field by field; here the more specific policy applies
// whole (Istio writes corsPolicy on routes only).

import type { Counter, Labels } from "../../../telemetry/stats.ts";
import type { FilterContext } from "../../http/filters.ts";
import type { Exchange, Handler, Layer } from "../../http/exchange.ts";
import { HeadEditingExchange } from "../../http/head-editing-exchange.ts";
import { Headers } from "../../http/headers.ts";
import { FILTER_DISABLED } from "../../router/compiled-route.ts";
import type { CorsPolicy } from "./config.ts";

interface CorsStats {
  originValid: Counter;
  originInvalid: Counter;
}

export function createCorsLayer(_config: null, context: FilterContext): Layer {
  const labels: Labels = { envoy_http_conn_manager_prefix: context.statPrefix };
  const stats: CorsStats = {
    originValid: context.store.counter("envoy_http_cors_origin_valid", "Requests with an allowed Origin", labels),
    originInvalid: context.store.counter(
      "envoy_http_cors_origin_invalid",
      "Requests with an Origin not allowed",
      labels,
    ),
  };
  const name = context.filterName;
  return (next: Handler): Handler =>
    (ex) => {
      const route = context.routeOf(ex);
      const policy = route.kind === "miss" ? undefined : route.perFilterConfig(name);
      if (policy === undefined || policy === FILTER_DISABLED) return next(ex);
      handle(ex, policy as CorsPolicy, next, context.random, stats);
    };
}

function handle(ex: Exchange, policy: CorsPolicy, next: Handler, random: () => number, stats: CorsStats): void {
  const enabled = policy.enabled >= 1 || random() < policy.enabled;
  const shadow = !enabled && (policy.shadowEnabled >= 1 || random() < policy.shadowEnabled);
  if (!enabled && !shadow) return next(ex);
  const origin = ex.headers.get("origin");
  if (origin === undefined || origin === "") return next(ex);
  const allowed = policy.allowOrigins.some((m) => m.match("*") || m.match(origin));
  (allowed ? stats.originValid : stats.originInvalid).inc();
  if (!enabled) return next(ex); // shadow: evaluated and counted, never enforced
  const requestedMethod = ex.headers.get("access-control-request-method");
  if (ex.method === "OPTIONS" && requestedMethod !== undefined && requestedMethod !== "") {
    if (!allowed && policy.forwardNotMatchingPreflights) return next(ex);
    answerPreflight(ex, policy, allowed ? origin : undefined, requestedMethod);
    return;
  }
  if (!allowed) return next(ex);
  next(
    new HeadEditingExchange(ex, (headers) => {
      headers.set("access-control-allow-origin", origin);
      if (policy.allowCredentials) headers.set("access-control-allow-credentials", "true");
      if (policy.exposeHeaders !== "") headers.set("access-control-expose-headers", policy.exposeHeaders);
    }),
  );
}

function answerPreflight(ex: Exchange, policy: CorsPolicy, origin: string | undefined, requestedMethod: string): void {
  const headers = new Headers();
  if (origin !== undefined) headers.set("access-control-allow-origin", origin);
  if (policy.allowCredentials) headers.set("access-control-allow-credentials", "true");
  if (policy.allowMethods !== "")
    headers.set("access-control-allow-methods", policy.allowMethods === "*" ? requestedMethod : policy.allowMethods);
  if (policy.allowHeaders !== "") {
    const requested = ex.headers.get("access-control-request-headers") ?? "";
    const value = policy.allowHeaders === "*" ? requested : policy.allowHeaders;
    if (value !== "") headers.set("access-control-allow-headers", value);
  }
  if (policy.maxAge !== "") headers.set("access-control-max-age", policy.maxAge);
  if (policy.allowPrivateNetworkAccess && ex.headers.get("access-control-request-private-network") === "true")
    headers.set("access-control-allow-private-network", "true");
  headers.set("content-length", "0");
  ex.info.details = "cors_response";
  ex.info.responseCode = 200;
  ex.response.head(200, headers);
  ex.response.end();
}
