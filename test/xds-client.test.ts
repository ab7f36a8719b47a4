// The sidecar fed over xDS: a real proxy and xDS client against a real gRPC ADS server written for the test
// (support/fake-ads.ts), real upstreams on 127.0.0.1. The client's backoff runs on a ManualClock.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ManualClock } from "../src/api/clock.ts";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { Proxy } from "../src/proxy/server.ts";
import { XdsClient, type XdsClientEvent } from "../src/proxy/xds-client/client.ts";
import { nodeFromIdentity } from "../src/proxy/xds-client/node.ts";
import { edsCluster, loadAssignment, rdsListener } from "../src/control/xds/testing-resources.ts";
import { FakeAds } from "./support/fake-ads.ts";
import { request } from "./support/clients.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { runBounded } from "./support/wait.ts";

type Raw = Record<string, unknown>;

/** Endpoints of `name` on 127.0.0.1 at these ports. */
function assignment(name: string, ports: number[]): Raw {
  return loadAssignment(
    name,
    ports.map((p): [string, number] => ["127.0.0.1", p]),
  );
}

/** The sidecar's outbound listener: port 0, routes by RDS. */
const outboundListener = (): Raw => rdsListener("outbound", 0, "outbound-http");

function weightedRoutes(name: string, weights: Record<string, number>, match: Raw = { prefix: "/" }): Raw {
  return {
    name,
    virtual_hosts: [
      {
        name: "all",
        domains: ["*"],
        routes: [
          {
            match,
            route: {
              weighted_clusters: { clusters: Object.entries(weights).map(([c, weight]) => ({ name: c, weight })) },
            },
          },
        ],
      },
    ],
  };
}

interface Mesh {
  ads: FakeAds;
  proxy: Proxy;
  client: XdsClient;
  clock: ManualClock;
  events: XdsClientEvent[];
  v1: Upstream;
  v2: Upstream;
  port(listener?: string): number;
  close(): Promise<void>;
}

/** A control plane holding listener `outbound` (RDS `outbound-http`), EDS clusters v1 and v2, and a proxy fed by it. */
async function startMesh(servers?: (ads: FakeAds) => string[]): Promise<Mesh> {
  const v1 = await startEchoServer("v1");
  const v2 = await startEchoServer("v2");
  const ads = await new FakeAds().start();
  ads.set(TYPE_URL.cluster, "c1", [edsCluster("v1"), edsCluster("v2")]);
  ads.set(TYPE_URL.clusterLoadAssignment, "e1", [assignment("v1", [v1.port]), assignment("v2", [v2.port])]);
  ads.set(TYPE_URL.listener, "l1", [outboundListener()]);
  ads.set(TYPE_URL.routeConfiguration, "r1", [weightedRoutes("outbound-http", { v1: 100, v2: 0 })]);
  const node = nodeFromIdentity({ nodeId: "sidecar-1", service: "app", namespace: "shop", labels: { version: "v1" } });
  const bootstrap = parseBootstrap(JSON.stringify({ node: { id: node.id } }), "test");
  bootstrap.node = node;
  bootstrap.drainTimeoutMs = 2_000;
  const proxy = new Proxy(bootstrap, { log: () => {} });
  await proxy.start();
  const clock = new ManualClock();
  // The fake control plane speaks state of the world; delta is tested against the real one (xds-client-delta).
  const client = new XdsClient({
    servers: servers ? servers(ads) : [ads.address],
    node,
    target: proxy,
    clock,
    protocol: "sotw",
  });
  const events: XdsClientEvent[] = [];
  client.onEvent((e) => events.push(e));
  const routed = ads.reply(TYPE_URL.routeConfiguration, "r1");
  client.start();
  await routed;
  return {
    ads,
    proxy,
    client,
    clock,
    events,
    v1,
    v2,
    port: (name = "outbound") => proxy.listenerAddresses()[name]!.port,
    close: async () => {
      client.stop();
      ads.stop();
      await proxy.shutdown(0);
      await v1.close();
      await v2.close();
    },
  };
}

/** The ADS reply (ACK or NACK) to the next push of `typeUrl` at `version`. */
function push(m: Mesh, typeUrl: string, version: string, resources: Raw[]) {
  const reply = m.ads.reply(typeUrl, version, m.ads.requests.length);
  m.ads.set(typeUrl, version, resources);
  return reply;
}

describe("the sidecar fed over xDS", () => {
  const meshes: Mesh[] = [];
  after(async () => {
    for (const m of meshes) await m.close();
  });
  const mesh = async (servers?: (ads: FakeAds) => string[]): Promise<Mesh> => {
    const m = await startMesh(servers);
    meshes.push(m);
    return m;
  };

  test("--xds only: node identity, CDS/LDS wildcard, EDS and RDS by name, ACKs; traffic reaches the upstream", async () => {
    const m = await mesh();
    const first = m.ads.requests[0]!;
    const meta = (first.node as { metadata: { fields: Record<string, Record<string, unknown>> } }).metadata.fields;
    assert.equal((first.node as { id: string }).id, "sidecar-1");
    assert.equal(meta.NAMESPACE!.stringValue, "shop");
    assert.equal(meta.SERVICE!.stringValue, "app");
    assert.equal(meta.TRELLIS_OUTBOUND_PORT!.stringValue, "15001");
    assert.ok(meta.LABELS!.structValue, "LABELS is a Struct");
    const eds = m.ads.requests.find((r) => r.type_url === TYPE_URL.clusterLoadAssignment)!;
    assert.deepEqual(eds.resource_names, ["v1", "v2"]);
    const rds = m.ads.requests.find((r) => r.type_url === TYPE_URL.routeConfiguration)!;
    assert.deepEqual(rds.resource_names, ["outbound-http"]);
    for (const [t, v] of [
      [TYPE_URL.cluster, "c1"],
      [TYPE_URL.listener, "l1"],
      [TYPE_URL.clusterLoadAssignment, "e1"],
    ])
      await m.ads.reply(t!, v!);

    const res = await request(m.port());
    assert.equal(res.status, 200);
    assert.equal(res.headers["x-upstream"], "v1");

    const configs = (m.proxy.configDump() as { configs: Raw[] }).configs;
    const listeners = configs.find((c) => String(c["@type"]).endsWith("ListenersConfigDump"))!;
    assert.equal(listeners.version_info, "l1");
    const dl = listeners.dynamic_listeners as { name: string; active_state: { version_info: string } }[];
    assert.deepEqual(
      dl.map((l) => [l.name, l.active_state.version_info]),
      [["outbound", "l1"]],
    );
    const clusters = configs.find((c) => String(c["@type"]).endsWith("ClustersConfigDump"))!;
    assert.equal((clusters.dynamic_active_clusters as unknown[]).length, 2);
    const routes = configs.find((c) => String(c["@type"]).endsWith("RoutesConfigDump"))!;
    assert.equal((routes.dynamic_route_configs as { version_info: string }[])[0]!.version_info, "r1");
  });

  test("a route update (weights 100/0 → 0/100) takes effect for new requests; none in flight fails", async () => {
    const m = await mesh();
    const port = m.port();
    // One request held by v1 across the update: it finishes on the route it started with.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = await startEchoServer("slow", (_req, res) => void held.then(() => res.end("slow done")));
    meshes.push({ ...m, close: () => slow.close() } as Mesh);
    const upd = push(m, TYPE_URL.clusterLoadAssignment, "e2", [
      assignment("v1", [slow.port]),
      assignment("v2", [m.v2.port]),
    ]);
    assert.equal((await upd).error_detail ?? undefined, undefined);
    const inFlight = request(port);
    await new Promise<void>((r) => {
      const check = (): void => (slow.received.length > 0 ? r() : void setImmediate(check));
      check();
    });
    const load = runBounded(200, 4, () => request(port));
    const ack = await push(m, TYPE_URL.routeConfiguration, "r2", [weightedRoutes("outbound-http", { v1: 0, v2: 100 })]);
    assert.equal(ack.error_detail ?? undefined, undefined);
    assert.equal(ack.version_info, "r2");
    const during = await load;
    assert.ok(
      during.every((r) => r.status === 200),
      "every request during the update succeeded",
    );
    release();
    const old = await inFlight;
    assert.equal(old.status, 200);
    assert.equal(old.body, "slow done");
    const after = await runBounded(20, 4, () => request(port));
    assert.ok(
      after.every((r) => r.headers["x-upstream"] === "v2"),
      "every new request goes to v2",
    );
  });

  test("EDS: endpoints change in place; endpoints that stay keep their objects", async () => {
    const m = await mesh();
    const v3 = await startEchoServer("v3");
    meshes.push({ ...m, close: () => v3.close() } as Mesh);
    const before = m.proxy.cluster("v1")!.membership.endpoints[0]!;
    await push(m, TYPE_URL.clusterLoadAssignment, "e2", [
      assignment("v1", [m.v1.port, v3.port]),
      assignment("v2", [m.v2.port]),
    ]);
    const eps = m.proxy.cluster("v1")!.membership.endpoints;
    assert.equal(eps.length, 2);
    assert.equal(eps[0], before, "the unchanged endpoint is the same object (counters, health)");
    await push(m, TYPE_URL.clusterLoadAssignment, "e3", [assignment("v1", [v3.port]), assignment("v2", [m.v2.port])]);
    const res = await runBounded(5, 1, () => request(m.port()));
    assert.ok(res.every((r) => r.headers["x-upstream"] === "v3"));
  });

  test("a bad update is NACKed naming resource and field; the last good config serves; the next good one applies", async () => {
    const m = await mesh();
    const port = m.port();
    const nack = await push(m, TYPE_URL.routeConfiguration, "r-bad", [
      weightedRoutes("outbound-http", { v2: 100 }, { safe_regex: { regex: "((" } }),
    ]);
    assert.equal(nack.error_detail?.code, 3);
    assert.equal(nack.version_info, "r1", "a NACK carries the last version applied");
    assert.match(nack.error_detail?.message ?? "", /route configuration outbound-http/);
    assert.match(
      nack.error_detail?.message ?? "",
      /virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: invalid regex/,
    );
    assert.equal((await request(port)).headers["x-upstream"], "v1");

    // One bad cluster refuses the whole response: the good cluster sent with it is not added either.
    const cnack = await push(m, TYPE_URL.cluster, "c-bad", [
      edsCluster("v1"),
      edsCluster("v2"),
      edsCluster("v3"),
      edsCluster("broken", { upstream_bind_config: { source_address: { address: "127.0.0.1", port_value: 0 } } }),
    ]);
    assert.match(cnack.error_detail?.message ?? "", /cluster broken/);
    assert.match(
      cnack.error_detail?.message ?? "",
      /upstream_bind_config: "upstream_bind_config" is not supported yet/,
    );
    assert.equal(m.proxy.cluster("v3"), undefined);
    assert.equal(cnack.version_info, "c1");

    const ok = await push(m, TYPE_URL.routeConfiguration, "r3", [weightedRoutes("outbound-http", { v2: 100 })]);
    assert.equal(ok.error_detail ?? undefined, undefined);
    assert.equal((await request(port)).headers["x-upstream"], "v2");
    assert.ok(m.events.some((e) => e.kind === "nack"));
  });

  test("the control plane goes away: traffic goes on; the next listed server answers and the client resubscribes", async () => {
    const spare = await new FakeAds().start();
    let primary!: FakeAds;
    const m = await mesh((ads) => {
      primary = ads;
      return [ads.address, spare.address];
    });
    meshes.push({ ...m, close: async () => spare.stop() } as Mesh);
    const port = m.port();
    const lost = new Promise<XdsClientEvent>((r) => m.client.onEvent((e) => e.kind === "disconnected" && r(e)));
    primary.stop();
    const e = await lost;
    assert.equal(e.kind, "disconnected");
    const during = await runBounded(10, 2, () => request(port));
    assert.ok(
      during.every((r) => r.status === 200 && r.headers["x-upstream"] === "v1"),
      "serving the last good config",
    );

    // The spare has the same resources plus a route change; the reconnect (after the backoff on the clock) gets it.
    spare.set(TYPE_URL.cluster, "c1", [edsCluster("v1"), edsCluster("v2")]);
    spare.set(TYPE_URL.clusterLoadAssignment, "e1", [assignment("v1", [m.v1.port]), assignment("v2", [m.v2.port])]);
    spare.set(TYPE_URL.listener, "l1", [outboundListener()]);
    spare.set(TYPE_URL.routeConfiguration, "r9", [weightedRoutes("outbound-http", { v2: 100 })]);
    const resubscribed = spare.reply(TYPE_URL.routeConfiguration, "r9");
    m.clock.advance((e as { retryInMs: number }).retryInMs);
    await resubscribed;
    const firstRds = spare.requests.find((r) => r.type_url === TYPE_URL.routeConfiguration)!;
    assert.equal(firstRds.version_info, "r1", "resubscribed with the version it holds");
    assert.deepEqual(firstRds.resource_names, ["outbound-http"]);
    const firstCds = spare.requests.find((r) => r.type_url === TYPE_URL.cluster)!;
    assert.equal(firstCds.version_info, "c1");
    assert.equal((await request(port)).headers["x-upstream"], "v2");
    assert.equal(m.proxy.listenerAddresses().outbound!.port, port, "an unchanged listener keeps its socket");
  });

  test("a listener removed: its port closes after draining; a request in flight finishes", async () => {
    const m = await mesh();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = await startEchoServer("slow", (_req, res) => void held.then(() => res.end("done")));
    meshes.push({ ...m, close: () => slow.close() } as Mesh);
    await push(m, TYPE_URL.clusterLoadAssignment, "e2", [assignment("v1", [slow.port]), assignment("v2", [m.v2.port])]);
    const port = m.port();
    const inFlight = request(port, { agent: new http.Agent({ keepAlive: true }) });
    await new Promise<void>((r) => {
      const check = (): void => (slow.received.length > 0 ? r() : void setImmediate(check));
      check();
    });
    await push(m, TYPE_URL.listener, "l2", []);
    assert.equal(m.proxy.listenerAddresses().outbound, undefined);
    await assert.rejects(
      new Promise((resolve, reject) => net.connect(port, "127.0.0.1").on("connect", resolve).on("error", reject)),
      /ECONNREFUSED/,
    );
    release();
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(res.body, "done");
  });
});

describe("trellis proxy --xds (the bundled command)", () => {
  test("a separate process fed over ADS: the protos are found from the bundle; it serves and ACKs", async () => {
    const upstream = await startEchoServer("v1");
    const ads = await new FakeAds().start();
    const free = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const listener = outboundListener();
    (listener.address as { socket_address: Raw }).socket_address.port_value = free;
    ads.set(TYPE_URL.cluster, "c1", [edsCluster("v1")]);
    ads.set(TYPE_URL.clusterLoadAssignment, "e1", [assignment("v1", [upstream.port])]);
    ads.set(TYPE_URL.listener, "l1", [listener]);
    ads.set(TYPE_URL.routeConfiguration, "r1", [weightedRoutes("outbound-http", { v1: 100 })]);
    const routed = ads.reply(TYPE_URL.routeConfiguration, "r1");
    const bin = fileURLToPath(new URL("../bin/trellis.js", import.meta.url));
    const args = ["proxy", "--xds", ads.address, "--xds-protocol", "sotw", "--node-id", "cli-1", "--service", "app"];
    args.push("--labels", "version=v2");
    const child = spawn(process.execPath, [bin, ...args, "--admin-port", "0"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      const ack = await Promise.race([routed, exited.then((code) => assert.fail(`exited ${code}: ${stderr}`))]);
      assert.equal(ack.error_detail ?? undefined, undefined);
      const node = ads.requests[0]!.node as { id: string; metadata: { fields: Record<string, Raw> } };
      assert.equal(node.id, "cli-1");
      assert.deepEqual(node.metadata.fields.LABELS, {
        structValue: { fields: { version: { stringValue: "v2", kind: "stringValue" } } },
        kind: "structValue",
      });
      const res = await request(free);
      assert.equal(res.status, 200);
      assert.equal(res.headers["x-upstream"], "v1");
    } finally {
      child.kill("SIGTERM");
      await exited;
      ads.stop();
      await upstream.close();
    }
  });
});
