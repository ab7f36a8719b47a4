// envoy.filters.http.compressor: registered by its type URL. No per-route configuration (CompressorPerRoute is
// refused by the route table, as every per-route type a filter does not take).

import { registerFilter } from "../../http/filters.ts";
import { COMPRESSOR_TYPE_URL, parseCompressor, type CompressorConfig } from "./config.ts";
import { createCompressorLayer } from "./filter.ts";

registerFilter<CompressorConfig>({
  typeUrl: COMPRESSOR_TYPE_URL,
  parse: parseCompressor,
  create: createCompressorLayer,
});
