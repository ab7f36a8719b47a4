// Active health checks through a real sidecar: endpoints leave the balancer when their checks fail and come back
// when they pass (HTTP), a TCP check with send/receive keeps traffic off an endpoint that answers wrong, and a
// gRPC check asks a real @grpc/grpc-js server's grpc.health.v1 service. Time moves only when the test says so
// (ManualClock); each round of checks is awaited through the checker's own notification, never a sleep.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ManualClock } from "../src/api/clock.ts";
import { mulberry32 } from "../src/api/random.ts";
import type { HealthChecker } from "../src/proxy/upstream/health/checker.ts";
import { request } from "./support/clients.ts";
import { healthCheckRound } from "./support/health-rounds.ts";
import {
  HTTP2_UPSTREAM,
  allDomains,
  bootstrap,
  httpListener,
  staticCluster,
  tcpListener,
  type Raw,
} from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, startTcpEcho, type Upstream } from "./support/upstreams.ts";

const hex = (text: string): string => Buffer.from(text).toString("hex");

function healthCheck(check: Raw, extra: Raw = {}): Raw {
  return {
    health_checks: [
      {
        timeout: "1s",
        interval: "5s",
        no_traffic_interval: "5s",
        unhealthy_threshold: 2,
        healthy_threshold: 2,
        ...check,
        ...extra,
      },
    ],
  };
}

function checkerOf(proxy: RunningProxy, cluster: string): HealthChecker {
  return proxy.proxy.cluster(cluster)!.healthChecker!;
}

const round = (clock: ManualClock, checker: HealthChecker, n: number, ms = 5000): Promise<void> =>
  healthCheckRound(clock, checker, n, ms);

async function admin(proxy: RunningProxy, path: string): Promise<string> {
  return (await request(proxy.adminPort, { path })).body;
}

async function upstreamsOf(proxy: RunningProxy, n: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) names.push((await request(proxy.port())).body);
  return names;
}

describe("HTTP health checks through a sidecar", () => {
  const passing = new Map<string, boolean>([
    ["a", true],
    ["b", true],
  ]);
  const upstream = (name: string): Promise<Upstream> =>
    startEchoServer(name, (req, res) => {
      if (req.url === "/healthz") {
        res.writeHead(passing.get(name) ? 200 : 503, { "content-length": 0 }).end();
        return;
      }
      res.writeHead(200, { "content-length": name.length }).end(name);
    });
  let a: Upstream;
  let b: Upstream;
  let proxy: RunningProxy;
  const clock = new ManualClock();
  before(async () => {
    a = await upstream("a");
    b = await upstream("b");
    const cluster = staticCluster(
      "app",
      [a.port, b.port],
      healthCheck({ http_health_check: { path: "/healthz", retriable_statuses: [{ start: 503, end: 504 }] } }),
    );
    proxy = await startProxy(
      bootstrap([httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))], [cluster]),
      clock,
      mulberry32(7),
    );
  });
  after(async () => {
    await proxy.close();
    await a.close();
    await b.close();
  });

  test("the first round is done before the proxy serves: both endpoints healthy, Envoy's request", async () => {
    const clusters = await admin(proxy, "/clusters");
    assert.match(clusters, new RegExp(`app::127\\.0\\.0\\.1:${a.port}::health_flags::healthy`));
    assert.match(clusters, new RegExp(`app::127\\.0\\.0\\.1:${b.port}::health_flags::healthy`));
    const check = a.received.find((r) => r.url === "/healthz")!;
    assert.equal(check.headers.host, "app");
    assert.equal(check.headers["user-agent"], "Envoy/HC");
    assert.deepEqual(new Set(await upstreamsOf(proxy, 4)), new Set(["a", "b"]));
  });

  test("failing checks take an endpoint out after unhealthy_threshold; passing ones bring it back", async () => {
    const checker = checkerOf(proxy, "app");
    passing.set("a", false);
    await round(clock, checker, 2);
    assert.match(await admin(proxy, "/clusters"), new RegExp(`app::127\\.0\\.0\\.1:${a.port}::health_flags::healthy`));
    await round(clock, checker, 2);
    const clusters = await admin(proxy, "/clusters");
    assert.match(clusters, new RegExp(`app::127\\.0\\.0\\.1:${a.port}::health_flags::/failed_active_hc`));
    assert.match(clusters, new RegExp(`app::127\\.0\\.0\\.1:${b.port}::health_flags::healthy`));
    assert.deepEqual(new Set(await upstreamsOf(proxy, 10)), new Set(["b"]), "all traffic goes to b");

    const prom = await admin(proxy, "/stats/prometheus");
    const stat = (name: string) => Number(new RegExp(`${name}\\{envoy_cluster_name="app"\\} (\\d+)`).exec(prom)?.[1]);
    assert.equal(stat("envoy_cluster_health_check_attempt"), 6);
    assert.equal(stat("envoy_cluster_health_check_success"), 4);
    assert.equal(stat("envoy_cluster_health_check_failure"), 2);
    assert.equal(stat("envoy_cluster_health_check_network_failure"), 0);
    // Stats Trellis cannot move are not exported at all.
    assert.doesNotMatch(prom, /health_check_(passive_failure|verify_cluster|degraded)/);
    assert.equal(stat("envoy_cluster_health_check_healthy"), 1);
    assert.equal(stat("envoy_cluster_membership_healthy"), 1);
    assert.equal(stat("envoy_cluster_membership_total"), 2);

    passing.set("a", true);
    await round(clock, checker, 2);
    assert.deepEqual(new Set(await upstreamsOf(proxy, 6)), new Set(["b"]), "one pass of healthy_threshold 2");
    await round(clock, checker, 2);
    assert.match(await admin(proxy, "/clusters"), new RegExp(`app::127\\.0\\.0\\.1:${a.port}::health_flags::healthy`));
    assert.deepEqual(new Set(await upstreamsOf(proxy, 4)), new Set(["a", "b"]));
    const after = await admin(proxy, "/stats/prometheus");
    assert.match(after, /envoy_cluster_membership_healthy\{envoy_cluster_name="app"\} 2/);
    assert.match(after, /envoy_cluster_health_check_healthy\{envoy_cluster_name="app"\} 2/);
  });
});

describe("TCP health check with send/receive through a tcp_proxy", () => {
  test("an endpoint that answers the wrong bytes never gets a connection", async () => {
    const echo = await startTcpEcho();
    const liar = net.createServer((s) => {
      s.on("error", () => {});
      s.once("data", () => s.end("NOPE"));
    });
    await new Promise<void>((resolve) => liar.listen(0, "127.0.0.1", resolve));
    const liarPort = (liar.address() as AddressInfo).port;
    const cluster = staticCluster(
      "tcp",
      [echo.port, liarPort],
      healthCheck({
        tcp_health_check: { send: { text: hex("PING") }, receive: [{ text: hex("PI") }, { text: hex("NG") }] },
      }),
    );
    const proxy = await startProxy(
      bootstrap([tcpListener("tcp", { cluster: "tcp" })], [cluster]),
      new ManualClock(),
      mulberry32(3),
    );
    try {
      const clusters = await admin(proxy, "/clusters");
      assert.match(clusters, new RegExp(`tcp::127\\.0\\.0\\.1:${echo.port}::health_flags::healthy`));
      assert.match(clusters, new RegExp(`tcp::127\\.0\\.0\\.1:${liarPort}::health_flags::/failed_active_hc`));
      for (let i = 0; i < 6; i++) {
        const answer = await new Promise<string>((resolve, reject) => {
          const s = net.connect(proxy.port(), "127.0.0.1", () => s.end(`hello ${i}`));
          const chunks: Buffer[] = [];
          s.on("data", (c: Buffer) => chunks.push(c));
          s.on("end", () => resolve(Buffer.concat(chunks).toString()));
          s.on("error", reject);
        });
        assert.equal(answer, `hello ${i}`);
      }
    } finally {
      await proxy.close();
      await echo.close();
      await new Promise<void>((resolve) => liar.close(() => resolve()));
    }
  });
});

describe("gRPC health check against a @grpc/grpc-js grpc.health.v1 server", () => {
  const definition = protoLoader.loadSync(fileURLToPath(new URL("./fixtures/health.proto", import.meta.url)), {
    keepCase: true,
  });
  const Health = (
    grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    }
  ).grpc.health.v1.Health;
  const statuses = new Map<string, string>([["trellis.test.Echo", "SERVING"]]);
  const requests: string[] = [];
  let server: grpc.Server;
  let port: number;
  before(async () => {
    server = new grpc.Server();
    server.addService(Health.service, {
      Check(call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) {
        requests.push(call.request.service);
        const status = statuses.get(call.request.service);
        if (status === undefined) return cb({ code: grpc.status.NOT_FOUND, details: "unknown service" });
        cb(null, { status });
      },
      Watch(call: grpc.ServerWritableStream<unknown, unknown>) {
        call.end();
      },
    });
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
  });
  after(() => server.forceShutdown());

  test("SERVING passes; NOT_SERVING fails at once; an unknown service (grpc-status 5) fails", async () => {
    const clock = new ManualClock();
    const grpcCheck = (service: string): Raw => ({ grpc_health_check: { service_name: service } });
    const proxy = await startProxy(
      bootstrap(
        [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "echo" } }]))],
        [
          staticCluster("echo", [port], { ...HTTP2_UPSTREAM, ...healthCheck(grpcCheck("trellis.test.Echo")) }),
          staticCluster("other", [port], { ...HTTP2_UPSTREAM, ...healthCheck(grpcCheck("nobody.Home")) }),
        ],
      ),
      clock,
      mulberry32(5),
    );
    const flags = async (cluster: string) =>
      new RegExp(`${cluster}::127\\.0\\.0\\.1:${port}::health_flags::(\\S+)`).exec(
        await admin(proxy, "/clusters"),
      )?.[1];
    try {
      assert.equal(await flags("echo"), "healthy");
      assert.equal(await flags("other"), "/failed_active_hc");
      assert.deepEqual([...requests].sort(), ["nobody.Home", "trellis.test.Echo"]);

      const checker = checkerOf(proxy, "echo");
      statuses.set("trellis.test.Echo", "NOT_SERVING");
      await round(clock, checker, 1);
      assert.equal(await flags("echo"), "/failed_active_hc", "NOT_SERVING is not a network failure: no threshold");

      statuses.set("trellis.test.Echo", "SERVING");
      await round(clock, checker, 1);
      assert.equal(await flags("echo"), "/failed_active_hc");
      await round(clock, checker, 1);
      assert.equal(await flags("echo"), "healthy");
    } finally {
      await proxy.close();
    }
  });
});

describe("active health checks and outlier detection together", () => {
  test("a passing health check returns an endpoint outlier detection ejected, before its ejection time", async () => {
    const clock = new ManualClock();
    let failTraffic = true;
    const make = (name: string): Promise<Upstream> =>
      startEchoServer(name, (req, res) => {
        if (req.url === "/healthz") return void res.writeHead(200, { "content-length": 0 }).end();
        const status = name === "a" && failTraffic ? 503 : 200;
        res.writeHead(status, { "content-length": name.length }).end(name);
      });
    const a = await make("a");
    const b = await make("b");
    const cluster = staticCluster("app", [a.port, b.port], {
      ...healthCheck({ http_health_check: { path: "/healthz" } }),
      outlier_detection: { consecutive_5xx: 2, interval: "60s", base_ejection_time: "300s", max_ejection_percent: 50 },
    });
    const proxy = await startProxy(
      bootstrap([httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))], [cluster]),
      clock,
      mulberry32(3),
    );
    try {
      // Round robin: every other request meets "a", which answers 503 twice and is ejected.
      for (let i = 0; i < 4; i++) await request(proxy.port());
      const ejected = new RegExp(`app::127\\.0\\.0\\.1:${a.port}::health_flags::/failed_outlier_check`);
      assert.match(await admin(proxy, "/clusters"), ejected);
      assert.deepEqual(new Set(await upstreamsOf(proxy, 4)), new Set(["b"]));
      failTraffic = false;
      // The next health check of "a" passes: successful_active_health_check_uneject_host (default true).
      await round(clock, checkerOf(proxy, "app"), 2);
      assert.match(
        await admin(proxy, "/clusters"),
        new RegExp(`app::127\\.0\\.0\\.1:${a.port}::health_flags::healthy`),
      );
      assert.deepEqual(new Set(await upstreamsOf(proxy, 4)), new Set(["a", "b"]));
    } finally {
      await proxy.close();
      await a.close();
      await b.close();
    }
  });
});
