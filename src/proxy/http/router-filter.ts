// The terminal HTTP handler (Envoy's router filter): route → backend → endpoint. It picks the route and cluster,
// applies rewrites and header edits, asks the cluster's balancer for an endpoint and hands the request to an
// UpstreamCall (upstream-call.ts), which makes the attempts, retries and mirrors and relays the response.
// Everything it answers itself carries a response flag and the name of the route or cluster involved.

import type { Clock } from "../../api/clock.ts";
import type { Exchange, Handler } from "./exchange.ts";
import { Headers } from "./headers.ts";
import { sendLocalReply } from "./local-reply.ts";
import { UpstreamCall, type CallEnvironment } from "./upstream-call.ts";
import type { UpstreamCluster } from "../upstream/cluster.ts";
import type { CompiledRoute, RouteContext, RouteTable } from "../router/types.ts";
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
    if (route.kind === "miss") {
      stats.noRoute.inc();
      const what =
        route.reason === "no_virtual_host"
          ? `no_virtual_host:${ex.authority}`
          : `route_not_found:${route.virtualHostName}`;
      sendLocalReply(ex, 404, "NR", what);
      return;
    }
    ex.info.routeName = route.name;
    if (route.kind === "direct_response") {
      stats.rqDirectResponse.inc();
      respondDirect(ex, route, new UpstreamCall(ex, route, undefined, env));
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
      sendLocalReply(ex, 503, "NC", `cluster_not_found:${choice.name}`);
      return;
    }
    ex.info.clusterName = cluster.name;
    if (ex.upgrade !== undefined) {
      const listenerAllows = options.upgradeTypes.includes(ex.upgrade);
      if (!route.upgradeAllowed(ex.upgrade, listenerAllows) || ex.response.upgradeTo === undefined) {
        // Envoy answers 403 with the detail upgrade_failed and has no response flag for it; Trellis says UPG.
        stats.downstreamRqWsOnNonWsRoute.inc();
        sendLocalReply(ex, 403, "UPG", `upgrade_failed:${ex.upgrade} not allowed on route ${route.name}`);
        return;
      }
    }
    const call = new UpstreamCall(ex, route, choice, env);
    // Header edits first, as Envoy does: %REQ(:path)% in an edit sees the path as the client sent it.
    route.applyRequestHeaders(ex.headers, ex, call, choice);
    const pathBefore = ex.path;
    route.rewrite(ex);
    if (ex.path !== pathBefore) ex.info.originalPath = pathBefore;
    hashingCall = call;
    const hash = route.hash(ex, call, setCookieOfHashingCall);
    hashingCall = undefined;
    const endpoint = cluster.pick({ hash });
    if (endpoint === undefined) {
      cluster.stats.upstreamCxNoneHealthy.inc();
      sendLocalReply(ex, 503, "UH", `no_healthy_upstream:${cluster.name}`);
      return;
    }
    call.start(cluster, endpoint, hash);
  };
}

/**
 * A cookie hash policy with a ttl makes the cookie when the request has none (Envoy does), and the response must
 * carry it. hash() runs synchronously, so the call being hashed is kept here: no closure per request.
 */
let hashingCall: UpstreamCall | undefined;
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
