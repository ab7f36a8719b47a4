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
 * A balancer over all priority levels. With a single level (the usual case) this is that level's balancer itself,
 * so a pick costs nothing extra. Otherwise the level is chosen per pick like Envoy's choosePriority: from the
 * request hash when `levelByHash` (ring hash and maglev, so a key keeps its level) and one is given, else from
 * `random`. Levels that take no load are kept (their balancers built on first use): a retry that leaves out the
 * priorities it tried (ctx.excludedPriorities) may need them.
 */
export function buildPriorityBalancer(
  endpoints: readonly Endpoint[],
  makeLevel: LevelBalancerFactory,
  random: () => number,
  levelByHash: boolean,
  panicThreshold = HEALTHY_PANIC_THRESHOLD,
): LoadBalancer {
  const levels = planPriorityLevels(endpoints, panicThreshold);
  if (!levels.some((l) => l.load > 0)) return EMPTY;
  if (levels.length === 1) return makeLevel(hostsToUse(levels[0]!), levels[0]!);
  return new MultiLevelBalancer(levels, makeLevel, random, levelByHash);
}

/** Envoy's per-priority health: min(100, overprovisioning × healthy / hosts). */
function levelHealth(level: PriorityLevel): number {
  return Math.min(100, Math.floor((OVERPROVISIONING_FACTOR * level.healthy.length) / level.hosts.length));
}

/**
 * The levels' load with `excluded` priorities left out, as Envoy's previous_priorities retry plugin computes it:
 * the remaining levels' health, in priority order, each taking what its share of the total allows; undefined when
 * nothing would remain (the caller keeps the original load, as Envoy does).
 */
export function loadWithout(levels: readonly PriorityLevel[], excluded: ReadonlySet<number>): number[] | undefined {
  const health = levels.map((l) => (excluded.has(l.priority) ? 0 : levelHealth(l)));
  const total = Math.min(
    100,
    health.reduce((a, b) => a + b, 0),
  );
  if (total === 0) return undefined;
  let remaining = 100;
  const loads = health.map((h) => {
    const load = Math.min(remaining, Math.floor((h * 100) / total));
    remaining -= load;
    return load;
  });
  // Rounding leftovers go to the first level that can take traffic.
  loads[health.findIndex((h) => h > 0)]! += remaining;
  return loads;
}

class MultiLevelBalancer implements LoadBalancer {
  /** Cumulative load: level i takes buckets [cumulative[i-1], cumulative[i]) of 0..99. */
  private readonly cumulative: Int32Array;
  private readonly balancers: (LoadBalancer | undefined)[];
  /** The one level with load when only one has any (failover set up, all healthy): picked without a draw. */
  private readonly sole: number;

  constructor(
    private readonly levels: readonly PriorityLevel[],
    private readonly makeLevel: LevelBalancerFactory,
    private readonly random: () => number,
    private readonly levelByHash: boolean,
  ) {
    this.cumulative = new Int32Array(levels.length);
    let sum = 0;
    levels.forEach((l, i) => (this.cumulative[i] = sum += l.load));
    // Levels with load are built now; the others only if a retry turns to them.
    this.balancers = levels.map((l) => (l.load > 0 ? makeLevel(hostsToUse(l), l) : undefined));
    const loaded = levels.flatMap((l, i) => (l.load > 0 ? [i] : []));
    this.sole = loaded.length === 1 ? loaded[0]! : -1;
  }

  pick(ctx: PickContext): Endpoint | undefined {
    const excluded = ctx.excludedPriorities;
    if (excluded !== undefined && excluded.size > 0) return this.pickWithout(ctx, excluded);
    if (this.sole >= 0) return this.level(this.sole).pick(ctx);
    const bucket = this.bucket(ctx);
    const cumulative = this.cumulative;
    for (let i = 0; i < cumulative.length; i++) {
      if (bucket < cumulative[i]!) return this.level(i).pick(ctx);
    }
    return this.level(this.levels.length - 1).pick(ctx);
  }

  /** A retry's pick: the load recomputed without the excluded priorities (rare, so computed per pick). */
  private pickWithout(ctx: PickContext, excluded: ReadonlySet<number>): Endpoint | undefined {
    const loads = loadWithout(this.levels, excluded);
    if (loads === undefined) return this.pick({ hash: ctx.hash });
    const bucket = this.bucket(ctx);
    let cumulative = 0;
    for (let i = 0; i < loads.length; i++) {
      cumulative += loads[i]!;
      if (bucket < cumulative) return this.level(i).pick(ctx);
    }
    return this.level(this.levels.length - 1).pick(ctx);
  }

  private bucket(ctx: PickContext): number {
    return this.levelByHash && ctx.hash !== undefined ? (ctx.hash >>> 0) % 100 : Math.floor(this.random() * 100);
  }

  private level(i: number): LoadBalancer {
    let balancer = this.balancers[i];
    if (balancer === undefined) {
      const level = this.levels[i]!;
      balancer = this.balancers[i] = this.makeLevel(hostsToUse(level), level);
    }
    return balancer;
  }
}
