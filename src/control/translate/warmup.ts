// A DestinationRule's loadBalancer.warmup / warmupDurationSecs → Envoy's slow_start_config, as Istio's cluster
// builder does it (pilot/pkg/networking/core/cluster_traffic_policy.go: applyRoundRobinLoadBalancer,
// applyLeastRequestLoadBalancer, setWarmup, setSlowStartConfig):
// - only ROUND_ROBIN and LEAST_REQUEST clusters have slow start; it goes in round_robin_lb_config or
//   least_request_lb_config;
// - `warmup` wins over the deprecated warmupDurationSecs; from `warmup` Istio always writes aggression (default 1.0)
//   and min_weight_percent (default 10), with the runtime key "(" (a key no runtime defines: the value is fixed);
//   from warmupDurationSecs only the window.
// Istio silently drops a warmup on other policies (consistent hash, RANDOM); here that is said as a problem.

import type { LoadBalancerSettings } from "../../api/resources/types.ts";
import type { Json } from "./envoy.ts";
import { duration } from "./envoy.ts";
import type { Problems } from "./problems.ts";

const DEFAULT_AGGRESSION = 1;
const DEFAULT_MIN_WEIGHT_PERCENT = 10;
/** Istio's runtime key for the aggression: not a key any runtime has, so the default value is the value. */
const FIXED_RUNTIME_KEY = "(";

const CONFIG_FIELD: Record<string, string> = {
  ROUND_ROBIN: "round_robin_lb_config",
  LEAST_REQUEST: "least_request_lb_config",
};

/**
 * Adds the warmup of `lb` to `cluster` (which already has its lb_policy). `where` names the cluster, `rule` the
 * DestinationRule the policy came from.
 */
export function applyWarmup(
  cluster: Json,
  lb: LoadBalancerSettings | undefined,
  where: string,
  rule: string | undefined,
  problems: Problems,
): void {
  const field = lb?.warmup !== undefined ? "warmup" : lb?.warmupDurationSecs !== undefined ? "warmupDurationSecs" : "";
  if (field === "") return;
  const configField = CONFIG_FIELD[String(cluster.lb_policy)];
  if (configField === undefined) {
    // A where that already names the rule (clusters.ts) does not need it twice.
    const from = rule === undefined || where.startsWith("DestinationRule ") ? "" : ` of DestinationRule ${rule}`;
    problems.add(
      `${where}: loadBalancer.${field}${from} applies to ROUND_ROBIN and LEAST_REQUEST only, not ${String(cluster.lb_policy)}; ignored`,
    );
    return;
  }
  const slowStart = slowStartConfig(lb!);
  if (slowStart === undefined) return;
  const config = (cluster[configField] ?? {}) as Json;
  cluster[configField] = { ...config, slow_start_config: slowStart };
}

function slowStartConfig(lb: LoadBalancerSettings): Json | undefined {
  const warmup = lb.warmup;
  if (warmup === undefined) return { slow_start_window: duration(lb.warmupDurationSecs!) };
  // Istio copies an unset duration as unset: Envoy's slow start is then off (validation warned about it).
  if (warmup.duration === undefined) return undefined;
  return {
    slow_start_window: duration(warmup.duration),
    aggression: { default_value: warmup.aggression ?? DEFAULT_AGGRESSION, runtime_key: FIXED_RUNTIME_KEY },
    min_weight_percent: { value: warmup.minimumPercent ?? DEFAULT_MIN_WEIGHT_PERCENT },
  };
}
