import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { CircuitBreakers } from "../types.ts";
import { parseCluster } from "./cluster.ts";
import { defaultCircuitBreakers, defaultThresholds } from "./circuit-breakers.ts";
import { assertIssues } from "./testing.ts";

function breakers(raw: unknown): CircuitBreakers {
  return parseCluster({ name: "c", circuit_breakers: raw }).circuitBreakers;
}

const AT = "circuit_breakers";

describe("circuit_breakers", () => {
  test("absent or empty: Envoy's defaults for both priorities, no per-host limit", () => {
    const expected = {
      default: {
        maxConnections: 1024,
        maxPendingRequests: 1024,
        maxRequests: 1024,
        maxRetries: 3,
        retryBudget: undefined,
        trackRemaining: false,
        maxConnectionPools: 4_294_967_295,
      },
      high: defaultThresholds(),
      perHostMaxConnections: { default: undefined, high: undefined },
    };
    assert.deepEqual(parseCluster({ name: "c" }).circuitBreakers, expected);
    assert.deepEqual(breakers({}), expected);
    assert.deepEqual(breakers({ thresholds: [] }), defaultCircuitBreakers());
  });

  test("thresholds per priority, by name and number, snake_case and camelCase, wrappers", () => {
    const parsed = breakers({
      thresholds: [
        {
          max_connections: 2,
          max_pending_requests: { value: 3 },
          max_requests: "4",
          max_retries: 0,
          track_remaining: true,
          max_connection_pools: 5,
        },
        { priority: 1, maxConnections: 20, maxRetries: 7 },
      ],
      per_host_thresholds: [{ max_connections: 1 }, { priority: "HIGH", max_connections: 9 }],
    });
    assert.deepEqual(parsed.default, {
      maxConnections: 2,
      maxPendingRequests: 3,
      maxRequests: 4,
      maxRetries: 0,
      retryBudget: undefined,
      trackRemaining: true,
      maxConnectionPools: 5,
    });
    assert.deepEqual(parsed.high, { ...defaultThresholds(), maxConnections: 20, maxRetries: 7 });
    assert.deepEqual(parsed.perHostMaxConnections, { default: 1, high: 9 });
  });

  test("only HIGH given: DEFAULT keeps the defaults", () => {
    const parsed = breakers({ thresholds: [{ priority: "HIGH", max_requests: 1 }] });
    assert.deepEqual(parsed.default, defaultThresholds());
    assert.equal(parsed.high.maxRequests, 1);
  });

  test("retry_budget: present (even empty) enables it with Envoy's defaults", () => {
    assert.deepEqual(breakers({ thresholds: [{ retry_budget: {} }] }).default.retryBudget, {
      budgetPercent: 20,
      minRetryConcurrency: 3,
    });
    assert.deepEqual(
      breakers({ thresholds: [{ retry_budget: { budget_percent: { value: 25.5 }, min_retry_concurrency: 1 } }] })
        .default.retryBudget,
      { budgetPercent: 25.5, minRetryConcurrency: 1 },
    );
    assert.deepEqual(
      breakers({ thresholds: [{ retryBudget: { budgetPercent: {}, minRetryConcurrency: { value: 0 } } }] }).default
        .retryBudget,
      { budgetPercent: 0, minRetryConcurrency: 0 },
    );
  });

  test("per_host_thresholds: only max_connections has an effect; the rest is accepted and ignored as in Envoy", () => {
    const parsed = breakers({ per_host_thresholds: [{ max_connections: 3, max_requests: 1, max_retries: 1 }] });
    assert.deepEqual(parsed.perHostMaxConnections, { default: 3, high: undefined });
    assert.deepEqual(parsed.default, defaultThresholds());
    assert.deepEqual(breakers({ per_host_thresholds: [{}] }).perHostMaxConnections, {
      default: undefined,
      high: undefined,
    });
  });

  test("errors name the field path and what was expected", () => {
    const run = (raw: unknown) => () => parseCluster({ name: "c", circuit_breakers: raw });
    assertIssues(run("tight"), [[AT, 'expected an object, got "tight"']]);
    assertIssues(run({ thresholds: {} }), [[`${AT}.thresholds`, "expected a list, got an object"]]);
    assertIssues(run({ thresholds: [7] }), [[`${AT}.thresholds[0]`, "expected an object, got 7"]]);
    assertIssues(run({ thresholds: [{ max_connection: 1 }] }), [
      [`${AT}.thresholds[0].max_connection`, 'unknown field "max_connection"'],
    ]);
    assertIssues(run({ bogus: 1 }), [[`${AT}.bogus`, 'unknown field "bogus"']]);
    assertIssues(run({ thresholds: [{ max_connections: -1, max_requests: 1.5, max_retries: "x" }] }), [
      [`${AT}.thresholds[0].max_connections`, "expected an integer 0-4294967295, got -1"],
      [`${AT}.thresholds[0].max_requests`, "expected an integer 0-4294967295, got 1.5"],
      [`${AT}.thresholds[0].max_retries`, 'expected an integer 0-4294967295, got "x"'],
    ]);
    assertIssues(run({ thresholds: [{ priority: "LOW" }] }), [
      [`${AT}.thresholds[0].priority`, 'expected one of DEFAULT, HIGH, got "LOW"'],
    ]);
    assertIssues(run({ thresholds: [{ track_remaining: "yes" }] }), [
      [`${AT}.thresholds[0].track_remaining`, 'expected true or false, got "yes"'],
    ]);
    assertIssues(run({ thresholds: [{}, { priority: "DEFAULT" }] }), [
      [`${AT}.thresholds[1]`, `a second thresholds entry for priority DEFAULT (the first is ${AT}.thresholds[0])`],
    ]);
    assertIssues(run({ per_host_thresholds: [{ priority: "HIGH" }, { priority: 1 }] }), [
      [
        `${AT}.per_host_thresholds[1]`,
        `a second per_host_thresholds entry for priority HIGH (the first is ${AT}.per_host_thresholds[0])`,
      ],
    ]);
    assertIssues(run({ thresholds: [{ retry_budget: { budget_percent: { value: 120 }, extra: 1 } }] }), [
      [`${AT}.thresholds[0].retry_budget.extra`, 'unknown field "extra"'],
      [`${AT}.thresholds[0].retry_budget.budget_percent.value`, "expected a number 0-100, got 120"],
    ]);
    assertIssues(run({ thresholds: [{ retry_budget: { budget_percent: 20 } }] }), [
      [`${AT}.thresholds[0].retry_budget.budget_percent`, "expected an object, got 20"],
    ]);
    assertIssues(run({ thresholds: [{ retry_budget: { min_retry_concurrency: -3 } }] }), [
      [`${AT}.thresholds[0].retry_budget.min_retry_concurrency`, "expected an integer 0-4294967295, got -3"],
    ]);
  });
});
