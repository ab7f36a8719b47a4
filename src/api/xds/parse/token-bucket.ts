// envoy.type.v3.TokenBucket, as the local rate limit filters (HTTP and network) read it. Envoy refuses a
// fill_interval under 50 ms for local rate limits ("fill timer must be >= 50ms"): a faster timer would cost more
// than it limits. The same floor applies here, though Trellis refills lazily rather than by timer.

import type { TokenBucket } from "../types.ts";
import type { Fields } from "./fields.ts";

export const MIN_FILL_INTERVAL_MS = 50;

const TOKEN_BUCKET_SPEC = { handled: ["max_tokens", "tokens_per_fill", "fill_interval"] } as const;

/** Reads the TokenBucket at `name` of `parent`; undefined when absent or broken (already reported). */
export function readTokenBucket(parent: Fields, name: string): TokenBucket | undefined {
  if (!parent.has(name)) return undefined;
  const bucket = parent.message(name, TOKEN_BUCKET_SPEC);
  if (bucket.broken) return undefined;
  const issuesBefore = parent.ctx.issues.length;
  let maxTokens = 0;
  if (bucket.requireField("max_tokens")) maxTokens = bucket.integer("max_tokens", 1, 1);
  const tokensPerFill = bucket.integer("tokens_per_fill", 1, 1);
  let fillIntervalMs = 0;
  if (bucket.requireField("fill_interval")) {
    const parsed = bucket.durationMs("fill_interval");
    fillIntervalMs = parsed ?? 0;
    if (parsed !== undefined && parsed < MIN_FILL_INTERVAL_MS)
      bucket.report(
        "fill_interval",
        `must be at least ${MIN_FILL_INTERVAL_MS}ms (as in Envoy), got ${fillIntervalMs}ms`,
      );
  }
  if (parent.ctx.issues.length !== issuesBefore) return undefined;
  return { maxTokens, tokensPerFill, fillIntervalMs };
}
