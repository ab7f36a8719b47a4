// Slow start (Envoy's "slow start mode", ROUND_ROBIN and LEAST_REQUEST): a host that has just joined, or just
// passed active health checking again, gets a share of traffic that grows over slow_start_window instead of its
// full share at once. As in Envoy's EdfLoadBalancerBase (applySlowStartFactor, recalculateHostsInSlowStart,
// noHostsAreInSlowStart):
// - a host's slow start begins when a balancer of its cluster first sees it healthy (Envoy stamps
//   last_hc_pass_time then, unless active health checking already did); hosts present when the cluster is
//   created are stamped too, all at once, so among themselves their shares stay equal;
// - while now - start < window and the host is healthy (not degraded, not failed), its weight is
//   weight × max(min_weight_percent / 100, time_factor ^ (1 / aggression)), time_factor = max(1 ms, age) / window;
//   unhealthy hosts a level in panic uses keep their plain weight;
// - while any host is in slow start, every level uses earliest-deadline-first scheduling over these weights, and a
//   host's weight is re-evaluated each time it is picked (Envoy's pickAndAdd), so weights follow the clock without
//   a rebuild; LEAST_REQUEST's weight is weight / (active + 1) before the factor, as Envoy's hostWeight;
// - once the last host leaves slow start the plain balancer of the policy takes over, and the membership swaps it
//   in (onSettled), so a cluster out of slow start picks exactly as one without it.
// A host keeps its start across membership updates while its address stays (ClusterMembership carries it over),
// and starts again when active health checking passes it after a failure (Envoy's health checker resets it).

import type { Clock } from "../../../api/clock.ts";
import type { LbPolicy, SlowStartConfig } from "../../../api/xds/types.ts";
import type { LoadBalancer, PickContext } from "../balancer.ts";
import type { Endpoint } from "../endpoint.ts";
import { EdfScheduler, weightOf } from "./edf.ts";
import type { LevelBalancerFactory } from "./priority.ts";

export interface SlowStartOptions {
  clock: Clock;
  /** Called once, on the first pick after slow start ended, with the plain balancer that replaces this one. */
  onSettled?: (plain: LoadBalancer) => void;
}

/** The factor a host's weight is scaled by, `ageMs` after its slow start began (1 once the window is over). */
export function slowStartFactor(config: SlowStartConfig, ageMs: number): number {
  if (ageMs >= config.windowMs) return 1;
  const timeFactor = Math.max(1, ageMs) / config.windowMs;
  const ramp = config.aggression === 1 ? timeFactor : Math.pow(timeFactor, 1 / config.aggression);
  return Math.max(config.minWeightPercent / 100, ramp);
}

/** Healthy as Envoy's coarse health counts it for slow start: degraded hosts are neither stamped nor scaled. */
function counts(e: Endpoint): boolean {
  return e.healthy && e.healthStatus !== "DEGRADED";
}

/** Stamps the start of every counted host that has none yet (Envoy's recalculateHostsInSlowStart). */
export function beginSlowStart(endpoints: readonly Endpoint[], now: number): void {
  for (const e of endpoints) if (e.slowStartFrom === undefined && counts(e)) e.slowStartFrom = now;
}

/** When the last host now in slow start leaves it; undefined when none is in it. */
export function slowStartEndsAt(
  endpoints: readonly Endpoint[],
  config: SlowStartConfig,
  now: number,
): number | undefined {
  let end: number | undefined;
  for (const e of endpoints) {
    if (e.slowStartFrom === undefined || !counts(e)) continue;
    const hostEnd = e.slowStartFrom + config.windowMs;
    if (hostEnd > now && (end === undefined || hostEnd > end)) end = hostEnd;
  }
  return end;
}

/** A host's weight at `now`: `base` scaled by its slow-start factor when it is in slow start. */
export function slowStartWeight(e: Endpoint, base: number, config: SlowStartConfig, now: number): number {
  if (e.slowStartFrom === undefined || !counts(e)) return base;
  return base * slowStartFactor(config, now - e.slowStartFrom);
}

/**
 * Endpoints that replace one with the same address (a changed weight, health status or locality makes a new
 * object) keep that one's slow start: the host has not joined again.
 */
export function carrySlowStart(
  current: readonly Endpoint[],
  next: readonly Endpoint[],
  removed: readonly Endpoint[],
): void {
  if (removed.length === 0) return;
  const before = new Map<string, Endpoint>();
  for (const e of removed) if (!before.has(e.key)) before.set(e.key, e);
  const kept = new Set(current);
  for (const e of next) {
    if (kept.has(e)) continue;
    const predecessor = before.get(e.key);
    if (predecessor !== undefined) e.slowStartFrom = predecessor.slowStartFrom;
  }
}

/**
 * The cluster's balancer with slow start: the plain one (`buildPlain()`) when no host is in slow start, else one
 * whose levels (`buildRamping` places the level factory it is given) schedule by slow-start weights, until the
 * last host leaves slow start.
 */
export function buildWithSlowStart(
  config: SlowStartConfig,
  policy: LbPolicy,
  endpoints: readonly Endpoint[],
  random: () => number,
  options: SlowStartOptions,
  buildPlain: () => LoadBalancer,
  buildRamping: (makeLevel: LevelBalancerFactory) => LoadBalancer,
): LoadBalancer {
  const { clock } = options;
  const now = clock.now();
  beginSlowStart(endpoints, now);
  const endsAt = slowStartEndsAt(endpoints, config, now);
  if (endsAt === undefined) return buildPlain();
  const base = policy === "LEAST_REQUEST" ? leastRequestWeight : weightOf;
  const ramping = buildRamping((hosts) => new SlowStartLevel(hosts, base, config, clock, random));
  return new SlowStartPhase(ramping, endsAt, clock, buildPlain, options.onSettled);
}

/** Envoy's weighted least request weight, weight / (active + 1) ^ 1.0 (least-request.ts uses the same). */
function leastRequestWeight(e: Endpoint): number {
  return weightOf(e) / (Math.max(0, e.activeRequests) + 1);
}

/** One level's hosts by earliest deadline first, each host's weight taken at the time it is (re)scheduled. */
class SlowStartLevel implements LoadBalancer {
  private readonly scheduler: EdfScheduler | undefined;

  constructor(
    private readonly hosts: readonly Endpoint[],
    private readonly base: (e: Endpoint) => number,
    private readonly config: SlowStartConfig,
    private readonly clock: Clock,
    random: () => number,
  ) {
    if (hosts.length === 0) return;
    const now = clock.now();
    this.scheduler = new EdfScheduler(hosts.map((e) => this.weight(e, now)));
    // A random starting point in the sequence, as Envoy's createWithPicks seeds every EDF balancer.
    const skip = Math.floor(random() * hosts.length);
    for (let i = 0; i < skip; i++) this.next(now);
  }

  pick(_ctx: PickContext): Endpoint | undefined {
    return this.scheduler === undefined ? undefined : this.next(this.clock.now());
  }

  private next(now: number): Endpoint {
    const scheduler = this.scheduler!;
    const host = this.hosts[scheduler.peek()]!;
    scheduler.reschedule(this.weight(host, now));
    return host;
  }

  private weight(e: Endpoint, now: number): number {
    return slowStartWeight(e, this.base(e), this.config, now);
  }
}

/** The ramping balancer until `endsAt`, then the plain one (built then, and handed to onSettled). */
class SlowStartPhase implements LoadBalancer {
  private plain: LoadBalancer | undefined;

  constructor(
    private readonly ramping: LoadBalancer,
    private readonly endsAt: number,
    private readonly clock: Clock,
    private readonly buildPlain: () => LoadBalancer,
    private readonly onSettled: ((plain: LoadBalancer) => void) | undefined,
  ) {}

  pick(ctx: PickContext): Endpoint | undefined {
    if (this.plain !== undefined) return this.plain.pick(ctx);
    if (this.clock.now() < this.endsAt) return this.ramping.pick(ctx);
    this.plain = this.buildPlain();
    this.onSettled?.(this.plain);
    return this.plain.pick(ctx);
  }
}
