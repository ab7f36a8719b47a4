// Shared builders for the balancer tests.

import type { Cluster, HealthStatus, LbPolicy } from "../../../api/xds/types.ts";
import { defaultCircuitBreakers } from "../../../api/xds/parse/circuit-breakers.ts";
import { Endpoint } from "../endpoint.ts";

export function testCluster(lbPolicy: LbPolicy, overrides: Partial<Cluster> = {}): Cluster {
  return {
    name: "test",
    type: "STATIC",
    connectTimeoutMs: 5000,
    lbPolicy,
    leastRequestChoiceCount: 2,
    ringHash: { minimumRingSize: 1024, maximumRingSize: 8 * 1024 * 1024 },
    maglevTableSize: 65537,
    http2: false,
    upstreamIdleTimeoutMs: 3_600_000,
    maxRequestsPerConnection: 0,
    dnsRefreshRateMs: 5000,
    dnsLookupFamily: "AUTO",
    loadAssignment: undefined,
    healthChecks: [],
    outlierDetection: undefined,
    healthyPanicThreshold: 50,
    circuitBreakers: defaultCircuitBreakers(),
    extensions: {},
    ...overrides,
  };
}

export interface EndpointSpec {
  weight?: number;
  priority?: number;
  health?: HealthStatus;
}

/** Endpoints 10.0.0.1:80, 10.0.0.2:80, … with the given attributes. */
export function endpoints(...specs: EndpointSpec[]): Endpoint[] {
  return specs.map(
    (s, i) => new Endpoint(`10.0.0.${i + 1}`, 80, s.weight ?? 1, s.health ?? "HEALTHY", s.priority ?? 0),
  );
}

/** n healthy endpoints of weight 1 at priority 0. */
export function healthyEndpoints(n: number): Endpoint[] {
  return endpoints(...Array.from({ length: n }, () => ({})));
}

/** How often each endpoint was picked, by key. */
export function tally(picks: Iterable<Endpoint | undefined>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of picks) {
    const key = e?.key ?? "undefined";
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}
