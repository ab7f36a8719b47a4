// The traffic policy that applies to one cluster (a service port, maybe a subset), merged as Istio merges it:
// the rule's policy, overridden by its portLevelSettings for the port, overridden by the subset's policy, overridden
// by the subset's own portLevelSettings. Each section (loadBalancer, connectionPool, outlierDetection, tls) is
// replaced whole by a more specific one, never merged field by field.

import type {
  ConnectionPoolSettings,
  DestinationRule,
  LoadBalancerSettings,
  OutlierDetection,
  TrafficPolicy,
} from "../../api/resources/types.ts";

export interface EffectivePolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
}

function layer(into: EffectivePolicy, from: EffectivePolicy | undefined): void {
  if (from === undefined) return;
  if (from.loadBalancer !== undefined) into.loadBalancer = from.loadBalancer;
  if (from.connectionPool !== undefined) into.connectionPool = from.connectionPool;
  if (from.outlierDetection !== undefined) into.outlierDetection = from.outlierDetection;
}

function withPort(policy: TrafficPolicy | undefined, port: number): EffectivePolicy {
  const out: EffectivePolicy = {};
  layer(out, policy);
  layer(
    out,
    (policy?.portLevelSettings ?? []).find((p) => p.port?.number === port),
  );
  return out;
}

export function effectivePolicy(
  rule: DestinationRule | undefined,
  port: number,
  subset: string | undefined,
): EffectivePolicy {
  if (rule === undefined) return {};
  const out = withPort(rule.spec.trafficPolicy, port);
  if (subset !== undefined) {
    const s = (rule.spec.subsets ?? []).find((x) => x.name === subset);
    if (s?.trafficPolicy !== undefined) layer(out, withPort(s.trafficPolicy, port));
  }
  return out;
}
