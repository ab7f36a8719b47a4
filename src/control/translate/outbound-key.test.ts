// The control plane translates the outbound side once per World.outboundKey and shares the result between proxies:
// these tests hold translateOutbound to that — proxies with one key get equal output, in every golden case — and
// check that the key tells apart proxies that a rule treats differently.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { loadCase, TESTDATA } from "./testing.ts";
import { translate, translateInbound, translateOutbound } from "./translate.ts";
import type { ProxyIdentity } from "./proxy-identity.ts";
import { proxyLocality } from "./locality.ts";
import type { World } from "./world-index.ts";

const cases = readdirSync(TESTDATA)
  .filter((f) => f.endsWith(".yaml") && !f.endsWith(".golden.yaml"))
  .sort();

/**
 * The same proxy seen as another workload: other id, address, service, and one label no rule selects on — in the
 * same locality (which locality failover reads).
 */
function otherWorkload(world: World, proxy: ProxyIdentity): ProxyIdentity {
  const locality = proxyLocality(world, proxy);
  return {
    ...proxy,
    ...(locality !== undefined ? { locality } : {}),
    id: `${proxy.id}-twin`,
    workloadAddress: "10.99.0.7",
    service: "some-other-service",
    labels: { ...proxy.labels, "pod-template-hash": "abc123" },
  };
}

for (const file of cases) {
  test(`outbound key: ${file}: proxies with one key get the same outbound configuration`, () => {
    const { world, proxy } = loadCase(file);
    const twin = otherWorkload(world, proxy);
    assert.equal(world.outboundKey(twin), world.outboundKey(proxy));
    assert.deepEqual(translateOutbound(world, twin), translateOutbound(world, proxy));
  });
}

test("translate is the outbound and inbound halves together", () => {
  for (const file of cases) {
    const { world, proxy } = loadCase(file);
    const whole = translate(world, proxy);
    const outbound = translateOutbound(world, proxy);
    const inbound = translateInbound(world, proxy);
    assert.equal(whole.listeners.length, outbound.listeners.length + inbound.listeners.length, file);
    assert.equal(whole.clusters.length, outbound.clusters.length + inbound.clusters.length, file);
    assert.deepEqual(whole.routes, outbound.routes, file);
    assert.deepEqual(whole.endpoints, outbound.endpoints, file);
  }
});

test("a label a rule selects on changes the key, and the output where it matters", () => {
  const { world, proxy } = loadCase("source-labels.yaml");
  const v2 = { ...proxy, labels: { ...proxy.labels, version: "v2" } };
  assert.notEqual(world.outboundKey(v2), world.outboundKey(proxy));
  assert.notDeepEqual(translateOutbound(world, v2).routes, translateOutbound(world, proxy).routes);
  // Namespace and the outbound ports are part of the key.
  assert.notEqual(world.outboundKey({ ...proxy, namespace: "other" }), world.outboundKey(proxy));
  assert.notEqual(world.outboundKey({ ...proxy, outboundPort: 15099 }), world.outboundKey(proxy));
  assert.notEqual(world.outboundKey({ ...proxy, proxyless: true }), world.outboundKey(proxy));
});

test("where locality failover applies, the proxy's locality is part of the key and orders the endpoints", () => {
  const { world, proxy } = loadCase("locality-failover.yaml");
  const elsewhere = { ...proxy, id: "productpage-2", locality: "eu-west/1a" };
  assert.notEqual(world.outboundKey(elsewhere), world.outboundKey(proxy));
  const priorities = (p: ProxyIdentity) =>
    Object.fromEntries(
      (
        translateOutbound(world, p).endpoints.find((e) => String(e.cluster_name).includes("reviews"))!.endpoints as {
          locality?: { region: string; zone: string; sub_zone: string };
          priority?: number;
        }[]
      ).map((g) => [
        `${g.locality?.region ?? ""}/${g.locality?.zone ?? ""}/${g.locality?.sub_zone ?? ""}`,
        g.priority ?? 0,
      ]),
    );
  assert.equal(priorities(proxy)["us-east/1a/r1"], 0);
  assert.equal(priorities(proxy)["us-east/1a/r2"], 1);
  assert.equal(priorities(elsewhere)["eu-west/1a/"], 0, "eu-west's endpoints first for a proxy in eu-west");
  assert.equal(priorities(elsewhere)["us-east/1a/r1"], 1, "then its failover region us-east");
  assert.equal(priorities(elsewhere)["ap-south/1a/"], 2, "then the rest");
  // A world without outlier detection anywhere ignores locality: proxies everywhere share one key.
  const plain = loadCase("bookinfo-all-v1.yaml");
  assert.equal(
    plain.world.outboundKey({ ...plain.proxy, locality: "eu-west/1a" }),
    plain.world.outboundKey({ ...plain.proxy, locality: "us-east/1a" }),
  );
});

/** Per cluster of `host`: "locality w=weight p=priority" for each endpoint group. */
function groupsOf(world: World, proxy: ProxyIdentity, cluster: string): string[] {
  const cla = translateOutbound(world, proxy).endpoints.find((e) => e.cluster_name === cluster)!;
  return (
    cla.endpoints as {
      locality?: { region: string; zone: string; sub_zone: string };
      load_balancing_weight?: number;
      priority?: number;
      lb_endpoints: unknown[];
    }[]
  ).map(
    (g) =>
      `${g.locality?.region ?? ""}/${g.locality?.zone ?? ""} w=${g.load_balancing_weight} p=${g.priority ?? 0} n=${g.lb_endpoints.length}`,
  );
}

test("with distribute, the proxy's locality is part of the key even without outlier detection", () => {
  const { world, proxy } = loadCase("locality-distribute.yaml");
  const reviews = "outbound|9080||reviews.default.svc.cluster.local";
  const euWest = { ...proxy, id: "productpage-2", locality: "eu-west/1a" };
  assert.notEqual(world.outboundKey(euWest), world.outboundKey(proxy));
  assert.deepEqual(groupsOf(world, euWest, reviews), ["eu-west/1a w=100 p=0 n=1"], "eu-west's rule: all to eu-west");
  assert.deepEqual(groupsOf(world, proxy, reviews), [
    "eu-west/1a w=20 p=0 n=1",
    "us-east/1a w=32 p=0 n=2",
    "us-east/1b w=48 p=0 n=1",
  ]);
  // A proxy no `from` matches: one key for all of them, the plain weights.
  const apSouth = { ...proxy, id: "productpage-3", locality: "ap-south/1a" };
  assert.deepEqual(groupsOf(world, apSouth, reviews), [
    "ap-south/1a w=1 p=0 n=1",
    "eu-west/1a w=1 p=0 n=1",
    "us-east/1a w=2 p=0 n=2",
    "us-east/1b w=3 p=0 n=1",
  ]);
});

test("with failoverPriority, the proxy's values of the listed labels are part of the key, and only those", () => {
  const { world, proxy } = loadCase("locality-failover-priority.yaml");
  const reviews = "outbound|9080||reviews.default.svc.cluster.local";
  const ratings = "outbound|9080||ratings.default.svc.cluster.local";
  // Another network: another key, and net2's endpoint comes first.
  const net2 = { ...proxy, id: "productpage-2", labels: { ...proxy.labels, "topology.istio.io/network": "net2" } };
  assert.notEqual(world.outboundKey(net2), world.outboundKey(proxy));
  assert.deepEqual(groupsOf(world, net2, reviews), [
    "eu-west/1a w=1 p=1 n=1",
    "us-east/1a w=1 p=0 n=1",
    "us-east/1a w=2 p=1 n=2",
    "us-east/1b w=1 p=1 n=1",
  ]);
  // "version=v2" overrides the proxy's own version: a v2 proxy shares the v1 proxy's key and output.
  const v2 = { ...proxy, id: "productpage-3", labels: { ...proxy.labels, version: "v2" } };
  assert.equal(world.outboundKey(v2), world.outboundKey(proxy));
  assert.deepEqual(groupsOf(world, v2, ratings), groupsOf(world, proxy, ratings));
  // A label no failoverPriority lists is not part of the key.
  const other = { ...proxy, id: "productpage-4", labels: { ...proxy.labels, team: "x" } };
  assert.equal(world.outboundKey(other), world.outboundKey(proxy));
  // A proxy without labels or locality: Istio applies no label priorities at all (its own key).
  const bare = { ...proxy, id: "bare", labels: {}, service: "none" };
  delete (bare as Partial<ProxyIdentity>).locality;
  assert.notEqual(world.outboundKey(bare), world.outboundKey(proxy));
  assert.deepEqual(groupsOf(world, bare, reviews), [
    "eu-west/1a w=1 p=0 n=1",
    "us-east/1a w=3 p=0 n=3",
    "us-east/1b w=1 p=0 n=1",
  ]);
});
