// Circuit breakers through a real proxy: overflow is answered at once with 503 and flag UO at exactly the
// configured limits, for HTTP/1.1 and HTTP/2 downstreams; stats, gauges and /clusters say so; TCP proxy sessions
// count as connections.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { ManualClock } from "../src/api/clock.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { allDomains, bootstrap, httpListener, staticCluster, tcpListener, type Raw } from "./support/envoy-config.ts";
import { h2request, request } from "./support/clients.ts";
import { startTcpEcho } from "./support/upstreams.ts";
import { WebSocket, WebSocketServer } from "ws";
import { startHoldingUpstream, type HoldingUpstream } from "../src/proxy/upstream/breakers-testing.ts";

function clusterStat(p: RunningProxy, name: string, cluster = "app"): number {
  const s = p.proxy.stats
    .toJSON()
    .find((x) => x.name === `envoy_cluster_${name}` && x.labels.envoy_cluster_name === cluster);
  if (s === undefined) throw new Error(`no stat ${name}`);
  return s.value;
}

/** Waits for something the event loop brings about (checked once per turn; no timer stands in for it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

async function proxyFor(port: number, thresholds: Raw, routeExtra: Raw = {}): Promise<RunningProxy> {
  return startProxy(
    bootstrap(
      [httpListener("in", allDomains([{ match: { prefix: "/" }, route: { cluster: "app", ...routeExtra } }]))],
      [staticCluster("app", [port], { circuit_breakers: { thresholds: [thresholds] } })],
    ),
  );
}

async function withHolding(fn: (up: HoldingUpstream) => Promise<void>): Promise<void> {
  const up = await startHoldingUpstream();
  try {
    await fn(up);
  } finally {
    await up.close();
  }
}

describe("circuit breakers through the proxy", () => {
  test("HTTP/1.1: max_connections 2 + max_pending_requests 3 → the 6th request is 503 UO at once", () =>
    withHolding(async (up) => {
      const p = await proxyFor(up.port, { max_connections: 2, max_pending_requests: 3, track_remaining: true });
      try {
        const five = [1, 2, 3, 4, 5].map((i) => request(p.port(), { path: `/${i}` }));
        await up.holding(2);
        await until(() => clusterStat(p, "upstream_rq_pending_active") === 3);
        const sixth = await request(p.port(), { path: "/6" });
        assert.equal(sixth.status, 503);
        assert.equal(sixth.headers["x-trellis-response-flags"], "UO");
        assert.match(String(sixth.headers["x-trellis-details"]), /^upstream_reset_before_response_started\{overflow\}/);
        assert.equal(clusterStat(p, "upstream_rq_pending_overflow"), 1);
        assert.equal(clusterStat(p, "upstream_rq_pending_total"), 3);
        assert.equal(clusterStat(p, "upstream_cx_overflow"), 4);
        assert.equal(clusterStat(p, "circuit_breakers_default_cx_open"), 1);
        assert.equal(clusterStat(p, "circuit_breakers_default_rq_pending_open"), 1);
        assert.equal(clusterStat(p, "circuit_breakers_default_remaining_pending"), 0);
        assert.equal(up.connections, 2);

        const clusters = await request(p.adminPort, { path: "/clusters" });
        for (const line of [
          "app::default_priority::max_connections::2",
          "app::default_priority::max_pending_requests::3",
          "app::default_priority::max_requests::1024",
          "app::default_priority::max_retries::3",
          "app::high_priority::max_connections::1024",
          "app::high_priority::max_retries::3",
        ])
          assert.ok(clusters.body.split("\n").includes(line), `${line} in\n${clusters.body}`);

        while (up.seen.length < 5 || up.held.length > 0) {
          await up.holding(1);
          up.held[0]!.release();
        }
        const replies = await Promise.all(five);
        assert.deepEqual(
          replies.map((r) => r.status),
          [200, 200, 200, 200, 200],
        );
        assert.equal(up.connections, 2, "the queued requests reused the two connections");
        assert.equal(clusterStat(p, "upstream_rq_pending_active"), 0);
        assert.equal(clusterStat(p, "circuit_breakers_default_rq_pending_open"), 0);
      } finally {
        await p.close();
      }
    }));

  test("HTTP/2 downstream: the same limits, streams of one connection", () =>
    withHolding(async (up) => {
      const p = await proxyFor(up.port, { max_connections: 2, max_pending_requests: 3 });
      const session = http2.connect(`http://127.0.0.1:${p.port()}`);
      try {
        const get = (path: string) =>
          h2request(session, { ":method": "GET", ":path": path, ":authority": "app", ":scheme": "http" });
        const five = [1, 2, 3, 4, 5].map((i) => get(`/${i}`));
        await up.holding(2);
        await until(() => clusterStat(p, "upstream_rq_pending_active") === 3);
        const sixth = await get("/6");
        assert.equal(sixth.status, 503);
        assert.equal(sixth.headers["x-trellis-response-flags"], "UO");
        assert.equal(clusterStat(p, "upstream_rq_pending_overflow"), 1);
        while (up.seen.length < 5 || up.held.length > 0) {
          await up.holding(1);
          up.held[0]!.release();
        }
        assert.deepEqual(
          (await Promise.all(five)).map((r) => r.status),
          [200, 200, 200, 200, 200],
        );
      } finally {
        session.close();
        await p.close();
      }
    }));

  test("max_requests 2: the 3rd concurrent request is 503 UO, counted in upstream_rq_pending_overflow", () =>
    withHolding(async (up) => {
      const p = await proxyFor(up.port, { max_requests: 2 });
      try {
        const two = [1, 2].map((i) => request(p.port(), { path: `/${i}` }));
        await up.holding(2);
        assert.equal(clusterStat(p, "circuit_breakers_default_rq_open"), 1);
        const third = await request(p.port(), { path: "/3" });
        assert.equal(third.status, 503);
        assert.equal(third.headers["x-trellis-response-flags"], "UO");
        assert.equal(clusterStat(p, "upstream_rq_pending_overflow"), 1);
        for (const h of [...up.held]) h.release();
        assert.deepEqual(
          (await Promise.all(two)).map((r) => r.status),
          [200, 200],
        );
        assert.equal(clusterStat(p, "circuit_breakers_default_rq_open"), 0);
        const fourth = request(p.port(), { path: "/4" });
        (await up.arrived("/4")).release();
        assert.equal((await fourth).status, 200, "room again once the two finished");
      } finally {
        await p.close();
      }
    }));

  test("a queued request whose route times out leaves the queue (504 UT) and is never sent", () =>
    withHolding(async (up) => {
      const clock = new ManualClock();
      const routes = [
        { match: { prefix: "/slow" }, route: { cluster: "app", timeout: "1s" } },
        { match: { prefix: "/" }, route: { cluster: "app", timeout: "0s" } },
      ];
      const p = await startProxy(
        bootstrap(
          [httpListener("in", allDomains(routes))],
          [staticCluster("app", [up.port], { circuit_breakers: { thresholds: [{ max_connections: 1 }] } })],
        ),
        clock,
      );
      try {
        const first = request(p.port(), { path: "/first" });
        await up.holding(1);
        const second = request(p.port(), { path: "/slow" });
        await until(() => clusterStat(p, "upstream_rq_pending_active") === 1);
        clock.advance(1000);
        const timedOut = await second;
        assert.equal(timedOut.status, 504);
        assert.equal(timedOut.headers["x-trellis-response-flags"], "UT");
        assert.equal(clusterStat(p, "upstream_rq_pending_active"), 0);
        up.held[0]!.release();
        assert.equal((await first).status, 200);
        assert.deepEqual(up.seen, ["/first"]);
      } finally {
        await p.close();
      }
    }));

  test("TCP proxy: max_connections 1 closes the second downstream connection at once (upstream_cx_overflow)", async () => {
    const echo = await startTcpEcho();
    const p = await startProxy(
      bootstrap(
        [tcpListener("tcp", { cluster: "app" })],
        [staticCluster("app", [echo.port], { circuit_breakers: { thresholds: [{ max_connections: 1 }] } })],
      ),
    );
    try {
      const first = net.connect(p.port(), "127.0.0.1");
      const echoed = new Promise<string>((r) => first.once("data", (c: Buffer) => r(c.toString())));
      first.write("ping");
      assert.equal(await echoed, "ping");
      assert.equal(clusterStat(p, "circuit_breakers_default_cx_open"), 1);
      const second = net.connect(p.port(), "127.0.0.1");
      const got: Buffer[] = [];
      second.on("data", (c: Buffer) => got.push(c));
      second.on("error", () => {});
      await new Promise<void>((r) => second.once("close", () => r()));
      assert.equal(Buffer.concat(got).length, 0);
      assert.equal(clusterStat(p, "upstream_cx_overflow"), 1);
      first.destroy();
      await until(() => clusterStat(p, "circuit_breakers_default_cx_open") === 0);
    } finally {
      await p.close();
      await echo.close();
    }
  });

  test("a WebSocket tunnel counts as a connection until it closes", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((r) => wss.once("listening", r));
    wss.on("connection", (ws) => ws.on("message", (m) => ws.send(m.toString())));
    const port = (wss.address() as net.AddressInfo).port;
    const p = await startProxy(
      bootstrap(
        [
          httpListener("in", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
            upgrade_configs: [{ upgrade_type: "websocket" }],
          }),
        ],
        [staticCluster("app", [port], { circuit_breakers: { thresholds: [{ max_connections: 1 }] } })],
      ),
    );
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${p.port()}/`);
      await new Promise<void>((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      const echoed = new Promise<string>((r) => ws.once("message", (m) => r(m.toString())));
      ws.send("hi");
      assert.equal(await echoed, "hi");
      assert.equal(clusterStat(p, "upstream_cx_active"), 1);
      assert.equal(clusterStat(p, "circuit_breakers_default_cx_open"), 1);
      ws.close();
      await until(() => clusterStat(p, "circuit_breakers_default_cx_open") === 0);
      assert.equal(clusterStat(p, "upstream_cx_active"), 0);
    } finally {
      await p.close();
      wss.close();
    }
  });
});
