// The one way to build a cluster's load balancer: the policy named by the cluster, per priority level, behind the
// shared priority/health selection of priority.ts. Balancers are immutable in membership; a change of endpoints
// or health builds a new one (ClusterMembership does that).

import type { Cluster } from "../../../api/xds/types.ts";
import type { LoadBalancer } from "../balancer.ts";
import type { Endpoint } from "../endpoint.ts";
import { createLeastRequest } from "./least-request.ts";
import { createMaglev } from "./maglev.ts";
import { withLocalityWeights } from "./locality-weighted.ts";
import { buildPriorityBalancer, type LevelBalancerFactory } from "./priority.ts";
import { createRandom } from "./random.ts";
import { createRingHash } from "./ring-hash.ts";
import { createRoundRobin } from "./round-robin.ts";
import { buildWithSlowStart, type SlowStartOptions } from "./slow-start.ts";

export function createLoadBalancer(
  cluster: Cluster,
  endpoints: readonly Endpoint[],
  random: () => number = Math.random,
  /** The clock slow start reads (clusters with slow_start_config); without it slow start is off. */
  slowStart?: SlowStartOptions,
  /** Called for each pick made in a priority level in panic (Envoy's lb_healthy_panic). */
  onPanicPick?: () => void,
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
  // Locality weighting is a layer inside each level, only when asked for (an ordinary pick pays nothing). Hash
  // policies ignore locality weights, as in Envoy.
  if (cluster.localityWeightedLb === true && !levelByHash) makeLevel = withLocalityWeights(makeLevel, random);
  const build = (make: LevelBalancerFactory) =>
    buildPriorityBalancer(
      endpoints,
      onPanicPick === undefined ? make : countingPanics(make, onPanicPick),
      random,
      levelByHash,
      cluster.healthyPanicThreshold,
    );
  if (cluster.slowStart !== undefined && slowStart !== undefined) {
    // While hosts ramp up, their levels (and localities, when weighted) schedule by slow-start weights instead.
    const plainLevel = makeLevel;
    const ramping = (make: LevelBalancerFactory) =>
      build(cluster.localityWeightedLb === true && !levelByHash ? withLocalityWeights(make, random) : make);
    const plain = () => build(plainLevel);
    return buildWithSlowStart(cluster.slowStart, cluster.lbPolicy, endpoints, random, slowStart, plain, ramping);
  }
  return build(makeLevel);
}

/** A level in panic gets a balancer that reports each pick; a healthy level's balancer is returned as is. */
function countingPanics(make: LevelBalancerFactory, onPanicPick: () => void): LevelBalancerFactory {
  return (hosts, level) => {
    const lb = make(hosts, level);
    if (level === undefined || !level.panic) return lb;
    return {
      pick(ctx) {
        onPanicPick();
        return lb.pick(ctx);
      },
    };
  };
}
