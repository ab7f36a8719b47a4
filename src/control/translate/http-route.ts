// One Istio HTTPRoute → Envoy routes: one per match that applies to this proxy and port (Istio's layout), each with
// the same action: forward (one cluster or weighted_clusters, timeout, retries, rewrite, mirrors, hash policy),
// redirect or direct_response; plus header edits, fault and CORS (typed_per_filter_config).

import type { HTTPMatchRequest, HTTPRoute, HTTPRouteDestination, VirtualService } from "../../api/resources/types.ts";
import type { DestinationContext } from "./destinations.ts";
import { resolveDestination } from "./destinations.ts";
import type { Json } from "./envoy.ts";
import { corsFilterConfig } from "./cors.ts";
import { delegatedRouteOrigin } from "./delegation.ts";
import { CORS_NAME, duration, FAULT_NAME, fractionalPercent } from "./envoy.ts";
import { faultFilterConfig } from "./fault.ts";
import { headerEdits } from "./header-ops.ts";
import { isExactUri, matchAppliesTo, routeMatch } from "./http-match.ts";
import { retryPolicy } from "./retries.ts";

const REDIRECT_CODES: Record<number, string> = {
  301: "MOVED_PERMANENTLY",
  302: "FOUND",
  303: "SEE_OTHER",
  307: "TEMPORARY_REDIRECT",
  308: "PERMANENT_REDIRECT",
};

export function httpRoutes(http: HTTPRoute, index: number, vs: VirtualService, ctx: DestinationContext): Json[] {
  const where =
    delegatedRouteOrigin(http) ?? `VirtualService ${vs.metadata.namespace}/${vs.metadata.name} http[${index}]`;
  const matches = http.match ?? [];
  const applicable: (HTTPMatchRequest | undefined)[] =
    matches.length === 0
      ? [undefined]
      : matches.filter((m) =>
          matchAppliesTo(
            m,
            ctx.proxy,
            ctx.port,
            ctx.gateway === undefined ? undefined : { gateway: ctx.gateway, namespace: vs.metadata.namespace },
          ),
        );
  if (applicable.length === 0) return [];
  const out: Json[] = [];
  for (const match of applicable) {
    const route = oneRoute(http, match, where, ctx);
    if (route !== undefined) out.push(route);
  }
  return out;
}

function routeName(http: HTTPRoute, match: HTTPMatchRequest | undefined): string | undefined {
  if (http.name !== undefined && match?.name !== undefined) return `${http.name}.${match.name}`;
  return http.name ?? match?.name;
}

function oneRoute(
  http: HTTPRoute,
  match: HTTPMatchRequest | undefined,
  where: string,
  ctx: DestinationContext,
): Json | undefined {
  const route: Json = {};
  const name = routeName(http, match);
  if (name !== undefined) route.name = name;
  route.match = routeMatch(match, where, ctx.problems);
  const headers = headerEdits(http.headers, where, ctx.problems);
  let edits: Json = headers.edits;
  if (http.redirect !== undefined) {
    route.redirect = redirect(http, where, ctx);
  } else if (http.directResponse !== undefined) {
    const direct: Json = { status: http.directResponse.status };
    const body = http.directResponse.body;
    if (body?.string !== undefined) direct.body = { inline_string: body.string };
    else if (body?.bytes !== undefined) direct.body = { inline_bytes: body.bytes };
    route.direct_response = direct;
  } else if ((http.route ?? []).length > 0) {
    const forwarded = forward(http, match, headers.hostRewrite, where, ctx);
    route.route = forwarded.action;
    edits = mergeEdits(edits, forwarded.routeEdits);
  } else {
    ctx.problems.add(`${where}: no route, redirect or directResponse; left out`);
    return undefined;
  }
  Object.assign(route, edits);
  const perFilter: Json = {};
  if (http.fault !== undefined) {
    const fault = faultFilterConfig(http.fault, where, ctx.problems);
    if (fault !== undefined) perFilter[FAULT_NAME] = fault;
  }
  if (http.corsPolicy !== undefined) perFilter[CORS_NAME] = corsFilterConfig(http.corsPolicy, where, ctx.problems);
  if (Object.keys(perFilter).length > 0) route.typed_per_filter_config = perFilter;
  return route;
}

function redirect(http: HTTPRoute, where: string, ctx: DestinationContext): Json {
  const r = http.redirect!;
  const out: Json = {};
  if (r.uri !== undefined) out.path_redirect = r.uri;
  if (r.authority !== undefined) out.host_redirect = r.authority;
  if (r.port !== undefined) out.port_redirect = r.port;
  // Envoy cannot take the port from the request, but this route only ever serves requests for ctx.port: Istio
  // writes that port, and so does Trellis. FROM_PROTOCOL_DEFAULT is Envoy's own behaviour (no port_redirect).
  if (r.derivePort === "FROM_REQUEST_PORT" && r.port === undefined) out.port_redirect = ctx.port;
  if (r.scheme !== undefined) out.scheme_redirect = r.scheme;
  const code = r.redirectCode ?? 301;
  const named = REDIRECT_CODES[code];
  if (named === undefined) ctx.problems.add(`${where}: redirect.redirectCode ${code} is not supported; 301 used`);
  out.response_code = named ?? "MOVED_PERMANENTLY";
  return out;
}

function forward(
  http: HTTPRoute,
  match: HTTPMatchRequest | undefined,
  hostRewrite: string | undefined,
  where: string,
  ctx: DestinationContext,
): { action: Json; routeEdits: Json } {
  const action: Json = {};
  let routeEdits: Json = {};
  const destinations = weightedDestinations(http.route ?? [], where, ctx);
  const resolved = destinations.map((d) => ({ d, r: resolveDestination(d.destination, ctx, where) }));
  if (resolved.length === 1) {
    action.cluster = resolved[0]!.r.cluster;
    routeEdits = headerEdits(resolved[0]!.d.headers, where, ctx.problems).edits;
  } else {
    action.weighted_clusters = {
      clusters: resolved.map(({ d, r }) => ({
        name: r.cluster,
        weight: d.weight,
        ...headerEdits(d.headers, where, ctx.problems).edits,
      })),
    };
  }
  const hashes = new Set(resolved.map(({ r }) => JSON.stringify(r.hashPolicy ?? null)));
  const hash = resolved[0]?.r.hashPolicy;
  if (hashes.size === 1 && hash !== undefined) action.hash_policy = hash;
  else if (hashes.size > 1) ctx.problems.add(`${where}: destinations ask for different consistent hashes; none used`);
  // Istio's default: no route timeout (0s), not Envoy's 15 s.
  action.timeout = duration(http.timeout ?? 0);
  const retries = retryPolicy(http.retries, where, ctx.problems);
  if (retries !== undefined) action.retry_policy = retries;
  const rewrite = http.rewrite;
  if (rewrite?.uri !== undefined && rewrite.uriRegexRewrite !== undefined) {
    ctx.problems.add(`${where}: rewrite has both uri and uriRegexRewrite; uri used`);
  }
  if (rewrite?.uri !== undefined) {
    // An exact match's prefix is the whole path; Istio writes that as a whole-path regex rewrite.
    if (isExactUri(match)) action.regex_rewrite = { pattern: { regex: "^.*$" }, substitution: rewrite.uri };
    else action.prefix_rewrite = rewrite.uri;
  } else if (rewrite?.uriRegexRewrite !== undefined) {
    action.regex_rewrite = {
      pattern: { regex: rewrite.uriRegexRewrite.match },
      substitution: rewrite.uriRegexRewrite.rewrite,
    };
  }
  const authority = rewrite?.authority ?? hostRewrite;
  if (authority !== undefined) action.host_rewrite_literal = authority;
  const mirrors = mirrorPolicies(http, where, ctx);
  if (mirrors.length > 0) action.request_mirror_policies = mirrors;
  return { action, routeEdits };
}

interface Weighted extends HTTPRouteDestination {
  weight: number;
}

/** Envoy's bound on the sum of a weighted_clusters' weights. */
const MAX_TOTAL_WEIGHT = 4_294_967_295;

/**
 * Istio's weights: one destination takes everything; zero-weight destinations are dropped; the others keep their
 * weights as written, which Envoy's weighted_clusters reads as relative (1 and 3 split 25/75; no total_weight is
 * written). Only a sum beyond Envoy's bound is scaled down, in proportion.
 */
function weightedDestinations(list: HTTPRouteDestination[], where: string, ctx: DestinationContext): Weighted[] {
  if (list.length === 1) return [{ ...list[0]!, weight: 100 }];
  if (list.every((d) => d.weight === undefined)) {
    ctx.problems.add(`${where}: several destinations without weights; traffic is split evenly`);
    return list.map((d) => ({ ...d, weight: 1 }));
  }
  const kept = list.filter((d) => (d.weight ?? 0) > 0).map((d) => ({ ...d, weight: d.weight ?? 0 }));
  if (kept.length === 0) {
    ctx.problems.add(`${where}: every destination has weight 0; the first one takes all traffic`);
    return [{ ...list[0]!, weight: 100 }];
  }
  const total = kept.reduce((sum, d) => sum + d.weight, 0);
  if (total > MAX_TOTAL_WEIGHT) {
    const scale = MAX_TOTAL_WEIGHT / total;
    return kept.map((d) => ({ ...d, weight: Math.max(1, Math.floor(d.weight * scale)) }));
  }
  return kept;
}

function mirrorPolicies(http: HTTPRoute, where: string, ctx: DestinationContext): Json[] {
  const out: Json[] = [];
  const add = (destination: HTTPRoute["mirror"], percent: number | undefined): void => {
    if (destination === undefined) return;
    const cluster = resolveDestination(destination, ctx, `${where} mirror`).cluster;
    out.push({ cluster, runtime_fraction: { default_value: fractionalPercent(percent ?? 100) } });
  };
  add(http.mirror, http.mirrorPercentage?.value);
  for (const m of http.mirrors ?? []) add(m.destination, m.percentage?.value);
  return out;
}

/** Concatenates two sets of header edits (the route's, then a single destination's). */
function mergeEdits(a: Json, b: Json): Json {
  const out: Json = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = [...((out[k] as unknown[] | undefined) ?? []), ...(v as unknown[])];
  }
  return out;
}
