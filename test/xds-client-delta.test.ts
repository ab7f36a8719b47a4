// The sidecar's incremental xDS client against Trellis's real ADS server (XdsServer) on 127.0.0.1: a real proxy
// and real upstreams. What delta must do better than state of the world is checked on the server's push events:
// a change to one cluster's endpoints sends that one assignment; a removed cluster is a removed name; a new stream
// after a restart of the server sends nothing the proxy already holds.

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../src/api/clock.ts";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { XdsServer } from "../src/control/xds/server.ts";
import { byName, edsCluster, loadAssignment, rdsListener } from "../src/control/xds/testing-resources.ts";
import type { NackEvent, PushEvent, Snapshot } from "../src/control/xds/types.ts";
import { Proxy } from "../src/proxy/server.ts";
import { XdsClient, type XdsClientEvent } from "../src/proxy/xds-client/client.ts";
import { nodeFromIdentity } from "../src/proxy/xds-client/node.ts";
import { request } from "./support/clients.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { waitFor } from "./support/wait.ts";

type Raw = Record<string, unknown>;

function routes(cluster: string): Raw {
  return {
    name: "outbound-http",
    virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster } }] }],
  };
}

/** A world of clusters (name → upstream ports), with every request routed to `routeTo`. */
function snapshot(clusters: Record<string, number[]>, routeTo: string): Snapshot {
  return new Map([
    [TYPE_URL.listener, byName([rdsListener("outbound", 0, "outbound-http")])],
    [TYPE_URL.routeConfiguration, byName([routes(routeTo)])],
    [TYPE_URL.cluster, byName(Object.keys(clusters).map((c) => edsCluster(c)))],
    [
      TYPE_URL.clusterLoadAssignment,
      byName(
        Object.entries(clusters).map(([c, ports]) =>
          loadAssignment(
            c,
            ports.map((p): [string, number] => ["127.0.0.1", p]),
          ),
        ),
        "cluster_name",
      ),
    ],
  ]);
}

interface Setup {
  xds: XdsServer;
  clock: ManualClock;
  proxy: Proxy;
  client: XdsClient;
  events: XdsClientEvent[];
  pushes: PushEvent[];
  nacks: NackEvent[];
  world: { current: Snapshot };
  port(): number;
}

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function upstream(name: string): Promise<Upstream> {
  const u = await startEchoServer(name);
  closers.push(() => u.close());
  return u;
}

async function startServer(world: { current: Snapshot }, pushes: PushEvent[], nacks: NackEvent[], port = 0) {
  const xds = new XdsServer({
    source: { snapshotFor: () => world.current },
    host: "127.0.0.1",
    port,
    debounceMs: 1,
    log: () => {},
    hooks: { onPush: (e) => pushes.push(e), onNack: (e) => nacks.push(e) },
  });
  await xds.start();
  return xds;
}

async function setup(initial: Snapshot): Promise<Setup> {
  const world = { current: initial };
  const pushes: PushEvent[] = [];
  const nacks: NackEvent[] = [];
  const xds = await startServer(world, pushes, nacks);
  const node = nodeFromIdentity({ nodeId: "delta-1", service: "app", namespace: "shop", labels: {} });
  const bootstrap = parseBootstrap(JSON.stringify({ node: { id: node.id } }), "test");
  bootstrap.node = node;
  const proxy = new Proxy(bootstrap, { log: () => {} });
  await proxy.start();
  const clock = new ManualClock();
  const client = new XdsClient({ servers: [`127.0.0.1:${xds.port}`], node, target: proxy, clock });
  const events: XdsClientEvent[] = [];
  client.onEvent((e) => events.push(e));
  client.start();
  const s: Setup = {
    xds,
    clock,
    proxy,
    client,
    events,
    pushes,
    nacks,
    world,
    port: () => proxy.listenerAddresses().outbound!.port,
  };
  closers.push(async () => {
    client.stop();
    await s.xds.stop(100);
    await proxy.shutdown(0);
  });
  await waitFor(() => client.version(TYPE_URL.routeConfiguration) !== "", 10_000);
  return s;
}

const acked = (s: Setup, typeUrl: string) => s.events.filter((e) => e.kind === "ack" && e.typeUrl === typeUrl).length;

describe("the sidecar's incremental (delta) xDS client", () => {
  test("by default the client speaks delta: wildcard CDS/LDS, EDS and RDS by name, ACKed; traffic flows", async () => {
    const a = await upstream("a");
    const s = await setup(snapshot({ a: [a.port], b: [a.port] }, "a"));
    assert.equal(s.client.protocolName, "delta");
    // The client applied RDS; its ACK is on the way to the server.
    await waitFor(() => s.xds.proxies()[0]!.types.every((t) => t.ackedVersion === t.sentVersion), 5_000);
    const status = s.xds.proxies()[0]!;
    assert.equal(status.protocol, "delta");
    assert.equal(status.types.length, 4);
    const eds = status.types.find((t) => t.typeUrl === TYPE_URL.clusterLoadAssignment)!;
    assert.deepEqual([...(eds.subscribed ?? [])].sort(), ["a", "b"]);
    const res = await request(s.port());
    assert.equal(res.status, 200);
    assert.equal(res.headers["x-upstream"], "a");
  });

  test("one cluster's endpoints change: only that assignment is sent; the proxy applies it with the rest kept", async () => {
    const a = await upstream("a");
    const b = await upstream("b");
    const c = await upstream("c");
    const s = await setup(snapshot({ a: [a.port], b: [b.port] }, "b"));
    const before = acked(s, TYPE_URL.clusterLoadAssignment);
    s.pushes.length = 0;
    s.world.current = snapshot({ a: [a.port], b: [c.port] }, "b");
    s.xds.refreshNow();
    await waitFor(() => acked(s, TYPE_URL.clusterLoadAssignment) > before, 5_000);
    const eds = s.pushes.filter((p) => p.typeUrl === TYPE_URL.clusterLoadAssignment);
    assert.deepEqual(
      eds.map((p) => [p.resources, p.removed]),
      [[1, 0]],
      "one assignment sent, none removed",
    );
    assert.equal(s.pushes.filter((p) => p.typeUrl !== TYPE_URL.clusterLoadAssignment).length, 0, "nothing else");
    const res = await request(s.port());
    assert.equal(res.headers["x-upstream"], "c");
    // Cluster a kept its endpoints: route to it and it still answers.
    s.world.current = snapshot({ a: [a.port], b: [c.port] }, "a");
    const rds = acked(s, TYPE_URL.routeConfiguration);
    s.xds.refreshNow();
    await waitFor(() => acked(s, TYPE_URL.routeConfiguration) > rds, 5_000);
    assert.equal((await request(s.port())).headers["x-upstream"], "a");
  });

  test("a cluster removed: CDS sends its name as removed; its assignment is unsubscribed", async () => {
    const a = await upstream("a");
    const s = await setup(snapshot({ a: [a.port], gone: [a.port] }, "a"));
    const before = acked(s, TYPE_URL.cluster);
    s.pushes.length = 0;
    s.world.current = snapshot({ a: [a.port] }, "a");
    s.xds.refreshNow();
    await waitFor(() => acked(s, TYPE_URL.cluster) > before, 5_000);
    const cds = s.pushes.filter((p) => p.typeUrl === TYPE_URL.cluster);
    assert.deepEqual(
      cds.map((p) => [p.resources, p.removed]),
      [[0, 1]],
    );
    await waitFor(() => {
      const eds = s.xds.proxies()[0]!.types.find((t) => t.typeUrl === TYPE_URL.clusterLoadAssignment)!;
      return (eds.subscribed ?? []).join() === "a";
    }, 5_000);
    assert.equal((await request(s.port())).status, 200);
  });

  test("a bad resource is NACKed with its reason; the proxy keeps serving; the next good version applies", async () => {
    const a = await upstream("a");
    const b = await upstream("b");
    const s = await setup(snapshot({ a: [a.port] }, "a"));
    // Encodes fine (the server sends it) but is not a valid route: the proxy refuses it.
    const badRoutes = {
      name: "outbound-http",
      virtual_hosts: [
        { name: "all", domains: ["*"], routes: [{ match: { safe_regex: { regex: "((" } }, route: { cluster: "a" } }] },
      ],
    };
    s.world.current = new Map([...snapshot({ a: [a.port] }, "a"), [TYPE_URL.routeConfiguration, byName([badRoutes])]]);
    s.xds.refreshNow();
    await waitFor(() => s.nacks.length > 0, 5_000);
    assert.match(s.nacks[0]!.error, /outbound-http/);
    assert.ok(s.events.some((e) => e.kind === "nack" && e.typeUrl === TYPE_URL.routeConfiguration));
    assert.equal((await request(s.port())).headers["x-upstream"], "a", "the last good routes still serve");
    s.world.current = snapshot({ a: [a.port], b: [b.port] }, "b");
    const rds = acked(s, TYPE_URL.routeConfiguration);
    s.xds.refreshNow();
    await waitFor(() => acked(s, TYPE_URL.routeConfiguration) > rds, 5_000);
    assert.equal((await request(s.port())).headers["x-upstream"], "b");
  });

  test("the server restarts: the new stream says what the proxy holds, and nothing it holds is sent again", async () => {
    const a = await upstream("a");
    const s = await setup(snapshot({ a: [a.port] }, "a"));
    const port = s.xds.port;
    await s.xds.stop(0);
    await waitFor(() => s.events.some((e) => e.kind === "disconnected"), 5_000);
    assert.equal((await request(s.port())).status, 200, "serving while no control plane answers");
    s.pushes.length = 0;
    s.xds = await startServer(s.world, s.pushes, s.nacks, port);
    const connects = s.events.filter((e) => e.kind === "connecting").length;
    s.clock.advance(60_000); // the client's backoff runs on the ManualClock
    await waitFor(() => s.events.filter((e) => e.kind === "connecting").length > connects, 5_000);
    await waitFor(() => s.xds.proxies().length === 1 && s.xds.proxies()[0]!.types.length >= 4, 5_000);
    await waitFor(() => s.xds.proxies()[0]!.types.every((t) => t.ackedVersion === t.sentVersion), 5_000);
    const resent = s.pushes.reduce((n, p) => n + p.resources, 0);
    assert.equal(resent, 0, `resources sent again after the restart: ${JSON.stringify(s.pushes)}`);
    assert.equal((await request(s.port())).status, 200);
  });
});
