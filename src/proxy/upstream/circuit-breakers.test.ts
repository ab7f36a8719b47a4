// The resource manager alone: limits are exact, refusals are counted where Envoy counts them, gauges follow, and
// the retry budget is Envoy's max(min_retry_concurrency, budget_percent % of the requests in flight).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { defaultThresholds } from "../../api/xds/parse/circuit-breakers.ts";
import type { CircuitBreakerThresholds } from "../../api/xds/types.ts";
import { createClusterStats } from "../../telemetry/envoy-stats.ts";
import { StatsStore } from "../../telemetry/stats.ts";
import { renderEnvoyStatsText } from "../../telemetry/envoy-stats-text.ts";
import { ClusterResources, refuseWithOverflow } from "./circuit-breakers.ts";
import { Endpoint } from "./endpoint.ts";
import { stat } from "./breakers-testing.ts";

function manager(t: Partial<CircuitBreakerThresholds>, perHost?: number) {
  const store = new StatsStore();
  const stats = createClusterStats(store, "c");
  const resources = new ClusterResources("DEFAULT", { ...defaultThresholds(), ...t }, perHost, stats, store);
  return { resources, store, value: (name: string) => stat(store, name) };
}

function times(n: number, fn: () => boolean): boolean[] {
  return Array.from({ length: n }, fn);
}

describe("ClusterResources", () => {
  test("max_requests: exactly max in flight; the next is refused and counted in upstream_rq_pending_overflow", () => {
    const { resources, value } = manager({ maxRequests: 3, trackRemaining: true });
    assert.deepEqual(
      times(3, () => resources.tryStartRequest()),
      [true, true, true],
    );
    assert.equal(value("circuit_breakers_default_rq_open"), 1);
    assert.equal(value("circuit_breakers_default_remaining_rq"), 0);
    assert.equal(resources.tryStartRequest(), false);
    assert.equal(value("upstream_rq_pending_overflow"), 1);
    resources.endRequest();
    assert.equal(value("circuit_breakers_default_rq_open"), 0);
    assert.equal(value("circuit_breakers_default_remaining_rq"), 1);
    assert.equal(resources.tryStartRequest(), true);
    assert.equal(resources.requests.count, 3);
  });

  test("max_retries: exactly max concurrent retries; refusals count upstream_rq_retry_overflow", () => {
    const { resources, value } = manager({ maxRetries: 2, trackRemaining: true });
    assert.equal(value("circuit_breakers_default_remaining_retries"), 2);
    assert.deepEqual(
      times(3, () => resources.tryStartRetry()),
      [true, true, false],
    );
    assert.equal(value("upstream_rq_retry_overflow"), 1);
    assert.equal(value("circuit_breakers_default_rq_retry_open"), 1);
    resources.endRetry();
    assert.equal(value("circuit_breakers_default_rq_retry_open"), 0);
    assert.equal(resources.tryStartRetry(), true);
  });

  test("max_retries 0 allows no retry at all", () => {
    const { resources } = manager({ maxRetries: 0 });
    assert.equal(resources.tryStartRetry(), false);
  });

  test("retry budget: 20 % of 50 requests in flight = 10 concurrent retries; max_retries is ignored", () => {
    const { resources, value } = manager({
      maxRetries: 1,
      maxRequests: 1000,
      retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 },
    });
    for (let i = 0; i < 50; i++) resources.tryStartRequest();
    assert.equal(resources.retryMax(), 10);
    assert.deepEqual(
      times(11, () => resources.tryStartRetry()),
      [...Array(10).fill(true), false],
    );
    assert.equal(value("upstream_rq_retry_overflow"), 1);
    assert.equal(value("circuit_breakers_default_rq_retry_open"), 1);
    // Five more requests in flight: 20 % of 55 = 11 (rounded down, as Envoy does).
    for (let i = 0; i < 5; i++) resources.tryStartRequest();
    assert.equal(resources.retryMax(), 11);
    assert.equal(value("circuit_breakers_default_rq_retry_open"), 0);
    assert.equal(resources.tryStartRetry(), true);
    assert.equal(resources.tryStartRetry(), false);
  });

  test("retry budget: min_retry_concurrency is the floor when few requests are in flight", () => {
    const { resources } = manager({ retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 } });
    assert.equal(resources.retryMax(), 3);
    for (let i = 0; i < 10; i++) resources.tryStartRequest(); // 20 % of 10 = 2 < 3
    assert.equal(resources.retryMax(), 3);
    assert.deepEqual(
      times(4, () => resources.tryStartRetry()),
      [true, true, true, false],
    );
    for (let i = 0; i < 10; i++) resources.tryStartRequest(); // 20 % of 20 = 4
    assert.equal(resources.retryMax(), 4);
    assert.equal(resources.tryStartRetry(), true);
    for (let i = 0; i < 20; i++) resources.endRequest(); // back to the floor; retries in flight stay counted
    assert.equal(resources.retryMax(), 3);
    assert.equal(resources.tryStartRetry(), false);
    for (let i = 0; i < 4; i++) resources.endRetry();
    assert.equal(resources.retries.count, 0);
  });

  test("retry budget: percentages that are not exact in binary still round down to the true share", () => {
    const { resources } = manager({ retryBudget: { budgetPercent: 29, minRetryConcurrency: 0 } });
    for (let i = 0; i < 100; i++) resources.tryStartRequest();
    assert.equal(resources.retryMax(), 29);
  });

  test("connections: cluster max_connections and per-host max_connections", () => {
    const { resources, value } = manager({ maxConnections: 3, trackRemaining: true }, 2);
    const a = new Endpoint("10.0.0.1", 80, 1);
    const b = new Endpoint("10.0.0.2", 80, 1);
    assert.equal(resources.canOpenConnection(a), true);
    resources.connectionOpened(a);
    resources.connectionOpened(a);
    assert.equal(resources.canOpenConnection(a), false, "per-host limit");
    assert.equal(resources.canOpenConnection(b), true);
    resources.connectionOpened(b);
    assert.equal(resources.canOpenConnection(b), false, "cluster limit");
    assert.equal(value("circuit_breakers_default_cx_open"), 1);
    assert.equal(value("circuit_breakers_default_remaining_cx"), 0);
    resources.connectionOverflow();
    assert.equal(value("upstream_cx_overflow"), 1);
    resources.connectionClosed(a);
    assert.equal(resources.canOpenConnection(b), true);
    assert.equal(a.connections, 1);
    assert.equal(value("circuit_breakers_default_cx_open"), 0);
  });

  test("pending requests: exactly max wait; the next is counted in upstream_rq_pending_overflow", () => {
    const { resources, value } = manager({ maxPendingRequests: 2 });
    assert.deepEqual(
      times(3, () => resources.tryStartPending()),
      [true, true, false],
    );
    assert.equal(value("upstream_rq_pending_total"), 2);
    assert.equal(value("upstream_rq_pending_active"), 2);
    assert.equal(value("upstream_rq_pending_overflow"), 1);
    assert.equal(value("circuit_breakers_default_rq_pending_open"), 1);
    resources.endPending();
    assert.equal(value("upstream_rq_pending_active"), 1);
    assert.equal(value("circuit_breakers_default_rq_pending_open"), 0);
  });

  test("connection pools: max_connection_pools, counted in upstream_cx_pool_overflow", () => {
    const { resources, value } = manager({ maxConnectionPools: 1 });
    assert.equal(resources.tryCreatePool(), true);
    assert.equal(resources.tryCreatePool(), false);
    assert.equal(value("upstream_cx_pool_overflow"), 1);
    assert.equal(value("circuit_breakers_default_cx_pool_open"), 1);
    resources.poolRemoved();
    assert.equal(resources.tryCreatePool(), true);
  });

  test("gauges use Envoy's names; remaining_* only with track_remaining", () => {
    const plain = manager({});
    const text = renderEnvoyStatsText(plain.store);
    for (const g of ["cx_open", "cx_pool_open", "rq_pending_open", "rq_open", "rq_retry_open"])
      assert.match(text, new RegExp(`^cluster\\.c\\.circuit_breakers\\.default\\.${g}: 0$`, "m"));
    assert.doesNotMatch(text, /remaining/);
    const tracked = renderEnvoyStatsText(manager({ trackRemaining: true, maxRetries: 5 }).store);
    assert.match(tracked, /^cluster\.c\.circuit_breakers\.default\.remaining_cx: 1024$/m);
    assert.match(tracked, /^cluster\.c\.circuit_breakers\.default\.remaining_pending: 1024$/m);
    assert.match(tracked, /^cluster\.c\.circuit_breakers\.default\.remaining_rq: 1024$/m);
    assert.match(tracked, /^cluster\.c\.circuit_breakers\.default\.remaining_retries: 5$/m);
  });

  test("a refusal is reported in a microtask, and not at all once the stream is aborted", async () => {
    const heard: string[] = [];
    const handler = {
      onConnectFailure: (reason: string) => void heard.push(reason),
      onHead: () => {},
      onData: () => true,
      onEnd: () => {},
      onReset: () => {},
    };
    refuseWithOverflow(handler, "x");
    refuseWithOverflow(handler, "y").abort();
    assert.deepEqual(heard, []);
    await Promise.resolve();
    assert.deepEqual(heard, ["overflow"]);
  });
});
