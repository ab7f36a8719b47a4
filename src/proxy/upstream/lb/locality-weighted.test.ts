import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { HealthStatus, LbPolicy } from "../../../api/xds/types.ts";
import { Endpoint } from "../endpoint.ts";
import { ClusterMembership, endpointsFromAssignment } from "../membership.ts";
import { createLoadBalancer } from "./factory.ts";
import { localityShares } from "./locality-weighted.ts";
import { planPriorityLevels } from "./priority.ts";
import { mulberry32 } from "./test-random.ts";
import { testCluster } from "./test-fixtures.ts";

interface LocalitySpec {
  zone: string;
  /** The locality's load_balancing_weight; undefined = unset. */
  weight: number | undefined;
  healthy: number;
  unhealthy?: number;
  priority?: number;
}

/** Endpoints 10.<locality>.0.<n>:80 in zone `zone` of region "r", in the order given. */
function localities(...specs: LocalitySpec[]): Endpoint[] {
  return specs.flatMap((s, l) => {
    const total = s.healthy + (s.unhealthy ?? 0);
    return Array.from({ length: total }, (_, i) => {
      const health: HealthStatus = i < s.healthy ? "HEALTHY" : "UNHEALTHY";
      const locality = { region: "r", zone: s.zone, subZone: "" };
      return new Endpoint(`10.${l}.0.${i + 1}`, 80, 1, health, s.priority ?? 0, locality, undefined, s.weight);
    });
  });
}

/** Picks per zone over n picks. */
function picksPerZone(
  policy: LbPolicy,
  eps: Endpoint[],
  n: number,
  seed = 7,
  panicThreshold = 50,
): Map<string, number> {
  const cluster = testCluster(policy, { localityWeightedLb: true, healthyPanicThreshold: panicThreshold });
  const lb = createLoadBalancer(cluster, eps, mulberry32(seed));
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const e = lb.pick({ hash: undefined });
    const zone = e?.locality?.zone ?? "none";
    counts.set(zone, (counts.get(zone) ?? 0) + 1);
  }
  return counts;
}

/** Two-sided 99.9 % binomial bounds (normal approximation), as test/support/binomial.ts. */
function assertBinomial(count: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  const [lo, hi] = [n * p - 3.29 * sd, n * p + 3.29 * sd];
  assert.ok(
    count >= lo && count <= hi,
    `${what}: ${count} of ${n}, expected within [${lo.toFixed(0)}, ${hi.toFixed(0)}]`,
  );
}

const POLICIES: LbPolicy[] = ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"];

describe("locality-weighted balancing (Envoy's locality_weighted_lb_config)", () => {
  for (const policy of POLICIES) {
    test(`${policy}: localities weighted 80/20 share the traffic 80/20, whatever their host counts`, () => {
      const eps = localities({ zone: "a", weight: 80, healthy: 1 }, { zone: "b", weight: 20, healthy: 4 });
      const n = 10_000;
      const counts = picksPerZone(policy, eps, n);
      assertBinomial(counts.get("a") ?? 0, n, 0.8, "zone a");
      assertBinomial(counts.get("b") ?? 0, n, 0.2, "zone b");
    });
  }

  test("within a locality the cluster's policy spreads the picks over its hosts", () => {
    const eps = localities({ zone: "a", weight: 1, healthy: 2 }, { zone: "b", weight: 3, healthy: 3 });
    const lb = createLoadBalancer(testCluster("ROUND_ROBIN", { localityWeightedLb: true }), eps, mulberry32(1));
    const perHost = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const key = lb.pick({ hash: undefined })!.key;
      perHost.set(key, (perHost.get(key) ?? 0) + 1);
    }
    // EDF over 1:3 and round robin inside: exactly 500 per host of a, 1000 per host of b.
    assert.deepEqual([...perHost.entries()].sort(), [
      ["10.0.0.1:80", 500],
      ["10.0.0.2:80", 500],
      ["10.1.0.1:80", 1000],
      ["10.1.0.2:80", 1000],
      ["10.1.0.3:80", 1000],
    ]);
  });

  test("a locality's effective weight is weight × min(1, 1.4 × healthy / hosts)", () => {
    const eps = localities(
      { zone: "a", weight: 10, healthy: 8, unhealthy: 2 }, // 1.4 × 0.8 ≥ 1: the whole 10
      { zone: "b", weight: 10, healthy: 5, unhealthy: 5 }, // 1.4 × 0.5 = 0.7: 7
      { zone: "c", weight: 10, healthy: 0, unhealthy: 3 }, // none healthy: 0
    );
    const [level] = planPriorityLevels(eps);
    const shares = localityShares(level!).map((s) => [s.key, s.weight, Number(s.effectiveWeight.toFixed(6))]);
    assert.deepEqual(shares, [
      ["r/a/", 10, 10],
      ["r/b/", 10, 7],
      ["r/c/", 10, 0],
    ]);
    const n = 17_000;
    const counts = picksPerZone("RANDOM", eps, n);
    assertBinomial(counts.get("a") ?? 0, n, 10 / 17, "zone a");
    assertBinomial(counts.get("b") ?? 0, n, 7 / 17, "zone b");
    assert.equal(counts.get("c"), undefined, "a locality with no healthy host gets nothing");
  });

  test("a locality with weight 0 or no weight gets nothing", () => {
    const eps = localities(
      { zone: "a", weight: 1, healthy: 1 },
      { zone: "b", weight: 0, healthy: 5 },
      { zone: "c", weight: undefined, healthy: 5 },
    );
    const counts = picksPerZone("ROUND_ROBIN", eps, 1000);
    assert.deepEqual([...counts.entries()], [["a", 1000]]);
  });

  test("no locality with an effective weight: every healthy host of the level, as without locality weighting", () => {
    const eps = localities(
      { zone: "a", weight: undefined, healthy: 2 },
      { zone: "b", weight: 5, healthy: 0, unhealthy: 1 },
    );
    const counts = picksPerZone("ROUND_ROBIN", eps, 1000);
    assert.deepEqual([...counts.entries()], [["a", 1000]]);
  });

  test("a level in panic balances over all its hosts and ignores the localities' weights", () => {
    // 1 of 10 hosts healthy: under the 50 % panic threshold.
    const eps = localities(
      { zone: "a", weight: 100, healthy: 0, unhealthy: 4 },
      { zone: "b", weight: 1, healthy: 1, unhealthy: 5 },
    );
    const panic = picksPerZone("ROUND_ROBIN", eps, 1000);
    assert.deepEqual([...panic.entries()].sort(), [
      ["a", 400],
      ["b", 600],
    ]);
    // Panic disabled (threshold 0): only the healthy host of b, the one locality with an effective weight.
    const noPanic = picksPerZone("ROUND_ROBIN", eps, 1000, 7, 0);
    assert.deepEqual([...noPanic.entries()], [["b", 1000]]);
  });

  test("each priority level weighs its own localities", () => {
    const eps = localities(
      { zone: "a", weight: 1, healthy: 1, unhealthy: 4 }, // priority 0: 1.4 × 1/5 = 28 % of the load
      { zone: "b", weight: 3, healthy: 1, priority: 1 },
      { zone: "c", weight: 1, healthy: 1, priority: 1 },
    );
    const n = 20_000;
    const counts = picksPerZone("RANDOM", eps, n, 3, 0);
    assertBinomial(counts.get("a") ?? 0, n, 0.28, "zone a (priority 0)");
    assertBinomial(counts.get("b") ?? 0, n, 0.72 * 0.75, "zone b (priority 1)");
    assertBinomial(counts.get("c") ?? 0, n, 0.72 * 0.25, "zone c (priority 1)");
  });

  test("hash policies ignore locality weights, as in Envoy", () => {
    const eps = localities({ zone: "a", weight: 1, healthy: 1 }, { zone: "b", weight: undefined, healthy: 1 });
    for (const policy of ["RING_HASH", "MAGLEV"] as const) {
      const lb = createLoadBalancer(testCluster(policy, { localityWeightedLb: true }), eps, mulberry32(5));
      const zones = new Set<string>();
      for (let h = 0; h < 200; h++) zones.add(lb.pick({ hash: h * 2_654_435_761 })!.locality!.zone);
      assert.deepEqual([...zones].sort(), ["a", "b"], policy);
    }
  });

  test("off (the default): the plain policy's balancer, with no locality layer in front", () => {
    const eps = localities({ zone: "a", weight: 1, healthy: 2 }, { zone: "b", weight: undefined, healthy: 2 });
    const plain = createLoadBalancer(testCluster("ROUND_ROBIN"), eps, mulberry32(1));
    assert.equal(plain.constructor.name, "RotationBalancer");
    const weighted = createLoadBalancer(testCluster("ROUND_ROBIN", { localityWeightedLb: true }), eps, mulberry32(1));
    assert.equal(weighted.constructor.name, "RotationBalancer", "one locality left: its balancer alone");
    const both = localities({ zone: "a", weight: 1, healthy: 2 }, { zone: "b", weight: 1, healthy: 2 });
    const layered = createLoadBalancer(testCluster("ROUND_ROBIN", { localityWeightedLb: true }), both, mulberry32(1));
    assert.equal(layered.constructor.name, "LocalityWeightedBalancer");
  });

  test("endpoints carry their group's locality weight; a change of it rebuilds the balancer", () => {
    /** One locality group of one healthy endpoint. */
    const group = (zone: string, address: string, loadBalancingWeight: number | undefined) => ({
      locality: { region: "r", zone, subZone: "" },
      lbEndpoints: [
        {
          address: { address, port: 80 },
          loadBalancingWeight: 1,
          healthStatus: "HEALTHY" as const,
          hostname: undefined,
        },
      ],
      loadBalancingWeight,
      priority: 0,
    });
    const assignment = (weightB: number | undefined) => ({
      clusterName: "c",
      endpoints: [group("a", "10.0.0.1", 1), group("b", "10.0.0.2", weightB)],
    });
    const first = endpointsFromAssignment(assignment(undefined));
    assert.deepEqual(
      first.map((e) => e.localityWeight),
      [1, undefined],
    );
    const membership = new ClusterMembership(
      testCluster("ROUND_ROBIN", { localityWeightedLb: true }),
      first,
      mulberry32(2),
    );
    const only = new Set(Array.from({ length: 10 }, () => membership.pick({ hash: undefined })!.key));
    assert.deepEqual([...only], ["10.0.0.1:80"]);
    membership.update(endpointsFromAssignment(assignment(1)));
    assert.equal(membership.endpoints[0], first[0], "an unchanged endpoint keeps its object");
    assert.notEqual(membership.endpoints[1], first[1], "a changed locality weight makes a new one");
    const both = new Set(Array.from({ length: 10 }, () => membership.pick({ hash: undefined })!.key));
    assert.deepEqual([...both].sort(), ["10.0.0.1:80", "10.0.0.2:80"]);
  });
});
