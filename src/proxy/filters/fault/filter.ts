// The fault filter's layer (Envoy's FaultFilter::decodeHeaders): per request, independently, maybe delay it and
// then maybe abort it. Order and rules are Envoy's: the route's settings (typed_per_filter_config) replace the
// listener's; upstream_cluster, downstream_nodes and headers must all match; the delay is decided first and the
// abort is decided after the delay has run, so a request can be both delayed and aborted; max_active_faults turns
// a would-be fault into nothing (counted in faults_overflow). A request that is not faulted costs a few
// comparisons and at most one random() draw per configured fault kind, and allocates nothing.

import type { Clock, Timer } from "../../../api/clock.ts";
import type { Exchange, Handler, Layer } from "../../http/exchange.ts";
import type { FilterContext } from "../../http/filters.ts";
import type { Headers } from "../../http/headers.ts";
import { CAUSES, rescue } from "../../http/rescue.ts";
import { FILTER_DISABLED } from "../../router/compiled-route.ts";
import type { CompiledRoute, RouteMiss } from "../../router/types.ts";
import type { FaultSettings } from "./config.ts";
import { parseUnsigned } from "./percentage.ts";
import { FaultStats } from "./stats.ts";

/** Envoy's fault headers (Http::Headers and the fault filter's HeaderNames). */
export const FaultHeaders = {
  delay: "x-envoy-fault-delay-request",
  delayPercentage: "x-envoy-fault-delay-request-percentage",
  abort: "x-envoy-fault-abort-request",
  abortGrpc: "x-envoy-fault-abort-grpc-request",
  abortPercentage: "x-envoy-fault-abort-request-percentage",
  downstreamNode: "x-envoy-downstream-service-node",
  downstreamCluster: "x-envoy-downstream-service-cluster",
} as const;

const UINT32_MAX = 4_294_967_295;

export function createFaultLayer(base: FaultSettings, context: FilterContext): Layer {
  const injector = new FaultInjector(base, context);
  return (next) => (ex) => injector.handle(ex, next);
}

class FaultInjector {
  readonly stats: FaultStats;
  readonly clock: Clock;
  private readonly random: () => number;
  private readonly filterName: string;
  private readonly routeOf: FilterContext["routeOf"];
  /** The abort decided by decideAbort(): the HTTP status, and the gRPC status or -1. Read right after. */
  private abortHttp = 0;
  private abortGrpc = -1;

  constructor(
    private readonly base: FaultSettings,
    context: FilterContext,
  ) {
    this.stats = new FaultStats(context.store, context.statPrefix);
    this.clock = context.clock;
    this.random = context.random;
    this.filterName = context.filterName;
    this.routeOf = context.routeOf;
  }

  handle(ex: Exchange, next: Handler): void {
    // The route is resolved once per exchange (the router reads the same one), so asking costs nothing extra.
    const route = this.routeOf(ex);
    let settings = this.base;
    if (route.kind !== "miss") {
      const own = route.perFilterConfig(this.filterName);
      if (own !== undefined) {
        if (own === FILTER_DISABLED) return next(ex);
        settings = own as FaultSettings;
      }
    }
    if ((settings.delay === undefined && settings.abort === undefined) || !this.applies(settings, ex, route)) {
      return next(ex);
    }
    const delayMs = this.decideDelay(settings, ex.headers);
    if (delayMs >= 0 && this.tryActivate(settings)) {
      this.countDelay(settings, ex);
      const info = ex.info;
      info.responseFlags = info.responseFlags === "" ? "DI" : info.responseFlags + ",DI";
      new DelayedRequest(this, ex, settings, route, next).start(delayMs);
      return;
    }
    if (this.decideAbort(settings, ex.headers) && this.tryActivate(settings)) {
      this.abort(settings, ex, route);
      this.stats.activeFaults.dec();
      return;
    }
    next(ex);
  }

  /** upstream_cluster, downstream_nodes and headers, in Envoy's order; each is skipped when not configured. */
  private applies(settings: FaultSettings, ex: Exchange, route: CompiledRoute | RouteMiss): boolean {
    const cluster = settings.upstreamCluster;
    if (cluster !== undefined) {
      // Envoy compares the route's cluster. A weighted_clusters route picks its cluster later, in the router, so
      // only a route with a single cluster can be known to go to upstream_cluster.
      if (route.kind !== "route") return false;
      const clusters = route.clusters;
      if (clusters.length !== 1 || clusters[0]!.name !== cluster) return false;
    }
    const nodes = settings.downstreamNodes;
    if (nodes !== undefined) {
      const node = ex.headers.get(FaultHeaders.downstreamNode);
      if (node === undefined || !nodes.has(node)) return false;
    }
    const matchers = settings.headers;
    for (let i = 0; i < matchers.length; i++) if (!matchers[i]!.matches(ex)) return false;
    return true;
  }

  /** The delay for this request in ms, or -1 for none. A header delay needs its header before any draw. */
  private decideDelay(settings: FaultSettings, headers: Headers): number {
    const delay = settings.delay;
    if (delay === undefined) return -1;
    if (delay.kind === "fixed") return delay.percentage.sample(this.random) ? delay.fixedMs : -1;
    const value = headers.get(FaultHeaders.delay);
    if (value === undefined) return -1;
    const ms = parseUnsigned(value);
    if (ms < 0) return -1;
    return delay.percentage.sampleWithHeader(headers.get(FaultHeaders.delayPercentage), this.random) ? ms : -1;
  }

  /**
   * Whether to abort, leaving the statuses in abortHttp/abortGrpc (no result object per request). As Envoy: an
   * HTTP status wins over a gRPC one; a gRPC abort answers HTTP 200 with that grpc-status. A header abort needs a
   * valid header (HTTP 200–599, or a gRPC status) before anything is drawn.
   */
  decideAbort(settings: FaultSettings, headers: Headers): boolean {
    const abort = settings.abort;
    if (abort === undefined) return false;
    if (abort.kind !== "header") {
      if (!abort.percentage.sample(this.random)) return false;
      this.abortHttp = abort.kind === "http" ? abort.httpStatus : 200;
      this.abortGrpc = abort.grpcStatus;
      return true;
    }
    let http = -1;
    let grpc = -1;
    const httpHeader = headers.get(FaultHeaders.abort);
    if (httpHeader !== undefined) http = parseUnsigned(httpHeader);
    if (http < 200 || http >= 600) {
      const grpcHeader = headers.get(FaultHeaders.abortGrpc);
      if (grpcHeader !== undefined) grpc = parseUnsigned(grpcHeader);
      if (grpc < 0 || grpc > UINT32_MAX) return false;
      http = 200;
    }
    if (!abort.percentage.sampleWithHeader(headers.get(FaultHeaders.abortPercentage), this.random)) return false;
    this.abortHttp = http;
    this.abortGrpc = grpc;
    return true;
  }

  /** Answers with the status decideAbort() chose: flag FI, details naming the route. */
  abort(settings: FaultSettings, ex: Exchange, route: CompiledRoute | RouteMiss): void {
    const stats = this.stats;
    stats.abortsInjected.inc();
    this.downstreamCluster(settings, ex)?.aborts.inc();
    const grpc = this.abortGrpc;
    rescue(ex, CAUSES.faultAbort, route.kind === "miss" ? "" : route.name, {
      status: this.abortHttp,
      grpcStatus: grpc < 0 ? undefined : grpc,
    });
  }

  /**
   * Takes one active-fault slot, or counts an overflow. The slot is held while the fault acts: from the decision
   * to the end of the delay, or while the abort is sent.
   */
  tryActivate(settings: FaultSettings): boolean {
    const stats = this.stats;
    if (stats.activeFaults.value >= settings.maxActiveFaults) {
      stats.faultsOverflow.inc();
      return false;
    }
    stats.activeFaults.inc();
    return true;
  }

  private countDelay(settings: FaultSettings, ex: Exchange): void {
    this.stats.delaysInjected.inc();
    this.downstreamCluster(settings, ex)?.delays.inc();
  }

  private downstreamCluster(settings: FaultSettings, ex: Exchange) {
    if (settings.disableDownstreamClusterStats) return undefined;
    const cluster = ex.headers.get(FaultHeaders.downstreamCluster);
    return cluster === undefined || cluster === "" ? undefined : this.stats.forDownstreamCluster(cluster);
  }
}

/**
 * One request held by an injected delay (faulted path only, so an allocation is fine). The request body stays
 * with the codec, paused, so a large upload is not buffered while waiting; if the downstream goes away, the timer
 * is cancelled and nothing is forwarded. When the timer fires, the abort is decided, then the request is either
 * answered or passed on unchanged (its DI flag stays in the access log).
 */
class DelayedRequest {
  private timer: Timer | undefined;
  private done = false;

  constructor(
    private readonly injector: FaultInjector,
    private readonly ex: Exchange,
    private readonly settings: FaultSettings,
    private readonly route: CompiledRoute | RouteMiss,
    private readonly next: Handler,
  ) {}

  start(delayMs: number): void {
    const ex = this.ex;
    // Pausing a body-less HTTP/1.1 request would stop the socket reads that notice a client going away.
    if (!ex.body.empty) ex.body.pause();
    ex.response.onAbort(this.onDownstreamAbort);
    this.timer = this.injector.clock.setTimer(delayMs, this.onDelayOver);
  }

  private readonly onDelayOver = (): void => {
    this.timer = undefined;
    if (this.done) return;
    this.done = true;
    const { ex, injector, settings } = this;
    // The next layer registers its own abort callback when it needs one; ours must not fire after this point.
    ex.response.onAbort(NOTHING);
    if (!ex.body.empty) ex.body.resume();
    if (injector.decideAbort(settings, ex.headers)) {
      injector.abort(settings, ex, this.route);
      injector.stats.activeFaults.dec();
      return;
    }
    injector.stats.activeFaults.dec();
    this.next(ex);
  };

  private readonly onDownstreamAbort = (): void => {
    if (this.done) return;
    this.done = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.injector.stats.activeFaults.dec();
  };
}

function NOTHING(): void {}
