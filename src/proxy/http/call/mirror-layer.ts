// request_mirror_policies: shadow copies sent before the first attempt, each decided by its runtime fraction. They
// never wait for the primary nor hold it back (mirror.ts); the layer keeps no state of its own per request.
// Upgrades and CONNECT are not mirrored.

import { EMPTY_BODY } from "../replayable-body.ts";
import { sendMirror } from "../mirror.ts";
import type { RouteCall } from "./route-call.ts";
import type { CallControl, CallHandler, Dispatcher } from "./layer.ts";

export class MirrorLayer implements Dispatcher {
  constructor(private readonly next: Dispatcher) {}

  dispatch(call: RouteCall, up: CallHandler): CallControl {
    const { ex, env, route } = call;
    // An upgrade or CONNECT is not mirrored: a shadow copy could only become a tunnel nobody reads.
    if (ex.upgrade !== undefined) return this.next.dispatch(call, up);
    for (const policy of route.mirrorPolicies) {
      if (policy.fraction < 1 && env.random() >= policy.fraction) continue;
      const cluster = env.clusters.get(policy.cluster);
      if (cluster === undefined) continue;
      const body = call.body === undefined ? EMPTY_BODY : call.body.reader(false);
      sendMirror(ex, policy, cluster, body, route.timeoutMs, env.clock);
    }
    return this.next.dispatch(call, up);
  }
}
