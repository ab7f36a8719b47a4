// envoy.filters.http.local_ratelimit: a token bucket in front of the router. The listener-level configuration has
// one bucket; a route's or virtual host's typed_per_filter_config entry has its own (one per entry, shared by every
// connection, as in Envoy), used instead of the listener's on that route; FilterConfig.disabled turns it off there.

import { registerFilter, type FilterContext } from "../../http/filters.ts";
import { FILTER_DISABLED } from "../../router/compiled-route.ts";
import {
  LOCAL_RATELIMIT_TYPE_URL,
  parseLocalRateLimit,
  parseLocalRateLimitPerRoute,
  type LocalRateLimitConfig,
} from "./config.ts";
import { HttpLocalRateLimiter } from "./limiter.ts";

registerFilter<LocalRateLimitConfig>({
  typeUrl: LOCAL_RATELIMIT_TYPE_URL,
  parse: parseLocalRateLimit,
  parsePerRoute: parseLocalRateLimitPerRoute,
  create(config: LocalRateLimitConfig, context: FilterContext) {
    const env = { clock: context.clock, random: context.random, store: context.store };
    const listenerLevel = new HttpLocalRateLimiter(config, env);
    // A route's override gets its limiter (and bucket) on its first request; the compiled override object is the
    // key, so every request on that route (or on the routes of that virtual host) shares it.
    const overrides = new WeakMap<LocalRateLimitConfig, HttpLocalRateLimiter>();
    const limiterOf = (own: LocalRateLimitConfig): HttpLocalRateLimiter => {
      let limiter = overrides.get(own);
      if (limiter === undefined) {
        limiter = new HttpLocalRateLimiter(own, env);
        overrides.set(own, limiter);
      }
      return limiter;
    };
    const name = context.filterName;
    return (next) => (ex) => {
      const route = context.routeOf(ex);
      const own = route.kind === "miss" ? undefined : route.perFilterConfig(name);
      if (own === undefined) return listenerLevel.handle(ex, next);
      if (own === FILTER_DISABLED) return next(ex);
      limiterOf(own as LocalRateLimitConfig).handle(ex, next);
    };
  },
});
