import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { TrellisError } from "../../api/errors.ts";
import { StatsStore } from "../../telemetry/stats.ts";
import { createClusterStats } from "../../telemetry/envoy-stats.ts";
import {
  startAdminServer,
  type AdminServer,
  type AdminTarget,
  type ClusterStatus,
  type DrainOptions,
} from "./server.ts";

const CLUSTERS: ClusterStatus[] = [
  {
    name: "backend",
    counters: { "default_priority::max_connections": 1024 },
    endpoints: [
      {
        address: "127.0.0.1",
        port: 8080,
        weight: 2,
        healthy: true,
        healthFlags: "healthy",
        activeRequests: 1,
        priority: 0,
        locality: "eu/eu-a/rack1",
        counters: { cx_active: 1, cx_total: 3, rq_total: 7 },
      },
      {
        address: "::1",
        port: 8081,
        weight: 1,
        healthy: false,
        healthFlags: "/failed_outlier_check",
        activeRequests: 0,
        priority: 1,
        counters: {},
      },
    ],
  },
];

const DUMP = {
  configs: [
    { "@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump", bootstrap: { node: { id: "sidecar~1" } } },
    {
      "@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
      static_listeners: [
        { listener: { name: "outbound", address: { socket_address: { address: "0.0.0.0", port_value: 15001 } } } },
      ],
    },
    {
      "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
      static_clusters: [{ cluster: { name: "backend" } }, { cluster: { name: "db" } }],
    },
  ],
};

/** A real object standing in for the proxy; records what the server asked of it. */
class FakeProxy implements AdminTarget {
  readonly stats = new StatsStore();
  ready = true;
  state = "LIVE";
  drains: DrainOptions[] = [];
  quits = 0;
  failConfigDump = false;
  private quitWaiters: (() => void)[] = [];

  constructor() {
    const c = createClusterStats(this.stats, "backend");
    c.upstreamRqTotal.inc();
    c.countResponse(200);
  }
  isReady() {
    return this.ready;
  }
  configDump(): unknown {
    if (this.failConfigDump) throw new Error("dump exploded");
    return DUMP;
  }
  clusters() {
    return CLUSTERS;
  }
  drainListeners(options: DrainOptions) {
    this.drains.push(options);
  }
  quit() {
    this.quits++;
    for (const w of this.quitWaiters.splice(0)) w();
  }
  quitCalled(): Promise<void> {
    return this.quits > 0 ? Promise.resolve() : new Promise((r) => this.quitWaiters.push(r));
  }
  serverInfo() {
    return { state: this.state, version: "trellis/0.1.0", node: { id: "sidecar~1" } };
  }
}

let proxy: FakeProxy;
let server: AdminServer;
let base: string;

before(async () => {
  proxy = new FakeProxy();
  server = await startAdminServer(proxy, { address: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${server.port}`;
});
after(() => server.close());

async function get(path: string, init?: RequestInit) {
  const res = await fetch(base + path, init);
  return { status: res.status, type: res.headers.get("content-type"), headers: res.headers, body: await res.text() };
}

/** Sends raw bytes and returns everything the server answers before closing. */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, "127.0.0.1", () => socket.write(request));
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (data += d));
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
}

describe("admin server", () => {
  test("binds to an ephemeral port on the requested address", () => {
    assert.equal(server.address, "127.0.0.1");
    assert.ok(server.port > 0);
  });

  test("GET / and /help list the endpoints", async () => {
    for (const path of ["/", "/help"]) {
      const r = await get(path);
      assert.equal(r.status, 200);
      assert.match(r.type!, /^text\/plain/);
      assert.match(r.body, /^admin commands are:\n/);
      for (const p of ["/ready", "/config_dump", "/clusters", "/stats/prometheus", "/server_info"]) {
        assert.ok(r.body.includes(`  ${p}: `), p);
      }
      assert.ok(r.body.includes("  /quitquitquit (POST): "));
    }
  });

  test("GET /ready: 200 LIVE, else 503 with the state", async () => {
    assert.deepEqual(await get("/ready").then((r) => [r.status, r.body]), [200, "LIVE\n"]);
    proxy.ready = false;
    proxy.state = "DRAINING";
    assert.deepEqual(await get("/ready").then((r) => [r.status, r.body]), [503, "DRAINING\n"]);
    proxy.state = "LIVE"; // not ready yet although nothing says why
    assert.deepEqual(await get("/ready").then((r) => [r.status, r.body]), [503, "PRE_INITIALIZING\n"]);
    proxy.ready = true;
  });

  test("HEAD /ready answers without a body", async () => {
    const r = await get("/ready", { method: "HEAD" });
    assert.equal(r.status, 200);
    assert.equal(r.body, "");
  });

  test("GET /config_dump and ?resource=", async () => {
    const all = await get("/config_dump");
    assert.equal(all.status, 200);
    assert.equal(all.type, "application/json");
    assert.deepEqual(JSON.parse(all.body), DUMP);
    const clusters = await get("/config_dump?resource=static_clusters");
    assert.deepEqual(JSON.parse(clusters.body), {
      configs: [{ cluster: { name: "backend" } }, { cluster: { name: "db" } }],
    });
    const missing = await get("/config_dump?resource=dynamic_nothing");
    assert.equal(missing.status, 404);
    assert.match(missing.body, /dynamic_nothing/);
  });

  test("a target that throws gives a 500 and the server keeps serving", async () => {
    proxy.failConfigDump = true;
    const r = await get("/config_dump");
    proxy.failConfigDump = false;
    assert.equal(r.status, 500);
    assert.match(r.body, /dump exploded/);
    assert.equal((await get("/ready")).status, 200);
  });

  test("GET /clusters in Envoy's text format", async () => {
    const r = await get("/clusters");
    assert.equal(r.status, 200);
    assert.equal(
      r.body,
      [
        "backend::observability_name::backend",
        "backend::default_priority::max_connections::1024",
        "backend::added_via_api::false",
        "backend::127.0.0.1:8080::cx_active::1",
        "backend::127.0.0.1:8080::cx_total::3",
        "backend::127.0.0.1:8080::rq_active::1",
        "backend::127.0.0.1:8080::rq_total::7",
        "backend::127.0.0.1:8080::hostname::",
        "backend::127.0.0.1:8080::health_flags::healthy",
        "backend::127.0.0.1:8080::weight::2",
        "backend::127.0.0.1:8080::region::eu",
        "backend::127.0.0.1:8080::zone::eu-a",
        "backend::127.0.0.1:8080::sub_zone::rack1",
        "backend::127.0.0.1:8080::canary::false",
        "backend::127.0.0.1:8080::priority::0",
        "backend::127.0.0.1:8080::success_rate::-1.0",
        "backend::127.0.0.1:8080::local_origin_success_rate::-1.0",
        "backend::[::1]:8081::rq_active::0",
        "backend::[::1]:8081::hostname::",
        "backend::[::1]:8081::health_flags::/failed_outlier_check",
        "backend::[::1]:8081::weight::1",
        "backend::[::1]:8081::region::",
        "backend::[::1]:8081::zone::",
        "backend::[::1]:8081::sub_zone::",
        "backend::[::1]:8081::canary::false",
        "backend::[::1]:8081::priority::1",
        "backend::[::1]:8081::success_rate::-1.0",
        "backend::[::1]:8081::local_origin_success_rate::-1.0",
        "",
      ].join("\n"),
    );
  });

  test("GET /clusters?format=json in Envoy's JSON shape", async () => {
    const r = await get("/clusters?format=json");
    assert.equal(r.type, "application/json");
    const body = JSON.parse(r.body);
    const [c] = body.cluster_statuses;
    assert.equal(c.name, "backend");
    assert.equal(c.added_via_api, false);
    const [h0, h1] = c.host_statuses;
    assert.deepEqual(h0.address, { socket_address: { address: "127.0.0.1", port_value: 8080 } });
    assert.deepEqual(h0.stats, [
      { name: "cx_active", type: "GAUGE", value: "1" },
      { name: "cx_total", value: "3" },
      { name: "rq_active", type: "GAUGE", value: "1" },
      { name: "rq_total", value: "7" },
    ]);
    assert.deepEqual(h0.health_status, { eds_health_status: "HEALTHY" });
    assert.deepEqual(h0.locality, { region: "eu", zone: "eu-a", sub_zone: "rack1" });
    assert.equal(h0.weight, 2);
    assert.deepEqual(h1.health_status, { eds_health_status: "HEALTHY", failed_outlier_check: true });
    assert.equal(h1.priority, 1);
  });

  test("GET /listeners", async () => {
    assert.equal((await get("/listeners")).body, "outbound::0.0.0.0:15001\n");
  });

  test("GET /stats: Envoy's name: value text, filter, usedonly, json", async () => {
    const r = await get("/stats");
    assert.equal(r.status, 200);
    assert.match(r.body, /^cluster\.backend\.upstream_rq_200: 1$/m);
    assert.match(r.body, /^cluster\.backend\.upstream_rq_2xx: 1$/m);
    assert.match(r.body, /^cluster\.backend\.upstream_rq_total: 1$/m);
    assert.match(r.body, /^cluster\.backend\.upstream_cx_total: 0$/m);
    const used = await get("/stats?usedonly");
    assert.equal(
      used.body,
      "cluster.backend.upstream_rq_200: 1\ncluster.backend.upstream_rq_2xx: 1\n" +
        "cluster.backend.upstream_rq_completed: 1\ncluster.backend.upstream_rq_total: 1\n",
    );
    const filtered = await get("/stats?filter=" + encodeURIComponent("rq_2\\d\\d$"));
    assert.equal(filtered.body, "cluster.backend.upstream_rq_200: 1\n");
    const json = await get("/stats?usedonly&format=json&filter=rq_total");
    assert.deepEqual(JSON.parse(json.body), { stats: [{ name: "cluster.backend.upstream_rq_total", value: 1 }] });
    const prom = await get("/stats?format=prometheus&usedonly");
    assert.match(prom.body, /^envoy_cluster_upstream_rq_total\{envoy_cluster_name="backend"\} 1$/m);
  });

  test("GET /stats?filter= with a broken regex is a 400, not a crash", async () => {
    const r = await get("/stats?filter=" + encodeURIComponent("(unclosed"));
    assert.equal(r.status, 400);
    assert.match(r.body, /invalid regex/);
    assert.equal((await get("/stats/prometheus?filter=%5B")).status, 400);
  });

  test("GET /stats/prometheus", async () => {
    const r = await get("/stats/prometheus");
    assert.equal(r.status, 200);
    assert.equal(r.type, "text/plain; version=0.0.4; charset=UTF-8");
    assert.equal(r.body, proxy.stats.renderPrometheus());
    assert.match(r.body, /^# TYPE envoy_cluster_upstream_rq_total counter$/m);
    const used = await get("/stats/prometheus?usedonly");
    assert.doesNotMatch(used.body, /upstream_cx_total/);
  });

  test("GET /server_info and /memory", async () => {
    const info = await get("/server_info");
    assert.deepEqual(JSON.parse(info.body), { state: "LIVE", version: "trellis/0.1.0", node: { id: "sidecar~1" } });
    const memory = JSON.parse((await get("/memory")).body);
    assert.match(memory.allocated, /^\d+$/);
    assert.match(memory.total_physical_bytes, /^\d+$/);
  });

  test("POST /drain_listeners passes ?graceful and ?inboundonly", async () => {
    const r = await get("/drain_listeners?graceful", { method: "POST" });
    assert.deepEqual([r.status, r.body], [200, "OK\n"]);
    await get("/drain_listeners?inboundonly=true", { method: "POST", body: "ignored body" });
    assert.deepEqual(proxy.drains, [
      { graceful: true, inboundOnly: false },
      { graceful: false, inboundOnly: true },
    ]);
  });

  test("POST-only endpoints answer 405 on GET; GET endpoints answer 405 on POST", async () => {
    for (const path of ["/drain_listeners", "/quitquitquit"]) {
      const r = await get(path);
      assert.equal(r.status, 405, path);
      assert.equal(r.headers.get("allow"), "POST");
      assert.equal(r.body, "Method GET not allowed, POST required.\n");
    }
    const r = await get("/stats", { method: "POST" });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get("allow"), "GET, HEAD");
    const del = await get("/ready", { method: "DELETE" });
    assert.equal(del.status, 405);
    assert.equal(proxy.quits, 0);
    assert.equal(proxy.drains.length, 2);
  });

  test("unknown paths are a 404 with the list", async () => {
    for (const path of ["/nope", "//stats", "/stats/", "/STATS"]) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assert.match(r.body, /^invalid path\. admin commands are:/);
    }
  });

  test("malformed requests get a 400 and the server stays up", async () => {
    const answer = await raw("THIS IS NOT HTTP\r\n\r\n");
    assert.match(answer, /^HTTP\/1\.1 400 /);
    const bad = await raw("GET /ready HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n");
    assert.match(bad, /^HTTP\/1\.1 400 /);
    assert.equal((await get("/ready")).status, 200);
  });

  test("absolute-form request targets are served by their path", async () => {
    const answer = await raw(
      `GET http://127.0.0.1:${server.port}/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.ok(answer.endsWith("\r\n\r\nLIVE\n"));
  });

  test("POST /quitquitquit answers OK, then calls quit", async () => {
    const quit = proxy.quitCalled();
    const r = await get("/quitquitquit", { method: "POST" });
    assert.deepEqual([r.status, r.body], [200, "OK\n"]);
    await quit;
    assert.equal(proxy.quits, 1);
  });
});

describe("startAdminServer", () => {
  test("a port in use fails with TRELLIS_ADMIN_LISTEN", async () => {
    await assert.rejects(
      startAdminServer(new FakeProxy(), { address: "127.0.0.1", port: server.port }),
      (e: unknown) => e instanceof TrellisError && e.code === "TRELLIS_ADMIN_LISTEN",
    );
  });

  test("close() returns even with idle keep-alive connections open", async () => {
    const s = await startAdminServer(new FakeProxy(), { address: "127.0.0.1", port: 0 });
    assert.equal((await fetch(`http://127.0.0.1:${s.port}/ready`)).status, 200);
    await s.close();
    await assert.rejects(fetch(`http://127.0.0.1:${s.port}/ready`));
  });
});
