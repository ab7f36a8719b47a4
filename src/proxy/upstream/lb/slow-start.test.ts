import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../../api/clock.ts";
import type { LbPolicy, SlowStartConfig } from "../../../api/xds/types.ts";
import { Endpoint, HealthFlag } from "../endpoint.ts";
import { ClusterMembership } from "../membership.ts";
import { createLoadBalancer } from "./factory.ts";
import { slowStartFactor } from "./slow-start.ts";
import { endpoints, healthyEndpoints, tally, testCluster } from "./test-fixtures.ts";
import { mulberry32 } from "./test-random.ts";

const WINDOW = 60_000;
const LINEAR: SlowStartConfig = { windowMs: WINDOW, aggression: 1, minWeightPercent: 10 };

function cluster(policy: LbPolicy = "ROUND_ROBIN", slowStart: SlowStartConfig = LINEAR) {
  return testCluster(policy, { slowStart });
}

/** A membership of `n` hosts (10.0.0.1…) created at the clock's now. */
function membership(n: number, clock: ManualClock, policy: LbPolicy = "ROUND_ROBIN", config = LINEAR) {
  return new ClusterMembership(cluster(policy, config), healthyEndpoints(n), mulberry32(11), clock);
}

/** How many of `n` picks went to `key`. */
function picksOf(m: ClusterMembership, key: string, n: number): number {
  return tally(Array.from({ length: n }, () => m.pick({ hash: undefined }))).get(key) ?? 0;
}

/**
 * The count is within 99.9 % binomial bounds of n × p (z = 3.29), plus one pick for the deterministic schedule's
 * rounding. EDF is deterministic, so a correct share sits far inside; a wrong weight (no slow start: p = 1/4, or
 * the wrong factor) falls far outside.
 */
function assertShare(count: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  const [low, high] = [n * p - 3.29 * sd - 1, n * p + 3.29 * sd + 1];
  assert.ok(count >= low && count <= high, `${what}: ${count} of ${n}, expected ${(n * p).toFixed(1)} ± ${3.29 * sd}`);
}

/** The share of one host of weight 1 at factor f among `others` hosts at full weight 1. */
const shareOf = (f: number, others: number): number => f / (others + f);

const NEW = "10.0.0.4:80";

describe("slow start: the weight factor", () => {
  test("Envoy's formula: max(min_weight_percent, (max(1 ms, age) / window) ^ (1 / aggression))", () => {
    assert.equal(slowStartFactor(LINEAR, 0), 0.1);
    assert.equal(slowStartFactor(LINEAR, 12_000), 0.2);
    assert.ok(Math.abs(slowStartFactor(LINEAR, 20_000) - 1 / 3) < 1e-12);
    assert.equal(slowStartFactor(LINEAR, WINDOW), 1);
    assert.equal(slowStartFactor(LINEAR, 10 * WINDOW), 1);
    const aggressive = { ...LINEAR, aggression: 2 };
    assert.ok(Math.abs(slowStartFactor(aggressive, 6_000) - Math.sqrt(0.1)) < 1e-12);
    assert.ok(Math.abs(slowStartFactor(aggressive, 26_000) - Math.sqrt(26 / 60)) < 1e-12);
    assert.equal(slowStartFactor(aggressive, 0), 0.1, "the floor holds under aggression too");
    // Without a floor, the first millisecond counts as 1 ms (never a zero weight).
    assert.equal(slowStartFactor({ ...LINEAR, minWeightPercent: 0 }, 0), 1 / WINDOW);
    assert.equal(slowStartFactor({ ...LINEAR, minWeightPercent: 35 }, 12_000), 0.35);
  });
});

for (const policy of ["ROUND_ROBIN", "LEAST_REQUEST"] as const) {
  describe(`slow start with ${policy}`, () => {
    test("a new host starts at the floor and its share grows as the formula says, then it is a normal host", () => {
      const clock = new ManualClock();
      const m = membership(3, clock, policy);
      clock.advance(WINDOW + 1_000); // the first hosts are out of slow start
      m.update(healthyEndpoints(4));
      const n = 3_000;
      assertShare(picksOf(m, NEW, n), n, shareOf(0.1, 3), "at t=0");
      for (const age of [15_000, 30_000, 45_000]) {
        clock.advance(15_000);
        assertShare(picksOf(m, NEW, n), n, shareOf(age / WINDOW, 3), `at ${age} ms`);
      }
      clock.advance(15_000);
      const ramping = m.balancer;
      assertShare(picksOf(m, NEW, n), n, 1 / 4, "after the window");
      assert.notEqual(m.balancer, ramping, "the plain balancer took over");
    });

    test("aggression bends the curve: 2.0 gives sqrt(time factor)", () => {
      const clock = new ManualClock();
      const m = membership(3, clock, policy, { ...LINEAR, aggression: 2 });
      clock.advance(WINDOW + 1_000);
      m.update(healthyEndpoints(4));
      clock.advance(15_000);
      const n = 3_000;
      assertShare(picksOf(m, NEW, n), n, shareOf(Math.sqrt(0.25), 3), "aggression 2 at 15 s of 60 s");
      assert.ok(picksOf(m, NEW, n) > n * shareOf(0.25, 3) * 1.5, "more than the linear ramp gives");
    });
  });
}

describe("slow start: which hosts, and when", () => {
  test("hosts present when the cluster is created start together: equal shares among themselves", () => {
    const clock = new ManualClock();
    const m = membership(4, clock);
    for (let i = 1; i <= 4; i++) assertShare(picksOf(m, `10.0.0.${i}:80`, 2_000), 2_000, 1 / 4, `host ${i}`);
    // …but they are still ramping, so a host added 30 s later competes with hosts at half weight (Envoy's
    // behaviour for the initial host set).
    clock.advance(30_000);
    m.update(endpoints({}, {}, {}, {}, {}));
    assertShare(picksOf(m, "10.0.0.5:80", 3_000), 3_000, 0.1 / (4 * 0.5 + 0.1), "the late host");
  });

  test("a host that stays across an EDS update keeps its start, even when its weight changes", () => {
    const clock = new ManualClock();
    const m = membership(3, clock);
    clock.advance(WINDOW + 1_000);
    m.update(healthyEndpoints(4));
    const started = m.endpoints[3]!.slowStartFrom;
    assert.equal(started, WINDOW + 1_000);
    clock.advance(30_000);
    m.update(endpoints({}, {}, {}, { weight: 2 }));
    const replaced = m.endpoints[3]!;
    assert.equal(replaced.weight, 2, "a new object for the new weight");
    assert.equal(replaced.slowStartFrom, started, "that kept the start");
    assertShare(picksOf(m, NEW, 3_000), 3_000, (2 * 0.5) / (3 + 2 * 0.5), "weight 2 at half way");
    // A host that leaves and comes back has joined again.
    m.update(healthyEndpoints(3));
    clock.advance(1_000);
    m.update(healthyEndpoints(4));
    assert.equal(m.endpoints[3]!.slowStartFrom, WINDOW + 32_000);
  });

  test("unhealthy and degraded hosts are not in slow start; passing active health checks starts it again", () => {
    const clock = new ManualClock();
    const eps = endpoints({}, {}, {}, { health: "DEGRADED" });
    const m = new ClusterMembership(cluster(), eps, mulberry32(3), clock);
    assert.equal(eps[3]!.slowStartFrom, undefined, "degraded: not stamped");
    clock.advance(WINDOW + 1_000);
    const host = m.endpoints[0]!;
    m.setHealthFlag(host, HealthFlag.FAILED_ACTIVE_HC, true);
    clock.advance(5_000);
    m.setHealthFlag(host, HealthFlag.FAILED_ACTIVE_HC, false);
    assert.equal(host.slowStartFrom, WINDOW + 6_000, "back from a failed check: slow start again");
    assertShare(picksOf(m, host.key, 3_000), 3_000, shareOf(0.1, 3), "the recovered host");
    // Outlier ejection is not a health check: coming back from it does not restart slow start.
    clock.advance(WINDOW);
    m.setHealthFlag(host, HealthFlag.FAILED_OUTLIER_CHECK, true);
    m.setHealthFlag(host, HealthFlag.FAILED_OUTLIER_CHECK, false);
    assert.equal(host.slowStartFrom, WINDOW + 6_000);
  });

  test("a priority level in panic balances its unhealthy hosts at their plain weight", () => {
    const clock = new ManualClock();
    const eps = endpoints({}, { health: "UNHEALTHY" }, { health: "UNHEALTHY" });
    const m = new ClusterMembership(cluster(), eps, mulberry32(5), clock);
    // 1 of 3 healthy: panic, all three used; the healthy one is ramping (factor 0.1), the others are not.
    assertShare(picksOf(m, "10.0.0.1:80", 2_100), 2_100, shareOf(0.1, 2), "the ramping healthy host");
  });

  test("without a clock (or without slow_start_config) there is no slow start", () => {
    const eps = healthyEndpoints(2);
    const lb = createLoadBalancer(cluster(), eps, mulberry32(1));
    assert.equal(eps[0]!.slowStartFrom, undefined);
    assert.deepEqual([...tally(Array.from({ length: 4 }, () => lb.pick({ hash: undefined }))).values()], [2, 2]);
    const clock = new ManualClock();
    const plain = new ClusterMembership(testCluster("ROUND_ROBIN"), healthyEndpoints(2), mulberry32(1), clock);
    assert.equal(plain.endpoints[0]!.slowStartFrom, undefined);
  });

  test("while ramping, the balancer keeps the contract: health, priorities, weights, empty levels", () => {
    // A floor of 100 % keeps every factor at 1: the ramping scheduler runs, with the plain weights.
    const flat = { ...LINEAR, minWeightPercent: 100 };
    for (const policy of ["ROUND_ROBIN", "LEAST_REQUEST"] as const) {
      const clock = new ManualClock();
      const build = (eps: Endpoint[]) => createLoadBalancer(cluster(policy, flat), eps, mulberry32(2), { clock });
      const pickN = (lb: ReturnType<typeof build>, n: number) =>
        tally(Array.from({ length: n }, () => lb.pick({ hash: undefined })));
      assert.equal(build([]).pick({ hash: undefined }), undefined);
      // Priority 0 is 3/4 healthy (health 105 %): it takes everything.
      const mixed = endpoints({}, { health: "UNHEALTHY" }, { weight: 3 }, {}, { priority: 1 });
      const counts = pickN(build(mixed), 4_000);
      assert.deepEqual([...counts.keys()].sort(), [mixed[0]!.key, mixed[2]!.key, mixed[3]!.key], policy);
      assertShare(counts.get(mixed[2]!.key)!, 4_000, 3 / 5, `${policy}: weight 3 of 5`);
      const failover = endpoints({ health: "UNHEALTHY" }, { health: "UNHEALTHY" }, { priority: 1 }, { priority: 1 });
      assert.deepEqual(
        [...pickN(build(failover), 100).keys()].sort(),
        [failover[2]!.key, failover[3]!.key],
        `${policy}: fails over to priority 1`,
      );
    }
  });

  test("with locality-weighted balancing, the locality is chosen first and the new host ramps within it", () => {
    const clock = new ManualClock();
    const zone = (z: string) => ({ region: "r", zone: z, subZone: "" });
    // Zone a has locality weight 3, zone b 1.
    const host = (i: number, z: string) =>
      new Endpoint(`10.0.0.${i}`, 80, 1, "HEALTHY", 0, zone(z), undefined, z === "a" ? 3 : 1);
    const c = testCluster("ROUND_ROBIN", { slowStart: LINEAR, localityWeightedLb: true });
    const m = new ClusterMembership(c, [host(1, "a"), host(2, "b")], mulberry32(4), clock);
    clock.advance(WINDOW);
    m.update([host(1, "a"), host(2, "b"), host(3, "b")]);
    const n = 4_000;
    const counts = tally(Array.from({ length: n }, () => m.pick({ hash: undefined })));
    assertShare(counts.get("10.0.0.1:80")!, n, 3 / 4, "zone a keeps its 3/4");
    assertShare(counts.get("10.0.0.3:80")!, n, (1 / 4) * shareOf(0.1, 1), "the new host, within zone b");
  });

  test("a host with weight keeps its proportion: weight × factor", () => {
    const clock = new ManualClock();
    const m = new ClusterMembership(cluster("LEAST_REQUEST"), endpoints({}, {}), mulberry32(9), clock);
    clock.advance(WINDOW);
    m.update([...endpoints({}, {}), new Endpoint("10.0.0.3", 80, 4, "HEALTHY")]);
    clock.advance(WINDOW / 4);
    m.update(endpoints({}, {}));
    m.update([...endpoints({}, {}), new Endpoint("10.0.0.3", 80, 4, "HEALTHY")]);
    // Re-added: a new start at 60 s + 15 s, so the factor is the floor again: weight 4 × 0.1.
    assertShare(picksOf(m, "10.0.0.3:80", 2_400), 2_400, 0.4 / 2.4, "weight 4 at the floor");
  });
});
