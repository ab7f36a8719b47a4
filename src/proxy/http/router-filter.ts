// The terminal HTTP handler (Envoy's router filter): route → backend → endpoint. It picks the route and cluster,
// applies rewrites and header edits, asks the cluster's balancer for an endpoint, sends the request through that
// endpoint's pool and relays the response, enforcing the route timeout. Everything it answers itself carries a
// response flag and the name of the route or cluster involved.

import type { Clock, Timer } from "../../api/clock.ts";
import type { Exchange, Handler } from "./exchange.ts";
import { Headers } from "./headers.ts";
import { sendLocalReply } from "./local-reply.ts";
import type { ConnectFailure, UpstreamHandler, UpstreamStream } from "../upstream/pool.ts";
import type { UpstreamCluster } from "../upstream/cluster.ts";
import type { Endpoint } from "../upstream/endpoint.ts";
import type { ClusterChoice, CompiledRoute, RouteContext, RouteTable } from "../router/types.ts";
import type { Duplex } from "node:stream";

export interface RouterOptions {
  table: RouteTable;
  clusters: ReadonlyMap<string, UpstreamCluster>;
  clock: Clock;
  /** Upgrade types the connection manager allows (upgrade_configs). */
  upgradeTypes: readonly string[];
}

export function createRouter(options: RouterOptions): Handler {
  const { table, clusters } = options;
  return (ex: Exchange): void => {
    // A filter may have resolved the route already (per-route filter config); resolve it once either way.
    const route = (ex.info.route ??= table.route(ex));
    if (route.kind === "miss") {
      const what =
        route.reason === "no_virtual_host"
          ? `no_virtual_host:${ex.authority}`
          : `route_not_found:${route.virtualHostName}`;
      sendLocalReply(ex, 404, "NR", what);
      return;
    }
    ex.info.routeName = route.name;
    if (route.kind === "direct_response") {
      respondDirect(ex, route, new UpstreamCall(ex, route, undefined, options.clock));
      return;
    }
    if (route.kind === "redirect") {
      sendRedirect(ex, route);
      return;
    }
    const choice = route.pickCluster();
    const cluster = clusters.get(choice.name);
    if (cluster === undefined) {
      sendLocalReply(ex, 503, "NC", `cluster_not_found:${choice.name}`);
      return;
    }
    ex.info.clusterName = cluster.name;
    if (ex.upgrade !== undefined) {
      const listenerAllows = options.upgradeTypes.includes(ex.upgrade);
      if (!route.upgradeAllowed(ex.upgrade, listenerAllows) || ex.response.upgradeTo === undefined) {
        // Envoy answers 403 with the detail upgrade_failed and has no response flag for it; Trellis says UPG.
        sendLocalReply(ex, 403, "UPG", `upgrade_failed:${ex.upgrade} not allowed on route ${route.name}`);
        return;
      }
    }
    const call = new UpstreamCall(ex, route, choice, options.clock);
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
    call.start(cluster, endpoint);
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

/**
 * One request's journey upstream: the handler the pool reports to, the timer of the route timeout, and the
 * RouteContext that header formatters and hash policies read. One allocation per request.
 */
class UpstreamCall implements UpstreamHandler, RouteContext {
  private stream: UpstreamStream | undefined;
  /** A Set-Cookie value made by a cookie hash policy, added to the response. */
  setCookie: string | undefined;
  private timer: Timer | undefined;
  private cluster: UpstreamCluster | undefined;
  private endpoint: Endpoint | undefined;
  private done = false;
  private startMs = 0;

  constructor(
    private readonly ex: Exchange,
    private readonly route: CompiledRoute,
    private readonly choice: ClusterChoice | undefined,
    private readonly clock: Clock,
  ) {}

  // ---- RouteContext --------------------------------------------------------------------------------------------
  get remoteAddress(): string {
    return this.ex.downstream.remoteAddress;
  }
  get remotePort(): number {
    return this.ex.downstream.remotePort;
  }
  get localAddress(): string {
    return this.ex.downstream.localAddress;
  }
  get localPort(): number {
    return this.ex.downstream.localPort;
  }
  get protocol(): string {
    return this.ex.protocol;
  }
  get requestId(): string | undefined {
    return this.ex.info.requestId;
  }
  get startWallMs(): number {
    return this.clock.wallNow() - (this.clock.now() - this.ex.info.startMs);
  }

  start(cluster: UpstreamCluster, endpoint: Endpoint): void {
    const ex = this.ex;
    this.cluster = cluster;
    this.endpoint = endpoint;
    ex.info.upstreamHost = endpoint.key;
    ex.info.attempts++;
    endpoint.activeRequests++;
    endpoint.rqTotal++;
    cluster.stats.upstreamRqTotal.inc();
    cluster.stats.upstreamRqActive.inc();
    // Started in the same turn as the request head was read (the handler runs synchronously): no second clock read.
    this.startMs = ex.info.startMs;
    ex.response.onAbort(this.onDownstreamAbort);
    const timeout = this.route.timeoutMs;
    if (timeout > 0 && ex.upgrade === undefined) this.timer = this.clock.setTimer(timeout, this.onTimeout);
    this.stream = cluster.poolFor(endpoint).request(ex, this);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.stream = undefined;
    const endpoint = this.endpoint!;
    endpoint.activeRequests--;
    const stats = this.cluster!.stats;
    stats.upstreamRqActive.dec();
    const code = this.ex.info.responseCode;
    // A response of the upstream's own counts by its class; a failure to get one (reset, connect failure,
    // timeout: responseCode not yet set) is an error of this host.
    if (code >= 500 || code === 0) endpoint.rqError++;
    else endpoint.rqSuccess++;
    if (code > 0) stats.countResponse(code);
    stats.upstreamRqTime.observe(this.clock.now() - this.startMs);
  }

  // ---- UpstreamHandler -----------------------------------------------------------------------------------------
  onConnectFailure(reason: ConnectFailure, _err: Error | undefined): void {
    if (this.done) return;
    this.finish();
    if (reason === "overflow") {
      sendLocalReply(
        this.ex,
        503,
        "UO",
        `upstream_reset_before_response_started{overflow}:${this.cluster!.name}/${this.endpoint!.key}`,
      );
      return;
    }
    this.cluster!.outlier?.onLocalOriginFailure(this.endpoint!, "connect_failed");
    sendLocalReply(
      this.ex,
      503,
      "UF",
      `upstream_reset_before_response_started{${reason}}:${this.cluster!.name}/${this.endpoint!.key}`,
    );
  }

  onHead(status: number, headers: Headers): void {
    if (this.done) return;
    const ex = this.ex;
    this.cluster!.outlier?.onResponse(this.endpoint!, status);
    this.route.applyResponseHeaders(headers, ex, this, this.choice);
    if (this.setCookie !== undefined) headers.add("set-cookie", this.setCookie);
    const serviceTime = Math.round(this.clock.now() - this.startMs);
    ex.info.upstreamServiceTimeMs = serviceTime;
    ex.info.responseHeaders = headers;
    headers.set("x-envoy-upstream-service-time", String(serviceTime));
    ex.response.head(status, headers);
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return true;
    const response = this.ex.response;
    if (response.data(chunk)) return true;
    response.onDrain(this.resumeUpstream);
    return false;
  }

  private readonly resumeUpstream = (): void => {
    this.stream?.resume();
  };

  onEnd(trailers: Headers | undefined): void {
    if (this.done) return;
    this.finish();
    this.ex.response.end(trailers);
  }

  onReset(err: Error): void {
    if (this.done) return;
    this.finish();
    const ex = this.ex;
    if (!ex.response.headSent) this.cluster!.outlier?.onLocalOriginFailure(this.endpoint!, "reset");
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "UPSTREAM_PROTOCOL_ERROR" || err.name === "Http1ParseError") {
      sendLocalReply(
        ex,
        502,
        "UPE",
        `upstream_protocol_error:${this.cluster!.name}/${this.endpoint!.key}: ${err.message}`,
      );
      return;
    }
    const kind =
      code === "REFUSED_STREAM" || code === "ERR_HTTP2_STREAM_ERROR" ? "remote_reset" : "connection_termination";
    const flag = kind === "remote_reset" ? "UR" : "UC";
    sendLocalReply(
      ex,
      503,
      flag,
      `upstream_reset_before_response_started{${kind}}:${this.cluster!.name}/${this.endpoint!.key}`,
    );
  }

  onUpgrade(headers: Headers, socket: Duplex, head: Buffer): void {
    if (this.done) {
      socket.destroy();
      return;
    }
    this.finish();
    this.ex.response.upgradeTo!(headers, socket, head);
  }

  // ---- timers and downstream -----------------------------------------------------------------------------------
  private readonly onTimeout = (): void => {
    this.timer = undefined;
    if (this.done) return;
    const stream = this.stream;
    this.endpoint!.rqTimeout++;
    this.finish();
    this.cluster!.stats.upstreamRqTimeout.inc();
    this.cluster!.outlier?.onLocalOriginFailure(this.endpoint!, "timeout");
    stream?.abort();
    sendLocalReply(this.ex, 504, "UT", `upstream_response_timeout:${this.route.name}`);
  };

  private readonly onDownstreamAbort = (): void => {
    if (this.done) return;
    const stream = this.stream;
    this.finish();
    stream?.abort();
  };
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
