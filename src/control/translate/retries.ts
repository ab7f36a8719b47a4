// Istio's HTTPRetry → Envoy's retry_policy. Without a retries field Istio still retries (its mesh default:
// 2 retries on connect-failure, refused-stream, unavailable, cancelled and 503, avoiding hosts already tried);
// attempts: 0 turns retries off. retryOn mixes Envoy conditions and status codes ("5xx,503").

import type { HTTPRetry } from "../../api/resources/types.ts";
import { RETRY_ON_CONDITIONS } from "../../api/xds/types.ts";
import type { Json } from "./envoy.ts";
import { duration, PREVIOUS_HOSTS_NAME, PREVIOUS_HOSTS_TYPE } from "./envoy.ts";
import type { Problems } from "./problems.ts";

export const DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";
export const DEFAULT_NUM_RETRIES = 2;
const HOST_SELECTION_RETRY_MAX_ATTEMPTS = 5;
const KNOWN: ReadonlySet<string> = new Set(RETRY_ON_CONDITIONS);

export function retryPolicy(retries: HTTPRetry | undefined, where: string, problems: Problems): Json | undefined {
  if (retries !== undefined && retries.attempts === 0) return undefined;
  const base = {
    retry_host_predicate: [{ name: PREVIOUS_HOSTS_NAME, typed_config: { "@type": PREVIOUS_HOSTS_TYPE } }],
    host_selection_retry_max_attempts: HOST_SELECTION_RETRY_MAX_ATTEMPTS,
  };
  if (retries === undefined || retries.retryOn === undefined || retries.retryOn.trim() === "") {
    const policy: Json = {
      retry_on: DEFAULT_RETRY_ON,
      num_retries: retries?.attempts ?? DEFAULT_NUM_RETRIES,
      ...base,
      retriable_status_codes: [503],
    };
    if (retries?.perTryTimeout !== undefined) policy.per_try_timeout = duration(retries.perTryTimeout);
    if (retries?.retryRemoteLocalities === true) policy.retry_priority = REMOTE_LOCALITIES;
    return policy;
  }
  const conditions: string[] = [];
  const codes: number[] = [];
  for (const part of retries.retryOn.split(",")) {
    const item = part.trim();
    if (item === "") continue;
    if (/^\d+$/.test(item)) {
      const code = Number(item);
      if (code >= 100 && code <= 599) {
        if (!codes.includes(code)) codes.push(code);
      } else problems.add(`${where}: retries.retryOn: ${item} is not an HTTP status; ignored`);
    } else if (KNOWN.has(item)) {
      if (!conditions.includes(item)) conditions.push(item);
    } else {
      problems.add(`${where}: retries.retryOn: condition "${item}" is not supported by the proxy; ignored`);
    }
  }
  if (codes.length > 0 && !conditions.includes("retriable-status-codes")) conditions.push("retriable-status-codes");
  const policy: Json = { retry_on: conditions.join(","), num_retries: retries.attempts, ...base };
  if (codes.length > 0) policy.retriable_status_codes = codes;
  if (retries.perTryTimeout !== undefined) policy.per_try_timeout = duration(retries.perTryTimeout);
  if (retries.retryRemoteLocalities === true) policy.retry_priority = REMOTE_LOCALITIES;
  return policy;
}

/**
 * retryRemoteLocalities: Istio's previous_priorities with update_frequency 2 — after two attempts, retries leave
 * out the priorities (with locality failover: the localities) already tried.
 */
const REMOTE_LOCALITIES: Json = {
  name: "envoy.retry_priorities.previous_priorities",
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
    update_frequency: 2,
  },
};
