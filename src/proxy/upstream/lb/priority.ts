// Priority levels and health, shared by every policy: which hosts a pick may use. This follows Envoy's
// LoadBalancerBase (recalculatePerPriorityState / recalculatePerPriorityPanic / choosePriority):
// - each level's health = min(100, 140 * healthy / hosts) (overprovisioning factor 1.4, so a level that is 72 %
//   healthy still takes all of its traffic);
// - load is poured into levels in priority order, each taking what its health allows, scaled when the levels'
//   health sums to less than 100 (so some traffic spills over to the next level as hosts fail);
// - a level is in panic (balances across all its hosts, healthy or not) when under the cluster's
//   healthy_panic_threshold (default 50 %) of its hosts are healthy, unless the levels together are fully
//   available; when every level is in panic, load is split by host count. A threshold of 0 disables panic: with
//   no healthy host the pick finds none (503 UH), as in Envoy.
// Simplified: degraded hosts count as healthy (Endpoint.healthy is true for DEGRADED); there is no zone-aware
// routing; the overprovisioning factor is fixed at Envoy's default. Locality weighting, when the cluster asks for
// it, is a layer inside each level (locality-weighted.ts): the levels' load and panic do not depend on it.
// Empty priority levels (numbers with no endpoint) are skipped: in Envoy they carry no load and never decide panic.

import type { LoadBalancer, PickContext } from "../balancer.ts";
import type { Endpoint } from "../endpoint.ts";

/** Envoy's default overprovisioning factor, in percent. */
export const OVERPROVISIONING_FACTOR = 140;
/** Envoy's default healthy_panic_threshold, in percent (the cluster's common_lb_config overrides it). */
export const HEALTHY_PANIC_THRESHOLD = 50;

export interface PriorityLevel {
  priority: number;
  /** Every endpoint of the level, in the order given. */
  hosts: readonly Endpoint[];
  healthy: readonly Endpoint[];
  /** Percent of the traffic this level receives (the levels sum to 100). */
  load: number;
  /** In panic the level balances across all its hosts. */
  panic: boolean;
}

/** The hosts a level balances across: its healthy ones, or all of them in panic. */
export function hostsToUse(level: PriorityLevel): readonly Endpoint[] {
  return level.panic ? level.hosts : level.healthy;
}

/**
 * Groups endpoints by priority (ascending) and computes each level's load and panic state; `panicThreshold` is
 * the percentage of healthy hosts under which a level panics (0 = never).
 */
export function planPriorityLevels(
  endpoints: readonly Endpoint[],
  panicThreshold = HEALTHY_PANIC_THRESHOLD,
): PriorityLevel[] {
  const byPriority = new Map<number, Endpoint[]>();
  for (const e of endpoints) {
    const list = byPriority.get(e.priority);
    if (list) list.push(e);
    else byPriority.set(e.priority, [e]);
  }
  const levels: PriorityLevel[] = [...byPriority.keys()]
    .sort((a, b) => a - b)
    .map((priority) => {
      const hosts = byPriority.get(priority)!;
      return { priority, hosts, healthy: hosts.filter((e) => e.healthy), load: 0, panic: false };
    });
  if (levels.length === 0) return levels;

  const health = levels.map((l) =>
    Math.min(100, Math.floor((OVERPROVISIONING_FACTOR * l.healthy.length) / l.hosts.length)),
  );
  const normalizedTotal = Math.min(
    100,
    health.reduce((a, b) => a + b, 0),
  );

  if (normalizedTotal > 0) {
    let remaining = 100;
    let firstAvailable = -1;
    levels.forEach((level, i) => {
      level.load = Math.min(remaining, Math.floor((health[i]! * 100) / normalizedTotal));
      remaining -= level.load;
      if (level.load > 0 && firstAvailable === -1) firstAvailable = i;
    });
    // Rounding leftovers go to the first level that takes traffic.
    levels[firstAvailable]!.load += remaining;
  }

  let totalPanic = true;
  for (const level of levels) {
    level.panic = normalizedTotal === 100 ? false : (100 * level.healthy.length) / level.hosts.length < panicThreshold;
    totalPanic &&= level.panic;
  }
  if (totalPanic) {
    // Nothing (or too little) is healthy anywhere: spread by host count, regardless of health.
    let remaining = 100;
    for (const level of levels) {
      level.load = Math.floor((100 * level.hosts.length) / endpoints.length);
      remaining -= level.load;
    }
    levels[0]!.load += remaining;
  }
  return levels;
}

/**
 * Builds one policy's balancer for the hosts of one level: `hosts` is hostsToUse(level); `level` is given for
 * layers that need the whole level (its panic state, its unhealthy hosts), such as locality weighting.
 */
export type LevelBalancerFactory = (hosts: readonly Endpoint[], level?: PriorityLevel) => LoadBalancer;

const EMPTY: LoadBalancer = { pick: () => undefined };

/**
 * A balancer over all priority levels. With one level taking all the traffic (the usual case) this is that
 * level's balancer itself, so a pick costs nothing extra. Otherwise the level is chosen per pick like Envoy's
 * choosePriority: from the request hash when `levelByHash` (ring hash and maglev, so a key keeps its level) and
 * one is given, else from `random`.
 */
export function buildPriorityBalancer(
  endpoints: readonly Endpoint[],
  makeLevel: LevelBalancerFactory,
  random: () => number,
  levelByHash: boolean,
  panicThreshold = HEALTHY_PANIC_THRESHOLD,
): LoadBalancer {
  const levels = planPriorityLevels(endpoints, panicThreshold).filter((l) => l.load > 0);
  if (levels.length === 0) return EMPTY;
  if (levels.length === 1) return makeLevel(hostsToUse(levels[0]!), levels[0]!);
  return new MultiLevelBalancer(
    levels.map((l) => makeLevel(hostsToUse(l), l)),
    levels.map((l) => l.load),
    random,
    levelByHash,
  );
}

class MultiLevelBalancer implements LoadBalancer {
  /** Cumulative load: level i takes buckets [cumulative[i-1], cumulative[i]) of 0..99. */
  private readonly cumulative: Int32Array;

  constructor(
    private readonly levels: readonly LoadBalancer[],
    loads: readonly number[],
    private readonly random: () => number,
    private readonly levelByHash: boolean,
  ) {
    this.cumulative = new Int32Array(loads.length);
    let sum = 0;
    loads.forEach((load, i) => (this.cumulative[i] = sum += load));
  }

  pick(ctx: PickContext): Endpoint | undefined {
    const bucket =
      this.levelByHash && ctx.hash !== undefined ? (ctx.hash >>> 0) % 100 : Math.floor(this.random() * 100);
    const cumulative = this.cumulative;
    for (let i = 0; i < cumulative.length; i++) {
      if (bucket < cumulative[i]!) return this.levels[i]!.pick(ctx);
    }
    return this.levels[this.levels.length - 1]!.pick(ctx);
  }
}
