// LEAST_REQUEST over one priority level's hosts, as Envoy does it.
// Equal weights: "power of N choices": sample choice_count hosts at random (with replacement) and keep the one with
// the fewest requests in flight; a later sample replaces the candidate only when strictly less busy.
// Unequal weights: earliest-deadline-first where a host's weight is re-evaluated each time it is picked as
// weight / (active + 1) ^ active_request_bias (bias fixed at Envoy's default 1.0), so busy hosts are picked less.

import type { LoadBalancer, PickContext } from "../balancer.ts";
import type { Endpoint } from "../endpoint.ts";
import { allWeightsEqual, EdfScheduler, weightOf } from "./edf.ts";

export function createLeastRequest(
  hosts: readonly Endpoint[],
  choiceCount: number,
  random: () => number,
): LoadBalancer {
  if (hosts.length === 0) return { pick: () => undefined };
  return allWeightsEqual(hosts)
    ? new ChoiceOfNBalancer(hosts, Math.max(1, choiceCount), random)
    : new WeightedLeastRequestBalancer(hosts);
}

class ChoiceOfNBalancer implements LoadBalancer {
  constructor(
    private readonly hosts: readonly Endpoint[],
    private readonly choiceCount: number,
    private readonly random: () => number,
  ) {}

  pick(_ctx: PickContext): Endpoint | undefined {
    const hosts = this.hosts;
    let candidate = hosts[Math.floor(this.random() * hosts.length)]!;
    for (let c = 1; c < this.choiceCount; c++) {
      const sampled = hosts[Math.floor(this.random() * hosts.length)]!;
      if (sampled.activeRequests < candidate.activeRequests) candidate = sampled;
    }
    return candidate;
  }
}

class WeightedLeastRequestBalancer implements LoadBalancer {
  private readonly scheduler: EdfScheduler;

  constructor(private readonly hosts: readonly Endpoint[]) {
    this.scheduler = new EdfScheduler(hosts.map(effectiveWeight));
  }

  pick(_ctx: PickContext): Endpoint | undefined {
    const host = this.hosts[this.scheduler.peek()]!;
    this.scheduler.reschedule(effectiveWeight(host));
    return host;
  }
}

/** Envoy's weighted least request: weight / (active + 1) ^ 1.0. */
function effectiveWeight(e: Endpoint): number {
  return weightOf(e) / (Math.max(0, e.activeRequests) + 1);
}
