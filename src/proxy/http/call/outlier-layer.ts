// Outlier reporting: each attempt's result, told to the cluster's outlier detector when the cluster has one — the
// upstream's status (an external-origin result), or a local-origin failure: no connection, a reset before the
// response, a timeout. A cluster without outlier detection passes the attempt straight through.

import type { Headers } from "../headers.ts";
import type { Endpoint } from "../../upstream/endpoint.ts";
import type { LocalOriginFailure, OutlierReporter } from "../../upstream/outlier-reporter.ts";
import { AttemptFailure } from "../../router/retry-policy.ts";
import type { RouteCall } from "./route-call.ts";
import { Abandon, type CallControl, type CallFailure, type CallHandler, type Dispatcher } from "./layer.ts";
import { PassThroughCall } from "./pass-through.ts";

export class OutlierLayer implements Dispatcher {
  constructor(private readonly next: Dispatcher) {}

  dispatch(call: RouteCall, up: CallHandler): CallControl {
    const outlier = call.cluster.outlier;
    if (outlier === undefined) return this.next.dispatch(call, up);
    const reporting = new ReportingAttempt(outlier, call.endpoint, up);
    const below = this.next.dispatch(call, reporting);
    if (!reporting.over) reporting.below = below;
    return reporting;
  }
}

const LOCAL_ORIGIN: Record<AttemptFailure, LocalOriginFailure> = {
  [AttemptFailure.ConnectFailure]: "connect_failed",
  [AttemptFailure.RefusedStream]: "reset",
  [AttemptFailure.Reset]: "reset",
  [AttemptFailure.PerTryTimeout]: "timeout",
};

class ReportingAttempt extends PassThroughCall {
  constructor(
    private readonly outlier: OutlierReporter,
    private readonly endpoint: Endpoint,
    up: CallHandler,
  ) {
    super(up);
  }

  override onHead(status: number, headers: Headers): void {
    if (!this.over) this.outlier.onResponse(this.endpoint, status);
    super.onHead(status, headers);
  }
  override onFailure(failure: CallFailure): void {
    // A failure with no attempt kind (overflow, a request the proxy could not encode) is not the endpoint's doing.
    if (!this.over && failure.attempt !== undefined)
      this.outlier.onLocalOriginFailure(this.endpoint, LOCAL_ORIGIN[failure.attempt]);
    super.onFailure(failure);
  }
  override abandon(why: Abandon): void {
    if (!this.over && why === Abandon.Timeout) this.outlier.onLocalOriginFailure(this.endpoint, "timeout");
    super.abandon(why);
  }
}
