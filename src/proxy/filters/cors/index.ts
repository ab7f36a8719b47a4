// envoy.filters.http.cors: registered by its type URL. The filter's own config is an empty Cors message; the
// policies are CorsPolicy entries in routes' and virtual hosts' typed_per_filter_config.

import { registerFilter } from "../../http/filters.ts";
import { CORS_POLICY_TYPE_URL, CORS_TYPE_URL, parseCorsFilter, parseCorsPolicy } from "./config.ts";
import { createCorsLayer } from "./filter.ts";

registerFilter<null>({
  typeUrl: CORS_TYPE_URL,
  parse: parseCorsFilter,
  parsePerRoute: parseCorsPolicy,
  perRouteTypeUrl: CORS_POLICY_TYPE_URL,
  create: createCorsLayer,
});
