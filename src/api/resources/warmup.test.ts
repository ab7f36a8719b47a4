import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { loadResources } from "./load.ts";
import { serializeResource } from "./serialize.ts";
import type { DestinationRuleSpec } from "./types.ts";
import { assertSpecProblems, loadOne, resource, specOf } from "./testing.ts";

describe("DestinationRule loadBalancer.warmup", () => {
  test("duration, minimumPercent and aggression, at the top, per port and per subset", () => {
    const warmup = { duration: "90s", minimumPercent: 5, aggression: 1.5 };
    const spec = specOf<DestinationRuleSpec>("DestinationRule", {
      host: "reviews",
      trafficPolicy: {
        loadBalancer: { simple: "ROUND_ROBIN", warmup },
        portLevelSettings: [{ port: { number: 9080 }, loadBalancer: { warmup: { duration: "1m" } } }],
      },
      subsets: [
        { name: "v1", labels: { version: "v1" }, trafficPolicy: { loadBalancer: { warmupDurationSecs: "30s" } } },
      ],
    });
    assert.deepEqual(spec.trafficPolicy!.loadBalancer, {
      simple: "ROUND_ROBIN",
      warmup: { duration: 90_000, minimumPercent: 5, aggression: 1.5 },
    });
    assert.deepEqual(spec.trafficPolicy!.portLevelSettings[0]!.loadBalancer, { warmup: { duration: 60_000 } });
    assert.deepEqual(spec.subsets![0]!.trafficPolicy!.loadBalancer, { warmupDurationSecs: 30_000 });
  });

  test("written back the way it was written, and read back the same", () => {
    const document = resource("DestinationRule", {
      host: "reviews",
      trafficPolicy: { loadBalancer: { warmup: { duration: "90s", minimumPercent: 5, aggression: 2 } } },
    });
    const first = loadOne(document).resource;
    const yaml = serializeResource(first);
    assert.match(yaml, /warmup:\n {8}duration: 90s\n {8}minimumPercent: 5\n {8}aggression: 2\n/);
    assert.deepEqual(loadResources(yaml, "again.yaml").resources[0], first);
  });

  test("bad values name the field; a warmup without a duration is refused (Istio: duration is required)", () => {
    const at = "spec.trafficPolicy.loadBalancer.warmup";
    assertSpecProblems(
      "DestinationRule",
      {
        host: "reviews",
        trafficPolicy: {
          loadBalancer: { warmup: { duration: "0s", minimumPercent: 101, aggression: 0 } },
        },
      },
      [
        [`${at}.duration`, /at least 1ms/],
        [`${at}.minimumPercent`, "expected a number 0-100, got 101"],
        [`${at}.aggression`, "expected a number greater than 0, got 0"],
      ],
    );
    assertSpecProblems(
      "DestinationRule",
      { host: "reviews", trafficPolicy: { loadBalancer: { warmup: { aggression: 2 } } } },
      [[`${at}.duration`, "required: slow start needs a window"]],
    );
  });
});
