import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { DestinationRuleSpec } from "./types.ts";
import { assertSpecProblems, specOf } from "./testing.ts";

const withLocality = (localityLbSetting: unknown) => ({
  host: "reviews",
  trafficPolicy: { loadBalancer: { localityLbSetting } },
});

describe("DestinationRule localityLbSetting (Istio's validation)", () => {
  test("distribute, failoverPriority with plain and key=value labels", () => {
    const spec = specOf<DestinationRuleSpec>(
      "DestinationRule",
      withLocality({
        distribute: [{ from: "us-east/*", to: { "us-east/*": 80, "eu-west/*": 20 } }],
        failoverPriority: ["topology.istio.io/network", "version=v2"],
      }),
    );
    assert.deepEqual(spec.trafficPolicy?.loadBalancer?.localityLbSetting, {
      distribute: [{ from: "us-east/*", to: { "us-east/*": 80, "eu-west/*": 20 } }],
      failover: [],
      failoverPriority: ["topology.istio.io/network", "version=v2"],
    });
  });

  test("refused: weights outside 1-100 or not summing to 100, distribute with failover, failover with a topology label", () => {
    const at = "spec.trafficPolicy.loadBalancer.localityLbSetting";
    assertSpecProblems(
      "DestinationRule",
      withLocality({ distribute: [{ from: "us-east/*", to: { "us-east/*": 100, "eu-west/*": 0 } }] }),
      [[`${at}.distribute[0].to["eu-west/*"]`, "expected an integer 1-100, got 0"]],
    );
    assertSpecProblems(
      "DestinationRule",
      withLocality({ distribute: [{ from: "us-east/*", to: { "us-east/*": 70 } }] }),
      [[`${at}.distribute[0].to`, "expected weights summing to 100, got 70"]],
    );
    assertSpecProblems(
      "DestinationRule",
      withLocality({
        distribute: [{ from: "us-east/*", to: { "us-east/*": 100 } }],
        failover: [{ from: "us-east", to: "eu-west" }],
      }),
      [[at, "only one of distribute, failover may be set"]],
    );
    assertSpecProblems(
      "DestinationRule",
      withLocality({
        failover: [{ from: "us-east", to: "eu-west" }],
        failoverPriority: ["topology.istio.io/network", "topology.kubernetes.io/region"],
      }),
      [[at, "failover cannot be combined with the topology label topology.kubernetes.io/region in failoverPriority"]],
    );
  });
});
