import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseCluster } from "./cluster.ts";
import { parseClusterLoadAssignment } from "./endpoint.ts";
import { assertIssues } from "./testing.ts";

describe("common_lb_config.locality_weighted_lb_config", () => {
  test("an empty message turns locality-weighted balancing on; absent or null leaves it off", () => {
    assert.equal(
      parseCluster({ name: "c", common_lb_config: { locality_weighted_lb_config: {} } }).localityWeightedLb,
      true,
    );
    assert.equal(
      parseCluster({ name: "c", commonLbConfig: { localityWeightedLbConfig: {} } }).localityWeightedLb,
      true,
    );
    assert.equal(parseCluster({ name: "c" }).localityWeightedLb, undefined);
    assert.equal(
      parseCluster({ name: "c", common_lb_config: { locality_weighted_lb_config: null } }).localityWeightedLb,
      undefined,
    );
    // Alongside the panic threshold, read from the same message.
    const both = parseCluster({
      name: "c",
      common_lb_config: { healthy_panic_threshold: { value: 0 }, locality_weighted_lb_config: {} },
    });
    assert.equal(both.healthyPanicThreshold, 0);
    assert.equal(both.localityWeightedLb, true);
  });

  test("a bad value names the field", () => {
    assertIssues(
      () => parseCluster({ name: "c", common_lb_config: { locality_weighted_lb_config: true } }),
      [["common_lb_config.locality_weighted_lb_config", "expected an object, got true"]],
    );
    assertIssues(
      () => parseCluster({ name: "c", common_lb_config: { locality_weighted_lb_config: { weight: 1 } } }),
      [["common_lb_config.locality_weighted_lb_config.weight", 'unknown field "weight"']],
    );
  });

  test("a locality's load_balancing_weight is at least 1 (Envoy's validation); unset stays unset", () => {
    const group = (extra: Record<string, unknown>) => ({
      cluster_name: "c",
      endpoints: [
        {
          locality: { region: "r", zone: "z" },
          lb_endpoints: [{ endpoint: { address: { socket_address: { address: "10.0.0.1", port_value: 80 } } } }],
          ...extra,
        },
      ],
    });
    assert.equal(
      parseClusterLoadAssignment(group({ load_balancing_weight: 80 })).endpoints[0]!.loadBalancingWeight,
      80,
    );
    assert.equal(parseClusterLoadAssignment(group({})).endpoints[0]!.loadBalancingWeight, undefined);
    assertIssues(
      () => parseClusterLoadAssignment(group({ load_balancing_weight: 0 })),
      [["endpoints[0].load_balancing_weight", /expected an integer/]],
    );
  });
});
