// A route's upstream layers, outermost first: the route's timeouts, mirrors, retries, then per attempt outlier
// reporting, the per-try timeout and the endpoint. Composed once per route (kept on the compiled route), from its
// configuration alone: a layer the route does not configure is not there.

import type { CompiledRoute } from "../../router/types.ts";
import type { Dispatcher } from "./layer.ts";
import { ENDPOINT_LAYER } from "./endpoint-layer.ts";
import { CONNECT_TERMINATE_LAYER } from "./connect-terminate-layer.ts";
import { MirrorLayer } from "./mirror-layer.ts";
import { OutlierLayer } from "./outlier-layer.ts";
import { PerTryTimeoutLayer } from "./per-try-timeout-layer.ts";
import { RetryLayer } from "./retry-layer.ts";
import { TimeoutLayer } from "./timeout-layer.ts";

function composeStack(route: CompiledRoute): Dispatcher {
  const retry = route.retryPolicy;
  // connect_config: a CONNECT is answered here once a TCP connection to the endpoint is open.
  let attempt: Dispatcher = route.connectTerminate ? CONNECT_TERMINATE_LAYER : ENDPOINT_LAYER;
  if (retry !== undefined && retry.perTryTimeoutMs > 0)
    attempt = new PerTryTimeoutLayer(retry.perTryTimeoutMs, attempt);
  // Whether the cluster detects outliers is known per request (the route's cluster may be replaced by CDS): the
  // layer asks, and passes the attempt through when not.
  attempt = new OutlierLayer(attempt);
  let stack = retry === undefined ? attempt : new RetryLayer(retry, attempt);
  if (route.mirrorPolicies.length > 0) stack = new MirrorLayer(stack);
  // Every route: a caller's grpc-timeout applies even where the route sets no timeout.
  return new TimeoutLayer(stack);
}

/** The route's stack, composed on its first request. */
export function stackOf(route: CompiledRoute): Dispatcher {
  return (route.upstreamStack ??= composeStack(route)) as Dispatcher;
}
