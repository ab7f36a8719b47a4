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
  /**
   * Active health checking calls this after each passing check of `endpoint`
   * (`cluster.outlier?.onActiveHealthCheckPassed?.(endpoint)`): with successful_active_health_check_uneject_host
   * (default true) an endpoint that outlier detection ejected, and that active checks do not fail, comes back at
   * once. Optional so that test doubles of this interface need not implement it.
   */
  onActiveHealthCheckPassed?(endpoint: Endpoint): void;
}
