// ROUND_ROBIN over one priority level's hosts. Equal weights: plain rotation over the host array. Unequal weights:
// earliest-deadline-first, like Envoy, which interleaves hosts in proportion to weight (weights 1:3 give
// b a b b, not a b b b). Either way the sequence is deterministic after a random starting point, so that many
// proxies that load the same configuration do not all hit the same host first (Envoy seeds it the same way).

import type { LoadBalancer, PickContext } from "../balancer.ts";
import type { Endpoint } from "../endpoint.ts";
import { allWeightsEqual, EdfScheduler, weightOf } from "./edf.ts";

export function createRoundRobin(hosts: readonly Endpoint[], random: () => number): LoadBalancer {
  if (hosts.length === 0) return { pick: () => undefined };
  return allWeightsEqual(hosts) ? new RotationBalancer(hosts, random) : new WeightedRoundRobinBalancer(hosts, random);
}

class RotationBalancer implements LoadBalancer {
  private next: number;

  constructor(
    private readonly hosts: readonly Endpoint[],
    random: () => number,
  ) {
    this.next = Math.floor(random() * hosts.length);
  }

  pick(_ctx: PickContext): Endpoint | undefined {
    const host = this.hosts[this.next];
    this.next = this.next + 1 === this.hosts.length ? 0 : this.next + 1;
    return host;
  }
}

class WeightedRoundRobinBalancer implements LoadBalancer {
  private readonly scheduler: EdfScheduler;
  private readonly weights: number[];

  constructor(
    private readonly hosts: readonly Endpoint[],
    random: () => number,
  ) {
    this.weights = hosts.map(weightOf);
    this.scheduler = new EdfScheduler(this.weights);
    // Start somewhere random in the sequence: skip up to one pick per host (Envoy's createWithPicks).
    const skip = Math.floor(random() * hosts.length);
    for (let i = 0; i < skip; i++) this.pick();
  }

  pick(_ctx?: PickContext): Endpoint | undefined {
    const i = this.scheduler.peek();
    this.scheduler.reschedule(this.weights[i]!);
    return this.hosts[i];
  }
}
