// The contract every load-balancing policy keeps, run against each of them through createLoadBalancer: health,
// priority, panic, coverage and weights. Hash-based policies get a fresh random request hash per pick (and one
// test without any), so every policy is exercised over the whole key space. All randomness is seeded.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { LbPolicy } from "../../../api/xds/types.ts";
import type { LoadBalancer } from "../balancer.ts";
import { HealthFlag, type Endpoint } from "../endpoint.ts";
import { createLoadBalancer } from "./factory.ts";
import { mulberry32 } from "./test-random.ts";
import { endpoints, healthyEndpoints, tally, testCluster } from "./test-fixtures.ts";

const POLICIES: LbPolicy[] = ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "RING_HASH", "MAGLEV"];
/** Chi-square critical value for 1 degree of freedom at p = 0.001. */
const CHI_SQUARE_1DOF_P001 = 10.83;

function build(policy: LbPolicy, eps: readonly Endpoint[], seed = 1): LoadBalancer {
  return createLoadBalancer(testCluster(policy), eps, mulberry32(seed));
}

/** n picks; hash-based policies get a random request hash each time (unless withHash is false). */
function pickMany(lb: LoadBalancer, n: number, seed = 7, withHash = true): Endpoint[] {
  const rng = mulberry32(seed);
  const out: Endpoint[] = [];
  for (let i = 0; i < n; i++) {
    const e = lb.pick({ hash: withHash ? Math.floor(rng() * 4294967296) : undefined });
    assert.ok(e, `pick ${i} returned undefined`);
    out.push(e);
  }
  return out;
}

for (const policy of POLICIES) {
  describe(`load balancer contract: ${policy}`, () => {
    test("an empty endpoint list gives undefined, with or without a request hash", () => {
      const lb = build(policy, []);
      assert.equal(lb.pick({ hash: undefined }), undefined);
      assert.equal(lb.pick({ hash: 12345 }), undefined);
    });

    test("never returns an unhealthy endpoint while enough healthy ones exist", () => {
      // 4 of 6 healthy (67 %, above the 50 % panic threshold); unhealthy by EDS status and by health check.
      const eps = endpoints({}, { health: "UNHEALTHY" }, {}, { health: "DRAINING" }, { weight: 3 }, {});
      eps[5]!.healthFlags = HealthFlag.FAILED_ACTIVE_HC;
      const counts = tally(pickMany(build(policy, eps), 3000));
      for (const bad of [eps[1]!, eps[3]!, eps[5]!]) assert.equal(counts.get(bad.key), undefined, bad.key);
      for (const good of [eps[0]!, eps[2]!, eps[4]!]) assert.ok((counts.get(good.key) ?? 0) > 0, good.key);
    });

    test("uses only the lowest priority level while it is healthy", () => {
      const eps = endpoints({ priority: 0 }, { priority: 1 }, { priority: 0 }, { priority: 1 });
      const counts = tally(pickMany(build(policy, eps), 2000));
      assert.deepEqual([...counts.keys()].sort(), [eps[0]!.key, eps[2]!.key]);
    });

    test("fails over to the next level when a level has no healthy endpoint", () => {
      const eps = endpoints(
        { priority: 0, health: "UNHEALTHY" },
        { priority: 0, health: "UNHEALTHY" },
        { priority: 1 },
        { priority: 2 },
      );
      const counts = tally(pickMany(build(policy, eps), 2000));
      assert.deepEqual([...counts.keys()], [eps[2]!.key]);
    });

    test("spills over to the next level in proportion to health (overprovisioning factor 1.4)", () => {
      // P0 is 2/4 healthy: health 140 * 2/4 = 70 %, not in panic (50 % is not below the threshold); P1 takes 30 %.
      const eps = endpoints(
        { priority: 0 },
        { priority: 0 },
        { priority: 0, health: "UNHEALTHY" },
        { priority: 0, health: "UNHEALTHY" },
        { priority: 1 },
      );
      const n = 10_000;
      const counts = tally(pickMany(build(policy, eps), n));
      assert.equal(counts.get(eps[2]!.key), undefined);
      assert.equal(counts.get(eps[3]!.key), undefined);
      const p0 = (counts.get(eps[0]!.key) ?? 0) + (counts.get(eps[1]!.key) ?? 0);
      // Binomial(10000, 0.7): sd ≈ 46; allow 5 sd.
      assert.ok(Math.abs(p0 - 0.7 * n) < 5 * Math.sqrt(n * 0.7 * 0.3), `P0 got ${p0} of ${n}`);
    });

    test("panic: a level under 50 % healthy balances across all its endpoints", () => {
      const eps = endpoints({}, { health: "UNHEALTHY" }, { health: "UNHEALTHY" });
      const counts = tally(pickMany(build(policy, eps), 3000));
      for (const e of eps) assert.ok((counts.get(e.key) ?? 0) > 500, `${e.key}: ${counts.get(e.key)}`);
    });

    test("total panic: nothing healthy anywhere still routes, split across levels by host count", () => {
      const eps = endpoints(
        { priority: 0, health: "UNHEALTHY" },
        { priority: 0, health: "UNHEALTHY" },
        { priority: 1, health: "UNHEALTHY" },
        { priority: 1, health: "UNHEALTHY" },
      );
      const counts = tally(pickMany(build(policy, eps), 4000));
      for (const e of eps) assert.ok((counts.get(e.key) ?? 0) > 600, `${e.key}: ${counts.get(e.key)}`);
    });

    test("every endpoint is eventually chosen, with and without a request hash", () => {
      const eps = healthyEndpoints(7);
      for (const withHash of [true, false]) {
        const counts = tally(pickMany(build(policy, eps), 2000, 11, withHash));
        assert.equal(counts.size, 7, `withHash=${withHash}`);
      }
    });

    test("weights 1:3 are honoured over 10,000 picks (chi-square, p = 0.001)", () => {
      const eps = endpoints({ weight: 1 }, { weight: 3 });
      const n = 10_000;
      const counts = tally(pickMany(build(policy, eps), n));
      const observed = [counts.get(eps[0]!.key) ?? 0, counts.get(eps[1]!.key) ?? 0];
      const expected = [n / 4, (3 * n) / 4];
      const chi = observed.reduce((sum, o, i) => sum + (o - expected[i]!) ** 2 / expected[i]!, 0);
      assert.ok(chi < CHI_SQUARE_1DOF_P001, `observed ${observed.join(":")}, chi-square ${chi.toFixed(2)}`);
    });

    test("the same inputs and seed give the same picks", () => {
      const eps = endpoints({ weight: 2 }, {}, { weight: 5 }, {});
      const a = pickMany(build(policy, eps, 42), 200).map((e) => e.key);
      const b = pickMany(build(policy, eps, 42), 200).map((e) => e.key);
      assert.deepEqual(a, b);
    });
  });
}
