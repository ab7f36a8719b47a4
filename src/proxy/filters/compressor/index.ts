// envoy.filters.http.compressor: registered by its type URL, with CompressorPerRoute for routes' and virtual hosts'
// typed_per_filter_config (disabled, or remove_accept_encoding_header overridden); FilterConfig.disabled works too.

import { registerFilter } from "../../http/filters.ts";
import {
  COMPRESSOR_PER_ROUTE_TYPE_URL,
  COMPRESSOR_TYPE_URL,
  parseCompressor,
  parseCompressorPerRoute,
  type CompressorConfig,
} from "./config.ts";
import { createCompressorLayer } from "./filter.ts";

registerFilter<CompressorConfig>({
  typeUrl: COMPRESSOR_TYPE_URL,
  parse: parseCompressor,
  parsePerRoute: parseCompressorPerRoute,
  perRouteTypeUrl: COMPRESSOR_PER_ROUTE_TYPE_URL,
  create: createCompressorLayer,
});
