// A route's retry_policy compiled once: which outcomes of an attempt are retried, and whether this request may be
// retried at all. Envoy's conditions, with one deliberate difference users of Istio have asked for:
//
// A request whose method is not idempotent (POST, PATCH, or any method RFC 9110 §9.2.2 does not call idempotent)
// is retried after it may have reached the upstream only when the policy opts in — its retriable_request_headers
// name `:method` and the method passes, or the request is gRPC and retry_on names gRPC status conditions (gRPC
// policies are per method by design). Connect failures and refused streams, where the upstream provably never saw
// the request, are retried for every method. Envoy retries a POST on a 503 whenever retry_on says 5xx.

import type { RetryOn, RetryPolicy } from "../../api/xds/types.ts";
import type { Headers } from "../http/headers.ts";
import type { RouteRequest } from "./request.ts";
import { CompiledHeaderMatcher } from "./route-match.ts";

/** Why an attempt failed without a response head. */
export const enum AttemptFailure {
  /** No connection could be made (the upstream never saw the request). */
  ConnectFailure,
  /** HTTP/2 REFUSED_STREAM (the upstream guarantees it did not process the request). */
  RefusedStream,
  /** The connection or stream was reset after the request was sent. */
  Reset,
  /** per_try_timeout expired. */
  PerTryTimeout,
}

const Bit: Record<RetryOn, number> = {
  "5xx": 1 << 0,
  "gateway-error": 1 << 1,
  reset: 1 << 2,
  "reset-before-request": 1 << 3,
  "connect-failure": 1 << 4,
  "retriable-4xx": 1 << 5,
  "refused-stream": 1 << 6,
  "retriable-status-codes": 1 << 7,
  "retriable-headers": 1 << 8,
  cancelled: 1 << 9,
  "deadline-exceeded": 1 << 10,
  internal: 1 << 11,
  "resource-exhausted": 1 << 12,
  unavailable: 1 << 13,
  "envoy-ratelimited": 1 << 14,
};
const GRPC_BITS = Bit.cancelled | Bit["deadline-exceeded"] | Bit.internal | Bit["resource-exhausted"] | Bit.unavailable;
const GRPC_CODE_BIT: Record<string, number> = {
  "1": Bit.cancelled,
  "4": Bit["deadline-exceeded"],
  "13": Bit.internal,
  "8": Bit["resource-exhausted"],
  "14": Bit.unavailable,
};
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** Matches retriable_headers against a response's headers through the request-shaped matcher interface. */
class ResponseView implements RouteRequest {
  method = "";
  path = "";
  authority = "";
  scheme = "";
  constructor(public headers: Headers) {}
}

export class CompiledRetryPolicy {
  readonly numRetries: number;
  readonly perTryTimeoutMs: number;
  readonly previousHosts: boolean;
  readonly hostSelectionRetryMaxAttempts: number;
  /** previous_priorities' update_frequency; 0 when the policy has no retry priority. */
  readonly previousPrioritiesFrequency: number;
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  private readonly on: number;
  private readonly statusCodes: ReadonlySet<number>;
  private readonly responseMatchers: readonly CompiledHeaderMatcher[];
  private readonly requestMatchers: readonly CompiledHeaderMatcher[];
  /** retriable_request_headers name :method: the policy decides which methods are retried. */
  private readonly methodOptIn: boolean;

  constructor(policy: RetryPolicy) {
    this.numRetries = policy.numRetries;
    this.perTryTimeoutMs = policy.perTryTimeoutMs;
    this.previousHosts = policy.previousHostsPredicate;
    this.hostSelectionRetryMaxAttempts = policy.hostSelectionRetryMaxAttempts;
    this.previousPrioritiesFrequency = policy.previousPriorities?.updateFrequency ?? 0;
    this.baseIntervalMs = policy.backOff.baseIntervalMs;
    this.maxIntervalMs = policy.backOff.maxIntervalMs;
    this.on = policy.retryOn.reduce((bits, c) => bits | Bit[c], 0);
    this.statusCodes = new Set(policy.retriableStatusCodes);
    this.responseMatchers = policy.retriableHeaders.map((h) => new CompiledHeaderMatcher(h));
    this.requestMatchers = policy.retriableRequestHeaders.map((h) => new CompiledHeaderMatcher(h));
    this.methodOptIn = policy.retriableRequestHeaders.some((h) => h.name === ":method");
  }

  /**
   * Whether this request may be retried at all: retriable_request_headers (if any) match, and it is safe to
   * repeat once the upstream may have seen it (see the file comment). Returns 0 (never), 1 (only failures the
   * upstream never saw), 2 (any retriable outcome).
   */
  eligibility(req: RouteRequest, grpc: boolean): 0 | 1 | 2 {
    const ms = this.requestMatchers;
    if (ms.length > 0) {
      let any = false;
      for (let i = 0; i < ms.length && !any; i++) any = ms[i]!.matches(req);
      if (!any) return 0;
    }
    if (IDEMPOTENT.has(req.method) || this.methodOptIn) return 2;
    if (grpc && (this.on & GRPC_BITS) !== 0) return 2;
    return 1;
  }

  /** Whether a response head is a retriable outcome. */
  retriableResponse(status: number, headers: Headers, grpc: boolean): boolean {
    const on = this.on;
    if (status >= 500 && (on & Bit["5xx"]) !== 0) return true;
    if ((status === 502 || status === 503 || status === 504) && (on & Bit["gateway-error"]) !== 0) return true;
    if (status === 409 && (on & Bit["retriable-4xx"]) !== 0) return true;
    if ((on & Bit["retriable-status-codes"]) !== 0 && this.statusCodes.has(status)) return true;
    if (grpc && (on & GRPC_BITS) !== 0) {
      // Only a trailers-only answer carries grpc-status in its head; a streamed one has started and cannot be retried.
      const code = headers.get("grpc-status");
      if (code !== undefined && ((GRPC_CODE_BIT[code] ?? 0) & on) !== 0) return true;
    }
    // An upstream Envoy's global rate limit filter says so in this header; another host may have room.
    if ((on & Bit["envoy-ratelimited"]) !== 0 && headers.get("x-envoy-ratelimited") !== undefined) return true;
    if ((on & Bit["retriable-headers"]) !== 0 && this.responseMatchers.length > 0) {
      const view = new ResponseView(headers);
      for (const m of this.responseMatchers) if (m.matches(view)) return true;
    }
    return false;
  }

  /** Whether a failure without a response is retriable, and whether the upstream may have seen the request. */
  retriableFailure(failure: AttemptFailure): boolean {
    const on = this.on;
    const broad = Bit["5xx"] | Bit["gateway-error"] | Bit.reset;
    switch (failure) {
      case AttemptFailure.ConnectFailure:
        return (on & (broad | Bit["connect-failure"] | Bit["reset-before-request"])) !== 0;
      case AttemptFailure.RefusedStream:
        return (on & (broad | Bit["refused-stream"] | Bit["reset-before-request"])) !== 0;
      case AttemptFailure.Reset:
      case AttemptFailure.PerTryTimeout:
        return (on & broad) !== 0;
    }
  }

  /** Fully jittered exponential back-off before retry number `retry` (1-based), as Envoy's. */
  backOffMs(retry: number, random: () => number): number {
    const ceiling = Math.min(this.baseIntervalMs * 2 ** Math.min(retry - 1, 30), this.maxIntervalMs);
    return Math.floor(random() * ceiling);
  }
}

/** Failures the upstream never saw: retried whatever the method. */
export function upstreamNeverSaw(failure: AttemptFailure): boolean {
  return failure === AttemptFailure.ConnectFailure || failure === AttemptFailure.RefusedStream;
}
