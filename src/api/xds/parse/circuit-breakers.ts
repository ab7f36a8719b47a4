// Cluster circuit_breakers: per-priority limits on connections, pending requests, requests and retries (or a retry
// budget), and per-host connection limits. Envoy's defaults apply to every priority without an entry, so the
// proxy always has both priorities' thresholds and never needs to know Envoy's numbers.

import type { CircuitBreakers, CircuitBreakerThresholds, RetryBudget, RoutingPriority } from "../types.ts";
import { describe, isPlainObject } from "./context.ts";
import { Fields, UINT32_MAX } from "./fields.ts";
import type { Item } from "./fields.ts";

export const DEFAULT_MAX_CONNECTIONS = 1024;
export const DEFAULT_MAX_PENDING_REQUESTS = 1024;
export const DEFAULT_MAX_REQUESTS = 1024;
export const DEFAULT_MAX_RETRIES = 3;
export const DEFAULT_BUDGET_PERCENT = 20;
export const DEFAULT_MIN_RETRY_CONCURRENCY = 3;
/** Envoy's default for max_connection_pools: the largest uint32, i.e. no limit. */
export const DEFAULT_MAX_CONNECTION_POOLS = UINT32_MAX;

const CIRCUIT_BREAKERS_SPEC = { handled: ["thresholds", "per_host_thresholds"] } as const;
const THRESHOLDS_SPEC = {
  handled: [
    "priority",
    "max_connections",
    "max_pending_requests",
    "max_requests",
    "max_retries",
    "retry_budget",
    "track_remaining",
    "max_connection_pools",
  ],
} as const;
/** Envoy honours only max_connections per host and ignores the rest of the message there; so does Trellis. */
const PER_HOST_SPEC = {
  handled: ["priority", "max_connections"],
  ignored: [
    "max_pending_requests",
    "max_requests",
    "max_retries",
    "retry_budget",
    "track_remaining",
    "max_connection_pools",
  ],
} as const;
const RETRY_BUDGET_SPEC = { handled: ["budget_percent", "min_retry_concurrency"] } as const;
const PERCENT_SPEC = { handled: ["value"] } as const;

const PRIORITIES: readonly RoutingPriority[] = ["DEFAULT", "HIGH"];

export function defaultThresholds(): CircuitBreakerThresholds {
  return {
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    maxPendingRequests: DEFAULT_MAX_PENDING_REQUESTS,
    maxRequests: DEFAULT_MAX_REQUESTS,
    maxRetries: DEFAULT_MAX_RETRIES,
    retryBudget: undefined,
    trackRemaining: false,
    maxConnectionPools: DEFAULT_MAX_CONNECTION_POOLS,
  };
}

export function defaultCircuitBreakers(): CircuitBreakers {
  return {
    default: defaultThresholds(),
    high: defaultThresholds(),
    perHostMaxConnections: { default: undefined, high: undefined },
  };
}

/** Reads `cluster.circuit_breakers` (absent → Envoy's defaults). */
export function readCircuitBreakers(cluster: Fields): CircuitBreakers {
  const out = defaultCircuitBreakers();
  if (!cluster.has("circuit_breakers")) return out;
  const breakers = cluster.message("circuit_breakers", CIRCUIT_BREAKERS_SPEC);
  const seen = new Map<RoutingPriority, string>();
  for (const item of breakers.list("thresholds")) {
    const t = Fields.open(breakers.ctx, item.value, item.path, THRESHOLDS_SPEC);
    const priority = readPriority(t, item, seen, "thresholds");
    const thresholds = readThresholds(t);
    if (priority !== undefined) out[priority === "DEFAULT" ? "default" : "high"] = thresholds;
  }
  const seenPerHost = new Map<RoutingPriority, string>();
  for (const item of breakers.list("per_host_thresholds")) {
    const t = Fields.open(breakers.ctx, item.value, item.path, PER_HOST_SPEC);
    const priority = readPriority(t, item, seenPerHost, "per_host_thresholds");
    // An entry without max_connections sets no limit, as in Envoy (its default there is the largest uint32).
    const max = t.optionalInteger("max_connections");
    if (priority !== undefined) out.perHostMaxConnections[priority === "DEFAULT" ? "default" : "high"] = max;
  }
  return out;
}

/** The entry's priority; a second entry for the same priority is refused (Envoy keeps one per priority). */
function readPriority(
  t: Fields,
  item: Item,
  seen: Map<RoutingPriority, string>,
  list: string,
): RoutingPriority | undefined {
  if (!isPlainObject(item.value)) return undefined;
  const priority = t.enumValue("priority", PRIORITIES, "DEFAULT");
  const earlier = seen.get(priority);
  if (earlier !== undefined) {
    t.ctx.report(item.path, `a second ${list} entry for priority ${priority} (the first is ${earlier})`);
    return undefined;
  }
  seen.set(priority, item.path);
  return priority;
}

function readThresholds(t: Fields): CircuitBreakerThresholds {
  return {
    maxConnections: t.integer("max_connections", DEFAULT_MAX_CONNECTIONS),
    maxPendingRequests: t.integer("max_pending_requests", DEFAULT_MAX_PENDING_REQUESTS),
    maxRequests: t.integer("max_requests", DEFAULT_MAX_REQUESTS),
    maxRetries: t.integer("max_retries", DEFAULT_MAX_RETRIES),
    // Present, even empty ({}), means "use a budget" (Envoy's rule); max_retries is then ignored.
    retryBudget: t.has("retry_budget") ? readRetryBudget(t) : undefined,
    trackRemaining: t.bool("track_remaining", false),
    maxConnectionPools: t.integer("max_connection_pools", DEFAULT_MAX_CONNECTION_POOLS),
  };
}

function readRetryBudget(t: Fields): RetryBudget {
  const budget = t.message("retry_budget", RETRY_BUDGET_SPEC);
  let budgetPercent = DEFAULT_BUDGET_PERCENT;
  if (budget.has("budget_percent")) {
    const percent = budget.message("budget_percent", PERCENT_SPEC);
    const value = percent.raw("value");
    if (typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= 100) budgetPercent = value;
    else if (!percent.broken) {
      // Percent is a message: {value: 25.0}. Its absent value is 0, as protobuf's default double.
      if (value === undefined) budgetPercent = 0;
      else percent.report("value", `expected a number 0-100, got ${describe(value)}`);
    }
  }
  return {
    budgetPercent,
    minRetryConcurrency: budget.integer("min_retry_concurrency", DEFAULT_MIN_RETRY_CONCURRENCY),
  };
}
