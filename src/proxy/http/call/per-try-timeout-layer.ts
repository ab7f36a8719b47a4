// The retry policy's per_try_timeout: each attempt must get its response head within it, else the attempt is given
// up (a timeout of its endpoint) and reported as a per-try timeout, which the retry layer above may retry. Once the
// head is relayed the per-try timeout no longer applies (Envoy ignores it after the downstream response started;
// the route timeout still runs).

import type { Timer } from "../../../api/clock.ts";
import type { Headers } from "../headers.ts";
import { CAUSES } from "../rescue.ts";
import { AttemptFailure } from "../../router/retry-policy.ts";
import type { RouteCall } from "./route-call.ts";
import { Abandon, type CallControl, type CallHandler, type Dispatcher } from "./layer.ts";
import { PassThroughCall } from "./pass-through.ts";

export class PerTryTimeoutLayer implements Dispatcher {
  constructor(
    private readonly timeoutMs: number,
    private readonly next: Dispatcher,
  ) {}

  dispatch(call: RouteCall, up: CallHandler): CallControl {
    if (call.ex.upgrade !== undefined) return this.next.dispatch(call, up);
    const timed = new TimedAttempt(call, up);
    timed.timer = call.env.clock.setTimer(this.timeoutMs, timed.onTimeout);
    const below = this.next.dispatch(call, timed);
    if (!timed.over) timed.below = below;
    return timed;
  }
}

class TimedAttempt extends PassThroughCall {
  timer: Timer | undefined;

  constructor(
    private readonly call: RouteCall,
    up: CallHandler,
  ) {
    super(up);
  }

  protected override finished(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  override onHead(status: number, headers: Headers): void {
    if (this.over) return;
    this.finished();
    this.up.onHead(status, headers);
  }

  readonly onTimeout = (): void => {
    this.timer = undefined;
    if (this.over) return;
    const call = this.call;
    call.cluster.stats.upstreamRqPerTryTimeout.inc();
    this.giveUp(Abandon.Timeout, {
      cause: CAUSES.perTryTimeout,
      subject: call.route.name,
      attempt: AttemptFailure.PerTryTimeout,
    });
  };
}
