// envoy.extensions.filters.http.cors.v3: the filter's own typed_config (Cors, no fields: the policies live on routes)
// and the CorsPolicy a route's or virtual host's typed_per_filter_config carries (how Istio writes a
// VirtualService's corsPolicy). Parsed and compiled once; every problem names its field path and what was expected.

import { ParseContext, describe } from "../../../api/xds/parse/context.ts";
import { Fields } from "../../../api/xds/parse/fields.ts";
import { readStringMatcherItem } from "../../../api/xds/parse/matchers.ts";
import { readRuntimeFraction } from "../../../api/xds/parse/runtime-values.ts";
import { fail, ok, type Result } from "../../../api/result.ts";
import { regexMessage } from "../../router/route-match.ts";
import { StringMatcher } from "../../router/string-matcher.ts";

export const CORS_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors";
export const CORS_POLICY_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";

export interface CorsPolicy {
  /** An Origin any of these matches is allowed (and echoed back in access-control-allow-origin). */
  readonly allowOrigins: readonly StringMatcher[];
  /** Header values as configured ("" = not sent); "*" for methods and headers echoes what the preflight asked. */
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  readonly maxAge: string;
  readonly allowCredentials: boolean;
  readonly allowPrivateNetworkAccess: boolean;
  /** A preflight from an origin not allowed goes to the upstream (true, Envoy's default) or is answered 200 here. */
  readonly forwardNotMatchingPreflights: boolean;
  /** filter_enabled and shadow_enabled as probabilities (enabled defaults to 100 %, shadow to 0). */
  readonly enabled: number;
  readonly shadowEnabled: number;
}

const CORS_SPEC = { handled: [] } as const;

const CORS_POLICY_SPEC = {
  handled: [
    "allow_origin_string_match",
    "allow_methods",
    "allow_headers",
    "expose_headers",
    "max_age",
    "allow_credentials",
    "filter_enabled",
    "shadow_enabled",
    "allow_private_network_access",
    "forward_not_matching_preflights",
  ],
} as const;

/** The filter's typed_config: an empty Cors message. */
export function parseCorsFilter(raw: Record<string, unknown>): Result<null, string[]> {
  const ctx = new ParseContext();
  Fields.open(ctx, raw, "", CORS_SPEC);
  if (ctx.failed) return fail(ctx.issues.map((i) => `${i.path || "(root)"}: ${i.message}`));
  return ok(null);
}

/** One CorsPolicy (a typed_per_filter_config entry); errors are "<field path>: <expected>". */
export function parseCorsPolicy(raw: Record<string, unknown>): Result<CorsPolicy, string[]> {
  const ctx = new ParseContext();
  const f = Fields.open(ctx, raw, "", CORS_POLICY_SPEC);
  const allowOrigins: StringMatcher[] = [];
  for (const item of f.list("allow_origin_string_match")) {
    const match = readStringMatcherItem(ctx, item);
    try {
      allowOrigins.push(new StringMatcher(match));
    } catch (err) {
      ctx.report(item.path, regexMessage(match.kind === "safe_regex" ? match.regex : "", err));
    }
  }
  const maxAge = f.string("max_age") ?? "";
  if (maxAge !== "" && !/^[0-9]+$/.test(maxAge))
    f.report("max_age", `expected a number of seconds, got ${describe(maxAge)}`);
  const policy: CorsPolicy = {
    allowOrigins,
    allowMethods: f.string("allow_methods") ?? "",
    allowHeaders: f.string("allow_headers") ?? "",
    exposeHeaders: f.string("expose_headers") ?? "",
    maxAge,
    allowCredentials: f.bool("allow_credentials", false),
    allowPrivateNetworkAccess: f.bool("allow_private_network_access", false),
    forwardNotMatchingPreflights: f.bool("forward_not_matching_preflights", true),
    enabled: readRuntimeFraction(f, "filter_enabled", 1),
    shadowEnabled: readRuntimeFraction(f, "shadow_enabled", 0),
  };
  if (ctx.failed) return fail(ctx.issues.map((i) => `${i.path || "(root)"}: ${i.message}`));
  return ok(policy);
}
