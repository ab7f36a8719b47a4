// What the router tells a cluster's outlier detector about each upstream attempt. The detector (outlier_detection)
// implements it; a cluster without outlier detection has none and the router skips the calls.

import type { Endpoint } from "./endpoint.ts";

/**
 * Failures that originate in the proxy rather than in the upstream's answer (Envoy's local-origin results): no
 * connection could be made, the attempt timed out, the connection was reset before a response.
 */
export type LocalOriginFailure = "connect_failed" | "timeout" | "reset";

export interface OutlierReporter {
  /** The endpoint answered with `status` (an external-origin result; 5xx and 502/503/504 count as failures). */
  onResponse(endpoint: Endpoint, status: number): void;
  /** A locally originated failure of an attempt to this endpoint. */
  onLocalOriginFailure(endpoint: Endpoint, kind: LocalOriginFailure): void;
}
