// RetryPolicy of a route or virtual host (Envoy's envoy.config.route.v3.RetryPolicy): which failures are retried,
// how often, with which back-off and per-try timeout, and whether a retry avoids the endpoints already tried.

import { RETRY_ON_CONDITIONS, type RetryOn, type RetryPolicy } from "../types.ts";
import { describe } from "./context.ts";
import { Fields } from "./fields.ts";
import { readHeaderMatcher } from "./matchers.ts";

export const DEFAULT_RETRY_BASE_INTERVAL_MS = 25;
const PREVIOUS_HOSTS = "envoy.retry_host_predicates.previous_hosts";
const PREVIOUS_HOSTS_TYPE_URL =
  "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate";

const RETRY_POLICY_SPEC = {
  handled: [
    "retry_on",
    "num_retries",
    "per_try_timeout",
    "per_try_idle_timeout",
    "retry_host_predicate",
    "host_selection_retry_max_attempts",
    "retriable_status_codes",
    "retry_back_off",
    "retriable_headers",
    "retriable_request_headers",
    "retry_priority",
  ],
  unsupported: ["rate_limited_retry_back_off", "retry_options_predicates"],
} as const;
const PREVIOUS_PRIORITIES = "envoy.retry_priorities.previous_priorities";
const PREVIOUS_PRIORITIES_TYPE_URL =
  "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig";
const RETRY_PRIORITY_SPEC = { handled: ["name", "typed_config"] } as const;
const PREVIOUS_PRIORITIES_SPEC = { handled: ["@type", "update_frequency"] } as const;
const BACK_OFF_SPEC = { handled: ["base_interval", "max_interval"] } as const;
const HOST_PREDICATE_SPEC = { handled: ["name", "typed_config"] } as const;

/** A retry_policy at `fields.<name>`. */
export function readRetryPolicy(fields: Fields, name: string): RetryPolicy {
  const policy = fields.message(name, RETRY_POLICY_SPEC);
  const backOff = policy.message("retry_back_off", BACK_OFF_SPEC);
  let baseIntervalMs = DEFAULT_RETRY_BASE_INTERVAL_MS;
  if (policy.has("retry_back_off")) {
    if (!backOff.requireField("base_interval")) baseIntervalMs = DEFAULT_RETRY_BASE_INTERVAL_MS;
    else baseIntervalMs = backOff.durationMs("base_interval") ?? DEFAULT_RETRY_BASE_INTERVAL_MS;
    if (baseIntervalMs <= 0) backOff.report("base_interval", "must be greater than 0");
  }
  const maxIntervalMs = backOff.durationMs("max_interval") ?? 10 * baseIntervalMs;
  if (maxIntervalMs < baseIntervalMs)
    backOff.report("max_interval", `must be at least base_interval (${baseIntervalMs} ms)`);
  const out: RetryPolicy = {
    retryOn: readRetryOn(policy),
    numRetries: policy.integer("num_retries", 1),
    perTryTimeoutMs: policy.durationMs("per_try_timeout") ?? 0,
    perTryIdleTimeoutMs: policy.durationMs("per_try_idle_timeout") ?? 0,
    previousHostsPredicate: readHostPredicates(policy),
    hostSelectionRetryMaxAttempts: policy.integer("host_selection_retry_max_attempts", 1, 1),
    retriableStatusCodes: readStatusCodes(policy),
    backOff: { baseIntervalMs, maxIntervalMs },
    retriableHeaders: policy.list("retriable_headers").map((item) => readHeaderMatcher(policy.ctx, item)),
    retriableRequestHeaders: policy
      .list("retriable_request_headers")
      .map((item) => readHeaderMatcher(policy.ctx, item)),
  };
  if (policy.has("retry_priority")) {
    const previousPriorities = readRetryPriority(policy);
    if (previousPriorities !== undefined) out.previousPriorities = previousPriorities;
  }
  return out;
}

/** Only previous_priorities is implemented; any other plugin would change where retries go, so it is refused. */
function readRetryPriority(policy: Fields): { updateFrequency: number } | undefined {
  const priority = policy.message("retry_priority", RETRY_PRIORITY_SPEC);
  if (priority.broken) return undefined;
  const name = priority.string("name");
  const raw = priority.raw("typed_config");
  const typeUrl = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>)["@type"] : undefined;
  if (name !== PREVIOUS_PRIORITIES && typeUrl !== PREVIOUS_PRIORITIES_TYPE_URL) {
    priority.report(
      "name",
      `retry priority ${describe(name ?? typeUrl)} is not supported; supported: ${PREVIOUS_PRIORITIES}`,
    );
    return undefined;
  }
  if (!priority.has("typed_config")) {
    priority.report("typed_config", "required: a PreviousPrioritiesConfig with update_frequency");
    return undefined;
  }
  const config = priority.message("typed_config", PREVIOUS_PRIORITIES_SPEC);
  // update_frequency must be > 0 (Envoy's validation); it has no default.
  if (!config.requireField("update_frequency")) return undefined;
  return { updateFrequency: config.integer("update_frequency", 1, 1) };
}

/** "5xx,connect-failure" → the conditions; an unknown one is an error naming the supported ones. */
function readRetryOn(policy: Fields): RetryOn[] {
  const raw = policy.string("retry_on") ?? "";
  const out: RetryOn[] = [];
  for (const part of raw.split(",")) {
    const condition = part.trim();
    if (condition === "") continue;
    if ((RETRY_ON_CONDITIONS as readonly string[]).includes(condition)) {
      if (!out.includes(condition as RetryOn)) out.push(condition as RetryOn);
    } else {
      policy.report(
        "retry_on",
        `unknown retry condition ${describe(condition)}; supported: ${RETRY_ON_CONDITIONS.join(", ")}`,
      );
    }
  }
  return out;
}

function readStatusCodes(policy: Fields): number[] {
  const out: number[] = [];
  for (const item of policy.list("retriable_status_codes")) {
    const v = item.value;
    if (typeof v === "number" && Number.isInteger(v) && v >= 100 && v <= 599) out.push(v);
    else policy.ctx.report(item.path, `expected an HTTP status code 100-599, got ${describe(v)}`);
  }
  return out;
}

/** Only previous_hosts is implemented; any other predicate would change behaviour if ignored, so it is refused. */
function readHostPredicates(policy: Fields): boolean {
  let previousHosts = false;
  for (const item of policy.list("retry_host_predicate")) {
    const predicate = Fields.open(policy.ctx, item.value, item.path, HOST_PREDICATE_SPEC);
    const name = predicate.string("name");
    const raw = predicate.raw("typed_config");
    const typeUrl = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>)["@type"] : undefined;
    if (name === PREVIOUS_HOSTS || typeUrl === PREVIOUS_HOSTS_TYPE_URL) previousHosts = true;
    else
      policy.ctx.report(
        item.path,
        `retry host predicate ${describe(name ?? typeUrl)} is not supported; supported: ${PREVIOUS_HOSTS}`,
      );
  }
  return previousHosts;
}
