import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../../api/clock.ts";
import { mulberry32 } from "../../../api/random.ts";
import { OUTLIER_DEFAULTS } from "../../../api/xds/parse/outlier-detection.ts";
import type { OutlierDetection } from "../../../api/xds/types.ts";
import { StatsStore } from "../../../telemetry/stats.ts";
import { HealthFlag, type Endpoint } from "../endpoint.ts";
import { healthyEndpoints, testCluster } from "../lb/test-fixtures.ts";
import { ClusterMembership } from "../membership.ts";
import { OutlierDetector } from "./detector.ts";
import { successRateThreshold } from "./success-rate.ts";

function setup(overrides: Partial<OutlierDetection> = {}, hosts = 5, seed = 1) {
  const clock = new ManualClock();
  const store = new StatsStore();
  const log: string[] = [];
  const eps = healthyEndpoints(hosts);
  const random = mulberry32(seed);
  const membership = new ClusterMembership(testCluster("ROUND_ROBIN"), eps, random);
  const config = { ...OUTLIER_DEFAULTS, maxEjectionPercent: 100, ...overrides };
  const detector = new OutlierDetector(config, membership, { clock, random, store, log: (l) => log.push(l) }, "app");
  /** A stat read back from the store by its Envoy name. */
  const stat = (name: string) => {
    const labels = { envoy_cluster_name: "app" };
    const full = `envoy_cluster_outlier_detection_${name}`;
    return (name === "ejections_active" ? store.gauge(full, "", labels) : store.counter(full, "", labels)).value;
  };
  const ejected = () => eps.filter((e) => (e.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) !== 0);
  /** The balancer's picks over a round: which endpoints still take traffic. */
  const serving = () => new Set(Array.from({ length: hosts * 2 }, () => membership.pick({ hash: undefined })));
  return { clock, store, log, eps, membership, detector, stat, ejected, serving };
}

function respond(detector: OutlierDetector, e: Endpoint, status: number, times = 1): void {
  for (let i = 0; i < times; i++) detector.onResponse(e, status);
}

/** One interval's traffic: `total` answers from `e`, `failures` of them 500, spread so no streak gets long. */
function traffic(detector: OutlierDetector, e: Endpoint, total: number, failures: number): void {
  for (let i = 0; i < total; i++) detector.onResponse(e, i < failures * 2 && i % 2 === 0 ? 500 : 200);
  assert.ok(failures * 2 <= total || failures === total, "test helper: failures interleave with successes");
}

describe("outlier detector: consecutive failures", () => {
  test("consecutive_5xx ejects at exactly N; a success resets the streak", () => {
    const t = setup({ consecutive5xx: 3 });
    const [a] = t.eps;
    respond(t.detector, a!, 500, 2);
    respond(t.detector, a!, 200);
    respond(t.detector, a!, 500, 2);
    assert.deepEqual(t.ejected(), []);
    respond(t.detector, a!, 500);
    assert.deepEqual(t.ejected(), [a]);
    assert.equal(a!.healthFlagsText, "/failed_outlier_check");
    assert.ok(!t.serving().has(a), "the balancer no longer picks it");
    assert.equal(t.stat("ejections_active"), 1);
    assert.equal(t.stat("ejections_detected_consecutive_5xx"), 1);
    assert.equal(t.stat("ejections_enforced_consecutive_5xx"), 1);
    assert.equal(t.stat("ejections_enforced_total"), 1);
    assert.equal(t.stat("ejections_total"), 1);
    assert.deepEqual(t.log, [
      "outlier_detection: cluster app: ejected 10.0.0.1:80 (consecutive_5xx) for 30000 ms, ejection #1",
    ]);
    // Failures while ejected run past the threshold and eject nothing again.
    respond(t.detector, a!, 500, 10);
    assert.equal(t.stat("ejections_detected_consecutive_5xx"), 1);
  });

  test("gateway failures (502/503/504) vs other 5xx", () => {
    const t = setup({ consecutive5xx: 10, consecutiveGatewayFailure: 3, enforcingConsecutiveGatewayFailure: 100 });
    const [a, b] = t.eps;
    // A 500 breaks the gateway streak but not the 5xx one.
    for (const s of [502, 503, 500, 504, 502]) t.detector.onResponse(a!, s);
    assert.deepEqual(t.ejected(), []);
    t.detector.onResponse(a!, 503);
    assert.deepEqual(t.ejected(), [a]);
    assert.equal(t.stat("ejections_enforced_consecutive_gateway_failure"), 1);
    assert.equal(t.stat("ejections_enforced_consecutive_5xx"), 0);
    // 500s never count as gateway failures: b goes at the 10th 5xx.
    respond(t.detector, b!, 500, 9);
    assert.equal(t.ejected().length, 1);
    respond(t.detector, b!, 500);
    assert.deepEqual(t.ejected(), [a, b]);
    assert.equal(t.stat("ejections_detected_consecutive_gateway_failure"), 1);
    assert.equal(t.stat("ejections_enforced_consecutive_5xx"), 1);
  });

  test("by default gateway failures are detected but not enforced (enforcing_consecutive_gateway_failure 0)", () => {
    const t = setup();
    const [a] = t.eps;
    respond(t.detector, a!, 503, 5);
    // Both streaks reach 5: the gateway one is detected, not enforced; the 5xx one ejects.
    assert.equal(t.stat("ejections_detected_consecutive_gateway_failure"), 1);
    assert.equal(t.stat("ejections_enforced_consecutive_gateway_failure"), 0);
    assert.equal(t.stat("ejections_enforced_consecutive_5xx"), 1);
    assert.deepEqual(t.ejected(), [a]);
  });

  test("without the split, local-origin failures count as 503 (connect failure, reset) and 504 (timeout)", () => {
    const t = setup({ consecutive5xx: 4, consecutiveGatewayFailure: 4, enforcingConsecutiveGatewayFailure: 100 });
    const [a] = t.eps;
    t.detector.onLocalOriginFailure(a!, "connect_failed");
    t.detector.onLocalOriginFailure(a!, "reset");
    t.detector.onLocalOriginFailure(a!, "timeout");
    assert.deepEqual(t.ejected(), []);
    t.detector.onResponse(a!, 502);
    assert.deepEqual(t.ejected(), [a]);
    assert.equal(t.stat("ejections_enforced_consecutive_gateway_failure"), 1);
    assert.equal(t.stat("ejections_detected_consecutive_local_origin_failure"), 0);
  });

  test("with the split, local-origin failures count only toward consecutive_local_origin_failure", () => {
    const t = setup({ splitExternalLocalOriginErrors: true, consecutive5xx: 3, consecutiveLocalOriginFailure: 3 });
    const [a, b] = t.eps;
    // Local failures do not touch the 5xx streak: two 5xx, then three local failures eject for the local streak.
    respond(t.detector, a!, 500, 2);
    t.detector.onLocalOriginFailure(a!, "timeout");
    t.detector.onLocalOriginFailure(a!, "connect_failed");
    assert.deepEqual(t.ejected(), []);
    t.detector.onLocalOriginFailure(a!, "reset");
    assert.deepEqual(t.ejected(), [a]);
    assert.equal(t.stat("ejections_enforced_consecutive_local_origin_failure"), 1);
    assert.equal(t.stat("ejections_detected_consecutive_5xx"), 0);
    assert.equal(t.detector.host(a!)!.consecutive5xx, 2);
    // An answer, even a 5xx, proves the connection: it breaks the local-origin streak.
    t.detector.onLocalOriginFailure(b!, "connect_failed");
    t.detector.onLocalOriginFailure(b!, "connect_failed");
    t.detector.onResponse(b!, 503);
    t.detector.onLocalOriginFailure(b!, "connect_failed");
    t.detector.onLocalOriginFailure(b!, "connect_failed");
    assert.deepEqual(t.ejected(), [a]);
  });

  test("enforcing_* is a per-detection chance rolled with the cluster's random", () => {
    const t = setup({
      consecutive5xx: 1,
      enforcingConsecutive5xx: 30,
      baseEjectionTimeMs: 1_000,
      maxEjectionTimeMs: 1_000,
      intervalMs: 1_000,
    });
    for (let round = 0; round < 200; round++) {
      for (const e of t.eps) t.detector.onResponse(e, 500);
      t.clock.advance(1_000); // every ejection (1 s) is over at the next sweep
    }
    const detected = t.stat("ejections_detected_consecutive_5xx");
    const enforced = t.stat("ejections_enforced_consecutive_5xx");
    assert.ok(detected > 900, `detected ${detected}`);
    // 30 % of the detections, within wide binomial bounds.
    assert.ok(enforced > detected * 0.25 && enforced < detected * 0.35, `${enforced} of ${detected}`);
  });
});

describe("outlier detector: success rate and failure percentage", () => {
  test("the threshold is mean - factor × stdev (Envoy's example: 50,100,100,100,100 → mean 90, threshold 52)", () => {
    assert.deepEqual(successRateThreshold([50, 100, 100, 100, 100], 1.9), { mean: 90, threshold: 52 });
    // 80, 90, 95, 100, 100: mean 93, variance (169+9+4+49+49)/5 = 56, stdev 7.4833.
    const t = successRateThreshold([80, 90, 95, 100, 100], 1.9);
    assert.equal(t.mean, 93);
    assert.ok(Math.abs(t.threshold - (93 - 1.9 * Math.sqrt(56))) < 1e-9);
  });

  test("a host under the threshold is ejected at the sweep; the rates show in the host state", () => {
    const t = setup({ consecutive5xx: 1000, successRateStdevFactor: 1900 });
    const rates = [50, 100, 100, 100, 100];
    t.eps.forEach((e, i) => traffic(t.detector, e, 100, 100 - rates[i]!));
    assert.deepEqual(t.ejected(), [], "nothing happens before the interval ends");
    t.clock.advance(10_000);
    assert.deepEqual(t.ejected(), [t.eps[0]]);
    assert.deepEqual(
      t.eps.map((e) => t.detector.host(e)!.successRate),
      [50, 100, 100, 100, 100],
    );
    assert.equal(t.stat("ejections_detected_success_rate"), 1);
    assert.equal(t.stat("ejections_enforced_success_rate"), 1);
    assert.match(t.log[0]!, /ejected 10\.0\.0\.1:80 \(success_rate: success rate 50 %, mean 90 %, threshold 52 %\)/);
    // The next interval had no traffic: nothing is computed, the rates go back to -1.
    t.clock.advance(10_000);
    assert.deepEqual(
      t.eps.map((e) => t.detector.host(e)!.successRate),
      [-1, -1, -1, -1, -1],
    );
  });

  test("the stdev factor decides: 80 % among 90..100 % is an outlier at factor 1.0, not at 1.9", () => {
    for (const [factor, expected] of [
      [1900, 0],
      [1000, 1],
    ] as const) {
      const t = setup({ consecutive5xx: 1000, successRateStdevFactor: factor });
      const rates = [80, 90, 95, 100, 100];
      t.eps.forEach((e, i) => traffic(t.detector, e, 100, 100 - rates[i]!));
      t.clock.advance(10_000);
      assert.equal(t.ejected().length, expected, `factor ${factor}`);
    }
  });

  test("success rate needs success_rate_minimum_hosts hosts with success_rate_request_volume", () => {
    const t = setup({ consecutive5xx: 1000 });
    // Only four hosts have the volume (100): no judgement. A rate is shown from the smaller of the two volumes
    // (failure_percentage_request_volume, 50): for 99 requests, not for 49.
    const rates = [50, 100, 100];
    rates.forEach((r, i) => traffic(t.detector, t.eps[i]!, 100, 100 - r));
    traffic(t.detector, t.eps[3]!, 99, 0);
    traffic(t.detector, t.eps[4]!, 49, 0);
    t.clock.advance(10_000);
    assert.deepEqual(t.ejected(), []);
    assert.deepEqual(
      t.eps.map((e) => t.detector.host(e)!.successRate),
      [50, 100, 100, 100, -1],
    );
  });

  test("failure percentage ejects hosts at or over the threshold (when enforced)", () => {
    const t = setup({ consecutive5xx: 1000, enforcingFailurePercentage: 100, enforcingSuccessRate: 0 });
    // Failure 85 % (at the threshold), 84 %, and three healthy hosts; volume 100 ≥ 50.
    const failures = [85, 84, 0, 0, 0];
    t.eps.forEach((e, i) => {
      for (let k = 0; k < 100; k++) t.detector.onResponse(e, k < failures[i]! ? 500 : 200);
    });
    t.clock.advance(10_000);
    assert.deepEqual(t.ejected(), [t.eps[0]]);
    assert.equal(t.stat("ejections_detected_failure_percentage"), 1);
    assert.equal(t.stat("ejections_enforced_failure_percentage"), 1);
    // The success-rate pass detected host 0 too (15 % is far below the others) but did not enforce it.
    assert.equal(t.stat("ejections_enforced_success_rate"), 0);
    assert.match(t.log[0]!, /\(failure_percentage: failure 85 %, threshold 85 %\)/);
  });

  test("local-origin success rate and failure percentage with the split", () => {
    const t = setup({
      splitExternalLocalOriginErrors: true,
      consecutiveLocalOriginFailure: 1000,
      enforcingLocalOriginSuccessRate: 0,
      enforcingFailurePercentageLocalOrigin: 100,
    });
    t.eps.forEach((e, i) => {
      for (let k = 0; k < 100; k++) {
        if (i === 2 && k % 10 !== 0) t.detector.onLocalOriginFailure(e, "connect_failed");
        else t.detector.onResponse(e, 200);
      }
    });
    t.clock.advance(10_000);
    assert.deepEqual(t.ejected(), [t.eps[2]]);
    assert.equal(t.detector.host(t.eps[0]!)!.localOriginSuccessRate, 100);
    assert.equal(t.stat("ejections_detected_local_origin_success_rate"), 1);
    assert.equal(t.stat("ejections_enforced_local_origin_failure_percentage"), 1);
    // External success rate saw only the answers: 10 of host 2, all 200.
    assert.equal(t.detector.host(t.eps[2]!)!.successRate, -1);
  });

  test("local-origin success rate enforced; local-origin failure percentage detected without enforcing", () => {
    const run = (enforcingSuccessRate: number) => {
      const t = setup({
        splitExternalLocalOriginErrors: true,
        consecutiveLocalOriginFailure: 1000,
        enforcingLocalOriginSuccessRate: enforcingSuccessRate,
        enforcingFailurePercentageLocalOrigin: 0,
      });
      t.eps.forEach((e, i) => {
        for (let k = 0; k < 100; k++) {
          if (i === 2 && k % 10 !== 0) t.detector.onLocalOriginFailure(e, "connect_failed");
          else t.detector.onResponse(e, 200);
        }
      });
      t.clock.advance(10_000);
      return t;
    };
    const enforced = run(100);
    assert.deepEqual(enforced.ejected(), [enforced.eps[2]]);
    assert.equal(enforced.stat("ejections_enforced_local_origin_success_rate"), 1);
    const detectedOnly = run(0);
    assert.deepEqual(detectedOnly.ejected(), []);
    assert.equal(detectedOnly.stat("ejections_detected_local_origin_failure_percentage"), 1);
    assert.equal(detectedOnly.stat("ejections_enforced_local_origin_failure_percentage"), 0);
  });
});

describe("outlier detector: limits and ejection time", () => {
  test("max_ejection_percent is never exceeded, over many hosts and many intervals", () => {
    const t = setup({ maxEjectionPercent: 25, consecutive5xx: 2, baseEjectionTimeMs: 3_000 }, 20, 7);
    const random = mulberry32(99);
    let most = 0;
    for (let step = 0; step < 5_000; step++) {
      const e = t.eps[Math.floor(random() * 20)]!;
      t.detector.onResponse(e, random() < 0.6 ? 503 : 200);
      if (step % 50 === 0) t.clock.advance(1_000);
      const n = t.ejected().length;
      assert.ok(n <= 5, `step ${step}: ${n} of 20 ejected`);
      assert.equal(t.stat("ejections_active"), n);
      most = Math.max(most, n);
    }
    assert.equal(most, 5, "the limit is reached");
    assert.ok(t.stat("ejections_overflow") > 0);
  });

  test("always_eject_one_host lets one host go even when the percentage allows none", () => {
    for (const always of [false, true]) {
      const t = setup({ maxEjectionPercent: 10, alwaysEjectOneHost: always }, 2);
      respond(t.detector, t.eps[0]!, 500, 5);
      respond(t.detector, t.eps[1]!, 500, 5);
      assert.equal(t.ejected().length, always ? 1 : 0);
      assert.equal(t.stat("ejections_overflow"), always ? 1 : 2);
    }
  });

  test("un-ejection happens at the first sweep after the ejection time", () => {
    const t = setup({ consecutive5xx: 1, intervalMs: 1_000, baseEjectionTimeMs: 1_000 });
    const [a] = t.eps;
    t.clock.advance(300);
    t.detector.onResponse(a!, 500);
    t.clock.advance(700); // the sweep at 1 s: 0.7 s of 1 s served
    assert.deepEqual(t.ejected(), [a]);
    t.clock.advance(1_000); // the sweep at 2 s
    assert.deepEqual(t.ejected(), []);
    assert.equal(t.stat("ejections_active"), 0);
    assert.ok(t.serving().has(a));
    assert.equal(
      t.log[1],
      "outlier_detection: cluster app: unejected 10.0.0.1:80 (ejection time elapsed) after 1700 ms",
    );
  });

  test("the ejection time grows with each ejection, is capped, and shrinks on healthy intervals", () => {
    const base = 10_000;
    const t = setup({ consecutive5xx: 1, intervalMs: 1_000, baseEjectionTimeMs: base, maxEjectionTimeMs: 30_000 });
    const [a] = t.eps;
    /** Ejects `a` now and returns how long it stayed out (time to the sweep that returned it). */
    const ejection = () => {
      t.detector.onResponse(a!, 500);
      assert.deepEqual(t.ejected(), [a]);
      const from = t.clock.now();
      while (t.ejected().length > 0) t.clock.advance(1_000);
      return t.clock.now() - from;
    };
    // Ejected again right after each return (no healthy interval in between): 10, 20, 30, then capped at 30.
    assert.deepEqual(
      [ejection(), ejection(), ejection(), ejection(), ejection()],
      [10_000, 20_000, 30_000, 30_000, 30_000],
    );
    // The multiplier stopped at 4 (4 × 10 s is not under 30 s + 10 s); each healthy interval takes one off.
    assert.equal(t.detector.host(a!)!.ejectTimeBackoff, 4);
    t.clock.advance(2_000);
    assert.equal(t.detector.host(a!)!.ejectTimeBackoff, 2);
    assert.equal(ejection(), 30_000); // backoff 3: min(30 s, 30 s)
    t.clock.advance(3_000);
    assert.equal(t.detector.host(a!)!.ejectTimeBackoff, 0);
    assert.equal(ejection(), base);
  });

  test("max_ejection_time_jitter adds a random extra, at most the jitter", () => {
    const t = setup({ consecutive5xx: 1, intervalMs: 100, baseEjectionTimeMs: 1_000, maxEjectionTimeJitterMs: 5_000 });
    const times = t.eps.map((e) => {
      t.detector.onResponse(e, 500);
      return t.detector.ejectionTimeMs(t.detector.host(e)!);
    });
    for (const ms of times) assert.ok(ms >= 1_000 && ms <= 6_000, String(ms));
    assert.ok(new Set(times).size > 1, "different hosts, different jitter");
  });

  test("an endpoint that leaves drops its state and its place in ejections_active", () => {
    const t = setup({ consecutive5xx: 1 });
    const [a, ...rest] = t.eps;
    t.detector.onResponse(a!, 500);
    assert.equal(t.stat("ejections_active"), 1);
    t.membership.update(rest);
    assert.equal(t.stat("ejections_active"), 0);
    assert.equal(t.detector.host(a!), undefined);
    t.detector.onResponse(a!, 500); // a late answer from the old endpoint is ignored
    // A new endpoint is tracked from its arrival.
    const [fresh] = healthyEndpoints(6).slice(5);
    t.membership.update([...rest, fresh!]);
    assert.equal(t.detector.host(fresh!)!.numEjections, 0);
    t.detector.onResponse(fresh!, 500);
    assert.equal(fresh!.healthFlagsText, "/failed_outlier_check");
    assert.equal(t.stat("ejections_active"), 1);
  });

  test("a passing active health check returns an ejected host (successful_active_health_check_uneject_host)", () => {
    for (const uneject of [true, false]) {
      const t = setup({ consecutive5xx: 1, successfulActiveHealthCheckUnejectHost: uneject });
      const [a, b] = t.eps;
      t.detector.onResponse(a!, 500);
      t.detector.onActiveHealthCheckPassed(a!);
      assert.deepEqual(t.ejected(), uneject ? [] : [a]);
      if (uneject) assert.match(t.log[1]!, /unejected 10\.0\.0\.1:80 \(active health check passed\)/);
      // A host the health checker itself fails stays out.
      t.detector.onResponse(b!, 500);
      t.membership.setHealthFlag(b!, HealthFlag.FAILED_ACTIVE_HC, true);
      t.detector.onActiveHealthCheckPassed(b!);
      assert.ok(t.ejected().includes(b!));
    }
  });

  test("stop() cancels the interval timer", () => {
    const t = setup({ consecutive5xx: 1 });
    t.detector.onResponse(t.eps[0]!, 500);
    assert.equal(t.clock.pendingTimers, 1);
    t.detector.stop();
    assert.equal(t.clock.pendingTimers, 0);
    assert.equal(t.stat("ejections_active"), 0);
  });
});
