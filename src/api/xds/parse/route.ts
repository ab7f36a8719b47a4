// RouteConfiguration → virtual hosts → routes. Also checks what Envoy checks across virtual hosts: each domain
// belongs to one virtual host, and a domain has at most one wildcard, at its start or its end.

import type { RetryPolicy, Route, RouteAction, RouteConfiguration, VirtualHost } from "../types.ts";
import { describe, ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import { HEADER_EDIT_FIELDS, readHeaderEdits } from "./headers.ts";
import { readDirectResponseAction, readRedirectAction, readRouteAction } from "./route-action.ts";
import { readRouteMatch } from "./route-match.ts";
import { readRetryPolicy } from "./retry-policy.ts";
import { readTypedPerFilterConfig } from "./typed-per-filter-config.ts";

const ROUTE_CONFIGURATION_SPEC = {
  handled: ["name", "virtual_hosts", ...HEADER_EDIT_FIELDS],
  ignored: ["validate_clusters", "metadata", "max_direct_response_body_size_bytes"],
  unsupported: [
    "vhds",
    "internal_only_headers",
    "most_specific_header_mutations_wins",
    "cluster_specifier_plugins",
    "request_mirror_policies",
    "ignore_port_in_host_matching",
    "ignore_path_parameters_in_path_matching",
    "typed_per_filter_config",
  ],
} as const;

const VIRTUAL_HOST_SPEC = {
  handled: ["name", "domains", "routes", "typed_per_filter_config", "retry_policy", ...HEADER_EDIT_FIELDS],
  ignored: ["metadata"],
  unsupported: [
    "matcher",
    "require_tls",
    "virtual_clusters",
    "rate_limits",
    "cors",
    "include_request_attempt_count",
    "include_attempt_count_in_response",
    "include_is_timeout_retry_header",
    "retry_policy_typed_config",
    "hedge_policy",
    "per_request_buffer_limit_bytes",
    "request_mirror_policies",
  ],
} as const;

const ROUTE_SPEC = {
  handled: [
    "name",
    "match",
    "route",
    "redirect",
    "direct_response",
    "typed_per_filter_config",
    "per_request_buffer_limit_bytes",
    ...HEADER_EDIT_FIELDS,
  ],
  // decorator and tracing only shape trace spans, as in Envoy when the connection manager traces nothing: its
  // `tracing` is refused, so no span exists for them to change.
  ignored: ["metadata", "stat_prefix", "decorator", "tracing"],
  unsupported: ["filter_action", "non_forwarding_action"],
} as const;

/** Reads a RouteConfiguration at `path`, reporting into `ctx`. */
export function readRouteConfiguration(ctx: ParseContext, raw: unknown, path: string): RouteConfiguration {
  const config = Fields.open(ctx, raw, path, ROUTE_CONFIGURATION_SPEC);
  const read = config.list("virtual_hosts").map((item) => readVirtualHost(ctx, item.value, item.path));
  checkDomainsUnique(ctx, read);
  const virtualHosts = read.map((r) => r.vhost);
  return { name: config.string("name") ?? "", virtualHosts, ...readHeaderEdits(config) };
}

/** Parses one RouteConfiguration resource; throws ConfigError naming every problem. */
export function parseRouteConfiguration(raw: unknown, path?: string): RouteConfiguration {
  const ctx = new ParseContext();
  const config = readRouteConfiguration(ctx, raw, path ?? "");
  ctx.throwIfFailed(path ?? (config.name === "" ? "route configuration" : `route configuration ${config.name}`));
  return config;
}

/** A virtual host and where each of its domains was written (for the duplicate check). */
interface ReadVirtualHost {
  vhost: VirtualHost;
  domainPaths: string[];
}

function readVirtualHost(ctx: ParseContext, raw: unknown, path: string): ReadVirtualHost {
  const vhost = Fields.open(ctx, raw, path, VIRTUAL_HOST_SPEC);
  const name = vhost.requiredString("name");
  const domains = readDomains(vhost);
  const retryPolicy = vhost.has("retry_policy") ? readRetryPolicy(vhost, "retry_policy") : undefined;
  const routes = vhost
    .list("routes")
    .map((item, i) => readRoute(ctx, item.value, item.path, `${name}/${i}`, retryPolicy));
  return {
    vhost: {
      name,
      domains: domains.map((d) => d.value),
      routes,
      typedPerFilterConfig: readTypedPerFilterConfig(vhost),
      ...readHeaderEdits(vhost),
    },
    domainPaths: domains.map((d) => d.path),
  };
}

function readDomains(vhost: Fields): { value: string; path: string }[] {
  if (!vhost.requireField("domains")) return [];
  const items = vhost.list("domains");
  if (items.length === 0 && Array.isArray(vhost.raw("domains")))
    vhost.report("domains", "expected at least one domain");
  const out: { value: string; path: string }[] = [];
  for (const item of items) {
    if (typeof item.value !== "string" || item.value === "") {
      vhost.ctx.report(item.path, `expected a domain, got ${describe(item.value)}`);
      continue;
    }
    const domain = item.value.toLowerCase();
    const stars = domain.split("*").length - 1;
    const wildcardAtEdge = domain.startsWith("*") || domain.endsWith("*");
    if (stars > 1 || (stars === 1 && !wildcardAtEdge)) {
      vhost.ctx.report(
        item.path,
        `only one wildcard "*", at the start or the end, is allowed, got ${describe(item.value)}`,
      );
      continue;
    }
    out.push({ value: domain, path: item.path });
  }
  return out;
}

function checkDomainsUnique(ctx: ParseContext, virtualHosts: ReadVirtualHost[]): void {
  const owner = new Map<string, number>();
  virtualHosts.forEach(({ vhost, domainPaths }, v) => {
    vhost.domains.forEach((domain, d) => {
      const first = owner.get(domain);
      if (first === undefined) {
        owner.set(domain, v);
        return;
      }
      const where = first === v ? "this virtual host" : `virtual host "${virtualHosts[first].vhost.name}"`;
      ctx.report(domainPaths[d], `duplicate domain "${domain}" (already in ${where})`);
    });
  });
}

function readRoute(
  ctx: ParseContext,
  raw: unknown,
  path: string,
  defaultName: string,
  vhostRetryPolicy: RetryPolicy | undefined,
): Route {
  const route = Fields.open(ctx, raw, path, ROUTE_SPEC);
  const name = route.string("name") || defaultName;
  const match = route.requireField("match")
    ? readRouteMatch(ctx, route.raw("match"), route.at("match"))
    : readRouteMatch(new ParseContext(), {}, "");
  const kind = route.oneOf(["route", "redirect", "direct_response"], true);
  let action: Route["action"];
  if (kind === "redirect") action = readRedirectAction(route);
  else if (kind === "direct_response") action = readDirectResponseAction(route);
  else if (kind === "route")
    action = readRouteAction(
      route,
      route.extensions(),
      vhostRetryPolicy,
      route.optionalInteger("per_request_buffer_limit_bytes"),
    );
  else action = placeholderAction();
  return { name, match, action, typedPerFilterConfig: readTypedPerFilterConfig(route), ...readHeaderEdits(route) };
}

/** Stands in for a missing action once it has been reported; never leaves the parser (ConfigError is thrown). */
function placeholderAction(): RouteAction {
  return {
    kind: "route",
    cluster: "",
    weightedClusters: undefined,
    prefixRewrite: undefined,
    regexRewrite: undefined,
    hostRewriteLiteral: undefined,
    timeoutMs: 0,
    idleTimeoutMs: undefined,
    hashPolicy: [],
    retryPolicy: undefined,
    requestMirrorPolicies: [],
    maxStreamDuration: { maxStreamDurationMs: 0, grpcTimeoutHeaderMaxMs: 0, grpcTimeoutHeaderOffsetMs: 0 },
    perRequestBufferLimitBytes: undefined,
    upgradeOverrides: {},
    extensions: {},
  };
}
