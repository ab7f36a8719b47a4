import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { LoadBalancerSettings } from "../../api/resources/types.ts";
import type { Json } from "./envoy.ts";
import { Problems } from "./problems.ts";
import { proxyIdentityFromNode } from "./proxy-identity.ts";
import { loadCase } from "./testing.ts";
import { translate } from "./translate.ts";
import { applyWarmup } from "./warmup.ts";

function apply(
  policy: string,
  lb: LoadBalancerSettings | undefined,
  rule?: string,
): { cluster: Json; problems: string[] } {
  const cluster: Json = { name: "c", lb_policy: policy };
  const problems = new Problems();
  applyWarmup(cluster, lb, "cluster c", rule, problems);
  return { cluster, problems: problems.list };
}

describe("warmup → slow_start_config", () => {
  test("warmupDurationSecs: the window only, in the config of the cluster's policy", () => {
    assert.deepEqual(apply("ROUND_ROBIN", { warmupDurationSecs: 60_000 }).cluster, {
      name: "c",
      lb_policy: "ROUND_ROBIN",
      round_robin_lb_config: { slow_start_config: { slow_start_window: "60s" } },
    });
    assert.deepEqual(apply("LEAST_REQUEST", { warmupDurationSecs: 1_500 }).cluster.least_request_lb_config, {
      slow_start_config: { slow_start_window: "1.500s" },
    });
  });

  test("warmup wins over warmupDurationSecs and always writes Istio's aggression and floor", () => {
    const { cluster } = apply("LEAST_REQUEST", { warmup: { duration: 20_000 }, warmupDurationSecs: 300_000 });
    assert.deepEqual(cluster.least_request_lb_config, {
      slow_start_config: {
        slow_start_window: "20s",
        aggression: { default_value: 1, runtime_key: "(" },
        min_weight_percent: { value: 10 },
      },
    });
    const custom = apply("ROUND_ROBIN", { warmup: { duration: 90_000, minimumPercent: 0, aggression: 3 } }).cluster;
    assert.deepEqual(custom.round_robin_lb_config, {
      slow_start_config: {
        slow_start_window: "90s",
        aggression: { default_value: 3, runtime_key: "(" },
        min_weight_percent: { value: 0 },
      },
    });
    // No duration: Envoy's slow start would be off, so nothing is written.
    assert.deepEqual(apply("ROUND_ROBIN", { warmup: { aggression: 2 } }).cluster, {
      name: "c",
      lb_policy: "ROUND_ROBIN",
    });
  });

  test("other policies: nothing written, a problem naming the DestinationRule and the field", () => {
    const hashed = apply("RING_HASH", { consistentHash: { useSourceIp: true }, warmupDurationSecs: 1_000 }, "ns/dr");
    assert.deepEqual(hashed.cluster, { name: "c", lb_policy: "RING_HASH" });
    assert.deepEqual(hashed.problems, [
      "cluster c: loadBalancer.warmupDurationSecs of DestinationRule ns/dr applies to ROUND_ROBIN and LEAST_REQUEST only, not RING_HASH; ignored",
    ]);
    assert.deepEqual(apply("RANDOM", { warmup: { duration: 1_000 } }).problems, [
      "cluster c: loadBalancer.warmup applies to ROUND_ROBIN and LEAST_REQUEST only, not RANDOM; ignored",
    ]);
    assert.deepEqual(apply("ROUND_ROBIN", undefined), {
      cluster: { name: "c", lb_policy: "ROUND_ROBIN" },
      problems: [],
    });
  });

  test("proxyless gRPC clients get no slow start, and are told", () => {
    const { world } = loadCase("warmup.yaml");
    const proxy = proxyIdentityFromNode({ id: "grpc-1", metadata: { NAMESPACE: "default", GENERATOR: "grpc" } });
    const result = translate(world, proxy);
    const reviews = result.clusters.find((c) => c.name === "outbound|9080||reviews.default.svc.cluster.local")!;
    assert.equal(reviews.lb_policy, "ROUND_ROBIN");
    for (const c of result.clusters) {
      assert.equal(c.round_robin_lb_config, undefined, String(c.name));
      assert.equal(c.least_request_lb_config, undefined, String(c.name));
    }
    assert.ok(
      result.problems.some((p) => p.includes("gRPC has no slow start")),
      result.problems.join("\n"),
    );
  });
});
