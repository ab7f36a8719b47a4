// Istio's CorsPolicy → Envoy's CorsPolicy, placed in a route's typed_per_filter_config under
// envoy.filters.http.cors (the outbound listener carries the filter, as Istio's do). Lists become the
// comma-separated header values Envoy sends; maxAge is whole seconds; unmatchedPreflights IGNORE is
// forward_not_matching_preflights false (the proxy answers such preflights itself, without CORS headers).

import type { CorsPolicy } from "../../api/resources/types.ts";
import type { Json } from "./envoy.ts";
import { CORS_POLICY_TYPE } from "./envoy.ts";
import { stringMatcher } from "./http-match.ts";
import type { Problems } from "./problems.ts";

export function corsFilterConfig(cors: CorsPolicy, where: string, problems: Problems): Json {
  const out: Json = { "@type": CORS_POLICY_TYPE };
  const origins: Json[] = [];
  // Lists may be absent in a world that skipped validation: translation never throws.
  const list = (l: string[] | undefined): string[] => l ?? [];
  (cors.allowOrigins ?? []).forEach((origin, i) => {
    const matcher = stringMatcher(origin);
    if (matcher === undefined) problems.add(`${where}: corsPolicy.allowOrigins[${i}] is empty; left out`);
    else origins.push(matcher);
  });
  if (origins.length > 0) out.allow_origin_string_match = origins;
  if (list(cors.allowMethods).length > 0) out.allow_methods = list(cors.allowMethods).join(",");
  if (list(cors.allowHeaders).length > 0) out.allow_headers = list(cors.allowHeaders).join(",");
  if (list(cors.exposeHeaders).length > 0) out.expose_headers = list(cors.exposeHeaders).join(",");
  if (cors.maxAge !== undefined) out.max_age = String(Math.floor(cors.maxAge / 1000));
  if (cors.allowCredentials !== undefined) out.allow_credentials = cors.allowCredentials;
  if (cors.unmatchedPreflights === "IGNORE") out.forward_not_matching_preflights = false;
  return out;
}
