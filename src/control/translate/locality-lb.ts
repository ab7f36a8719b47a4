// A localityLbSetting plan (locality.ts) applied to a cluster's locality groups, step by step as Istio's
// loadbalancer.go does it: applyLocalityWeights for `distribute`; else applyFailoverPriorities (failoverPriority)
// then applyLocalityFailover (locality ranks), each followed by renumbering the levels 0…n-1 without gaps.

import type { Json } from "./envoy.ts";
import type { LabelPriorities, LocalityLbPlan } from "./locality.ts";
import { compactPriorities, localityMatches } from "./locality.ts";

export interface LbEndpointEntry {
  /** The lb_endpoint as it will be written. */
  json: Json;
  /** The instance's labels with its topology labels (failoverPriority compares them with the proxy's). */
  labels: Record<string, string>;
  weight: number;
}

export interface LocalityGroup {
  /** "region/zone/subzone", or "" when the instances have none. */
  locality: string;
  entries: LbEndpointEntry[];
  /** The group's load_balancing_weight: the sum of its endpoints' weights, unless distribute changed it. */
  weight: number;
  priority: number;
}

export function applyLocalityPlan(groups: readonly LocalityGroup[], plan: LocalityLbPlan): LocalityGroup[] {
  if (plan.distribute !== undefined) return distribute(groups, plan.distribute);
  let out = [...groups];
  if (plan.labelPriorities !== undefined) out = compact(out.flatMap((g) => splitByLabels(g, plan.labelPriorities!)));
  const rank = plan.failover;
  if (rank !== undefined) {
    // Five locality ranks (0-4) under each label level: the label level stays the first key.
    out = compact(out.map((g) => ({ ...g, priority: g.priority * 5 + rank(g.locality) })));
  }
  return out;
}

/**
 * applyLocalityWeights: each `to` pattern, in the order written, takes the groups it matches that no earlier
 * pattern took, and splits its weight over them in proportion to their weights, rounded up. Groups no pattern
 * takes get no traffic: they are left out. Istio's validation refuses a weight of 0, and so does ours; one that
 * got here anyway leaves its groups out too.
 */
function distribute(groups: readonly LocalityGroup[], to: readonly [string, number][]): LocalityGroup[] {
  const weights = new Map<LocalityGroup, number>();
  for (const [pattern, weight] of to) {
    const matched = groups.filter((g) => !weights.has(g) && localityMatches(g.locality, pattern));
    const total = matched.reduce((sum, g) => sum + g.weight, 0);
    for (const g of matched) weights.set(g, Math.ceil((g.weight * weight) / total));
  }
  return groups.filter((g) => (weights.get(g) ?? 0) > 0).map((g) => ({ ...g, weight: weights.get(g)! }));
}

/**
 * applyFailoverPriorityPerLocality: an endpoint whose labels match the proxy's on every listed label is at level
 * 0; one that first differs on the i-th label (from 0) is at level n - i. The group splits into one group per
 * level, each weighing its endpoints' weights.
 */
function splitByLabels(group: LocalityGroup, priorities: LabelPriorities): LocalityGroup[] {
  const { labels, values } = priorities;
  const byLevel = new Map<number, LbEndpointEntry[]>();
  for (const entry of group.entries) {
    let level = 0;
    for (let i = 0; i < labels.length; i++) {
      if ((entry.labels[labels[i]!] ?? "") !== values[i]) {
        level = labels.length - i;
        break;
      }
    }
    const list = byLevel.get(level);
    if (list) list.push(entry);
    else byLevel.set(level, [entry]);
  }
  return [...byLevel.keys()]
    .sort((a, b) => a - b)
    .map((level) => {
      const entries = byLevel.get(level)!;
      return { ...group, entries, weight: entries.reduce((sum, e) => sum + e.weight, 0), priority: level };
    });
}

function compact(groups: LocalityGroup[]): LocalityGroup[] {
  const priorities = compactPriorities(groups.map((g) => g.priority));
  return groups.map((g, i) => ({ ...g, priority: priorities[i]! }));
}
