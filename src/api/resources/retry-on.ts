// retryOn as Istio writes it: a comma-separated list of Envoy's retry conditions (HTTP and gRPC) and bare status
// codes ("5xx,connect-failure,503"). A typo would silently retry nothing, so every item is checked.

import type { ResourceContext } from "./context.ts";
import { describe } from "../xds/parse/context.ts";

const CONDITIONS = [
  "5xx",
  "gateway-error",
  "reset",
  "reset-before-request",
  "connect-failure",
  "envoy-ratelimited",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "retriable-headers",
  "http3-post-connect-failure",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
];

export function checkRetryOn(ctx: ResourceContext, path: string, retryOn: string): void {
  for (const raw of retryOn.split(",")) {
    const item = raw.trim();
    if (CONDITIONS.includes(item)) continue;
    if (/^\d{3}$/.test(item) && Number(item) >= 100 && Number(item) <= 599) continue;
    ctx.error(path, `expected retry conditions (${CONDITIONS.join(", ")}) or status codes, got ${describe(item)}`);
  }
}
