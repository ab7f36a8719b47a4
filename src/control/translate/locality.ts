// Istio's localityLbSetting, decided per proxy (pilot/pkg/networking/core/loadbalancer/loadbalancer.go,
// ApplyLocalityLoadBalancer, and the cluster builder's applyLocalityLoadBalancer); locality-lb.ts applies the plan
// to a cluster's endpoints. One of two things happens, as in Istio:
// - `distribute` set: the first rule whose `from` matches the proxy's locality re-weights the localities
//   (applyLocalityWeights); a proxy no rule matches keeps the plain weights. Outlier detection is not needed.
// - otherwise, with outlier detection on the destination (Istio's condition: without it Envoy would never fail
//   over): `failoverPriority` puts endpoints in priority levels by how many of the listed labels, in order, they
//   share with the proxy (applyFailoverPriorities); locality failover (applyLocalityFailover: same
//   region/zone/subzone 0, same region and zone 1, same region 2, the `failover` region of the proxy's region 3,
//   the rest 4) applies when there is no failoverPriority, or when `failover` is set too (then as a second key).
// The cluster gets common_lb_config.locality_weighted_lb_config when `distribute` is set, or when outlier detection
// is on and `failover` or `failoverPriority` is set (Istio's condition, ENABLE_LOCALITY_WEIGHTED_LB_CONFIG off); its
// locality groups then carry load_balancing_weight, the sum of their endpoints' weights, as Istio's EDS always does.

import type { DestinationRule, LocalityLoadBalancerSetting } from "../../api/resources/types.ts";
import type { Json } from "./envoy.ts";
import { ownInstance } from "./inbound.ts";
import type { Problems } from "./problems.ts";
import type { ProxyIdentity } from "./proxy-identity.ts";
import type { EffectivePolicy } from "./traffic-policy.ts";
import type { World } from "./world-index.ts";

interface Locality {
  region: string;
  zone: string;
  subZone: string;
}

/** Istio's topology labels, which it adds to both the proxy's and the endpoints' labels (AugmentLabels). */
export const REGION_LABEL = "topology.kubernetes.io/region";
export const ZONE_LABEL = "topology.kubernetes.io/zone";
export const SUBZONE_LABEL = "topology.istio.io/subzone";

export function parseLocality(text: string): Locality {
  const [region = "", zone = "", subZone = ""] = text.split("/");
  return { region, zone, subZone };
}

/** The proxy's locality: what its node says, else its registered instance's; undefined when neither knows. */
export function proxyLocality(world: World, proxy: ProxyIdentity): string | undefined {
  const own = proxy.locality ?? ownInstance(world, proxy)?.locality;
  return own === undefined || parseLocality(own).region === "" ? undefined : own;
}

/** `labels` with the topology labels of `locality` added (they win over labels of the same name, as in Istio). */
export function withTopologyLabels(
  labels: Record<string, string>,
  locality: string | undefined,
): Record<string, string> {
  if (locality === undefined || locality === "") return labels;
  const { region, zone, subZone } = parseLocality(locality);
  const out = { ...labels };
  if (region !== "") out[REGION_LABEL] = region;
  if (zone !== "") out[ZONE_LABEL] = zone;
  if (subZone !== "") out[SUBZONE_LABEL] = subZone;
  return out;
}

/** What of the proxy localityLbSetting reads: its locality and its labels with the topology labels added. */
export interface ProxyTopology {
  locality: string | undefined;
  labels: Record<string, string>;
}

export function proxyTopology(world: World, proxy: ProxyIdentity): ProxyTopology {
  const locality = proxyLocality(world, proxy);
  return { locality, labels: withTopologyLabels(proxy.labels, locality) };
}

/**
 * Istio's LocalityMatch: a rule "region/zone/subzone" where "*" matches anything and a missing zone or subzone
 * matches any. A proxy or endpoint without a locality has empty parts (it matches "*" only).
 */
export function localityMatches(locality: string | undefined, rule: string): boolean {
  const l = parseLocality(locality ?? "");
  const [region = "", zone = "", subZone = ""] = rule.split("/");
  return (
    (region === "*" || l.region === region) &&
    (zone === "*" || zone === "" || l.zone === zone) &&
    (subZone === "*" || subZone === "" || l.subZone === subZone)
  );
}

/** failoverPriority read against the proxy: the label each level compares, and the value an endpoint must have. */
export interface LabelPriorities {
  labels: string[];
  /** Per label: the `key=value` override, else the proxy's own value ("" when it has none, as Go's map read). */
  values: string[];
}

/**
 * Istio's priorityLabelOverrides: "key" compares the endpoint's label with the proxy's; "key=value" (exactly one
 * "=") with `value`.
 */
export function labelPriorities(
  failoverPriority: readonly string[],
  proxyLabels: Record<string, string>,
): LabelPriorities {
  const labels: string[] = [];
  const values: string[] = [];
  for (const entry of failoverPriority) {
    const parts = entry.split("=");
    labels.push(parts[0]!);
    values.push(parts.length === 2 ? parts[1]! : (proxyLabels[parts[0]!] ?? ""));
  }
  return { labels, values };
}

/** The label keys whose proxy values failoverPriority reads (overridden "key=value" entries read none). */
export function failoverPriorityKeys(failoverPriority: readonly string[]): string[] {
  return failoverPriority.filter((entry) => entry.split("=").length !== 2).map((entry) => entry.split("=")[0]!);
}

/** What localityLbSetting does to one cluster's endpoints for one proxy (locality-lb.ts applies it). */
export interface LocalityLbPlan {
  /** The cluster gets locality_weighted_lb_config and each locality group its load_balancing_weight. */
  weighted: boolean;
  /** The `to` of the distribute rule that matched the proxy, in the order written. */
  distribute?: [pattern: string, weight: number][];
  /** Label-based priority levels (failoverPriority). */
  labelPriorities?: LabelPriorities;
  /** Locality failover: an endpoint locality's rank (0-4) for this proxy. */
  failover?: (locality: string) => number;
}

/**
 * The plan for a cluster with `policy` seen from `me`, or undefined when localityLbSetting changes nothing.
 * Reports what of the setting cannot apply, naming the DestinationRule (`where`).
 */
export function localityLbPlan(
  policy: EffectivePolicy,
  me: ProxyTopology,
  where: string,
  problems: Problems,
): LocalityLbPlan | undefined {
  const setting: LocalityLoadBalancerSetting | undefined = policy.loadBalancer?.localityLbSetting;
  if (setting?.enabled === false) return undefined;
  const distribute = setting?.distribute ?? [];
  const failover = setting?.failover ?? [];
  const failoverPriority = setting?.failoverPriority ?? [];
  const outlier = policy.outlierDetection !== undefined;
  if (setting !== undefined) reportIneffective(setting, outlier, where, problems);

  if (distribute.length > 0) {
    const rule = distribute.find((d) => localityMatches(me.locality, d.from));
    return { weighted: true, ...(rule !== undefined ? { distribute: Object.entries(rule.to) } : {}) };
  }
  if (!outlier) return undefined;
  const plan: LocalityLbPlan = { weighted: failover.length > 0 || failoverPriority.length > 0 };
  // Istio applies failoverPriority only for a proxy with labels (its topology labels count).
  if (failoverPriority.length > 0 && Object.keys(me.labels).length > 0) {
    plan.labelPriorities = labelPriorities(failoverPriority, me.labels);
  }
  if ((failoverPriority.length === 0 || failover.length > 0) && me.locality !== undefined) {
    plan.failover = failoverRanking(me.locality, failover);
  }
  return plan.weighted || plan.failover !== undefined ? plan : undefined;
}

function reportIneffective(
  setting: LocalityLoadBalancerSetting,
  outlier: boolean,
  where: string,
  problems: Problems,
): void {
  const at = `${where}: loadBalancer.localityLbSetting`;
  if ((setting.distribute ?? []).length > 0) {
    if ((setting.failoverPriority ?? []).length > 0) {
      problems.add(`${at}.failoverPriority is ignored: distribute is set, and only one of them applies (as in Istio)`);
    }
  } else if (!outlier) {
    problems.add(`${at} has no effect without outlierDetection (as in Istio)`);
  }
}

/**
 * Istio's LbPriority plus applyLocalityFailover's region rule: 0 same region, zone and subzone; 1 same region and
 * zone; 2 same region; 3 another region; 4 when the first `failover` rule from the proxy's region names another
 * region than the endpoint's.
 */
function failoverRanking(
  proxy: string,
  failover: LocalityLoadBalancerSetting["failover"],
): (locality: string) => number {
  const me = parseLocality(proxy);
  const rule = failover.find((f) => f.from === me.region);
  return (text) => {
    const l = parseLocality(text);
    if (l.region !== me.region) return rule !== undefined && l.region !== rule.to ? 4 : 3;
    if (l.zone !== me.zone) return 2;
    return l.subZone !== me.subZone ? 1 : 0;
  };
}

/** Raw ranks → priorities 0…n-1 in the same order, without gaps (Envoy wants contiguous levels). */
export function compactPriorities(ranks: readonly number[]): number[] {
  const distinct = [...new Set(ranks)].sort((a, b) => a - b);
  return ranks.map((r) => distinct.indexOf(r));
}

/** Turns on locality-weighted balancing in an Envoy cluster (its other common_lb_config fields kept). */
export function enableLocalityWeighting(cluster: Json): void {
  const common = (cluster.common_lb_config as Json | undefined) ?? {};
  cluster.common_lb_config = { ...common, locality_weighted_lb_config: {} };
}

/** Every localityLbSetting a DestinationRule holds: top level, port level, subsets and their port levels. */
export function localityLbSettingsOf(dr: DestinationRule): LocalityLoadBalancerSetting[] {
  const policies = [dr.spec.trafficPolicy, ...(dr.spec.subsets ?? []).map((s) => s.trafficPolicy)];
  const out: LocalityLoadBalancerSetting[] = [];
  for (const p of policies) {
    if (p?.loadBalancer?.localityLbSetting !== undefined) out.push(p.loadBalancer.localityLbSetting);
    for (const level of p?.portLevelSettings ?? []) {
      if (level.loadBalancer?.localityLbSetting !== undefined) out.push(level.loadBalancer.localityLbSetting);
    }
  }
  return out;
}

/**
 * The part of a proxy's outbound key that failoverPriority reads: whether it has labels at all (Istio applies
 * failoverPriority only then) and its values of `keys` (topology labels included).
 */
export function labelPriorityKey(world: World, proxy: ProxyIdentity, keys: readonly string[]): string {
  const { labels } = proxyTopology(world, proxy);
  return JSON.stringify([Object.keys(labels).length > 0, keys.map((k) => labels[k] ?? null)]);
}
