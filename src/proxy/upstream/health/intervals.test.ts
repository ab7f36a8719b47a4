import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseHealthCheck } from "../../../api/xds/parse/health-check.ts";
import { initialDelayMs, nextIntervalMs, withJitter } from "./intervals.ts";

const hc = parseHealthCheck({
  timeout: "1s",
  interval: "10s",
  unhealthy_interval: "20s",
  unhealthy_edge_interval: "3s",
  healthy_edge_interval: "2s",
  no_traffic_interval: "60s",
  no_traffic_healthy_interval: "90s",
  unhealthy_threshold: 2,
  healthy_threshold: 2,
  tcp_health_check: {},
});
const zero = (): number => 0;

describe("health check intervals", () => {
  test("with traffic: by state, edge intervals while a change is pending", () => {
    assert.equal(nextIntervalMs(hc, "healthy", "unchanged", true, zero), 10_000);
    assert.equal(nextIntervalMs(hc, "healthy", "changed", true, zero), 10_000);
    assert.equal(nextIntervalMs(hc, "healthy", "pending", true, zero), 2_000);
    assert.equal(nextIntervalMs(hc, "unhealthy", "unchanged", true, zero), 20_000);
    assert.equal(nextIntervalMs(hc, "unhealthy", "pending", true, zero), 3_000);
  });

  test("before the cluster's first connection: no_traffic_interval (no_traffic_healthy_interval when settled)", () => {
    assert.equal(nextIntervalMs(hc, "healthy", "unchanged", false, zero), 90_000);
    assert.equal(nextIntervalMs(hc, "healthy", "pending", false, zero), 60_000);
    assert.equal(nextIntervalMs(hc, "unhealthy", "unchanged", false, zero), 60_000);
  });

  test("jitter: [0, percent of base) plus [0, interval_jitter), at least 1 ms", () => {
    const almostOne = (): number => 0.999_999;
    assert.equal(withJitter(10_000, 0, 0, almostOne), 10_000);
    assert.equal(withJitter(10_000, 0, 10, almostOne), 10_999);
    assert.equal(withJitter(10_000, 500, 10, almostOne), 11_498);
    assert.equal(withJitter(10_000, 500, 10, zero), 10_000);
    assert.equal(withJitter(0, 0, 0, zero), 1);
  });

  test("initial jitter delays the first check by [0, initial_jitter)", () => {
    assert.equal(
      initialDelayMs(hc, () => 0.5),
      0,
    );
    assert.equal(
      initialDelayMs({ ...hc, initialJitterMs: 1000 }, () => 0.5),
      500,
    );
  });
});
