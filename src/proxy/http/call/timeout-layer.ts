// The route's clocks over the whole call, every attempt and back-off included: the route timeout (tightened by a
// gRPC caller's grpc-timeout), and max_stream_duration. A request with neither (or an upgrade, which becomes a
// tunnel) passes straight through with no object and no timer.

import type { Timer } from "../../../api/clock.ts";
import type { Headers } from "../headers.ts";
import { isGrpcRequest } from "../local-reply.ts";
import { formatGrpcTimeoutMs, parseGrpcTimeoutMs } from "../grpc-timeout.ts";
import { CAUSES } from "../rescue.ts";
import type { RouteCall } from "./route-call.ts";
import { Abandon, type CallControl, type CallHandler, type Dispatcher } from "./layer.ts";
import { PassThroughCall } from "./pass-through.ts";

export class TimeoutLayer implements Dispatcher {
  constructor(private readonly next: Dispatcher) {}

  dispatch(call: RouteCall, up: CallHandler): CallControl {
    const ex = call.ex;
    if (ex.upgrade !== undefined) return this.next.dispatch(call, up);
    let grpcDeadline = false;
    let timeout = call.route.timeoutMs;
    // grpc-timeout is rare outside gRPC; one header lookup decides.
    const header = ex.headers.get("grpc-timeout");
    if (header !== undefined && isGrpcRequest(ex.headers)) {
      const deadline = grpcDeadlineMs(call, header, timeout);
      if (deadline !== undefined) {
        grpcDeadline = deadline.fromCaller;
        timeout = deadline.ms;
      }
    }
    const maxDuration = call.route.maxStreamDuration.maxStreamDurationMs;
    if (timeout <= 0 && maxDuration <= 0) return this.next.dispatch(call, up);
    const timed = new TimedCall(call, up, grpcDeadline);
    timed.arm(timeout, maxDuration);
    const below = this.next.dispatch(call, timed);
    if (!timed.over) timed.below = below;
    return timed;
  }
}

/**
 * The route timeout for a gRPC caller's grpc-timeout (capped by grpc_timeout_header_max, less
 * grpc_timeout_header_offset); a tighter deadline than the caller's is passed upstream in grpc-timeout.
 * `fromCaller`: the caller's deadline decides, and its expiry is grpc_timeout_exceeded.
 */
function grpcDeadlineMs(
  call: RouteCall,
  header: string,
  routeTimeout: number,
): { ms: number; fromCaller: boolean } | undefined {
  const asked = parseGrpcTimeoutMs(header);
  if (asked === undefined) return undefined;
  const headers: Headers = call.ex.headers;
  const { grpcTimeoutHeaderMaxMs: cap, grpcTimeoutHeaderOffsetMs: offset } = call.route.maxStreamDuration;
  let deadline = cap > 0 && asked > cap ? cap : asked;
  if (offset > 0 && deadline > offset) deadline -= offset;
  if (routeTimeout > 0 && routeTimeout < deadline) {
    headers.set("grpc-timeout", formatGrpcTimeoutMs(routeTimeout));
    return { ms: routeTimeout, fromCaller: false };
  }
  if (deadline < asked) headers.set("grpc-timeout", formatGrpcTimeoutMs(deadline));
  return { ms: deadline, fromCaller: true };
}

class TimedCall extends PassThroughCall {
  private timer: Timer | undefined;
  private durationTimer: Timer | undefined;

  constructor(
    private readonly call: RouteCall,
    up: CallHandler,
    private readonly grpcDeadline: boolean,
  ) {
    super(up);
  }

  arm(timeoutMs: number, maxDurationMs: number): void {
    const clock = this.call.env.clock;
    if (timeoutMs > 0) this.timer = clock.setTimer(timeoutMs, this.onTimeout);
    if (maxDurationMs > 0) {
      const left = maxDurationMs - (clock.now() - this.call.ex.info.startMs);
      this.durationTimer = clock.setTimer(Math.max(0, left), this.onMaxDuration);
    }
  }

  protected override finished(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.durationTimer?.cancel();
    this.durationTimer = undefined;
  }

  private readonly onTimeout = (): void => {
    this.timer = undefined;
    if (this.over) return;
    const call = this.call;
    call.cluster.stats.upstreamRqTimeout.inc();
    const cause = this.grpcDeadline ? CAUSES.grpcDeadline : CAUSES.routeTimeout;
    this.giveUp(Abandon.Timeout, { cause, subject: call.route.name });
  };

  private readonly onMaxDuration = (): void => {
    this.durationTimer = undefined;
    if (this.over) return;
    const call = this.call;
    call.cluster.stats.upstreamRqMaxDurationReached.inc();
    this.giveUp(Abandon.Cancel, { cause: CAUSES.maxStreamDuration, subject: call.route.name });
  };
}
