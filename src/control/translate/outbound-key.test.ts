// The control plane translates the outbound side once per World.outboundKey and shares the result between proxies:
// these tests hold translateOutbound to that — proxies with one key get equal output, in every golden case — and
// check that the key tells apart proxies that a rule treats differently.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { loadCase, TESTDATA } from "./testing.ts";
import { translate, translateInbound, translateOutbound } from "./translate.ts";
import type { ProxyIdentity } from "./proxy-identity.ts";

const cases = readdirSync(TESTDATA)
  .filter((f) => f.endsWith(".yaml") && !f.endsWith(".golden.yaml"))
  .sort();

/** The same proxy seen as another workload: other id, address, service, and one label no rule selects on. */
function otherWorkload(proxy: ProxyIdentity): ProxyIdentity {
  return {
    ...proxy,
    id: `${proxy.id}-twin`,
    workloadAddress: "10.99.0.7",
    service: "some-other-service",
    labels: { ...proxy.labels, "pod-template-hash": "abc123" },
  };
}

for (const file of cases) {
  test(`outbound key: ${file}: proxies with one key get the same outbound configuration`, () => {
    const { world, proxy } = loadCase(file);
    const twin = otherWorkload(proxy);
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
