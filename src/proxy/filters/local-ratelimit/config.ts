// The typed_config of envoy.filters.http.local_ratelimit (listener level) and of its typed_per_filter_config
// entries (route and virtual host level), read and compiled once: header lists become HeaderEditLevels, percentages
// probabilities. Fields Trellis cannot honour are refused by name, never dropped.

import { hostname } from "node:os";
import { ParseContext, describe } from "../../../api/xds/parse/context.ts";
import { Fields } from "../../../api/xds/parse/fields.ts";
import { readHeadersToAdd } from "../../../api/xds/parse/headers.ts";
import { readRuntimeFraction } from "../../../api/xds/parse/runtime-values.ts";
import { readTokenBucket } from "../../../api/xds/parse/token-bucket.ts";
import { fail, ok, type Result } from "../../../api/result.ts";
import type { TokenBucket } from "../../../api/xds/types.ts";
import { HeaderEditLevel } from "../../router/header-edits.ts";
import { IssueSink } from "../../router/issues.ts";

export const LOCAL_RATELIMIT_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";

export interface LocalRateLimitConfig {
  statPrefix: string;
  /** The status of a limited request (status.code; below 400 means 429, as Envoy's toErrorCode has it). */
  status: number;
  /** Absent at listener level means "no limit here" (limits come from routes); required per route. */
  tokenBucket: TokenBucket | undefined;
  /** filter_enabled / filter_enforced as probabilities; absent = 0, as in Envoy. */
  enabled: number;
  enforced: number;
  /** response_headers_to_add, applied to the limited reply. */
  responseHeaders: HeaderEditLevel | undefined;
  /** request_headers_to_add_when_not_enforced, applied to a request over the limit that is let through. */
  requestHeadersWhenNotEnforced: HeaderEditLevel | undefined;
  /** local_rate_limit_per_downstream_connection: one bucket per connection instead of one shared bucket. */
  perConnection: boolean;
  /** enable_x_ratelimit_headers: DRAFT_VERSION_03. */
  xRateLimitHeaders: boolean;
  /** always_consume_default_token_bucket (default true); it only matters with descriptors, which are refused. */
  alwaysConsumeDefaultTokenBucket: boolean;
  /** rate_limited_as_resource_exhausted: gRPC callers get RESOURCE_EXHAUSTED instead of UNAVAILABLE. */
  rateLimitedAsResourceExhausted: boolean;
}

const SPEC = {
  handled: [
    "stat_prefix",
    "status",
    "token_bucket",
    "filter_enabled",
    "filter_enforced",
    "request_headers_to_add_when_not_enforced",
    "response_headers_to_add",
    "descriptors",
    "local_rate_limit_per_downstream_connection",
    "enable_x_ratelimit_headers",
    "always_consume_default_token_bucket",
    "rate_limited_as_resource_exhausted",
  ],
  // stage only selects which route rate_limits actions feed descriptors; without descriptors it changes nothing.
  ignored: ["stage"],
  unsupported: ["vh_rate_limits", "rate_limits", "local_cluster_rate_limit", "max_dynamic_descriptors"],
} as const;

const HTTP_STATUS_SPEC = { handled: ["code"] } as const;
const X_RATELIMIT_VERSIONS = ["OFF", "DRAFT_VERSION_03"] as const;

/** envoy.type.v3.StatusCode names of the codes a rate limiter may answer with. */
const STATUS_NAMES: Readonly<Record<string, number>> = {
  BadRequest: 400,
  Unauthorized: 401,
  PaymentRequired: 402,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  ProxyAuthenticationRequired: 407,
  RequestTimeout: 408,
  Conflict: 409,
  Gone: 410,
  LengthRequired: 411,
  PreconditionFailed: 412,
  PayloadTooLarge: 413,
  URITooLong: 414,
  UnsupportedMediaType: 415,
  RangeNotSatisfiable: 416,
  ExpectationFailed: 417,
  MisdirectedRequest: 421,
  UnprocessableEntity: 422,
  Locked: 423,
  FailedDependency: 424,
  UpgradeRequired: 426,
  PreconditionRequired: 428,
  TooManyRequests: 429,
  RequestHeaderFieldsTooLarge: 431,
  InternalServerError: 500,
  NotImplemented: 501,
  BadGateway: 502,
  ServiceUnavailable: 503,
  GatewayTimeout: 504,
  HTTPVersionNotSupported: 505,
  VariantAlsoNegotiates: 506,
  InsufficientStorage: 507,
  LoopDetected: 508,
  NotExtended: 510,
  NetworkAuthenticationRequired: 511,
};

/** The listener-level config (http_filters[].typed_config). */
export function parseLocalRateLimit(raw: Record<string, unknown>): Result<LocalRateLimitConfig, string[]> {
  return parse(raw, false);
}

/** A route's or virtual host's typed_per_filter_config entry: as Envoy, it must have its own token_bucket. */
export function parseLocalRateLimitPerRoute(raw: Record<string, unknown>): Result<LocalRateLimitConfig, string[]> {
  return parse(raw, true);
}

function parse(raw: Record<string, unknown>, perRoute: boolean): Result<LocalRateLimitConfig, string[]> {
  const ctx = new ParseContext();
  const f = Fields.open(ctx, raw, "", SPEC);
  const statPrefix = f.requiredString("stat_prefix");
  if (perRoute && !f.has("token_bucket"))
    f.report("token_bucket", "required in a per-route configuration (Envoy refuses a per-route limit without one)");
  const tokenBucket = readTokenBucket(f, "token_bucket");
  const descriptors = f.list("descriptors");
  if (descriptors.length > 0)
    f.report(
      "descriptors",
      "local rate limit descriptors (matched from route rate_limits actions) are not supported; " +
        "give the route its own limit with typed_per_filter_config instead",
    );
  const issues = new IssueSink();
  const env = { hostname: hostname() };
  const headerLevel = (name: string): HeaderEditLevel | undefined =>
    HeaderEditLevel.compile(readHeadersToAdd(f, name), [], env, issues, { add: f.at(name), remove: f.at(name) });
  const config: LocalRateLimitConfig = {
    statPrefix,
    status: readStatus(f),
    tokenBucket,
    enabled: readRuntimeFraction(f, "filter_enabled", 0),
    enforced: readRuntimeFraction(f, "filter_enforced", 0),
    responseHeaders: headerLevel("response_headers_to_add"),
    requestHeadersWhenNotEnforced: headerLevel("request_headers_to_add_when_not_enforced"),
    perConnection: f.bool("local_rate_limit_per_downstream_connection", false),
    xRateLimitHeaders: f.enumValue("enable_x_ratelimit_headers", X_RATELIMIT_VERSIONS, "OFF") === "DRAFT_VERSION_03",
    alwaysConsumeDefaultTokenBucket: f.bool("always_consume_default_token_bucket", true),
    rateLimitedAsResourceExhausted: f.bool("rate_limited_as_resource_exhausted", false),
  };
  const all = [...ctx.issues, ...issues.issues];
  if (all.length > 0) return fail(all.map((i) => `${i.path || "(root)"}: ${i.message}`));
  return ok(config);
}

function readStatus(f: Fields): number {
  if (!f.has("status")) return 429;
  const status = f.message("status", HTTP_STATUS_SPEC);
  if (status.broken || !status.requireField("code")) return 429;
  const raw = status.raw("code");
  const code = typeof raw === "string" && STATUS_NAMES[raw] !== undefined ? STATUS_NAMES[raw] : raw;
  if (typeof code !== "number" || !Number.isInteger(code) || code < 100 || code > 599) {
    status.report("code", `expected an HTTP status code (e.g. 429 or "TooManyRequests"), got ${describe(raw)}`);
    return 429;
  }
  // Envoy answers a limited request with an error status only: anything below 400 becomes 429.
  return code < 400 ? 429 : code;
}
