// The one way to build a cluster's load balancer: the policy named by the cluster, per priority level, behind the
// shared priority/health selection of priority.ts. Balancers are immutable in membership; a change of endpoints
// or health builds a new one (ClusterMembership does that).

import type { Cluster } from "../../../api/xds/types.ts";
import type { LoadBalancer } from "../balancer.ts";
import type { Endpoint } from "../endpoint.ts";
import { createLeastRequest } from "./least-request.ts";
import { createMaglev } from "./maglev.ts";
import { buildPriorityBalancer, type LevelBalancerFactory } from "./priority.ts";
import { createRandom } from "./random.ts";
import { createRingHash } from "./ring-hash.ts";
import { createRoundRobin } from "./round-robin.ts";

export function createLoadBalancer(
  cluster: Cluster,
  endpoints: readonly Endpoint[],
  random: () => number = Math.random,
): LoadBalancer {
  let makeLevel: LevelBalancerFactory;
  switch (cluster.lbPolicy) {
    case "ROUND_ROBIN":
      makeLevel = (hosts) => createRoundRobin(hosts, random);
      break;
    case "LEAST_REQUEST":
      makeLevel = (hosts) => createLeastRequest(hosts, cluster.leastRequestChoiceCount, random);
      break;
    case "RANDOM":
      makeLevel = (hosts) => createRandom(hosts, random);
      break;
    case "RING_HASH":
      makeLevel = (hosts) => createRingHash(hosts, cluster.ringHash, random);
      break;
    case "MAGLEV":
      makeLevel = (hosts) => createMaglev(hosts, cluster.maglevTableSize, random);
      break;
  }
  // Hash-based policies choose the priority level from the request hash too, so a key keeps its level.
  const levelByHash = cluster.lbPolicy === "RING_HASH" || cluster.lbPolicy === "MAGLEV";
  return buildPriorityBalancer(endpoints, makeLevel, random, levelByHash, cluster.healthyPanicThreshold);
}
