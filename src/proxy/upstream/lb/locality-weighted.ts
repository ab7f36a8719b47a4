// Envoy's locality-weighted load balancing (common_lb_config.locality_weighted_lb_config), inside one priority
// level: a pick first chooses a locality, earliest-deadline-first over the localities' effective weights, then a
// host in that locality with the cluster's own policy. As Envoy's HostSetImpl (effectiveLocalityWeight,
// rebuildLocalityScheduler) and ZoneAwareLoadBalancerBase::hostSourceToUse do it:
// - effective weight = the locality's load_balancing_weight × min(1, 1.4 × healthy / hosts of the locality), so a
//   locality that loses a few hosts keeps its share (overprovisioning) and one that loses more sheds its load to
//   the others in proportion;
// - a locality with no weight (unset) or no healthy host gets no traffic;
// - when no locality of the level has an effective weight, the level balances across all its healthy hosts as if
//   locality weighting were off (Envoy builds no locality scheduler then);
// - a level in panic balances across all its hosts and ignores localities (Envoy checks panic first).
// Each locality keeps its own balancer (its round-robin position, say), as Envoy keeps one per locality. The
// priority levels' load and panic (priority.ts) count hosts only, as in Envoy; this layer never changes them.

import type { LoadBalancer, PickContext } from "../balancer.ts";
import type { Endpoint } from "../endpoint.ts";
import { EdfScheduler } from "./edf.ts";
import { OVERPROVISIONING_FACTOR, type LevelBalancerFactory, type PriorityLevel } from "./priority.ts";

export interface LocalityShare {
  /** "region/zone/sub_zone"; an endpoint without a locality is in the empty one ("//"), as in Envoy. */
  key: string;
  hosts: Endpoint[];
  healthy: Endpoint[];
  /** The locality's load_balancing_weight (0 when unset; several groups of one locality: the last one's). */
  weight: number;
  /** weight × min(1, overprovisioning × healthy / hosts). */
  effectiveWeight: number;
}

function localityKey(e: Endpoint): string {
  const l = e.locality;
  return l === undefined ? "//" : `${l.region}/${l.zone}/${l.subZone}`;
}

/** The localities of one level, in order of first appearance, with their effective weights. */
export function localityShares(level: PriorityLevel): LocalityShare[] {
  const byKey = new Map<string, LocalityShare>();
  for (const e of level.hosts) {
    const key = localityKey(e);
    let share = byKey.get(key);
    if (share === undefined) {
      share = { key, hosts: [], healthy: [], weight: 0, effectiveWeight: 0 };
      byKey.set(key, share);
    }
    share.hosts.push(e);
    if (e.healthy) share.healthy.push(e);
    share.weight = e.localityWeight ?? 0;
  }
  for (const share of byKey.values()) {
    const availability = Math.min(1, ((OVERPROVISIONING_FACTOR / 100) * share.healthy.length) / share.hosts.length);
    share.effectiveWeight = share.weight * availability;
  }
  return [...byKey.values()];
}

/**
 * Wraps a policy's level factory with the locality layer. The factory it returns needs the level (priority.ts
 * passes it); called without one it builds the plain policy.
 */
export function withLocalityWeights(makeLevel: LevelBalancerFactory, random: () => number): LevelBalancerFactory {
  return (hosts, level) => {
    if (level === undefined || level.panic) return makeLevel(hosts, level);
    const shares = localityShares(level).filter((s) => s.effectiveWeight > 0);
    if (shares.length === 0) return makeLevel(hosts, level);
    // One locality takes everything: its own balancer, without a scheduler in front.
    if (shares.length === 1) return makeLevel(shares[0]!.healthy, level);
    return new LocalityWeightedBalancer(
      shares.map((s) => makeLevel(s.healthy, level)),
      shares.map((s) => s.effectiveWeight),
      random,
    );
  };
}

class LocalityWeightedBalancer implements LoadBalancer {
  private readonly scheduler: EdfScheduler;

  constructor(
    private readonly localities: readonly LoadBalancer[],
    private readonly weights: readonly number[],
    random: () => number,
  ) {
    this.scheduler = new EdfScheduler(weights);
    // Start somewhere random in the sequence, so that proxies loaded with one configuration do not all send
    // their first requests to the same locality.
    const skip = Math.floor(random() * localities.length);
    for (let i = 0; i < skip; i++) this.nextLocality();
  }

  private nextLocality(): number {
    const i = this.scheduler.peek();
    this.scheduler.reschedule(this.weights[i]!);
    return i;
  }

  pick(ctx: PickContext): Endpoint | undefined {
    return this.localities[this.nextLocality()]!.pick(ctx);
  }
}
