// The top of one request's upstream call: what every layer below shares for it (the exchange, the route, the
// cluster and the endpoint of the current attempt, the body kept for replay) and the way back to the client. It
// relays the response — the route's response header edits, a hash policy's cookie, x-envoy-upstream-service-time —
// and turns a failure reported from below into the one local reply the rescue table names for it.

import type { Duplex } from "node:stream";
import type { Clock } from "../../../api/clock.ts";
import type { Exchange } from "../exchange.ts";
import type { Headers } from "../headers.ts";
import { rescue } from "../rescue.ts";
import { ReplayableBody } from "../replayable-body.ts";
import type { UpstreamCluster } from "../../upstream/cluster.ts";
import type { Endpoint } from "../../upstream/endpoint.ts";
import type { ClusterChoice, CompiledRoute, RouteContext } from "../../router/types.ts";
import type { HttpConnManagerStats } from "../../../telemetry/envoy-stats.ts";
import type { CallFailure, CallHandler, CallControl, Dispatcher } from "./layer.ts";
import { Abandon } from "./layer.ts";

/** What every call of one router shares, made once per configuration. */
export interface CallEnvironment {
  clock: Clock;
  random: () => number;
  clusters: ReadonlyMap<string, UpstreamCluster>;
  /** The connection manager's stats (upgrades are counted there). */
  hcmStats: HttpConnManagerStats;
}

export class RouteCall implements CallHandler, RouteContext {
  /** A Set-Cookie value made by a cookie hash policy, added to the response. */
  setCookie: string | undefined;
  cluster!: UpstreamCluster;
  /** The endpoint the current (or next) attempt goes to; the retry layer moves it. */
  endpoint!: Endpoint;
  hash: number | undefined;
  /** The request body kept for retries and mirrors; undefined when neither needs it. */
  body: ReplayableBody | undefined;
  /** Clock.now() when the current attempt was sent (x-envoy-upstream-service-time). */
  attemptStartMs = 0;
  private control: CallControl | undefined;
  private done = false;

  constructor(
    readonly ex: Exchange,
    readonly route: CompiledRoute,
    readonly choice: ClusterChoice | undefined,
    readonly env: CallEnvironment,
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
    const clock = this.env.clock;
    return clock.wallNow() - (clock.now() - this.ex.info.startMs);
  }

  // ---- starting ------------------------------------------------------------------------------------------------

  /** Sends the request down the route's layers, to `endpoint` first. */
  start(stack: Dispatcher, cluster: UpstreamCluster, endpoint: Endpoint, hash: number | undefined): void {
    const { ex, route } = this;
    this.cluster = cluster;
    this.endpoint = endpoint;
    this.hash = hash;
    ex.response.onAbort(this.onDownstreamAbort);
    if (
      (route.retryPolicy !== undefined || route.mirrorPolicies.length > 0) &&
      !ex.body.empty &&
      ex.upgrade === undefined
    )
      this.body = new ReplayableBody(ex.body, route.bufferLimitBytes);
    if (route.idleTimeoutMs !== undefined) ex.setStreamIdleTimeout(route.idleTimeoutMs);
    const control = stack.dispatch(this, this);
    // The layers may have reported (and this call ended) before returning.
    if (!this.done) this.control = control;
  }

  // ---- CallHandler ---------------------------------------------------------------------------------------------

  onHead(status: number, headers: Headers): void {
    if (this.done) return;
    const ex = this.ex;
    this.route.applyResponseHeaders(headers, ex, this, this.choice);
    if (this.setCookie !== undefined) headers.add("set-cookie", this.setCookie);
    const serviceTime = Math.round(this.env.clock.now() - this.attemptStartMs);
    ex.info.upstreamServiceTimeMs = serviceTime;
    ex.info.responseHeaders = headers;
    headers.set("x-envoy-upstream-service-time", String(serviceTime));
    // Retries gave up on this answer: say so, so a relayed 503 is not opaque.
    if (ex.info.responseFlags !== "") headers.set("x-trellis-response-flags", ex.info.responseFlags);
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
    this.control?.resume();
  };

  onEnd(trailers: Headers | undefined): void {
    if (this.done) return;
    this.done = true;
    this.control = undefined;
    this.ex.response.end(trailers);
  }

  onFailure(failure: CallFailure): void {
    if (this.done) return;
    this.done = true;
    this.control = undefined;
    rescue(this.ex, failure.cause, failure.subject, failure.note === undefined ? undefined : { message: failure.note });
  }

  onUpgrade(headers: Headers, socket: Duplex, head: Buffer): void {
    if (this.done) {
      socket.destroy();
      return;
    }
    this.done = true;
    this.control = undefined;
    const stats = this.env.hcmStats;
    stats.downstreamCxUpgradesTotal.inc();
    stats.downstreamCxUpgradesActive.inc();
    socket.once("close", () => stats.downstreamCxUpgradesActive.dec());
    this.ex.response.upgradeTo!(headers, socket, head);
  }

  // ---- downstream ----------------------------------------------------------------------------------------------

  private readonly onDownstreamAbort = (): void => {
    if (this.done) return;
    this.done = true;
    const control = this.control;
    this.control = undefined;
    control?.abandon(Abandon.Cancel);
  };
}
