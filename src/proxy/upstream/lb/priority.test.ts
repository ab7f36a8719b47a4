import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Endpoint } from "../endpoint.ts";
import { createLoadBalancer } from "./factory.ts";
import { hostsToUse, loadWithout, planPriorityLevels } from "./priority.ts";
import { scripted } from "./test-random.ts";
import { endpoints, testCluster } from "./test-fixtures.ts";

/** Endpoints per level: [healthy, total] for priority 0, 1, … */
function levels(...spec: [number, number][]): Endpoint[] {
  return spec.flatMap(([healthy, total], priority) =>
    endpoints(
      ...Array.from({ length: total }, (_, i) => ({
        priority,
        health: i < healthy ? ("HEALTHY" as const) : ("UNHEALTHY" as const),
      })),
    ),
  );
}

function summary(eps: Endpoint[]): [number, number, boolean][] {
  return planPriorityLevels(eps).map((l) => [l.priority, l.load, l.panic]);
}

describe("priority levels (Envoy's load and panic calculation)", () => {
  test("a healthy first level takes everything", () => {
    assert.deepEqual(summary(levels([3, 3], [2, 2])), [
      [0, 100, false],
      [1, 0, false],
    ]);
  });

  test("the overprovisioning factor 1.4 keeps a level at 100 % down to 72 % healthy", () => {
    // 140 * 3/4 = 105 → 100.
    assert.deepEqual(summary(levels([3, 4], [2, 2])), [
      [0, 100, false],
      [1, 0, false],
    ]);
    // 140 * 5/8 = 87: 13 % spills to priority 1.
    assert.deepEqual(summary(levels([5, 8], [2, 2])), [
      [0, 87, false],
      [1, 13, false],
    ]);
  });

  test("a level under 50 % healthy is not in panic while the levels together are fully available", () => {
    // 140 * 1/3 = 46 (+ 100 from priority 1 caps the total at 100): no panic anywhere, 46 % to the one healthy host.
    const plan = planPriorityLevels(levels([1, 3], [2, 2]));
    assert.deepEqual(
      plan.map((l) => [l.load, l.panic]),
      [
        [46, false],
        [54, false],
      ],
    );
    assert.equal(hostsToUse(plan[0]!).length, 1);
  });

  test("when every level is in panic, even one with some health, load goes by host count", () => {
    // Health 46 and 0 (total 46 < 100): both levels are under 50 % healthy, so both panic, and Envoy's
    // recalculateLoadInTotalPanic splits by host count (3 : 2) instead of giving priority 0 everything.
    const plan = planPriorityLevels(levels([1, 3], [0, 2]));
    assert.deepEqual(
      plan.map((l) => [l.load, l.panic]),
      [
        [60, true],
        [40, true],
      ],
    );
    assert.equal(hostsToUse(plan[0]!).length, 3);
  });

  test("a level in panic beside one that is not keeps its health-based load over all its hosts", () => {
    // Health 28 (1/5 healthy, panic) and 70 (1/2 healthy, not panic): total 98, so loads scale to 28 + 1 rounding
    // and 71; priority 0 balances across all 5 hosts, priority 1 across its healthy one.
    const plan = planPriorityLevels(levels([1, 5], [1, 2]));
    assert.deepEqual(
      plan.map((l) => [l.load, l.panic]),
      [
        [29, true],
        [71, false],
      ],
    );
    assert.equal(hostsToUse(plan[0]!).length, 5);
    assert.equal(hostsToUse(plan[1]!).length, 1);
    // Health 46 + 35 = 81: both under 50 % healthy → total panic → host count 3 : 4.
    assert.deepEqual(
      planPriorityLevels(levels([1, 3], [1, 4])).map((l) => [l.load, l.panic]),
      [
        [43, true],
        [57, true],
      ],
    );
  });

  test("total panic splits load by host count across levels", () => {
    assert.deepEqual(summary(levels([0, 3], [0, 1])), [
      [0, 75, true],
      [1, 25, true],
    ]);
    assert.deepEqual(summary(levels([0, 1], [0, 1], [0, 1])), [
      [0, 34, true],
      [1, 33, true],
      [2, 33, true],
    ]);
  });

  test("the cluster's healthy_panic_threshold decides panic; 0 disables it", () => {
    // One level, 2 of 5 healthy (40 %): health 56, not fully available.
    const eps = levels([2, 5]);
    const panicAt = (threshold: number) => planPriorityLevels(eps, threshold).map((l) => [l.load, l.panic]);
    assert.deepEqual(panicAt(50), [[100, true]]);
    assert.deepEqual(panicAt(40), [[100, false]]); // 40 is not under 40
    assert.deepEqual(panicAt(41), [[100, true]]);
    assert.deepEqual(panicAt(0), [[100, false]]);
    // Through the factory: panic uses all five hosts, no panic only the two healthy ones.
    const picked = (threshold: number) => {
      const lb = createLoadBalancer(testCluster("ROUND_ROBIN", { healthyPanicThreshold: threshold }), eps, () => 0);
      return new Set(Array.from({ length: 10 }, () => lb.pick({ hash: undefined })));
    };
    assert.equal(picked(50).size, 5);
    assert.equal(picked(30).size, 2);
    // Nothing healthy and panic disabled: no host at all (503 UH), as in Envoy.
    const none = createLoadBalancer(testCluster("ROUND_ROBIN", { healthyPanicThreshold: 0 }), levels([0, 3]), () => 0);
    assert.equal(none.pick({ hash: undefined }), undefined);
  });

  test("loads always sum to 100 and levels come out in priority order, gaps skipped", () => {
    const eps = [...endpoints({ priority: 5 }, { priority: 2, health: "UNHEALTHY" }, { priority: 2 })];
    const plan = planPriorityLevels(eps);
    assert.deepEqual(
      plan.map((l) => l.priority),
      [2, 5],
    );
    assert.equal(
      plan.reduce((s, l) => s + l.load, 0),
      100,
    );
    assert.deepEqual(planPriorityLevels([]), []);
  });

  test("ring hash and maglev choose the level from the request hash (hash % 100), others from random", () => {
    // 87 / 13 split: hashes 0..86 → priority 0, 87..99 → priority 1.
    const eps = levels([5, 8], [2, 2]);
    const p1 = new Set(eps.filter((e) => e.priority === 1));
    for (const policy of ["RING_HASH", "MAGLEV"] as const) {
      const lb = createLoadBalancer(testCluster(policy), eps, () => 0);
      for (let h = 0; h < 300; h++) {
        assert.equal(p1.has(lb.pick({ hash: h })!), h % 100 >= 87, `${policy} hash ${h}`);
      }
    }
    const r = scripted();
    r.queue(0.5); // round robin's starting offset for priority 0
    r.queue(0.5); // … and for priority 1
    const rr = createLoadBalancer(testCluster("ROUND_ROBIN"), eps, r.random);
    r.queue(0.9); // bucket 90 → priority 1
    assert.ok(p1.has(rr.pick({ hash: 0 })!));
    r.queue(0.1); // bucket 10 → priority 0
    assert.ok(!p1.has(rr.pick({ hash: 99 })!));
    assert.equal(r.remaining(), 0);
  });
});

describe("a retry's priority load without the priorities it tried (previous_priorities)", () => {
  test("the remaining levels' health, in order; everything excluded → none (the caller keeps the load)", () => {
    // Healthy P0 takes everything; without it, P1 (health 100) does.
    const all = planPriorityLevels(levels([4, 4], [4, 4], [4, 4]));
    assert.deepEqual(
      all.map((l) => l.load),
      [100, 0, 0],
    );
    assert.deepEqual(loadWithout(all, new Set([0])), [0, 100, 0]);
    assert.deepEqual(loadWithout(all, new Set([0, 1])), [0, 0, 100]);
    assert.equal(loadWithout(all, new Set([0, 1, 2])), undefined);
    // A half-healthy P1 (health 70) and a healthy P2 split the load 70/30 once P0 is left out.
    const mixed = planPriorityLevels(levels([4, 4], [2, 4], [4, 4]));
    assert.deepEqual(loadWithout(mixed, new Set([0])), [0, 70, 30]);
    // A level with no healthy host takes nothing.
    const dead = planPriorityLevels(levels([4, 4], [0, 4]));
    assert.equal(loadWithout(dead, new Set([0])), undefined);
  });

  test("picks follow the excluded load; without exclusions the cluster's own load; zero-load levels built on demand", () => {
    const eps = levels([2, 2], [2, 2]);
    const p1 = new Set(eps.filter((e) => e.priority === 1));
    for (const policy of ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "RING_HASH", "MAGLEV"] as const) {
      const lb = createLoadBalancer(testCluster(policy), eps, () => 0.3);
      for (let h = 0; h < 50; h++) {
        assert.ok(!p1.has(lb.pick({ hash: h })!), `${policy}: P0 while healthy`);
        assert.ok(p1.has(lb.pick({ hash: h, excludedPriorities: new Set([0]) })!), `${policy}: P1 without P0`);
        assert.ok(!p1.has(lb.pick({ hash: h, excludedPriorities: new Set([0, 1]) })!), `${policy}: all left out`);
      }
    }
  });
});
