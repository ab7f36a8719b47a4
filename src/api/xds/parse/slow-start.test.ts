import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Cluster } from "../types.ts";
import { parseCluster } from "./cluster.ts";
import { assertIssues } from "./testing.ts";

function cluster(extra: Record<string, unknown>): Cluster {
  return parseCluster({ name: "c", ...extra });
}

describe("cluster slow_start_config", () => {
  test("round robin and least request, with Envoy's defaults (aggression 1.0, min weight 10 %)", () => {
    assert.deepEqual(
      cluster({ round_robin_lb_config: { slow_start_config: { slow_start_window: "60s" } } }).slowStart,
      {
        windowMs: 60_000,
        aggression: 1,
        minWeightPercent: 10,
      },
    );
    const lr = cluster({
      lb_policy: "LEAST_REQUEST",
      leastRequestLbConfig: {
        choiceCount: 3,
        slowStartConfig: {
          slowStartWindow: { seconds: 30 },
          aggression: { defaultValue: 1.5, runtimeKey: "upstream.slow_start.aggression" },
          minWeightPercent: { value: 25.5 },
        },
      },
    });
    assert.equal(lr.leastRequestChoiceCount, 3);
    assert.deepEqual(lr.slowStart, { windowMs: 30_000, aggression: 1.5, minWeightPercent: 25.5 });
  });

  test("off without a window, with a 0 window, or when the config is for another policy (as in Envoy)", () => {
    assert.equal(cluster({}).slowStart, undefined);
    assert.equal("slowStart" in cluster({}), false);
    assert.equal(cluster({ round_robin_lb_config: {} }).slowStart, undefined);
    assert.equal(cluster({ round_robin_lb_config: { slow_start_config: {} } }).slowStart, undefined);
    assert.equal(
      cluster({ round_robin_lb_config: { slow_start_config: { slow_start_window: "0s" } } }).slowStart,
      undefined,
    );
    assert.equal(
      cluster({
        lb_policy: "LEAST_REQUEST",
        round_robin_lb_config: { slow_start_config: { slow_start_window: "10s" } },
      }).slowStart,
      undefined,
    );
    assert.equal(
      cluster({
        lb_policy: "RANDOM",
        least_request_lb_config: { slow_start_config: { slow_start_window: "10s" } },
      }).slowStart,
      undefined,
    );
  });

  test("bad values name the field", () => {
    assertIssues(
      () =>
        cluster({
          round_robin_lb_config: {
            slow_start_config: {
              slow_start_window: "-1s",
              aggression: { default_value: 0, runtime_key: "k" },
              min_weight_percent: { value: 101 },
            },
            locality_lb_config: {},
          },
        }),
      [
        ["round_robin_lb_config.locality_lb_config", 'unknown field "locality_lb_config"'],
        ["round_robin_lb_config.slow_start_config.slow_start_window", /not negative/],
        ["round_robin_lb_config.slow_start_config.aggression.default_value", "expected a number greater than 0, got 0"],
        ["round_robin_lb_config.slow_start_config.min_weight_percent.value", "expected a percentage 0-100, got 101"],
      ],
    );
    assertIssues(
      () =>
        cluster({
          lb_policy: "LEAST_REQUEST",
          least_request_lb_config: {
            slow_start_config: { slow_start_window: "soon", aggression: {}, min_weight_percent: "10", bias: 1 },
          },
        }),
      [
        ["least_request_lb_config.slow_start_config.bias", 'unknown field "bias"'],
        ["least_request_lb_config.slow_start_config.slow_start_window", /expected a duration/],
        [
          "least_request_lb_config.slow_start_config.aggression.default_value",
          "expected a number greater than 0, got 0",
        ],
        ["least_request_lb_config.slow_start_config.min_weight_percent", /expected an object/],
      ],
    );
    // A config for another policy is still checked.
    assertIssues(
      () => cluster({ round_robin_lb_config: "fast", least_request_lb_config: { slow_start_config: [] } }),
      [
        ["round_robin_lb_config", /expected an object/],
        ["least_request_lb_config.slow_start_config", /expected an object/],
      ],
    );
  });
});
