import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import type { AddressInfo } from "node:net";
import { ManualClock } from "../../../api/clock.ts";
import { parseHealthCheck } from "../../../api/xds/parse/health-check.ts";
import { createHealthCheckStats } from "../../../telemetry/health-check-stats.ts";
import { StatsStore } from "../../../telemetry/stats.ts";
import { Endpoint } from "../endpoint.ts";
import { testCluster } from "../lb/test-fixtures.ts";
import { ClusterMembership } from "../membership.ts";
import { HealthChecker } from "./checker.ts";
import type { CheckResult } from "./probe.ts";
import { closedPort } from "../../../../test/support/upstreams.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Seen {
  path: string;
  host: string | undefined;
  userAgent: string | undefined;
  headers: http.IncomingHttpHeaders;
  socket: net.Socket;
}

/** An HTTP/1.1 server answering `status()`; `hang` makes it never answer. */
async function healthServer(status: () => number | "hang") {
  const seen: Seen[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = http.createServer((req, res) => {
    queueMicrotask(() => {
      for (const w of waiters.filter((x) => seen.length >= x.n)) w.resolve();
    });
    seen.push({
      path: req.url!,
      host: req.headers.host,
      userAgent: req.headers["user-agent"],
      headers: req.headers,
      socket: req.socket,
    });
    const s = status();
    if (s !== "hang") res.writeHead(s, { "content-length": 2 }).end("ok");
  });
  const port = await listen(server);
  /** Resolves once `n` requests have arrived. */
  const received = (n: number): Promise<void> =>
    new Promise((resolve) => (seen.length >= n ? resolve() : waiters.push({ n, resolve })));
  return { port, seen, received, connections: () => new Set(seen.map((s) => s.socket)).size };
}

async function listen(server: net.Server): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

function setup(raw: Record<string, unknown>, ports: number[], options: { traffic?: boolean } = {}) {
  const clock = new ManualClock();
  const config = parseHealthCheck({
    timeout: "1s",
    interval: "5s",
    no_traffic_interval: "5s",
    unhealthy_threshold: 2,
    healthy_threshold: 2,
    ...raw,
  });
  const cluster = testCluster("ROUND_ROBIN", { name: "backend", healthChecks: [config] });
  const membership = new ClusterMembership(
    cluster,
    ports.map((p) => new Endpoint("127.0.0.1", p, 1)),
  );
  const store = new StatsStore();
  const stats = createHealthCheckStats(store, "backend");
  const logs: string[] = [];
  const checker = new HealthChecker(cluster, config, membership, {
    clock,
    random: () => 0,
    stats,
    log: (line) => logs.push(line),
    hasTraffic: () => options.traffic ?? true,
  });
  cleanups.push(() => checker.stop());
  /** Resolves with the next `n` check results (register before making time pass). */
  const checks = (n: number): Promise<{ key: string; result: CheckResult }[]> =>
    new Promise((resolve) => {
      const got: { key: string; result: CheckResult }[] = [];
      const off = checker.onCheck((key, result) => {
        got.push({ key, result });
        if (got.length === n) {
          off();
          resolve(got);
        }
      });
    });
  const flags = () => membership.endpoints.map((e) => e.healthFlagsText);
  return { clock, checker, membership, stats, logs, checks, flags };
}

describe("active health checker", () => {
  test("new endpoints are pending until the first round; HTTP/1.1 check with Envoy's request", async () => {
    const up = await healthServer(() => 200);
    const down = await closedPort();
    const { checker, flags, stats, logs, membership } = setup(
      {
        http_health_check: {
          path: "/healthz",
          request_headers_to_add: [{ header: { key: "x-probe", value: "1" } }],
        },
      },
      [up.port, down],
    );
    assert.deepEqual(flags(), ["/failed_active_hc/pending_active_hc", "/failed_active_hc/pending_active_hc"]);
    await checker.start();
    assert.deepEqual(flags(), ["healthy", "/failed_active_hc"]);
    assert.equal(membership.pick({ hash: undefined })?.port, up.port);
    assert.deepEqual(
      { path: up.seen[0]!.path, host: up.seen[0]!.host, ua: up.seen[0]!.userAgent, x: up.seen[0]!.headers["x-probe"] },
      { path: "/healthz", host: "backend", ua: "Envoy/HC", x: "1" },
    );
    assert.equal(stats.attempt.value, 2);
    assert.equal(stats.success.value, 1);
    assert.equal(stats.failure.value, 1);
    assert.equal(stats.networkFailure.value, 1);
    assert.equal(stats.healthy.value, 1);
    assert.deepEqual(
      logs.sort(),
      [
        `health check: cluster backend host 127.0.0.1:${up.port} is healthy (first check passed)`,
        `health check: cluster backend host 127.0.0.1:${down} is unhealthy: first check failed: connection failed: ECONNREFUSED`,
      ].sort(),
    );
  });

  test("a status outside expected_statuses fails at once; healthy_threshold passes bring it back", async () => {
    let status = 200;
    const up = await healthServer(() => status);
    const { checker, clock, checks, flags, logs, stats } = setup({ http_health_check: { path: "/" } }, [up.port]);
    await checker.start();
    assert.deepEqual(flags(), ["healthy"]);
    status = 500;
    let next = checks(1);
    clock.advance(5000);
    assert.equal((await next)[0]!.result.ok, false);
    assert.deepEqual(flags(), ["/failed_active_hc"], "not retriable: unhealthy_threshold does not apply");
    assert.match(logs.at(-1)!, /is unhealthy: HTTP status 500/);
    status = 200;
    next = checks(1);
    clock.advance(5000);
    await next;
    assert.deepEqual(flags(), ["/failed_active_hc"], "one pass of healthy_threshold 2");
    next = checks(1);
    clock.advance(5000);
    await next;
    assert.deepEqual(flags(), ["healthy"]);
    assert.match(logs.at(-1)!, /is healthy$/);
    assert.equal(up.connections(), 1, "reuse_connection: one connection for every check");
    assert.equal(stats.healthy.value, 1);
  });

  test("retriable statuses and timeouts count toward unhealthy_threshold", async () => {
    let answer: number | "hang" = 200;
    const up = await healthServer(() => answer);
    const { checker, clock, checks, flags, stats } = setup(
      { unhealthy_threshold: 3, http_health_check: { path: "/", retriable_statuses: [{ start: 503, end: 504 }] } },
      [up.port],
    );
    await checker.start();
    answer = 503;
    let next = checks(1);
    clock.advance(5000);
    assert.deepEqual((await next)[0]!.result, {
      ok: false,
      type: "active",
      retriable: true,
      reason: "HTTP status 503",
    });
    assert.deepEqual(flags(), ["healthy"]);
    answer = "hang";
    next = checks(1);
    clock.advance(5000); // the check starts
    await up.received(3);
    clock.advance(1000); // and times out
    assert.deepEqual((await next)[0]!.result, {
      ok: false,
      type: "network",
      retriable: false,
      reason: "timed out after 1000 ms",
    });
    assert.deepEqual(flags(), ["healthy"], "two failures of three");
    answer = 503;
    next = checks(1);
    clock.advance(5000);
    await next;
    assert.deepEqual(flags(), ["/failed_active_hc"]);
    assert.equal(stats.failure.value, 3);
    assert.equal(stats.networkFailure.value, 1);
    assert.equal(up.connections(), 2, "the timeout dropped the connection; the next check opened another");
  });

  test("reuse_connection false: a connection per check", async () => {
    const up = await healthServer(() => 200);
    const { checker, clock, checks } = setup({ reuse_connection: false, http_health_check: { path: "/" } }, [up.port]);
    await checker.start();
    for (let i = 0; i < 2; i++) {
      const next = checks(1);
      clock.advance(5000);
      await next;
    }
    assert.equal(up.seen.length, 3);
    assert.equal(up.connections(), 3);
    assert.equal(up.seen[0]!.headers.connection, "close");
  });

  test("HTTP/2 (prior knowledge) when codec_client_type is HTTP2; host overrides the authority", async () => {
    const seen: http2.IncomingHttpHeaders[] = [];
    const server = http2.createServer();
    server.on("stream", (stream, headers) => {
      seen.push(headers);
      stream.respond({ ":status": seen.length === 1 ? 204 : 503 });
      stream.end();
    });
    const port = await listen(server);
    const { checker, clock, checks, flags } = setup(
      {
        http_health_check: {
          path: "/ready",
          host: "health.internal",
          codec_client_type: "HTTP2",
          expected_statuses: [{ start: 200, end: 300 }],
        },
      },
      [port],
    );
    await checker.start();
    assert.deepEqual(flags(), ["healthy"]);
    assert.deepEqual(
      [seen[0]![":path"], seen[0]![":authority"], seen[0]![":method"], seen[0]!["user-agent"]],
      ["/ready", "health.internal", "GET", "Envoy/HC"],
    );
    const next = checks(1);
    clock.advance(5000);
    await next;
    assert.deepEqual(flags(), ["/failed_active_hc"]);
  });

  test("follows membership: a newcomer is pending until checked, a leaver is no longer checked", async () => {
    const a = await healthServer(() => 200);
    const b = await healthServer(() => 200);
    const { checker, clock, checks, flags, membership } = setup({ http_health_check: { path: "/" } }, [a.port]);
    await checker.start();
    let next = checks(1);
    membership.update([...membership.endpoints, new Endpoint("127.0.0.1", b.port, 1)]);
    assert.deepEqual(flags(), ["healthy", "/failed_active_hc/pending_active_hc"]);
    await next;
    assert.deepEqual(flags(), ["healthy", "healthy"]);
    membership.update([membership.endpoints[1]!]);
    next = checks(1);
    clock.advance(5000);
    assert.equal((await next)[0]!.key, `127.0.0.1:${b.port}`);
    assert.equal(a.seen.length, 1, "the endpoint that left is not checked again");
    assert.equal(clock.pendingTimers, 1, "one session left, one timer");
  });

  test("no traffic yet: checks run at no_traffic_interval", async () => {
    const up = await healthServer(() => 200);
    const { checker, clock } = setup({ no_traffic_interval: "60s", http_health_check: { path: "/" } }, [up.port], {
      traffic: false,
    });
    await checker.start();
    clock.advance(5000);
    assert.equal(up.seen.length, 1, "interval (5 s) is not used before the cluster's first connection");
    assert.equal(clock.pendingTimers, 1);
  });

  test("stop() ends every session and leaves no timer", async () => {
    const up = await healthServer(() => 200);
    const { checker, clock } = setup({ http_health_check: { path: "/" } }, [up.port]);
    await checker.start();
    checker.stop();
    assert.equal(clock.pendingTimers, 0);
    clock.advance(60_000);
    assert.equal(up.seen.length, 1);
  });
});
