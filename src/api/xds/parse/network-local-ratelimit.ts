// envoy.filters.network.local_ratelimit: a token bucket on the connections a filter chain accepts. It sits before
// the terminal filter (http_connection_manager or tcp_proxy); a connection that finds no token is closed at once.

import type { NetworkLocalRateLimit } from "../types.ts";
import type { ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import { readRuntimeFeatureFlag } from "./runtime-values.ts";
import { readTokenBucket } from "./token-bucket.ts";

export const NETWORK_LOCAL_RATELIMIT_FILTER_NAME = "envoy.filters.network.local_ratelimit";
export const NETWORK_LOCAL_RATELIMIT_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit";

const SPEC = {
  handled: ["@type", "stat_prefix", "token_bucket", "runtime_enabled"],
  // share_key shares one bucket between filter chains; with one filter chain per listener there is nothing to share
  // yet, and silently keeping separate buckets would admit more than the user asked for.
  unsupported: ["share_key"],
} as const;

/** `raw` is the filter's typed_config (with its `@type`), at `path`. */
export function readNetworkLocalRateLimit(ctx: ParseContext, raw: unknown, path: string): NetworkLocalRateLimit {
  const config = Fields.open(ctx, raw, path, SPEC);
  const statPrefix = config.requiredString("stat_prefix");
  const tokenBucket = config.requireField("token_bucket") ? readTokenBucket(config, "token_bucket") : undefined;
  return {
    statPrefix,
    tokenBucket: tokenBucket ?? { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 },
    enabled: readRuntimeFeatureFlag(config, "runtime_enabled", true),
  };
}
