// One upstream address of a cluster as the load balancers see it. Mutable counters (active requests) are updated
// by the data path; membership changes replace the cluster's endpoint list and its balancer whole.

import type { EndpointHealthCheckConfig, HealthStatus, Locality } from "../../api/xds/types.ts";

/**
 * Why an endpoint is out of the load balancer, as bits (Envoy's Host::HealthFlag): each source of health sets and
 * clears only its own bit, so an endpoint comes back only when every source agrees.
 */
export const HealthFlag = {
  /** Active health checking failed it (health_checks). */
  FAILED_ACTIVE_HC: 1,
  /** Outlier detection ejected it. */
  FAILED_OUTLIER_CHECK: 2,
  /** The control plane (EDS health_status) says it is unhealthy, draining or timed out. */
  FAILED_EDS_HEALTH: 4,
  /** Not yet checked by the first active health check round (Envoy starts hosts this way when health checks exist). */
  PENDING_ACTIVE_HC: 8,
} as const;
export type HealthFlagBit = (typeof HealthFlag)[keyof typeof HealthFlag];

const FLAG_NAMES: [number, string][] = [
  [HealthFlag.FAILED_ACTIVE_HC, "/failed_active_hc"],
  [HealthFlag.FAILED_OUTLIER_CHECK, "/failed_outlier_check"],
  [HealthFlag.FAILED_EDS_HEALTH, "/failed_eds_health"],
  [HealthFlag.PENDING_ACTIVE_HC, "/pending_active_hc"],
];

export class Endpoint {
  /** "address:port", also the key of its connection pool. */
  readonly key: string;
  /** Requests in flight to this endpoint (LEAST_REQUEST reads it). */
  activeRequests = 0;
  /** Open (or opening) upstream connections to this endpoint: per_host_thresholds max_connections reads it. */
  connections = 0;
  /** Per-host counters as Envoy's /clusters shows them (rq_total, rq_success, rq_error, rq_timeout); plain
   * numbers on the object, so counting costs an add. Outlier detection reads them too. */
  rqTotal = 0;
  rqSuccess = 0;
  rqError = 0;
  rqTimeout = 0;
  /** HealthFlag bits; 0 = healthy. Changed through ClusterMembership.setHealthFlag, which rebuilds the balancer. */
  healthFlags: number;
  /**
   * Where this endpoint's slow start began, on the cluster clock's monotonic scale (Envoy's last_hc_pass_time):
   * set by a slow-start balancer when it first sees the endpoint healthy, cleared when active health checking
   * passes it again. Undefined in clusters without slow start (see lb/slow-start.ts).
   */
  slowStartFrom: number | undefined = undefined;

  constructor(
    readonly address: string,
    readonly port: number,
    readonly weight: number,
    readonly healthStatus: HealthStatus = "UNKNOWN",
    readonly priority = 0,
    readonly locality: Locality | undefined = undefined,
    readonly hostname: string | undefined = undefined,
    /**
     * load_balancing_weight of the endpoint's LocalityLbEndpoints group; read only with locality-weighted
     * balancing (lb/locality-weighted.ts), where undefined means the locality takes no traffic.
     */
    readonly localityWeight: number | undefined = undefined,
    /** health_check_config: the port and name active health checks use for this endpoint. */
    readonly healthCheck: EndpointHealthCheckConfig | undefined = undefined,
  ) {
    this.key = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
    const edsUnhealthy = healthStatus === "UNHEALTHY" || healthStatus === "DRAINING" || healthStatus === "TIMEOUT";
    this.healthFlags = edsUnhealthy ? HealthFlag.FAILED_EDS_HEALTH : 0;
  }

  /** In the load balancer's healthy set: no source of health has failed it. */
  get healthy(): boolean {
    return this.healthFlags === 0;
  }

  /** Envoy's health_flags text for /clusters: "healthy" or e.g. "/failed_active_hc/failed_outlier_check". */
  get healthFlagsText(): string {
    if (this.healthFlags === 0) return "healthy";
    let text = "";
    for (const [bit, name] of FLAG_NAMES) if ((this.healthFlags & bit) !== 0) text += name;
    return text;
  }
}
