import { test } from "node:test";
import assert from "node:assert/strict";
import { TYPE_URL, decodeResource } from "../../api/xds/wire/codec.ts";
import { Harness } from "./harness.ts";
import { edsCluster, loadAssignment, snapshotOf } from "./testing-resources.ts";
import { openDelta, wireNode, type DeltaClient } from "./testing.ts";
import type { DeltaDiscoveryResponse } from "./ads-proto.ts";

const { cluster: CDS, clusterLoadAssignment: EDS } = TYPE_URL;

function world(clusters: string[], port = 9000) {
  return snapshotOf({
    clusters: clusters.map((c) => edsCluster(c)),
    endpoints: clusters.map((c) => loadAssignment(c, [["127.0.0.1", port]])),
  });
}

const names = (r: DeltaDiscoveryResponse) => r.resources.map((x) => x.name).sort();

function ack(s: DeltaClient, r: DeltaDiscoveryResponse) {
  s.send({ type_url: r.type_url, response_nonce: r.nonce });
}

test("delta: a wildcard CDS subscription gets every cluster with per-resource versions; removals are named", async () => {
  const h = await new Harness().start();
  h.fallback = world(["a", "b"]);
  const s = openDelta(h.client);
  s.send({ node: wireNode("d1"), type_url: CDS });
  const first = await s.next();
  assert.deepEqual(names(first), ["a", "b"]);
  assert.ok(first.resources.every((r) => r.version.length > 0));
  assert.equal(decodeResource(first.resources[0].resource!).type, "EDS");
  assert.ok(first.system_version_info.length > 0);
  ack(s, first);
  await h.waitFor("ack", (e) => e.nonce === first.nonce);
  assert.equal(h.server.proxies()[0].protocol, "delta");
  assert.equal(h.server.proxies()[0].types[0].ackedVersion, first.system_version_info);

  // b goes, c arrives, a is unchanged: only c is sent, b is removed.
  h.fallback = world(["a", "c"]);
  h.server.refreshNow();
  const next = await s.next();
  assert.deepEqual(names(next), ["c"]);
  assert.deepEqual(next.removed_resources, ["b"]);
  s.close();
  await h.close();
});

test("delta: initial_resource_versions — what the client already has is not resent; what is gone is removed", async () => {
  const h = await new Harness().start();
  h.fallback = world(["a", "b"]);
  // Learn a's version from one stream, then reconnect claiming it.
  const probe = openDelta(h.client);
  probe.send({ node: wireNode("d0"), type_url: CDS });
  const all = await probe.next();
  probe.close();
  const aVersion = all.resources.find((r) => r.name === "a")!.version;

  const s = openDelta(h.client);
  s.send({ node: wireNode("d1"), type_url: CDS, initial_resource_versions: { a: aVersion, old: "v0" } });
  const r = await s.next();
  assert.deepEqual(names(r), ["b"]);
  assert.deepEqual(r.removed_resources, ["old"]);
  s.close();
  await h.close();
});

test("delta: EDS subscribe and unsubscribe by name; changes to unsubscribed names push nothing", async () => {
  const h = await new Harness().start();
  h.fallback = world(["a", "b"]);
  const s = openDelta(h.client);
  s.send({ node: wireNode("d1"), type_url: EDS, resource_names_subscribe: ["a"] });
  const first = await s.next();
  assert.deepEqual(names(first), ["a"]);
  s.send({ type_url: EDS, response_nonce: first.nonce, resource_names_subscribe: ["b"] });
  const second = await s.next();
  assert.deepEqual(names(second), ["b"], "only the newly subscribed name");
  s.send({ type_url: EDS, response_nonce: second.nonce, resource_names_unsubscribe: ["a"] });
  await h.waitFor("ack", (e) => e.nonce === second.nonce);
  assert.deepEqual(h.server.proxies()[0].types[0].subscribed, ["b"]);

  // a's endpoints change: not subscribed any more, nothing is pushed.
  const before = h.pushes().length;
  h.fallback = snapshotOf({
    clusters: [edsCluster("a"), edsCluster("b")],
    endpoints: [loadAssignment("a", [["127.0.0.1", 9999]]), loadAssignment("b", [["127.0.0.1", 9000]])],
  });
  h.server.refreshNow();
  assert.equal(h.pushes().length, before);
  // b's endpoints change: pushed.
  h.fallback = world(["a", "b"], 9001);
  h.server.refreshNow();
  const third = await s.next();
  assert.deepEqual(names(third), ["b"]);
  // Re-subscribing a sends it again (the client forgot it when it unsubscribed).
  s.send({ type_url: EDS, response_nonce: third.nonce, resource_names_subscribe: ["a"] });
  assert.deepEqual(names(await s.next()), ["a"]);
  s.close();
  await h.close();
});

test("delta: a NACK is recorded and the rejected resources are not resent; a stale nonce is ignored", async () => {
  const h = await new Harness().start();
  h.fallback = world(["a"]);
  const s = openDelta(h.client);
  s.send({ node: wireNode("d1"), type_url: CDS });
  const first = await s.next();
  h.fallback = world(["a", "bad"]);
  h.server.refreshNow();
  const second = await s.next();
  s.send({ type_url: CDS, response_nonce: first.nonce, error_detail: { code: 3, message: "stale" } });
  s.send({ type_url: CDS, response_nonce: second.nonce, error_detail: { code: 3, message: "cluster bad: nope" } });
  const nack = await h.waitFor("nack");
  assert.equal(nack.error, "cluster bad: nope");
  assert.equal(h.server.proxies()[0].types[0].lastNack?.error, "cluster bad: nope");
  const before = h.pushes().length;
  h.server.refreshNow();
  assert.equal(h.pushes().length, before);
  s.close();
  await h.close();
});
