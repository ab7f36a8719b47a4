import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ClusterLoadAssignment } from "../../api/xds/types.ts";
import { Endpoint, HealthFlag } from "./endpoint.ts";
import { mulberry32 } from "./lb/test-random.ts";
import { testCluster } from "./lb/test-fixtures.ts";
import { ClusterMembership, endpointsFromAssignment } from "./membership.ts";

const CLA: ClusterLoadAssignment = {
  clusterName: "svc",
  endpoints: [
    {
      locality: { region: "eu", zone: "a", subZone: "" },
      loadBalancingWeight: undefined,
      priority: 0,
      lbEndpoints: [
        {
          address: { address: "10.0.0.1", port: 8080 },
          loadBalancingWeight: 2,
          healthStatus: "HEALTHY",
          hostname: undefined,
        },
        {
          address: { address: "svc.local", port: 9090 },
          loadBalancingWeight: 3,
          healthStatus: "UNKNOWN",
          hostname: undefined,
        },
      ],
    },
    {
      locality: undefined,
      loadBalancingWeight: undefined,
      priority: 1,
      lbEndpoints: [
        { address: { address: "::1", port: 80 }, loadBalancingWeight: 1, healthStatus: "DRAINING", hostname: "backup" },
      ],
    },
  ],
};

const NO_HASH = { hash: undefined };

describe("endpointsFromAssignment", () => {
  test("keeps priority, locality, weight, port and health of each lb_endpoint", () => {
    const eps = endpointsFromAssignment(CLA);
    assert.deepEqual(
      eps.map((e) => [e.key, e.weight, e.priority, e.healthStatus, e.healthy, e.locality?.zone, e.hostname]),
      [
        ["10.0.0.1:8080", 2, 0, "HEALTHY", true, "a", undefined],
        ["svc.local:9090", 3, 0, "UNKNOWN", true, "a", undefined],
        ["[::1]:80", 1, 1, "DRAINING", false, undefined, "backup"],
      ],
    );
  });

  test("STRICT_DNS: a host name expands to each resolved address; an unresolved name to nothing", () => {
    const eps = endpointsFromAssignment(CLA, new Map([["svc.local", ["10.1.0.1", "10.1.0.2"]]]));
    assert.deepEqual(
      eps.map((e) => [e.key, e.weight, e.priority, e.hostname]),
      [
        ["10.0.0.1:8080", 2, 0, undefined],
        ["10.1.0.1:9090", 3, 0, "svc.local"],
        ["10.1.0.2:9090", 3, 0, "svc.local"],
        ["[::1]:80", 1, 1, "backup"],
      ],
    );
    assert.deepEqual(
      endpointsFromAssignment(CLA, new Map()).map((e) => e.key),
      ["10.0.0.1:8080", "[::1]:80"],
    );
  });
});

describe("ClusterMembership", () => {
  const ep = (addr: string, weight = 1, priority = 0) => new Endpoint(addr, 80, weight, "HEALTHY", priority);

  test("update keeps the Endpoint objects whose key and attributes are unchanged", () => {
    const m = new ClusterMembership(testCluster("ROUND_ROBIN"), [ep("10.0.0.1"), ep("10.0.0.2")], mulberry32(1));
    const [a, b] = m.endpoints;
    a!.activeRequests = 4;
    b!.healthFlags = HealthFlag.FAILED_ACTIVE_HC;
    m.update([ep("10.0.0.2"), ep("10.0.0.1"), ep("10.0.0.3")]);
    assert.equal(m.endpoints[0], b);
    assert.equal(m.endpoints[1], a);
    assert.equal(a!.activeRequests, 4);
    assert.equal(b!.healthy, false, "a health-check verdict survives an update");
    // A changed weight makes a new object: Endpoint's attributes are immutable.
    m.update([ep("10.0.0.1", 5), ep("10.0.0.3")]);
    assert.notEqual(m.endpoints[0], a);
    assert.equal(m.endpoints[0]!.weight, 5);
  });

  test("the balancer is rebuilt: picks follow the new membership", () => {
    const m = new ClusterMembership(testCluster("ROUND_ROBIN"), [ep("10.0.0.1")], mulberry32(1));
    assert.equal(m.pick(NO_HASH)!.address, "10.0.0.1");
    const before = m.balancer;
    m.update([ep("10.0.0.2"), ep("10.0.0.3")]);
    assert.notEqual(m.balancer, before);
    const seen = new Set(Array.from({ length: 10 }, () => m.pick(NO_HASH)!.address));
    assert.deepEqual([...seen].sort(), ["10.0.0.2", "10.0.0.3"]);
    m.update([]);
    assert.equal(m.pick(NO_HASH), undefined);
  });

  test("listeners hear each change with the endpoints that left; an identical update is ignored", () => {
    const m = new ClusterMembership(testCluster("RANDOM"), [ep("10.0.0.1"), ep("10.0.0.2")], mulberry32(1));
    const calls: [string[], string[]][] = [];
    const off = m.onChange((eps, removed) => calls.push([eps.map((e) => e.address), removed.map((e) => e.address)]));
    const balancer = m.balancer;
    m.update([ep("10.0.0.1"), ep("10.0.0.2")]);
    assert.equal(calls.length, 0);
    assert.equal(m.balancer, balancer, "nothing changed, nothing rebuilt");
    m.update([ep("10.0.0.2"), ep("10.0.0.9")]);
    assert.deepEqual(calls, [[["10.0.0.2", "10.0.0.9"], ["10.0.0.1"]]]);
    off();
    m.update([]);
    assert.equal(calls.length, 1, "unsubscribed");
  });

  test("setHealthFlag rebuilds the balancer and notifies; unchanged health does nothing", () => {
    const m = new ClusterMembership(
      testCluster("ROUND_ROBIN"),
      [ep("10.0.0.1"), ep("10.0.0.2"), ep("10.0.0.3")],
      mulberry32(1),
    );
    let notified = 0;
    m.onChange(() => notified++);
    const [a] = m.endpoints;
    m.setHealthFlag(a!, HealthFlag.FAILED_OUTLIER_CHECK, true);
    assert.equal(notified, 1);
    for (let i = 0; i < 30; i++) assert.notEqual(m.pick(NO_HASH), a);
    m.setHealthFlag(a!, HealthFlag.FAILED_OUTLIER_CHECK, true);
    assert.equal(notified, 1);
    m.setHealthFlag(a!, HealthFlag.FAILED_OUTLIER_CHECK, false);
    assert.ok(Array.from({ length: 30 }, () => m.pick(NO_HASH)).includes(a));
    m.setHealthFlag(ep("10.9.9.9"), HealthFlag.FAILED_OUTLIER_CHECK, true);
    assert.equal(notified, 2, "an endpoint that is not a member changes nothing");
  });

  test("an endpoint failed by two sources comes back only when both clear their flag", () => {
    const m = new ClusterMembership(testCluster("ROUND_ROBIN"), [ep("10.0.0.1"), ep("10.0.0.2")], mulberry32(1));
    const [a] = m.endpoints;
    m.setHealthFlag(a!, HealthFlag.FAILED_ACTIVE_HC, true);
    m.setHealthFlag(a!, HealthFlag.FAILED_OUTLIER_CHECK, true);
    assert.equal(a!.healthFlagsText, "/failed_active_hc/failed_outlier_check");
    m.setHealthFlag(a!, HealthFlag.FAILED_ACTIVE_HC, false);
    assert.equal(a!.healthy, false);
    for (let i = 0; i < 10; i++) assert.notEqual(m.pick(NO_HASH), a);
    m.setHealthFlag(a!, HealthFlag.FAILED_OUTLIER_CHECK, false);
    assert.equal(a!.healthFlagsText, "healthy");
    assert.ok(Array.from({ length: 10 }, () => m.pick(NO_HASH)).includes(a));
  });

  test("startEndpointsWith flags the endpoints here and every newcomer; a replacement keeps its predecessor's bits", () => {
    const m = new ClusterMembership(testCluster("ROUND_ROBIN"), [ep("10.0.0.1"), ep("10.0.0.2")], mulberry32(1));
    let notified = 0;
    m.onChange(() => notified++);
    const pendingHc = HealthFlag.FAILED_ACTIVE_HC | HealthFlag.PENDING_ACTIVE_HC;
    m.startEndpointsWith(pendingHc);
    assert.equal(notified, 1);
    assert.deepEqual(
      m.endpoints.map((e) => e.healthFlagsText),
      ["/failed_active_hc/pending_active_hc", "/failed_active_hc/pending_active_hc"],
    );
    const [a, b] = m.endpoints;
    m.setHealthFlag(a!, HealthFlag.FAILED_ACTIVE_HC, false);
    m.setHealthFlag(a!, HealthFlag.PENDING_ACTIVE_HC, false);
    // b's weight changes (a new object for the same address) and 10.0.0.3 joins.
    m.update([a!, new Endpoint("10.0.0.2", 80, 5), ep("10.0.0.3")]);
    const [a2, b2, c] = m.endpoints;
    assert.equal(a2, a);
    assert.notEqual(b2, b);
    assert.equal(b2!.healthFlagsText, "/failed_active_hc/pending_active_hc");
    assert.equal(c!.healthFlagsText, "/failed_active_hc/pending_active_hc");
    assert.equal(notified, 3, "one notification per change: the flags came with the update");
    // a replaced while healthy stays healthy.
    m.update([new Endpoint("10.0.0.1", 80, 7), b2!, c!]);
    assert.equal(m.endpoints[0]!.healthy, true);
  });
});
