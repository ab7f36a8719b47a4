// Istio's HTTPFaultInjection → Envoy's HTTPFault, placed in a route's typed_per_filter_config under
// envoy.filters.http.fault (the listener carries the filter with an empty config). An absent percentage means
// every request, as in Istio.

import { GrpcStatus } from "../../api/grpc-status.ts";
import type { HTTPFaultInjection } from "../../api/resources/types.ts";
import type { Json } from "./envoy.ts";
import { duration, FAULT_TYPE, fractionalPercent } from "./envoy.ts";
import type { Problems } from "./problems.ts";

/** gRPC status names (Istio writes them as strings) → codes. */
const GRPC_CODES: Readonly<Record<string, number>> = GrpcStatus;

export function faultFilterConfig(fault: HTTPFaultInjection, where: string, problems: Problems): Json | undefined {
  const out: Json = { "@type": FAULT_TYPE };
  if (fault.delay !== undefined) {
    if (fault.delay.fixedDelay > 0) {
      out.delay = {
        fixed_delay: duration(fault.delay.fixedDelay),
        percentage: fractionalPercent(fault.delay.percentage?.value ?? 100),
      };
    } else problems.add(`${where}: fault.delay.fixedDelay must be above 0; the delay is left out`);
  }
  const abort = fault.abort;
  if (abort !== undefined) {
    const percentage = fractionalPercent(abort.percentage?.value ?? 100);
    if (abort.httpStatus !== undefined) {
      if (abort.httpStatus >= 200 && abort.httpStatus <= 599) out.abort = { http_status: abort.httpStatus, percentage };
      else problems.add(`${where}: fault.abort.httpStatus ${abort.httpStatus} is not 200-599; the abort is left out`);
    } else if (abort.grpcStatus !== undefined) {
      const code = GRPC_CODES[abort.grpcStatus.toUpperCase()] ?? Number(abort.grpcStatus);
      if (Number.isInteger(code) && code >= 0 && code <= 16) out.abort = { grpc_status: code, percentage };
      else problems.add(`${where}: fault.abort.grpcStatus "${abort.grpcStatus}" is unknown; the abort is left out`);
    } else {
      problems.add(`${where}: fault.abort needs httpStatus or grpcStatus; the abort is left out`);
    }
  }
  return out.delay === undefined && out.abort === undefined ? undefined : out;
}
