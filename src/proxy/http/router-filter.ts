// The terminal HTTP handler (Envoy's router filter): route → backend → endpoint. It picks the route and cluster,
// applies rewrites and header edits, asks the cluster's balancer for an endpoint and hands the request to a
// RouteCall (call/route-call.ts) going down the route's layers (call/stack.ts: timeouts, mirrors, retries,
// outlier reporting, the endpoint), which relays the response. Everything it answers itself is a cause of the
// rescue table (rescue.ts), naming the route or cluster involved.

import type { Clock } from "../../api/clock.ts";
import type { Exchange, Handler } from "./exchange.ts";
import { Headers } from "./headers.ts";
import { CAUSES, rescue } from "./rescue.ts";
import { RouteCall, type CallEnvironment } from "./call/route-call.ts";
import { stackOf } from "./call/stack.ts";
import type { UpstreamCluster } from "../upstream/cluster.ts";
import type { CompiledRoute, RouteContext, RouteMiss, RouteTable } from "../router/types.ts";
import type { HttpConnManagerStats } from "../../telemetry/envoy-stats.ts";

export interface RouterOptions {
  table: RouteTable;
  clusters: ReadonlyMap<string, UpstreamCluster>;
  clock: Clock;
  random: () => number;
  /** Upgrade types the connection manager allows (upgrade_configs). */
  upgradeTypes: readonly string[];
  /** The connection manager's stats: the router's own (no_route, no_cluster, rq_total…) live there, as in Envoy. */
  stats: HttpConnManagerStats;
}

export function createRouter(options: RouterOptions): Handler {
  const { table, clusters, stats } = options;
  const env: CallEnvironment = { clock: options.clock, random: options.random, clusters, hcmStats: stats };
  return (ex: Exchange): void => {
    stats.rqTotal.inc();
    // A filter may have resolved the route already (per-route filter config); resolve it once either way.
    const route = (ex.info.route ??= table.route(ex));
    // An upgrade (CONNECT is one: Envoy's upgrade type "CONNECT") is refused before the route answers, whatever
    // kind of route it is, as Envoy refuses it when it builds the stream's filter chain.
    const upgrade = ex.upgrade ?? (ex.method === "CONNECT" ? "connect" : undefined);
    if (upgrade !== undefined && !upgradeAllowed(ex, route, upgrade, options.upgradeTypes, stats)) return;
    if (route.kind === "miss") {
      stats.noRoute.inc();
      if (route.reason === "no_virtual_host") rescue(ex, CAUSES.noVirtualHost, ex.authority);
      else rescue(ex, CAUSES.noRoute, route.virtualHostName ?? "");
      return;
    }
    ex.info.routeName = route.name;
    if (route.kind === "direct_response") {
      stats.rqDirectResponse.inc();
      respondDirect(ex, route, new RouteCall(ex, route, undefined, env));
      return;
    }
    if (route.kind === "redirect") {
      stats.rqRedirect.inc();
      sendRedirect(ex, route);
      return;
    }
    const choice = route.pickCluster();
    const cluster = clusters.get(choice.name);
    if (cluster === undefined) {
      stats.noCluster.inc();
      rescue(ex, CAUSES.clusterNotFound, choice.name);
      return;
    }
    ex.info.clusterName = cluster.name;
    const call = new RouteCall(ex, route, choice, env);
    // Header edits first, as Envoy does: %REQ(:path)% in an edit sees the path as the client sent it.
    route.applyRequestHeaders(ex.headers, ex, call, choice);
    const pathBefore = ex.path;
    route.rewrite(ex);
    if (ex.path !== pathBefore) ex.info.originalPath = pathBefore;
    hashingCall = call;
    const hash = route.hash(ex, call, setCookieOfHashingCall);
    hashingCall = undefined;
    const endpoint = cluster.pick({ hash, authority: ex.authority, downstream: ex.downstream, headers: ex.headers });
    if (endpoint === undefined) {
      cluster.stats.upstreamCxNoneHealthy.inc();
      rescue(ex, CAUSES.noHealthyUpstream, cluster.name);
      return;
    }
    // auto_host_rewrite, as Envoy applies it: once, to the first endpoint chosen (a retry keeps that Host).
    if (route.autoHostRewrite === true && endpoint.hostname && HOST_NAMED_TYPES.has(cluster.config.type))
      ex.authority = endpoint.hostname;
    call.start(stackOf(route), cluster, endpoint, hash);
  };
}

/** The cluster types whose endpoints have a host name auto_host_rewrite can use (STATIC: no effect, as in Envoy). */
const HOST_NAMED_TYPES: ReadonlySet<string> = new Set(["STRICT_DNS", "LOGICAL_DNS", "EDS"]);

/**
 * Whether the upgrade may go on: the route's upgrade_configs, else the connection manager's (a route that did not
 * match has none); and the downstream must be able to carry it (HTTP/1.1: HTTP/2's extended CONNECT is not
 * supported). Otherwise answers 403: Envoy's detail upgrade_failed; Envoy has no response flag for it, Trellis
 * says UPG. A CONNECT with a body is a 400.
 */
function upgradeAllowed(
  ex: Exchange,
  route: CompiledRoute | RouteMiss,
  upgrade: string,
  listenerTypes: readonly string[],
  stats: HttpConnManagerStats,
): boolean {
  const listenerAllows = listenerTypes.includes(upgrade);
  const allowed = route.kind === "miss" ? listenerAllows : route.upgradeAllowed(upgrade, listenerAllows);
  if (!allowed || ex.response.upgradeTo === undefined) {
    const where = route.kind === "miss" ? "" : ` on route ${route.name}`;
    stats.downstreamRqWsOnNonWsRoute.inc();
    rescue(ex, CAUSES.upgradeRefused, `${upgrade} not allowed${where}`);
    return false;
  }
  if (upgrade === "connect" && !ex.body.empty) {
    // An HTTP/1.1 CONNECT carries no content (RFC 9110 §9.3.6); one framed with a body is refused, as Envoy's
    // codec refuses it.
    rescue(ex, CAUSES.bodyDisallowed, "CONNECT with a body");
    return false;
  }
  return true;
}

/**
 * A cookie hash policy with a ttl makes the cookie when the request has none (Envoy does), and the response must
 * carry it. hash() runs synchronously, so the call being hashed is kept here: no closure per request.
 */
let hashingCall: RouteCall | undefined;
function setCookieOfHashingCall(headerValue: string): void {
  if (hashingCall !== undefined) hashingCall.setCookie = headerValue;
}

function respondDirect(ex: Exchange, route: CompiledRoute, ctx: RouteContext): void {
  const body = route.directBody;
  const headers = new Headers();
  route.applyResponseHeaders(headers, ex, ctx, undefined);
  if (body !== undefined) {
    if (!headers.has("content-type")) headers.set("content-type", "text/plain");
    headers.set("content-length", String(body.length));
  } else headers.set("content-length", "0");
  ex.info.responseCode = route.directStatus;
  ex.response.head(route.directStatus, headers);
  if (body !== undefined) ex.response.data(body);
  ex.response.end();
}

function sendRedirect(ex: Exchange, route: CompiledRoute): void {
  const headers = new Headers();
  headers.set("location", route.redirectLocation(ex));
  headers.set("content-length", "0");
  ex.info.responseCode = route.redirectStatus;
  ex.response.head(route.redirectStatus, headers);
  ex.response.end();
}
