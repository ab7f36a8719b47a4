// The contract every load-balancing policy implements. A balancer is built for one endpoint list and replaced
// whole when membership or health changes, so pick() never has to handle concurrent modification.

import type { Endpoint } from "./endpoint.ts";

export interface PickContext {
  /** A 64-bit-ish hash of the request (from the route's hash_policy), or undefined when none applies. */
  hash: number | undefined;
  /**
   * A retry's priorities to leave out (retry_priority previous_priorities): the levels' load is recomputed
   * without them, unless nothing would remain. Absent on first attempts.
   */
  excludedPriorities?: ReadonlySet<number>;
  /**
   * The request's :authority (after rewrites): a dynamic forward proxy cluster picks the host it names. Other
   * clusters ignore it.
   */
  authority?: string;
  /**
   * The downstream connection's addresses: an ORIGINAL_DST cluster connects to its local address when a listener
   * filter restored it (`restoredFrom`: the address the connection actually reached). Other clusters ignore it.
   */
  downstream?: { localAddress: string; localPort: number; restoredFrom?: { address: string; port: number } };
  /** The request's headers: an ORIGINAL_DST cluster with use_http_header reads its host from one. */
  headers?: { get(name: string): string | undefined };
}

export interface LoadBalancer {
  /** An endpoint for this request, or undefined when none is healthy (the caller answers 503 UH). */
  pick(ctx: PickContext): Endpoint | undefined;
}
