// Test helpers for the router's tests (not used by production code): terse builders for typed route
// configurations with Envoy's defaults applied, synthetic requests, and a seeded random generator.

import type {
  DirectResponseAction,
  HeaderEdits,
  HeaderMatcher,
  HeaderValueOption,
  RedirectAction,
  Route,
  RouteAction,
  RouteConfiguration,
  RouteMatch,
  StringMatch,
  VirtualHost,
  WeightedCluster,
} from "../../api/xds/types.ts";
import { Headers } from "../http/headers.ts";
import type { RouteContext, RouteRequest } from "./request.ts";
import { mulberry32 } from "../../api/random.ts";

const NO_EDITS: HeaderEdits = {
  requestHeadersToAdd: [],
  requestHeadersToRemove: [],
  responseHeadersToAdd: [],
  responseHeadersToRemove: [],
};

export function edits(e: Partial<HeaderEdits> = {}): HeaderEdits {
  return { ...NO_EDITS, ...e };
}

export function add(
  key: string,
  value: string,
  appendAction: HeaderValueOption["appendAction"] = "APPEND_IF_EXISTS_OR_ADD",
): HeaderValueOption {
  return { key, value, appendAction };
}

function match(path: RouteMatch["path"], extra: Partial<RouteMatch>): RouteMatch {
  return { path, caseSensitive: true, headers: [], queryParameters: [], grpc: false, ...extra };
}

export const prefix = (value: string, extra: Partial<RouteMatch> = {}): RouteMatch =>
  match({ kind: "prefix", value }, extra);
export const exact = (value: string, extra: Partial<RouteMatch> = {}): RouteMatch =>
  match({ kind: "path", value }, extra);
export const regex = (re: string, extra: Partial<RouteMatch> = {}): RouteMatch =>
  match({ kind: "safe_regex", regex: re }, extra);
export const separated = (value: string, extra: Partial<RouteMatch> = {}): RouteMatch =>
  match({ kind: "path_separated_prefix", value }, extra);
export const connect = (extra: Partial<RouteMatch> = {}): RouteMatch => match({ kind: "connect" }, extra);

export function header(
  name: string,
  m: StringMatch | { kind: "present"; present: boolean },
  extra: Partial<HeaderMatcher> = {},
): HeaderMatcher {
  return { name, match: m, invertMatch: false, treatMissingAsEmpty: false, ...extra };
}

export const str = (
  kind: "exact" | "prefix" | "suffix" | "contains",
  value: string,
  ignoreCase = false,
): StringMatch => ({
  kind,
  value,
  ignoreCase,
});

export function forward(cluster: string, extra: Partial<RouteAction> = {}): RouteAction {
  return {
    kind: "route",
    cluster,
    weightedClusters: undefined,
    prefixRewrite: undefined,
    regexRewrite: undefined,
    hostRewriteLiteral: undefined,
    timeoutMs: 15_000,
    idleTimeoutMs: undefined,
    hashPolicy: [],
    retryPolicy: undefined,
    requestMirrorPolicies: [],
    maxStreamDuration: { maxStreamDurationMs: 0, grpcTimeoutHeaderMaxMs: 0, grpcTimeoutHeaderOffsetMs: 0 },
    perRequestBufferLimitBytes: undefined,
    upgradeOverrides: {},
    extensions: {},
    ...extra,
  };
}

export function cluster(name: string, weight: number, e: Partial<HeaderEdits> = {}): WeightedCluster {
  return { name, weight, ...edits(e) };
}

export function weighted(clusters: WeightedCluster[], extra: Partial<RouteAction> = {}): RouteAction {
  return forward("", { cluster: undefined, weightedClusters: clusters, ...extra });
}

export function redirect(extra: Partial<RedirectAction> = {}): RedirectAction {
  return {
    kind: "redirect",
    schemeRedirect: undefined,
    httpsRedirect: false,
    hostRedirect: undefined,
    portRedirect: undefined,
    pathRedirect: undefined,
    prefixRewrite: undefined,
    responseCode: 301,
    stripQuery: false,
    ...extra,
  };
}

export function direct(status: number, body?: string): DirectResponseAction {
  return { kind: "direct_response", status, body };
}

export function route(name: string, m: RouteMatch, action: Route["action"], e: Partial<HeaderEdits> = {}): Route {
  return { name, match: m, action, typedPerFilterConfig: {}, ...edits(e) };
}

export function vhost(name: string, domains: string[], routes: Route[], e: Partial<HeaderEdits> = {}): VirtualHost {
  return { name, domains, routes, typedPerFilterConfig: {}, ...edits(e) };
}

export function routeConfig(
  virtualHosts: VirtualHost[],
  e: Partial<HeaderEdits> = {},
  name = "test",
): RouteConfiguration {
  return { name, virtualHosts, ...edits(e) };
}

export function request(
  authority: string,
  path: string,
  headers: Record<string, string | string[]> = {},
  method = "GET",
  scheme = "http",
): RouteRequest {
  return { method, path, authority, scheme, headers: Headers.of(headers) };
}

export const CTX: RouteContext = {
  remoteAddress: "10.1.2.3",
  remotePort: 40000,
  localAddress: "10.0.0.9",
  localPort: 15001,
  protocol: "HTTP/1.1",
  requestId: "req-1",
  startWallMs: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
};

/** A seeded PRNG, uniform in [0, 1). */
export const seeded = mulberry32;
