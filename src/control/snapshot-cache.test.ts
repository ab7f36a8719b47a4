import { test } from "node:test";
import assert from "node:assert/strict";
import { NAME_TABLE_TYPE_URL, TYPE_URL } from "../api/xds/wire/codec.ts";
import { SnapshotCache } from "./snapshot-cache.ts";
import { loadCase, toService } from "./translate/testing.ts";
import { translate, proxyIdentityFromNode, World } from "./translate/index.ts";
import { loadResources } from "../api/resources/load.ts";
import type { Snapshot, XdsNode } from "./xds/types.ts";

function node(id: string, service: string, ip: string, labels: Record<string, string>): XdsNode {
  return {
    id,
    cluster: "",
    userAgentName: "trellis",
    metadata: { NAMESPACE: "default", SERVICE: service, INSTANCE_IPS: ip, LABELS: labels },
  };
}

const productpage = node("productpage-v1-1", "productpage", "10.0.0.10", { app: "productpage", version: "v1" });
const reviews = node("reviews-v2-1", "reviews", "10.0.0.22", { app: "reviews", version: "v2" });

/** A snapshot as plain objects: type → name → resource. */
function plain(snapshot: Snapshot): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [type, map] of snapshot) out[type] = Object.fromEntries(map);
  return out;
}

function expected(world: World, n: XdsNode): Record<string, Record<string, unknown>> {
  const r = translate(world, proxyIdentityFromNode(n));
  const by = (list: Record<string, unknown>[], key: string) => Object.fromEntries(list.map((x) => [String(x[key]), x]));
  return {
    [TYPE_URL.listener]: by(r.listeners, "name"),
    [TYPE_URL.routeConfiguration]: by(r.routes, "name"),
    [TYPE_URL.cluster]: by(r.clusters, "name"),
    [TYPE_URL.clusterLoadAssignment]: by(r.endpoints, "cluster_name"),
  };
}

test("each proxy's snapshot holds exactly what translate() gives it", () => {
  for (const file of ["bookinfo-all-v1.yaml", "bookinfo-jason-v2.yaml", "source-labels.yaml", "multi-port.yaml"]) {
    const { world } = loadCase(file);
    const cache = new SnapshotCache();
    cache.setWorld(world);
    for (const n of [productpage, reviews]) assert.deepEqual(plain(cache.snapshotFor(n)), expected(world, n), file);
  }
});

test("proxies with the same view of the mesh share the outbound maps; their own inbound side is layered over them", () => {
  const { world } = loadCase("bookinfo-all-v1.yaml");
  const cache = new SnapshotCache();
  cache.setWorld(world);
  const a = cache.snapshotFor(productpage);
  const b = cache.snapshotFor(reviews);
  assert.equal(a.get(TYPE_URL.routeConfiguration), b.get(TYPE_URL.routeConfiguration), "one RDS map object");
  assert.equal(a.get(TYPE_URL.clusterLoadAssignment), b.get(TYPE_URL.clusterLoadAssignment), "one EDS map object");
  assert.notEqual(a.get(TYPE_URL.listener), b.get(TYPE_URL.listener), "each has its own inbound listener");
  assert.ok(a.get(TYPE_URL.listener)!.has("inbound-15006"));
  // The same proxy asking again in the same generation gets the same object.
  assert.equal(cache.snapshotFor(productpage), a);
});

test("a new world that changes only routes keeps every other type's map object", () => {
  const before = loadCase("bookinfo-all-v1.yaml").world;
  const after = loadCase("bookinfo-jason-v2.yaml").world; // same services and subsets; reviews' routes differ
  const cache = new SnapshotCache();
  cache.setWorld(before);
  const first = cache.snapshotFor(productpage);
  cache.setWorld(after);
  const second = cache.snapshotFor(productpage);
  assert.notEqual(second, first);
  assert.notEqual(second.get(TYPE_URL.routeConfiguration), first.get(TYPE_URL.routeConfiguration));
  for (const type of [TYPE_URL.listener, TYPE_URL.cluster, TYPE_URL.clusterLoadAssignment])
    assert.equal(second.get(type), first.get(type), `${type} unchanged: same object`);
  assert.deepEqual(plain(second), expected(after, productpage));
});

test("a label a rule selects on gives a proxy its own outbound translation", () => {
  const { world } = loadCase("source-labels.yaml");
  const cache = new SnapshotCache();
  cache.setWorld(world);
  const v1 = cache.snapshotFor(productpage);
  const v2node = node("productpage-v2-1", "productpage", "10.0.0.11", { app: "productpage", version: "v2" });
  const v2 = cache.snapshotFor(v2node);
  assert.notEqual(v1.get(TYPE_URL.routeConfiguration), v2.get(TYPE_URL.routeConfiguration));
  assert.deepEqual(plain(v2), expected(world, v2node));
});

test("warm() translates ahead, for the keys proxies had, exactly what they then get", () => {
  const before = loadCase("bookinfo-all-v1.yaml").world;
  const after = loadCase("bookinfo-jason-v2.yaml").world;
  const cache = new SnapshotCache();
  cache.setWorld(before);
  cache.snapshotFor(productpage);
  cache.setWorld(after);
  cache.warm();
  const warmed = cache.snapshotFor(productpage);
  const fresh = new SnapshotCache();
  fresh.setWorld(after);
  assert.deepEqual(plain(warmed), plain(fresh.snapshotFor(productpage)));
  // The proxy shares the warmed outbound maps with another of the same key.
  assert.equal(cache.snapshotFor(reviews).get(TYPE_URL.routeConfiguration), warmed.get(TYPE_URL.routeConfiguration));
});

test("each generation keeps the problems of what it translated, per proxy: a fix clears them", () => {
  const entry = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ratings, namespace: default }
spec:
  hosts: [ratings.default.svc.cluster.local]
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 10.0.0.5 }]
`;
  const routed = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: default }
spec:
  hosts: [ratings]
  http:
  - route: [{ destination: { host: ratings, subset: v9 } }]
`;
  const cache = new SnapshotCache();
  cache.setWorld(World.fromResources(loadResources(entry + routed, "t.yaml").resources));
  const problems = cache.problemsFor(productpage);
  assert.deepEqual(
    problems.filter((p) => p.resource !== undefined).map((p) => [p.code, p.resource?.kind, p.resource?.name, p.path]),
    [["IST0101", "VirtualService", "ratings", "spec.http[0]"]],
  );
  // Asked again in the same generation: the same list, no second translation needed.
  assert.equal(cache.problemsFor(productpage), problems);
  cache.setWorld(World.fromResources(loadResources(entry, "t.yaml").resources));
  assert.deepEqual(
    cache.problemsFor(productpage).filter((p) => p.resource !== undefined),
    [],
  );
});

test("current() answers from the generation a proxy was last sent, and nothing once the world changed", () => {
  const { world } = loadCase("bookinfo-all-v1.yaml");
  const cache = new SnapshotCache();
  cache.setWorld(world);
  assert.equal(cache.current(productpage.id), undefined);
  cache.snapshotFor(productpage);
  const now = cache.current(productpage.id)!;
  assert.deepEqual(now.problems, cache.problemsFor(productpage));
  assert.ok([...now.clusters].some((c) => c.endsWith("|reviews.default.svc.cluster.local")));
  cache.setWorld(world);
  assert.equal(cache.current(productpage.id), undefined);
});

test("a capture-mode proxy's snapshot holds the NameTable; it follows the services, explicit proxies have none", () => {
  const capture: XdsNode = {
    id: "client-1",
    cluster: "",
    userAgentName: "trellis",
    metadata: { NAMESPACE: "default", INSTANCE_IPS: "10.250.0.9", INTERCEPTION_MODE: "REDIRECT" },
  };
  const service = (name: string) =>
    toService({
      hostname: `${name}.default.svc.cluster.local`,
      ports: [{ name: "http", number: 8080, protocol: "HTTP" }],
      instances: [
        { address: "10.250.0.3", ports: { http: { appPort: 8080 } }, labels: {}, weight: 1, hasSidecar: false },
      ],
    });
  const one = World.fromResources([], [service("meeting")]);
  const cache = new SnapshotCache();
  cache.setWorld(one);
  const first = cache.snapshotFor(capture);
  const table = first.get(NAME_TABLE_TYPE_URL);
  assert.ok(table !== undefined, "capture-mode snapshot has NDS");
  assert.deepEqual([...table.keys()], [""], 'one resource, named ""');
  const vip = one.vipsOf(one.service("meeting.default.svc.cluster.local")!)[0]!;
  assert.deepEqual(table.get(""), {
    table: {
      "meeting.default.svc.cluster.local": {
        ips: [vip],
        registry: "Kubernetes",
        shortname: "meeting",
        namespace: "default",
      },
    },
  });
  assert.equal(cache.snapshotFor(productpage).get(NAME_TABLE_TYPE_URL), undefined, "explicit mode: no NDS");

  // The same services: the same map object (nothing re-sent); a new service: a new table with both, in order.
  cache.setWorld(World.fromResources([], [service("meeting")]));
  assert.equal(cache.snapshotFor(capture).get(NAME_TABLE_TYPE_URL), table);
  const two = World.fromResources([], [service("meeting"), service("agenda")]);
  cache.setWorld(two);
  const next = cache.snapshotFor(capture).get(NAME_TABLE_TYPE_URL)!;
  assert.notEqual(next, table);
  const hosts = Object.keys((next.get("") as { table: Record<string, unknown> }).table);
  assert.deepEqual(hosts, ["agenda.default.svc.cluster.local", "meeting.default.svc.cluster.local"]);
  assert.deepEqual(
    (next.get("") as { table: Record<string, { ips: string[] }> }).table["meeting.default.svc.cluster.local"]!.ips,
    [vip],
    "a hostname keeps its VIP when another service comes",
  );
});
