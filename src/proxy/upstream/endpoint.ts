// One upstream address of a cluster as the load balancers see it. Mutable counters (active requests) are updated
// by the data path; membership changes replace the cluster's endpoint list and its balancer whole.

import type { HealthStatus, Locality } from "../../api/xds/types.ts";

export class Endpoint {
  /** "address:port", also the key of its connection pool. */
  readonly key: string;
  /** Requests in flight to this endpoint (LEAST_REQUEST reads it). */
  activeRequests = 0;
  /** Per-host counters as Envoy's /clusters shows them (rq_total, rq_success, rq_error, rq_timeout); plain
   * numbers on the object, so counting costs an add. Outlier detection will read them too. */
  rqTotal = 0;
  rqSuccess = 0;
  rqError = 0;
  rqTimeout = 0;
  /** Set by health checks / outlier detection (a later stage); the balancers skip unhealthy endpoints. */
  healthy: boolean;

  constructor(
    readonly address: string,
    readonly port: number,
    readonly weight: number,
    readonly healthStatus: HealthStatus = "UNKNOWN",
    readonly priority = 0,
    readonly locality: Locality | undefined = undefined,
    readonly hostname: string | undefined = undefined,
  ) {
    this.key = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
    this.healthy = healthStatus !== "UNHEALTHY" && healthStatus !== "DRAINING" && healthStatus !== "TIMEOUT";
  }
}
