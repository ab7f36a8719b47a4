// The upstream side of one request as small layers (DESIGN.md §2: Route → Backend → Endpoint), composed once per
// route when it is first used, each adding exactly one concern around the next: the route's timeouts, mirroring,
// retries, outlier reporting, the per-try timeout, and at the bottom the endpoint (circuit breaker slot, stats and
// the connection pool). A layer a route does not configure is not in its stack, so it costs that route nothing.
//
// Callbacks, not promises (as Envoy's filter callbacks and undici's dispatch handlers): a layer's dispatch returns
// the control of the call below it and hands that layer a handler for the way back up. A layer that keeps state for
// a request makes one small object per request (or per attempt) that is both the handler of the layer below and the
// control the layer above holds. Failures travel up as a cause of the rescue table (rescue.ts) plus, where it
// matters to a retry, what kind of failure it was; only the top (route-call.ts) turns one into a reply.

import type { Duplex } from "node:stream";
import type { Headers } from "../headers.ts";
import type { Cause } from "../rescue.ts";
import type { AttemptFailure } from "../../router/retry-policy.ts";
import type { RouteCall } from "./route-call.ts";

/** A failure of the call below: why (a cause of the rescue table), about what, and how a retry would see it. */
export interface CallFailure {
  readonly cause: Cause;
  /** The resource named in the reply's details: the route, the cluster, "cluster/endpoint". */
  readonly subject: string;
  /** More words for the details (a parser's complaint). */
  readonly note?: string;
  /** The kind of attempt failure, for retry policies and outlier detection; undefined = never retried. */
  readonly attempt?: AttemptFailure;
}

/** The way back up: what the layer below reports. A call reports at most one of onEnd, onFailure, onUpgrade. */
export interface CallHandler {
  onHead(status: number, headers: Headers): void;
  /** false = the layer above is congested: pause until CallControl.resume(). */
  onData(chunk: Buffer): boolean;
  onEnd(trailers: Headers | undefined): void;
  onFailure(failure: CallFailure): void;
  onUpgrade(headers: Headers, socket: Duplex, head: Buffer): void;
}

/** Why a layer above gives a call up: the client left or the route's limit ran out (Cancel), or a timeout. */
export const enum Abandon {
  Cancel = 0,
  /** The route's timeout: the attempt in flight counts a timeout for its endpoint. */
  Timeout = 1,
}

/** The way down: what the layer above may do with the call it dispatched. */
export interface CallControl {
  /** Gives the call up; nothing more is reported for it. Idempotent. */
  abandon(why: Abandon): void;
  /** Resumes a response paused by onData returning false. */
  resume(): void;
}

/** One layer's entry point: starts the call (for `call`'s current endpoint) and reports to `up`. */
export interface Dispatcher {
  dispatch(call: RouteCall, up: CallHandler): CallControl;
}
