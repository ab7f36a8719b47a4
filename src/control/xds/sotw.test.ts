import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { TYPE_URL, decodeResource } from "../../api/xds/wire/codec.ts";
import { Harness } from "./harness.ts";
import { edsCluster, loadAssignment, rdsListener, routeConfig, snapshotOf } from "./testing-resources.ts";
import { openSotw, wireNode, type SotwClient } from "./testing.ts";
import type { DiscoveryResponse } from "./ads-proto.ts";

const { listener: LDS, cluster: CDS, routeConfiguration: RDS, clusterLoadAssignment: EDS } = TYPE_URL;

function world(clusters = ["a", "b"], port = 15001) {
  return snapshotOf({
    listeners: [rdsListener("outbound-http", port, "outbound-http")],
    routes: [routeConfig("outbound-http", [{ name: "a", domains: ["a"], cluster: "a" }])],
    clusters: clusters.map((c) => edsCluster(c)),
    endpoints: clusters.map((c) => loadAssignment(c, [["127.0.0.1", 9000]])),
  });
}

const names = (r: DiscoveryResponse) =>
  r.resources.map((a) => String(decodeResource(a).name ?? decodeResource(a).cluster_name));

async function subscribe(s: SotwClient, id: string, typeUrl: string, resource_names: string[] = []) {
  s.send({ node: wireNode(id, { NAMESPACE: "default" }), type_url: typeUrl, resource_names });
  return s.next();
}

function ack(s: SotwClient, r: DiscoveryResponse, resource_names: string[] = []) {
  s.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names });
}

test("initial LDS and CDS fetch: the current resources, a version and a nonce; metadata is kept", async () => {
  const h = await new Harness().start();
  h.fallback = world();
  const s = openSotw(h.client);
  const lds = await subscribe(s, "p1", LDS);
  assert.equal(lds.type_url, LDS);
  assert.deepEqual(names(lds), ["outbound-http"]);
  assert.ok(lds.version_info.length > 0 && lds.nonce.length > 0);
  const cds = await subscribe(s, "p1", CDS);
  assert.deepEqual(names(cds).sort(), ["a", "b"]);
  assert.notEqual(cds.nonce, lds.nonce);
  const [p] = h.server.proxies();
  assert.equal(p.nodeId, "p1");
  assert.deepEqual(p.metadata, { NAMESPACE: "default" });
  assert.equal(p.protocol, "sotw");
  s.close();
  await h.close();
});

test("RDS and EDS send only the names asked for; an ACK naming more gets them", async () => {
  const h = await new Harness().start();
  h.fallback = world(["a", "b", "c"]);
  const s = openSotw(h.client);
  const eds = await subscribe(s, "p1", EDS, ["a"]);
  assert.deepEqual(names(eds), ["a"]);
  ack(s, eds, ["a", "c"]);
  const more = await s.next();
  assert.deepEqual(names(more).sort(), ["a", "c"]);
  const rds = await subscribe(s, "p1", RDS, ["outbound-http", "missing"]);
  assert.deepEqual(names(rds), ["outbound-http"]);
  s.close();
  await h.close();
});

test('LDS and CDS naming resources (a proxyless gRPC client) get only those; "*" or nothing is wildcard', async () => {
  const h = await new Harness().start();
  h.fallback = world(["a", "b", "c"]);
  const s = openSotw(h.client);
  const cds = await subscribe(s, "p1", CDS, ["b"]);
  assert.deepEqual(names(cds), ["b"]);
  assert.deepEqual(h.server.proxies()[0].types[0]!.subscribed, ["b"]);
  ack(s, cds, ["b", "c"]);
  assert.deepEqual(names(await s.next()).sort(), ["b", "c"]);
  const lds = await subscribe(s, "p1", LDS, ["missing"]);
  assert.deepEqual(names(lds), []);
  ack(s, lds, ["*"]);
  assert.deepEqual(names(await s.next()), ["outbound-http"]);
  s.close();
  await h.close();
});

test("an ACK records the acked version; a NACK records its error and the version is not pushed again", async () => {
  const h = await new Harness().start();
  h.fallback = world();
  const s = openSotw(h.client);
  const cds = await subscribe(s, "p1", CDS);
  ack(s, cds);
  await h.waitFor("ack", (e) => e.nonce === cds.nonce);
  let [t] = h.server.proxies()[0].types;
  assert.equal(t.ackedVersion, cds.version_info);
  assert.equal(t.sentVersion, cds.version_info);

  h.fallback = world(["a", "b", "c"]);
  h.server.refreshNow();
  const next = await s.next();
  s.send({
    type_url: CDS,
    version_info: cds.version_info,
    response_nonce: next.nonce,
    error_detail: { code: 3, message: "cluster c: bad lb_policy" },
  });
  const nack = await h.waitFor("nack", (e) => e.nonce === next.nonce);
  assert.equal(nack.error, "cluster c: bad lb_policy");
  [t] = h.server.proxies()[0].types;
  assert.equal(t.ackedVersion, cds.version_info, "the NACK leaves the last ACKed version");
  assert.equal(t.lastNack?.error, "cluster c: bad lb_policy");
  assert.equal(t.lastNack?.rejectedVersion, next.version_info);
  assert.equal(t.lastNack?.at, h.clock.wallNow());

  const before = h.pushes().length;
  h.server.refreshNow();
  assert.equal(h.pushes().length, before, "the rejected version is not resent");

  // A newer version is pushed, and its ACK clears the NACK.
  h.fallback = world(["a"]);
  h.server.refreshNow();
  const fixed = await s.next();
  ack(s, fixed);
  await h.waitFor("ack", (e) => e.nonce === fixed.nonce);
  [t] = h.server.proxies()[0].types;
  assert.equal(t.lastNack, undefined);
  s.close();
  await h.close();
});

test("a refresh pushes only the types that changed, only to the proxies whose snapshot changed", async () => {
  const h = await new Harness().start();
  h.snapshots.set("p1", world(["a"], 15001));
  h.snapshots.set("p2", world(["b"], 15002));
  const clients: SotwClient[] = [];
  for (const id of ["p1", "p2"]) {
    const s = openSotw(h.client);
    clients.push(s);
    for (const type of [LDS, CDS]) {
      const r = await subscribe(s, id, type);
      ack(s, r);
      await h.waitFor("ack", (e) => e.nonce === r.nonce);
    }
  }
  const before = h.pushes().length;
  h.snapshots.set("p2", world(["b", "c"], 15002)); // p2's clusters change; its listener is the same
  h.server.refresh();
  h.clock.advance(100);
  const pushed = h.pushes().slice(before);
  assert.deepEqual(
    pushed.map((p) => [p.nodeId, p.typeUrl]),
    [["p2", CDS]],
  );
  assert.deepEqual(names(await clients[1].next()).sort(), ["b", "c"]);
  assert.equal(clients[0].buffered, 0);
  for (const c of clients) c.close();
  await h.close();
});

test("debounce: a burst of refreshes becomes one recomputation and one push, after the quiet period", async () => {
  const h = await new Harness({ debounceMs: 100, maxDebounceMs: 1000 }).start();
  h.fallback = world(["a"]);
  const s = openSotw(h.client);
  ack(s, await subscribe(s, "p1", CDS));
  const calls = h.snapshotCalls;
  const before = h.pushes().length;
  for (let i = 0; i < 5; i++) {
    h.fallback = world(["a", `x${i}`]);
    h.server.refresh();
    h.clock.advance(50);
  }
  assert.equal(h.snapshotCalls, calls, "nothing recomputed during the burst");
  h.clock.advance(50);
  assert.equal(h.snapshotCalls, calls + 1);
  assert.equal(h.pushes().length, before + 1);
  assert.deepEqual(names(await s.next()).sort(), ["a", "x4"]);

  // A steady trickle is pushed at the maximum delay anyway.
  for (let i = 0; i < 30; i++) {
    h.server.refresh();
    h.clock.advance(40);
  }
  assert.ok(h.snapshotCalls >= calls + 2, "pushed at least once within 1.2 s of continuous changes");
  s.close();
  await h.close();
});

test("a request with a stale nonce is ignored", async () => {
  const h = await new Harness().start();
  h.fallback = world(["a"]);
  const s = openSotw(h.client);
  const first = await subscribe(s, "p1", CDS);
  h.fallback = world(["a", "b"]);
  h.server.refreshNow();
  const second = await s.next();
  // A NACK of the first response arrives late: it says nothing about the second.
  s.send({ type_url: CDS, response_nonce: first.nonce, error_detail: { code: 3, message: "old" } });
  ack(s, second);
  await h.waitFor("ack", (e) => e.nonce === second.nonce);
  assert.equal(h.events.filter((e) => e.kind === "nack").length, 0);
  assert.equal(h.server.proxies()[0].types[0].lastNack, undefined);
  s.close();
  await h.close();
});

test("malformed requests close only their own stream; the server keeps serving", async () => {
  const h = await new Harness().start();
  h.fallback = world(["a"]);
  // No node on the first request.
  const noNode = openSotw(h.client);
  noNode.send({ type_url: CDS });
  assert.equal((await noNode.ended).code, grpc.status.INVALID_ARGUMENT);
  // No type URL.
  const noType = openSotw(h.client);
  noType.send({ node: wireNode("p9") });
  assert.equal((await noType.ended).code, grpc.status.INVALID_ARGUMENT);
  // Bytes that are not a DiscoveryRequest.
  const garbage = h.client.makeBidiStreamRequest(
    "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
    (b: Buffer) => b,
    (b: Buffer) => b,
  );
  const garbageEnded = new Promise<grpc.StatusObject>((resolve) => garbage.on("status", resolve));
  garbage.on("error", () => {});
  garbage.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12]));
  assert.notEqual((await garbageEnded).code, grpc.status.OK);
  // A well-behaved proxy is still served.
  const ok = openSotw(h.client);
  assert.deepEqual(names(await subscribe(ok, "p1", CDS)), ["a"]);
  assert.ok(h.logs.some((l) => l.includes("node.id")));
  ok.close();
  await h.close();
});

test("proxies() lists connected streams; a disconnect removes the stream and calls the hook", async () => {
  const h = await new Harness().start();
  h.fallback = world();
  const s = openSotw(h.client);
  await subscribe(s, "p1", LDS);
  assert.equal(h.server.proxies().length, 1);
  s.close();
  const gone = await h.waitFor("disconnect");
  assert.equal(gone.nodeId, "p1");
  assert.equal(h.server.proxies().length, 0);
  await h.close();
});
