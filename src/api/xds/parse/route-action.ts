// A route's action: route (to a cluster or weighted clusters), redirect, or direct_response.

import type {
  DirectResponseAction,
  HashPolicy,
  MaxStreamDuration,
  RedirectAction,
  RetryPolicy,
  RouteAction,
} from "../types.ts";
import { readMirrorPolicies } from "./mirror-policy.ts";
import { readRetryPolicy } from "./retry-policy.ts";
import { describe } from "./context.ts";
import type { ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import type { Item } from "./fields.ts";
import { readRegexMatcher } from "./matchers.ts";
import { readWeightedClusters } from "./weighted-clusters.ts";

/** Envoy's default route timeout. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

const ROUTE_ACTION_SPEC = {
  handled: [
    "cluster",
    "weighted_clusters",
    "prefix_rewrite",
    "regex_rewrite",
    "host_rewrite_literal",
    "auto_host_rewrite",
    "timeout",
    "idle_timeout",
    "hash_policy",
    "upgrade_configs",
    "retry_policy",
    "request_mirror_policies",
    "max_stream_duration",
    "max_grpc_timeout",
    "grpc_timeout_offset",
  ],
  // Refused until implemented: dropping any of them would change where or how a request goes (a hedged or
  // rate-limited route, a subset chosen by metadata).
  unsupported: [
    "retry_policy_typed_config",
    "cors",
    "rate_limits",
    "include_vh_rate_limits",
    "internal_redirect_policy",
    "hedge_policy",
    "metadata_match",
    "cluster_header",
    "cluster_specifier_plugin",
    "inline_cluster_specifier_plugin",
    "cluster_not_found_response_code",
    "path_rewrite_policy",
    "host_rewrite_header",
    "host_rewrite_path_regex",
    "append_x_forwarded_host",
    "early_data_policy",
    "priority",
    "internal_redirect_action",
    "max_internal_redirects",
  ],
} as const;

const MAX_STREAM_DURATION_SPEC = {
  handled: ["max_stream_duration", "grpc_timeout_header_max", "grpc_timeout_header_offset"],
} as const;
const REGEX_REWRITE_SPEC = { handled: ["pattern", "substitution"] } as const;
const HASH_POLICY_SPEC = {
  handled: ["header", "cookie", "connection_properties", "query_parameter", "terminal"],
  unsupported: ["filter_state"],
} as const;
const HASH_HEADER_SPEC = { handled: ["header_name"], unsupported: ["regex_rewrite"] } as const;
const HASH_COOKIE_SPEC = { handled: ["name", "ttl", "path"], unsupported: ["attributes"] } as const;
const HASH_CONNECTION_SPEC = { handled: ["source_ip"] } as const;
const HASH_QUERY_SPEC = { handled: ["name"] } as const;
const UPGRADE_SPEC = { handled: ["upgrade_type", "enabled", "connect_config"] } as const;
const CONNECT_CONFIG_SPEC = { handled: [], unsupported: ["proxy_protocol_config", "allow_post"] } as const;

const REDIRECT_SPEC = {
  handled: [
    "scheme_redirect",
    "https_redirect",
    "host_redirect",
    "port_redirect",
    "path_redirect",
    "prefix_rewrite",
    "response_code",
    "strip_query",
  ],
  unsupported: ["regex_rewrite"],
} as const;
const REDIRECT_CODES = new Map<string, number>([
  ["MOVED_PERMANENTLY", 301],
  ["FOUND", 302],
  ["SEE_OTHER", 303],
  ["TEMPORARY_REDIRECT", 307],
  ["PERMANENT_REDIRECT", 308],
]);

const DIRECT_RESPONSE_SPEC = { handled: ["status", "body"] } as const;
const DATA_SOURCE_SPEC = {
  handled: ["inline_string", "inline_bytes", "filename"],
  unsupported: ["environment_variable"],
} as const;
const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;

/**
 * `route` at `fields.route`; `routeExtensions` are the Route-level fields kept for later stages; `vhostRetryPolicy`
 * applies when the route has none of its own (Envoy: the route's policy replaces the virtual host's whole).
 */
export function readRouteAction(
  fields: Fields,
  routeExtensions: Record<string, unknown>,
  vhostRetryPolicy?: RetryPolicy,
  perRequestBufferLimitBytes?: number,
): RouteAction {
  const action = fields.message("route", ROUTE_ACTION_SPEC);
  const target = action.oneOf(["cluster", "weighted_clusters"], true);
  let cluster: string | undefined;
  if (target === "cluster") {
    cluster = action.requiredString("cluster");
    if (cluster !== "") fields.ctx.referenceCluster(action.at("cluster"), cluster);
  }
  const weightedClusters = target === "weighted_clusters" ? readWeightedClusters(action, target, true) : undefined;
  if (action.has("prefix_rewrite") && action.has("regex_rewrite")) {
    action.ctx.report(action.path, "only one of prefix_rewrite, regex_rewrite may be set");
  }
  action.oneOf(["host_rewrite_literal", "auto_host_rewrite"], false);
  const autoHostRewrite = action.bool("auto_host_rewrite", false);
  const upgrades = readUpgradeOverrides(action);
  return {
    kind: "route",
    cluster,
    weightedClusters,
    prefixRewrite: action.string("prefix_rewrite"),
    regexRewrite: action.has("regex_rewrite") ? readRegexRewrite(action) : undefined,
    hostRewriteLiteral: action.string("host_rewrite_literal"),
    ...(autoHostRewrite ? { autoHostRewrite } : {}),
    timeoutMs: action.durationMs("timeout") ?? DEFAULT_ROUTE_TIMEOUT_MS,
    idleTimeoutMs: action.durationMs("idle_timeout"),
    hashPolicy: readHashPolicies(action),
    retryPolicy: action.has("retry_policy") ? readRetryPolicy(action, "retry_policy") : vhostRetryPolicy,
    requestMirrorPolicies: readMirrorPolicies(action, "request_mirror_policies"),
    maxStreamDuration: readMaxStreamDuration(action),
    perRequestBufferLimitBytes,
    upgradeOverrides: upgrades.overrides,
    ...(upgrades.connectTerminate ? { connectTerminate: true } : {}),
    extensions: { ...routeExtensions },
  };
}

function readMaxStreamDuration(action: Fields): MaxStreamDuration {
  const msd = action.message("max_stream_duration", MAX_STREAM_DURATION_SPEC);
  // The deprecated route-level fields apply when the newer ones are not set (Envoy does the same).
  return {
    maxStreamDurationMs: msd.durationMs("max_stream_duration") ?? 0,
    grpcTimeoutHeaderMaxMs: msd.durationMs("grpc_timeout_header_max") ?? action.durationMs("max_grpc_timeout") ?? 0,
    grpcTimeoutHeaderOffsetMs:
      msd.durationMs("grpc_timeout_header_offset") ?? action.durationMs("grpc_timeout_offset") ?? 0,
  };
}

function readRegexRewrite(action: Fields): { regex: string; substitution: string } | undefined {
  const rewrite = action.message("regex_rewrite", REGEX_REWRITE_SPEC);
  const regex = rewrite.requireField("pattern") ? readRegexMatcher(rewrite, "pattern") : undefined;
  const substitution = rewrite.has("substitution") ? (rewrite.string("substitution") ?? "") : "";
  return regex === undefined ? undefined : { regex, substitution };
}

function readHashPolicies(action: Fields): HashPolicy[] {
  const out: HashPolicy[] = [];
  for (const item of action.list("hash_policy")) {
    const policy = readHashPolicy(action.ctx, item);
    if (policy !== undefined) out.push(policy);
  }
  return out;
}

function readHashPolicy(ctx: ParseContext, item: Item): HashPolicy | undefined {
  const policy = Fields.open(ctx, item.value, item.path, HASH_POLICY_SPEC);
  const terminal = policy.bool("terminal", false);
  const kind = policy.oneOf(["header", "cookie", "connection_properties", "query_parameter"], true);
  switch (kind) {
    case "header": {
      const header = policy.message(kind, HASH_HEADER_SPEC);
      return { kind: "header", headerName: header.requiredString("header_name").toLowerCase(), terminal };
    }
    case "cookie": {
      const cookie = policy.message(kind, HASH_COOKIE_SPEC);
      const name = cookie.requiredString("name");
      return { kind: "cookie", name, ttlMs: cookie.durationMs("ttl"), path: cookie.string("path") ?? "", terminal };
    }
    case "connection_properties": {
      const connection = policy.message(kind, HASH_CONNECTION_SPEC);
      // source_ip: false hashes nothing, as in Envoy: the policy is simply skipped.
      return connection.bool("source_ip", false) ? { kind: "source_ip", terminal } : undefined;
    }
    case "query_parameter": {
      const query = policy.message(kind, HASH_QUERY_SPEC);
      return { kind: "query_parameter", name: query.requiredString("name"), terminal };
    }
    default:
      return undefined;
  }
}

function readUpgradeOverrides(action: Fields): { overrides: Record<string, boolean>; connectTerminate: boolean } {
  const overrides: Record<string, boolean> = {};
  let connectTerminate = false;
  for (const item of action.list("upgrade_configs")) {
    const upgrade = Fields.open(action.ctx, item.value, item.path, UPGRADE_SPEC);
    const type = upgrade.requiredString("upgrade_type").toLowerCase();
    const enabled = upgrade.bool("enabled", true);
    if (type !== "") overrides[type] = enabled;
    // connect_config (Envoy: the router terminates the CONNECT), on an upgrade of type CONNECT only.
    if (upgrade.has("connect_config")) {
      upgrade.message("connect_config", CONNECT_CONFIG_SPEC);
      if (type !== "connect") upgrade.report("connect_config", `only an upgrade_type CONNECT takes one, not "${type}"`);
      else if (enabled) connectTerminate = true;
    }
  }
  return { overrides, connectTerminate };
}

export function readRedirectAction(fields: Fields): RedirectAction {
  const redirect = fields.message("redirect", REDIRECT_SPEC);
  redirect.oneOf(["https_redirect", "scheme_redirect"], false);
  redirect.oneOf(["path_redirect", "prefix_rewrite"], false);
  const port = redirect.integer("port_redirect", 0, 0, 65535);
  return {
    kind: "redirect",
    schemeRedirect: redirect.string("scheme_redirect")?.toLowerCase(),
    httpsRedirect: redirect.bool("https_redirect", false),
    hostRedirect: redirect.string("host_redirect"),
    portRedirect: port === 0 ? undefined : port,
    pathRedirect: redirect.string("path_redirect"),
    prefixRewrite: redirect.string("prefix_rewrite"),
    responseCode: readRedirectCode(redirect),
    stripQuery: redirect.bool("strip_query", false),
  };
}

/** By name (MOVED_PERMANENTLY…), by protobuf number (0-4), or as the HTTP status itself (301…). */
function readRedirectCode(redirect: Fields): number {
  if (!redirect.has("response_code")) return 301;
  const value = redirect.raw("response_code");
  const codes = [...REDIRECT_CODES.values()];
  if (typeof value === "string" && REDIRECT_CODES.has(value.toUpperCase()))
    return REDIRECT_CODES.get(value.toUpperCase()) as number;
  if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value < codes.length) return codes[value];
  if (typeof value === "number" && codes.includes(value)) return value;
  const names = [...REDIRECT_CODES.keys()].join(", ");
  redirect.report("response_code", `expected one of ${names} (or 301, 302, 303, 307, 308), got ${describe(value)}`);
  return 301;
}

export function readDirectResponseAction(fields: Fields): DirectResponseAction {
  const direct = fields.message("direct_response", DIRECT_RESPONSE_SPEC);
  const status = direct.requireField("status") ? direct.integer("status", 500, 100, 599) : 500;
  return { kind: "direct_response", status, body: direct.has("body") ? readBody(direct) : undefined };
}

function readBody(direct: Fields): string | undefined {
  const body = direct.message("body", DATA_SOURCE_SPEC);
  const kind = body.oneOf(["inline_string", "inline_bytes", "filename"], true);
  if (kind === "filename") {
    body.report(kind, "filename not supported (use inline_string or inline_bytes)");
    return undefined;
  }
  if (kind === "inline_string") return body.string(kind);
  if (kind === "inline_bytes") {
    const encoded = body.string(kind);
    if (encoded === undefined) return undefined;
    if (!BASE64.test(encoded)) {
      body.report(kind, `expected base64, got ${describe(encoded)}`);
      return undefined;
    }
    return Buffer.from(encoded, "base64").toString("utf8");
  }
  return undefined;
}
