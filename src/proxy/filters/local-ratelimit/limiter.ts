// One local rate limit configuration at run time: its bucket (or a bucket per downstream connection), its counters
// and the decision for one request, in Envoy's order — filter_enabled, take a token (ok), else rate_limited, then
// filter_enforced decides between the limited reply (enforced) and letting the request through with
// request_headers_to_add_when_not_enforced. The happy path allocates nothing.

import type { Clock } from "../../../api/clock.ts";
import type { StatsStore } from "../../../telemetry/stats.ts";
import type { Downstream, Exchange, Handler } from "../../http/exchange.ts";
import { GrpcStatus } from "../../http/grpc-status.ts";
import { Headers } from "../../http/headers.ts";
import { isGrpcRequest } from "../../http/local-reply.ts";
import { CAUSES, rescue } from "../../http/rescue.ts";
import type { LocalRateLimitConfig } from "./config.ts";
import { createHttpLocalRateLimitStats, type HttpLocalRateLimitStats } from "./stats.ts";
import { TokenBucket } from "./token-bucket.ts";
import { HeadEditingExchange } from "../../http/head-editing-exchange.ts";
import { routeContextOf } from "../../http/route-context.ts";

export const RATE_LIMITED_FLAG = CAUSES.rateLimited.flag;

export interface LimiterEnv {
  clock: Clock;
  random: () => number;
  store: StatsStore;
}

export class HttpLocalRateLimiter {
  private readonly stats: HttpLocalRateLimitStats;
  private readonly shared: TokenBucket | undefined;
  /** Per-connection buckets, keyed by the connection's Downstream (one object per connection in both codecs). */
  private readonly byConnection: WeakMap<Downstream, TokenBucket> | undefined;

  constructor(
    readonly config: LocalRateLimitConfig,
    private readonly env: LimiterEnv,
  ) {
    this.stats = createHttpLocalRateLimitStats(env.store, config.statPrefix);
    const bucket = config.tokenBucket;
    if (bucket !== undefined && config.perConnection) this.byConnection = new WeakMap();
    else if (bucket !== undefined) this.shared = new TokenBucket(bucket, env.clock);
  }

  handle(ex: Exchange, next: Handler): void {
    const config = this.config;
    if (!chance(config.enabled, this.env.random)) return next(ex);
    const stats = this.stats;
    stats.enabled.inc();
    const bucket = this.bucketOf(ex);
    // No token bucket at this level: nothing to limit (Envoy: limits then come only from routes).
    if (bucket === undefined) {
      stats.ok.inc();
      return next(ex);
    }
    // enable_x_ratelimit_headers (DRAFT_VERSION_03): every response on a limited route, forwarded or limited, tells
    // the client its bucket — x-ratelimit-limit (max_tokens), x-ratelimit-remaining (tokens left when the response
    // head goes out, as Envoy computes them in encodeHeaders) and x-ratelimit-reset (seconds to the next fill).
    const view = config.xRateLimitHeaders ? new HeadEditingExchange(ex, (h) => addRateLimitHeaders(h, bucket)) : ex;
    if (bucket.tryConsume()) {
      stats.ok.inc();
      return next(view);
    }
    stats.rateLimited.inc();
    if (!chance(config.enforced, this.env.random)) {
      config.requestHeadersWhenNotEnforced?.apply(ex.headers, false, ex, routeContextOf(ex, this.env.clock), undefined);
      return next(view);
    }
    stats.enforced.inc();
    this.reply(view);
  }

  private bucketOf(ex: Exchange): TokenBucket | undefined {
    const perConnection = this.byConnection;
    if (perConnection === undefined) return this.shared;
    let bucket = perConnection.get(ex.downstream);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.config.tokenBucket!, this.env.clock);
      perConnection.set(ex.downstream, bucket);
    }
    return bucket;
  }

  /** The limited reply: status, flag RL, the configured headers; gRPC callers get a gRPC status. */
  private reply(ex: Exchange): void {
    const config = this.config;
    const route = ex.info.route;
    const owner = route !== undefined && route.kind !== "miss" && route.name !== "" ? route.name : config.statPrefix;
    let extra: Headers | undefined;
    if (config.responseHeaders !== undefined) {
      extra = new Headers();
      config.responseHeaders.apply(extra, true, ex, routeContextOf(ex, this.env.clock), undefined);
    }
    const grpcStatus =
      config.rateLimitedAsResourceExhausted && isGrpcRequest(ex.headers) ? GrpcStatus.RESOURCE_EXHAUSTED : undefined;
    rescue(ex, CAUSES.rateLimited, owner, { status: config.status, headers: extra, grpcStatus });
  }
}

/** A percentage decision; 0 and 100 % never draw a random number. */
function chance(probability: number, random: () => number): boolean {
  if (probability >= 1) return true;
  if (probability <= 0) return false;
  return random() < probability;
}

function addRateLimitHeaders(headers: Headers, bucket: TokenBucket): void {
  headers.set("x-ratelimit-limit", String(bucket.maxTokens));
  headers.set("x-ratelimit-remaining", String(bucket.remaining()));
  headers.set("x-ratelimit-reset", String(bucket.resetSeconds()));
}
