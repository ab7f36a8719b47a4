// RANDOM over one priority level's hosts, weighted: a host is chosen with probability weight / total weight
// (a binary search over cumulative weights; a plain index when all weights are equal).

import type { LoadBalancer, PickContext } from "../balancer.ts";
import type { Endpoint } from "../endpoint.ts";
import { allWeightsEqual, weightOf } from "./edf.ts";

export function createRandom(hosts: readonly Endpoint[], random: () => number): LoadBalancer {
  if (hosts.length === 0) return { pick: () => undefined };
  return allWeightsEqual(hosts) ? new UniformBalancer(hosts, random) : new WeightedRandomBalancer(hosts, random);
}

class UniformBalancer implements LoadBalancer {
  constructor(
    private readonly hosts: readonly Endpoint[],
    private readonly random: () => number,
  ) {}

  pick(_ctx: PickContext): Endpoint | undefined {
    return this.hosts[Math.floor(this.random() * this.hosts.length)];
  }
}

class WeightedRandomBalancer implements LoadBalancer {
  /** cumulative[i] = sum of the weights of hosts 0..i. */
  private readonly cumulative: Float64Array;

  constructor(
    private readonly hosts: readonly Endpoint[],
    private readonly random: () => number,
  ) {
    this.cumulative = new Float64Array(hosts.length);
    let sum = 0;
    hosts.forEach((h, i) => (this.cumulative[i] = sum += weightOf(h)));
  }

  pick(_ctx: PickContext): Endpoint | undefined {
    const cumulative = this.cumulative;
    const target = this.random() * cumulative[cumulative.length - 1]!;
    // The first host whose cumulative weight exceeds the target.
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return this.hosts[lo];
  }
}
