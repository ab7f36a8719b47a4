import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigError } from "../../errors.ts";
import { parseClusterLoadAssignment } from "./endpoint.ts";
import { assertIssues } from "./testing.ts";

describe("cluster load assignment", () => {
  test("localities, weights, priorities, health and host names", () => {
    const parsed = parseClusterLoadAssignment({
      cluster_name: "reviews",
      endpoints: [
        {
          locality: { region: "eu", zone: "eu-1a", sub_zone: "rack-3" },
          load_balancing_weight: 5,
          priority: 1,
          lb_endpoints: [
            {
              endpoint: {
                address: { socket_address: { address: "10.1.0.1", port_value: 9080 } },
                hostname: "r1.local",
              },
              load_balancing_weight: { value: 3 },
              health_status: "DRAINING",
            },
            { endpoint: { address: { socketAddress: { address: "fd00::1", portValue: "9081" } } }, healthStatus: 1 },
          ],
        },
        { locality: { subZone: "z" }, lbEndpoints: [] },
        {},
      ],
    });
    assert.deepEqual(parsed, {
      clusterName: "reviews",
      endpoints: [
        {
          locality: { region: "eu", zone: "eu-1a", subZone: "rack-3" },
          loadBalancingWeight: 5,
          priority: 1,
          lbEndpoints: [
            {
              address: { address: "10.1.0.1", port: 9080 },
              loadBalancingWeight: 3,
              healthStatus: "DRAINING",
              hostname: "r1.local",
            },
            {
              address: { address: "fd00::1", port: 9081 },
              loadBalancingWeight: 1,
              healthStatus: "HEALTHY",
              hostname: undefined,
            },
          ],
        },
        {
          locality: { region: "", zone: "", subZone: "z" },
          loadBalancingWeight: undefined,
          priority: 0,
          lbEndpoints: [],
        },
        { locality: undefined, loadBalancingWeight: undefined, priority: 0, lbEndpoints: [] },
      ],
    });
  });

  test("every health status name", () => {
    const statuses = ["UNKNOWN", "HEALTHY", "UNHEALTHY", "DRAINING", "TIMEOUT", "DEGRADED"];
    const parsed = parseClusterLoadAssignment({
      cluster_name: "c",
      endpoints: [
        {
          lb_endpoints: statuses.map((s) => ({
            endpoint: { address: { socket_address: { address: "10.0.0.1", port_value: 1 } } },
            health_status: s,
          })),
        },
      ],
    });
    assert.deepEqual(
      parsed.endpoints[0].lbEndpoints.map((e) => e.healthStatus),
      statuses,
    );
  });

  test("errors, each at its path", () => {
    const at = "endpoints[0].lb_endpoints";
    assertIssues(
      () =>
        parseClusterLoadAssignment({
          endpoints: [
            {
              priority: 129,
              load_balancing_weight: 0,
              locality: { region: 1 },
              lb_endpoints: [
                { endpoint: { address: { socket_address: { address: "10.0.0.1", port_value: "abc" } } } },
                { endpoint: { address: { socket_address: { address: "10.0.0.1", port_value: 0 } } } },
                { endpoint: { address: { socket_address: { address: "10.0.0.1" } } } },
                { endpoint: { address: { socket_address: { address: "host.local", port_value: 1 } } } },
                {
                  endpoint: { address: { socket_address: { address: "10.0.0.1", port_value: 1 } } },
                  load_balancing_weight: 0,
                  health_status: "SICK",
                },
                { endpoint: {} },
                {},
              ],
            },
          ],
        }),
      [
        ["cluster_name", "required"],
        ["endpoints[0].locality.region", "expected a string, got 1"],
        [`${at}[0].endpoint.address.socket_address.port_value`, 'expected an integer 1-65535, got "abc"'],
        [`${at}[1].endpoint.address.socket_address.port_value`, "expected an integer 1-65535, got 0"],
        [`${at}[2].endpoint.address.socket_address.port_value`, "required"],
        [`${at}[3].endpoint.address.socket_address.address`, 'expected an IP address, got "host.local"'],
        [`${at}[4].load_balancing_weight`, "expected an integer 1-4294967295, got 0"],
        [
          `${at}[4].health_status`,
          'expected one of UNKNOWN, HEALTHY, UNHEALTHY, DRAINING, TIMEOUT, DEGRADED, got "SICK"',
        ],
        [`${at}[5].endpoint.address`, "required"],
        [`${at}[6].endpoint`, "required"],
        ["endpoints[0].load_balancing_weight", "expected an integer 1-4294967295, got 0"],
        ["endpoints[0].priority", "expected an integer 0-128, got 129"],
      ],
    );
  });

  test("the ConfigError names the assignment, or the path given", () => {
    assert.throws(
      () => parseClusterLoadAssignment({ cluster_name: "x", endpoints: "none" }),
      (error: ConfigError) =>
        error.source === "cluster load assignment x" && error.issues[0].message === 'expected a list, got "none"',
    );
    assert.throws(
      () => parseClusterLoadAssignment({}, "eds[0]"),
      (error: ConfigError) => error.source === "eds[0]" && error.issues[0].path === "eds[0].cluster_name",
    );
  });
});
