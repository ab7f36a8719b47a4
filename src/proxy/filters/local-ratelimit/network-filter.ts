// envoy.filters.network.local_ratelimit at run time: one token per accepted connection from the filter's bucket;
// with none left the connection is refused (the listener closes it before the terminal filter sees it) and
// local_rate_limit.<stat_prefix>.rate_limited counts it.

import type { Clock } from "../../../api/clock.ts";
import type { NetworkLocalRateLimit } from "../../../api/xds/types.ts";
import type { Counter, StatsStore } from "../../../telemetry/stats.ts";
import type { ConnectionFilter } from "../../listener/connection-filter.ts";
import { RATE_LIMITED_FLAG } from "./limiter.ts";
import { createNetworkLocalRateLimitStats } from "./stats.ts";
import { TokenBucket } from "./token-bucket.ts";

export class NetworkLocalRateLimitFilter implements ConnectionFilter {
  readonly refusalFlag = RATE_LIMITED_FLAG;
  private readonly bucket: TokenBucket;
  private readonly rateLimited: Counter;
  private readonly enabled: boolean;

  constructor(config: NetworkLocalRateLimit, clock: Clock, store: StatsStore) {
    this.bucket = new TokenBucket(config.tokenBucket, clock);
    this.rateLimited = createNetworkLocalRateLimitStats(store, config.statPrefix).rateLimited;
    this.enabled = config.enabled;
  }

  onNewConnection(): boolean {
    if (!this.enabled || this.bucket.tryConsume()) return true;
    this.rateLimited.inc();
    return false;
  }
}
