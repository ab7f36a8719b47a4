// Every stat a sidecar exports moves where Envoy's does. Each test drives a condition through a real sidecar (real
// sockets on 127.0.0.1, an injected clock for anything timed), scrapes /stats/prometheus on its admin port before
// and after, and checks the series that must have moved. The last test lists every family a sidecar with every
// feature configured prints, and fails for any that no test here (or a named test elsewhere) drives.

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { ManualClock } from "../src/api/clock.ts";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { request, rawExchange, h2request } from "./support/clients.ts";
import {
  allDomains,
  bootstrap,
  httpListener,
  socketAddress,
  staticCluster,
  tcpListener,
  type Raw,
} from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { scrape, valueOf, type Snapshot } from "./support/stats.ts";
import { clientHello } from "./support/client-hello.ts";
import { closedPort, startEchoServer, startTcpEcho } from "./support/upstreams.ts";
import { waitFor } from "./support/wait.ts";

/** Families some test in this file checked. */
const covered = new Set<string>();

/** Asserts that `family` (series with `labels`) moved by `delta` between two scrapes (by at least 1 without it). */
function assertMoved(
  before: Snapshot,
  now: Snapshot,
  family: string,
  labels: Record<string, string>,
  delta?: number,
): void {
  const d = valueOf(now, family, labels) - valueOf(before, family, labels);
  if (delta === undefined) assert.ok(d > 0, `${family} ${JSON.stringify(labels)} did not move`);
  else assert.equal(d, delta, `${family} ${JSON.stringify(labels)} moved by ${d}, expected ${delta}`);
  covered.add(family);
}

/** Asserts a gauge's value. */
function assertGauge(now: Snapshot, family: string, labels: Record<string, string>, value: number): void {
  assert.equal(valueOf(now, family, labels), value, `${family} ${JSON.stringify(labels)}`);
  covered.add(family);
}

/** Asserts that a histogram got `n` more observations (at least one without it). */
function assertObserved(
  before: Snapshot,
  now: Snapshot,
  family: string,
  labels: Record<string, string>,
  n?: number,
): void {
  assertMoved(before, now, family + "_count", labels, n);
  covered.add(family);
}

const hcm = (p: string) => ({ envoy_http_conn_manager_prefix: p });
const cluster = (c: string) => ({ envoy_cluster_name: c });

/** A listener's stats scope is its configured address (port 0 in these tests, whatever port it was given). */
const ANY_PORT_LISTENER = { envoy_listener_address: "127.0.0.1_0" };

/** Waits until every downstream connection (and with `upstream`, every upstream one) the sidecar counts is gone. */
async function settled(p: RunningProxy, upstream = false): Promise<Snapshot> {
  let s = await scrape(p.adminPort);
  const active = (x: Snapshot) =>
    valueOf(x, "envoy_http_downstream_cx_active") +
    valueOf(x, "envoy_listener_downstream_cx_active") +
    (upstream ? valueOf(x, "envoy_cluster_upstream_cx_active") : 0);
  const deadline = Date.now() + 10_000;
  while (active(s) > 0) {
    if (Date.now() > deadline)
      throw new Error(
        `connections still active: ${JSON.stringify(s.series.filter((x) => /cx_.*active/.test(x.family) && x.value > 0))}`,
      );
    await new Promise((r) => setTimeout(r, 5));
    s = await scrape(p.adminPort);
  }
  return s;
}

const open: { close(): Promise<void> | void }[] = [];
after(async () => {
  for (const o of open.reverse()) await o.close();
});

describe("http.<stat_prefix>.* and listener.<address>.* on a real listener", () => {
  test("HTTP/1.1 and HTTP/2 connections and requests: counts by protocol, destroy, bytes, length, router outcomes", async () => {
    const upstream = await startEchoServer("app");
    open.push(upstream);
    const routes: Raw[] = [
      { name: "app", match: { prefix: "/app" }, route: { cluster: "app" } },
      { name: "direct", match: { prefix: "/direct" }, direct_response: { status: 200, body: { inline_string: "hi" } } },
      { name: "redirect", match: { prefix: "/redirect" }, redirect: { path_redirect: "/elsewhere" } },
    ];
    const p = await startProxy(
      bootstrap([httpListener("in", allDomains(routes))], [staticCluster("app", [upstream.port])]),
    );
    open.push(p);
    const before = await scrape(p.adminPort);

    // Three HTTP/1.1 connections, one request each: no route (three times).
    for (let i = 0; i < 3; i++) assert.equal((await request(p.port(), { path: "/nothing" })).status, 404);
    // One HTTP/1.1 connection: direct response, redirect, routed (keep-alive).
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await request(p.port(), { path: "/direct", agent })).status, 200);
    assert.equal((await request(p.port(), { path: "/redirect", agent })).status, 301);
    assert.equal((await request(p.port(), { path: "/app", agent })).status, 200);
    agent.destroy();
    // One HTTP/2 connection, two requests.
    const session = http2.connect(`http://127.0.0.1:${p.port()}`);
    assert.equal((await h2request(session, { ":path": "/app" })).status, 200);
    assert.equal((await h2request(session, { ":path": "/nothing" })).status, 404);
    await new Promise<void>((r) => session.close(() => r()));

    const now = await settled(p);
    const h = hcm("in");
    assertMoved(before, now, "envoy_http_downstream_cx_total", h, 5);
    assertMoved(before, now, "envoy_http_downstream_cx_http1_total", h, 4);
    assertMoved(before, now, "envoy_http_downstream_cx_http2_total", h, 1);
    assertMoved(before, now, "envoy_http_downstream_cx_destroy", h, 5);
    // node:http without an agent asks for connection: close, so the proxy closes those three itself.
    assertMoved(before, now, "envoy_http_downstream_cx_destroy_local", h, 3);
    assertMoved(before, now, "envoy_http_downstream_cx_destroy_remote", h, 2);
    assertGauge(now, "envoy_http_downstream_cx_active", h, 0);
    assertGauge(now, "envoy_http_downstream_cx_http1_active", h, 0);
    assertGauge(now, "envoy_http_downstream_cx_http2_active", h, 0);
    assertObserved(before, now, "envoy_http_downstream_cx_length_ms", h, 5);
    assertMoved(before, now, "envoy_http_downstream_cx_rx_bytes_total", h);
    assertMoved(before, now, "envoy_http_downstream_cx_tx_bytes_total", h);
    assertMoved(before, now, "envoy_http_downstream_rq_total", h, 8);
    assertMoved(before, now, "envoy_http_downstream_rq_http1_total", h, 6);
    assertMoved(before, now, "envoy_http_downstream_rq_http2_total", h, 2);
    assertMoved(before, now, "envoy_http_downstream_rq_completed", h, 8);
    assertMoved(before, now, "envoy_http_downstream_rq_xx", { ...h, envoy_response_code_class: "2" }, 3);
    assertMoved(before, now, "envoy_http_downstream_rq_xx", { ...h, envoy_response_code_class: "3" }, 1);
    assertMoved(before, now, "envoy_http_downstream_rq_xx", { ...h, envoy_response_code_class: "4" }, 4);
    assertObserved(before, now, "envoy_http_downstream_rq_time", h, 8);
    assertGauge(now, "envoy_http_downstream_rq_active", h, 0);
    assertMoved(before, now, "envoy_http_no_route", h, 4);
    assertMoved(before, now, "envoy_http_rq_direct_response", h, 1);
    assertMoved(before, now, "envoy_http_rq_redirect", h, 1);
    assertMoved(before, now, "envoy_http_rq_total", h, 8);

    const l = ANY_PORT_LISTENER;
    assertMoved(before, now, "envoy_listener_downstream_cx_total", l, 5);
    assertMoved(before, now, "envoy_listener_downstream_cx_destroy", l, 5);
    assertGauge(now, "envoy_listener_downstream_cx_active", l, 0);
    assertObserved(before, now, "envoy_listener_downstream_cx_length_ms", l, 5);
  });

  test("a route to a cluster that does not exist counts no_cluster", async () => {
    const p = await startProxy(bootstrap([], [staticCluster("app", [1])]));
    open.push(p);
    const listener = httpListener("dyn", allDomains([{ match: { prefix: "/" }, route: { cluster: "gone" } }]));
    await p.proxy.applyResources(TYPE_URL.listener, "1", [listener]);
    const port = p.proxy.listenerAddresses()["dyn"]!.port;
    const before = await scrape(p.adminPort);
    const r = await request(port);
    assert.equal(r.status, 503);
    assert.equal(r.headers["x-trellis-response-flags"], "NC");
    assertMoved(before, await scrape(p.adminPort), "envoy_http_no_cluster", hcm("dyn"), 1);
  });

  test("upgrades: a WebSocket counts as an upgraded connection while it lasts; one on a route without upgrades is refused", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((r) => wss.once("listening", r));
    wss.on("connection", (ws) => ws.on("message", (m) => ws.send(m)));
    open.push({ close: () => void wss.close() });
    const port = (wss.address() as net.AddressInfo).port;
    const routes: Raw[] = [
      {
        match: { prefix: "/plain" },
        route: { cluster: "ws", upgrade_configs: [{ upgrade_type: "websocket", enabled: false }] },
      },
      { match: { prefix: "/" }, route: { cluster: "ws" } },
    ];
    const p = await startProxy(
      bootstrap(
        [httpListener("ws", allDomains(routes), { upgrade_configs: [{ upgrade_type: "websocket" }] })],
        [staticCluster("ws", [port])],
      ),
    );
    open.push(p);
    const h = hcm("ws");
    const before = await scrape(p.adminPort);
    const ws = new WebSocket(`ws://127.0.0.1:${p.port()}/socket`);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const during = await scrape(p.adminPort);
    assertMoved(before, during, "envoy_http_downstream_cx_upgrades_total", h, 1);
    assertGauge(during, "envoy_http_downstream_cx_upgrades_active", h, 1);
    const closed = new Promise<void>((r) => ws.once("close", () => r()));
    ws.close(1000);
    await closed;
    const refused = await rawExchange(
      p.port(),
      "GET /plain HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n" +
        "sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert.match(refused, /^HTTP\/1\.1 403/);
    const now = await settled(p);
    assertGauge(now, "envoy_http_downstream_cx_upgrades_active", h, 0);
    assertMoved(before, now, "envoy_http_downstream_rq_ws_on_non_ws_route", h, 1);
  });

  test("a request the codec refuses counts a protocol error", async () => {
    const p = await startProxy(bootstrap([httpListener("bad", allDomains([]))], [staticCluster("app", [1])]));
    open.push(p);
    const before = await scrape(p.adminPort);
    const reply = await rawExchange(
      p.port(),
      "GET / HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
    );
    assert.match(reply, /^HTTP\/1\.1 400/);
    const now = await settled(p);
    assertMoved(before, now, "envoy_http_downstream_cx_protocol_error", hcm("bad"), 1);
    assertMoved(before, now, "envoy_http_downstream_cx_destroy_local", hcm("bad"), 1);
  });
});

describe("timeouts, resets and drains of downstream connections (injected clock)", () => {
  test("connection idle_timeout closes idle HTTP/1.1 and HTTP/2 connections: downstream_cx_idle_timeout, destroy_local", async () => {
    const clock = new ManualClock();
    const upstream = await startEchoServer("app");
    open.push(upstream);
    const p = await startProxy(
      bootstrap(
        [
          httpListener("idle", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
            common_http_protocol_options: { idle_timeout: "10s" },
          }),
        ],
        [staticCluster("app", [upstream.port])],
      ),
      clock,
    );
    open.push(p);
    const before = await scrape(p.adminPort);
    const h1 = net.connect(p.port(), "127.0.0.1");
    const h1Closed = new Promise<void>((r) => h1.once("close", () => r()));
    h1.on("data", () => {});
    h1.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    const session = http2.connect(`http://127.0.0.1:${p.port()}`);
    session.on("error", () => {});
    const h2Closed = new Promise<void>((r) => session.once("close", () => r()));
    assert.equal((await h2request(session, { ":path": "/" })).status, 200);
    await waitFor(() => upstream.received.length === 2);
    await waitForStat(p, "envoy_http_downstream_rq_completed", hcm("idle"), 2);
    clock.advance(10_000);
    await h1Closed;
    await h2Closed;
    const now = await settled(p);
    assertMoved(before, now, "envoy_http_downstream_cx_idle_timeout", hcm("idle"), 2);
    assertMoved(before, now, "envoy_http_downstream_cx_destroy_local", hcm("idle"), 2);
  });

  test("request_timeout and stream_idle_timeout count downstream_rq_timeout and downstream_rq_idle_timeout", async () => {
    const clock = new ManualClock();
    const upstream = await startEchoServer("app");
    open.push(upstream);
    const route = allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]);
    const p = await startProxy(
      bootstrap(
        [
          httpListener("rt", route, { request_timeout: "5s", stream_idle_timeout: "0s" }),
          httpListener("si", route, { stream_idle_timeout: "5s" }),
        ],
        [{ ...staticCluster("app", [upstream.port]), connect_timeout: "100s" }],
      ),
      clock,
    );
    open.push(p);
    const before = await scrape(p.adminPort);
    const stalled = (port: number): Promise<string> =>
      new Promise((resolve) => {
        const s = net.connect(port, "127.0.0.1");
        let got = "";
        s.on("data", (c: Buffer) => {
          got += c.toString("latin1");
          if (got.includes("\r\n\r\n")) {
            s.destroy();
            resolve(got);
          }
        });
        s.write("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc");
      });
    const h1 = stalled(p.port("rt"));
    const h1si = stalled(p.port("si"));
    await waitForStat(p, "envoy_http_downstream_rq_active", {}, 2);
    clock.advance(5_000);
    assert.match(await h1, /^HTTP\/1\.1 408/);
    // The HTTP/1.1 codec sees the body bytes at its first check and counts idleness from there.
    clock.advance(5_000);
    assert.match(await h1si, /^HTTP\/1\.1 408/);
    const now = await settled(p);
    assertMoved(before, now, "envoy_http_downstream_rq_timeout", hcm("rt"), 1);
    assertMoved(before, now, "envoy_http_downstream_rq_idle_timeout", hcm("si"), 1);
  });

  test("a client that goes away mid-request counts downstream_rq_rx_reset (HTTP/1.1 and HTTP/2)", async () => {
    const held: http.ServerResponse[] = [];
    const upstream = await startEchoServer("hang", (_req, res) => void held.push(res));
    open.push({ close: () => Promise.all(held.map((r) => r.destroy())).then(() => upstream.close()) });
    const p = await startProxy(
      bootstrap(
        [httpListener("rx", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))],
        [staticCluster("app", [upstream.port])],
      ),
    );
    open.push(p);
    const before = await scrape(p.adminPort);
    const s = net.connect(p.port(), "127.0.0.1");
    s.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    const session = http2.connect(`http://127.0.0.1:${p.port()}`);
    session.on("error", () => {});
    const stream = session.request({ ":path": "/" });
    stream.on("error", () => {});
    await waitFor(() => upstream.received.length === 2);
    s.resetAndDestroy();
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitForStat(p, "envoy_http_downstream_rq_active", hcm("rx"), 0);
    session.close();
    const now = await scrape(p.adminPort);
    assertMoved(before, now, "envoy_http_downstream_rq_rx_reset", hcm("rx"), 2);
  });

  test("draining a listener closes its idle connections: downstream_cx_drain_close", async () => {
    const upstream = await startEchoServer("app");
    open.push(upstream);
    const p = await startProxy(
      bootstrap(
        [httpListener("dr", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))],
        [staticCluster("app", [upstream.port])],
      ),
    );
    open.push(p);
    const before = await scrape(p.adminPort);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await request(p.port(), { agent })).status, 200);
    const socket = Object.values(agent.freeSockets)[0]![0]!;
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    p.proxy.drainListeners();
    await closed;
    agent.destroy();
    const now = await settled(p);
    assertMoved(before, now, "envoy_http_downstream_cx_drain_close", hcm("dr"), 1);
    assertMoved(before, now, "envoy_http_downstream_cx_destroy_local", hcm("dr"), 1);
  });
});

async function waitForStat(p: RunningProxy, family: string, labels: Record<string, string>, value: number) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await scrape(p.adminPort);
    if (valueOf(s, family, labels) === value) return s;
    if (Date.now() > deadline) throw new Error(`${family} never reached ${value}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** typed_extension_protocol_options for HTTP/1.1 or HTTP/2 upstreams with an idle_timeout. */
function protocolOptions(http2Upstream: boolean, idleTimeout: string): Raw {
  return {
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        common_http_protocol_options: { idle_timeout: idleTimeout },
        explicit_http_config: http2Upstream ? { http2_protocol_options: {} } : { http_protocol_options: {} },
      },
    },
  };
}

/** An HTTP/1.1 and an h2c upstream whose connections the test can close from the upstream's side. */
async function closableUpstreams(): Promise<{
  h1: number;
  h2: number;
  closeFromUpstream(): void;
  close(): Promise<void>;
}> {
  const h1Sockets = new Set<net.Socket>();
  const h1 = http.createServer((_req, res) => res.end("ok"));
  h1.on("connection", (s: net.Socket) => {
    h1Sockets.add(s);
    s.on("close", () => h1Sockets.delete(s));
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  const h2 = http2.createServer();
  h2.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  h2.on("stream", (stream) => {
    stream.respond({ ":status": 200 });
    stream.end("ok");
  });
  await new Promise<void>((r) => h1.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => h2.listen(0, "127.0.0.1", r));
  return {
    h1: (h1.address() as net.AddressInfo).port,
    h2: (h2.address() as net.AddressInfo).port,
    closeFromUpstream: () => {
      for (const s of h1Sockets) s.end();
      for (const s of sessions) s.close();
    },
    close: async () => {
      for (const s of h1Sockets) s.destroy();
      for (const s of sessions) s.destroy();
      await new Promise<void>((r) => h1.close(() => r()));
      await new Promise<void>((r) => h2.close(() => r()));
    },
  };
}

describe("cluster.<name>.* upstream connections and requests", () => {
  test("HTTP/1.1 and HTTP/2 upstream connections: connect time, bytes, length, closed by the upstream and by idle_timeout", async () => {
    const clock = new ManualClock();
    const up = await closableUpstreams();
    open.push(up);
    const p = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains([
              { match: { prefix: "/h1" }, route: { cluster: "h1" } },
              { match: { prefix: "/h2" }, route: { cluster: "h2" } },
            ]),
          ),
        ],
        [
          staticCluster("h1", [up.h1], protocolOptions(false, "5s")),
          staticCluster("h2", [up.h2], protocolOptions(true, "5s")),
        ],
      ),
      clock,
    );
    open.push(p);
    const before = await scrape(p.adminPort);
    const both = async () => {
      assert.equal((await request(p.port(), { path: "/h1" })).status, 200);
      assert.equal((await request(p.port(), { path: "/h2" })).status, 200);
    };
    await both();
    up.closeFromUpstream();
    let now = await settled(p, true);
    for (const c of ["h1", "h2"]) {
      assertMoved(before, now, "envoy_cluster_upstream_cx_destroy", cluster(c), 1);
      assertMoved(before, now, "envoy_cluster_upstream_cx_destroy_remote", cluster(c), 1);
    }
    await both();
    clock.advance(5_000);
    now = await settled(p, true);
    for (const c of ["h1", "h2"]) {
      const l = cluster(c);
      assertMoved(before, now, "envoy_cluster_upstream_cx_total", l, 2);
      assertMoved(before, now, "envoy_cluster_upstream_cx_destroy", l, 2);
      assertMoved(before, now, "envoy_cluster_upstream_cx_destroy_local", l, 1);
      assertMoved(before, now, "envoy_cluster_upstream_cx_idle_timeout", l, 1);
      assertObserved(before, now, "envoy_cluster_upstream_cx_connect_ms", l, 2);
      assertObserved(before, now, "envoy_cluster_upstream_cx_length_ms", l, 2);
      assertMoved(before, now, "envoy_cluster_upstream_cx_rx_bytes_total", l);
      assertMoved(before, now, "envoy_cluster_upstream_cx_tx_bytes_total", l);
      assertGauge(now, "envoy_cluster_upstream_cx_active", l, 0);
      assertMoved(before, now, "envoy_cluster_upstream_rq_total", l, 2);
      assertMoved(before, now, "envoy_cluster_upstream_rq_completed", l, 2);
      assertMoved(before, now, "envoy_cluster_upstream_rq", { ...l, envoy_response_code: "200" }, 2);
      assertMoved(before, now, "envoy_cluster_upstream_rq_xx", { ...l, envoy_response_code_class: "2" }, 2);
      assertObserved(before, now, "envoy_cluster_upstream_rq_time", l, 2);
      assertGauge(now, "envoy_cluster_upstream_rq_active", l, 0);
    }
    assertMoved(before, now, "envoy_cluster_upstream_cx_http1_total", cluster("h1"), 2);
    assertMoved(before, now, "envoy_cluster_upstream_cx_http2_total", cluster("h2"), 2);
  });

  test("an upstream that resets counts upstream_rq_rx_reset; a route timeout that abandons a request counts upstream_rq_tx_reset", async () => {
    const clock = new ManualClock();
    const held: http.ServerResponse[] = [];
    const upstream = await startEchoServer("app", (req, res) => {
      if (req.url === "/reset") req.socket.destroy();
      else held.push(res);
    });
    open.push({ close: () => Promise.all(held.map((r) => r.destroy())).then(() => upstream.close()) });
    const p = await startProxy(
      bootstrap(
        [httpListener("in", allDomains([{ match: { prefix: "/" }, route: { cluster: "app", timeout: "3s" } }]))],
        [staticCluster("app", [upstream.port])],
      ),
      clock,
    );
    open.push(p);
    const before = await scrape(p.adminPort);
    const reset = await request(p.port(), { path: "/reset" });
    assert.equal(reset.status, 503);
    assert.equal(reset.headers["x-trellis-response-flags"], "UC");
    const slow = request(p.port(), { path: "/slow" });
    await waitFor(() => held.length === 1);
    clock.advance(3_000);
    assert.equal((await slow).status, 504);
    const now = await settled(p, true);
    assertMoved(before, now, "envoy_cluster_upstream_rq_rx_reset", cluster("app"), 1);
    assertMoved(before, now, "envoy_cluster_upstream_rq_tx_reset", cluster("app"), 1);
    assertMoved(before, now, "envoy_cluster_upstream_rq_timeout", cluster("app"), 1);
    assertMoved(before, now, "envoy_cluster_upstream_cx_destroy_local", cluster("app"), 1);
  });

  test("connect failures: refused counts upstream_cx_connect_fail; a connect that never completes also upstream_cx_connect_timeout", async () => {
    const clock = new ManualClock();
    const refused = await closedPort();
    const p = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains([
              { match: { prefix: "/refused" }, route: { cluster: "refused" } },
              { match: { prefix: "/hangs" }, route: { cluster: "hangs" } },
            ]),
          ),
        ],
        [staticCluster("refused", [refused]), { ...staticCluster("hangs", [9]), connect_timeout: "2s" }],
      ),
      clock,
    );
    open.push(p);
    // A SYN nobody answers cannot be made on 127.0.0.1: this cluster's connector hands out sockets that never
    // finish connecting (what a host dropping SYNs looks like), and the connect timeout runs on the clock.
    const never: net.Socket[] = [];
    (p.proxy.cluster("hangs") as unknown as { connect: () => net.Socket }).connect = () => {
      const s = new net.Socket();
      Object.defineProperty(s, "connecting", { value: true });
      never.push(s);
      return s;
    };
    const before = await scrape(p.adminPort);
    const r = await request(p.port(), { path: "/refused" });
    assert.equal(r.status, 503);
    assert.equal(r.headers["x-trellis-response-flags"], "UF");
    const hang = request(p.port(), { path: "/hangs" });
    await waitFor(() => never.length === 1);
    clock.advance(2_000);
    assert.equal((await hang).status, 503);
    const now = await settled(p, true);
    assertMoved(before, now, "envoy_cluster_upstream_cx_connect_fail", cluster("refused"), 1);
    assertMoved(before, now, "envoy_cluster_upstream_cx_destroy_remote", cluster("refused"), 1);
    assertMoved(before, now, "envoy_cluster_upstream_cx_connect_timeout", cluster("refused"), 0);
    assertMoved(before, now, "envoy_cluster_upstream_cx_connect_fail", cluster("hangs"), 1);
    assertMoved(before, now, "envoy_cluster_upstream_cx_connect_timeout", cluster("hangs"), 1);
    assertMoved(before, now, "envoy_cluster_upstream_cx_destroy_local", cluster("hangs"), 1);
  });

  test("membership: total, healthy, degraded, membership_change on EDS updates, lb_healthy_panic when too few are healthy", async () => {
    const upstream = await startEchoServer("app");
    open.push(upstream);
    const p = await startProxy(
      bootstrap(
        [httpListener("in", allDomains([{ match: { prefix: "/panic" }, route: { cluster: "panic" } }]))],
        [
          {
            ...staticCluster("panic", [upstream.port]),
            load_assignment: {
              cluster_name: "panic",
              endpoints: [
                {
                  lb_endpoints: [
                    { endpoint: { address: socketAddress(upstream.port) } },
                    { endpoint: { address: socketAddress(1) }, health_status: "UNHEALTHY" },
                    { endpoint: { address: socketAddress(2) }, health_status: "UNHEALTHY" },
                  ],
                },
              ],
            },
          },
        ],
      ),
    );
    open.push(p);
    await p.proxy.applyResources(TYPE_URL.cluster, "1", [
      { name: "eds", type: "EDS", connect_timeout: "1s", eds_cluster_config: { service_name: "eds" } },
    ]);
    const assign = (version: string, eps: Raw[]) =>
      p.proxy.applyResources(TYPE_URL.clusterLoadAssignment, version, [
        { cluster_name: "eds", endpoints: [{ lb_endpoints: eps }] },
      ]);
    const before = await scrape(p.adminPort);
    await assign("1", [
      { endpoint: { address: socketAddress(upstream.port) } },
      { endpoint: { address: socketAddress(3) }, health_status: "DEGRADED" },
    ]);
    let now = await scrape(p.adminPort);
    const eds = cluster("eds");
    assertMoved(before, now, "envoy_cluster_membership_change", eds, 1);
    assertGauge(now, "envoy_cluster_membership_total", eds, 2);
    assertGauge(now, "envoy_cluster_membership_healthy", eds, 1);
    assertGauge(now, "envoy_cluster_membership_degraded", eds, 1);
    // Health changes only: no membership change.
    await assign("2", [
      { endpoint: { address: socketAddress(upstream.port) } },
      { endpoint: { address: socketAddress(3) }, health_status: "HEALTHY" },
    ]);
    now = await scrape(p.adminPort);
    assertMoved(before, now, "envoy_cluster_membership_change", eds, 1);
    assertGauge(now, "envoy_cluster_membership_degraded", eds, 0);
    await assign("3", [{ endpoint: { address: socketAddress(upstream.port) } }]);
    now = await scrape(p.adminPort);
    assertMoved(before, now, "envoy_cluster_membership_change", eds, 2);

    // In panic every host takes traffic, the unhealthy ones (nothing listens there) too: 200 or 503.
    assert.ok([200, 503].includes((await request(p.port(), { path: "/panic" })).status));
    now = await settled(p);
    assertMoved(before, now, "envoy_cluster_lb_healthy_panic", cluster("panic"), 1);
    assertMoved(before, now, "envoy_cluster_lb_healthy_panic", eds, 0);
    assertGauge(now, "envoy_cluster_membership_healthy", cluster("panic"), 1);
    assertGauge(now, "envoy_cluster_membership_total", cluster("panic"), 3);
  });
});

describe("cluster.<name>.* request outcomes the router decides (injected clock)", () => {
  test("retries with back-off, a retry that succeeds, retries exhausted; max_stream_duration; remaining pools", async () => {
    const clock = new ManualClock();
    let failures = 0;
    const held: http.ServerResponse[] = [];
    const upstream = await startEchoServer("app", (req, res) => {
      if (req.url === "/long") return void held.push(res);
      const fail = req.url === "/always" || (req.url === "/once" && failures++ === 0);
      res.writeHead(fail ? 503 : 200, { "content-length": "2" });
      res.end("ok");
    });
    open.push({ close: () => Promise.all(held.map((r) => r.destroy())).then(() => upstream.close()) });
    const retry = { retry_on: "5xx", num_retries: 1, retry_back_off: { base_interval: "1s", max_interval: "1s" } };
    const p = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains([
              {
                match: { prefix: "/long" },
                route: { cluster: "app", max_stream_duration: { max_stream_duration: "2s" } },
              },
              { match: { prefix: "/" }, route: { cluster: "app", retry_policy: retry } },
            ]),
          ),
        ],
        [
          {
            ...staticCluster("app", [upstream.port]),
            connect_timeout: "100s",
            circuit_breakers: { thresholds: [{ max_connection_pools: 10, track_remaining: true }] },
          },
        ],
      ),
      clock,
    );
    open.push(p);
    const c = cluster("app");
    const before = await scrape(p.adminPort);
    for (const path of ["/once", "/always"]) {
      const reply = request(p.port(), { path });
      await waitForStat(
        p,
        "envoy_cluster_upstream_rq_retry",
        c,
        valueOf(before, "envoy_cluster_upstream_rq_retry", c) + (path === "/once" ? 1 : 2),
      );
      clock.advance(1_000);
      assert.equal((await reply).status, path === "/once" ? 200 : 503);
    }
    const long = request(p.port(), { path: "/long" });
    await waitFor(() => held.length === 1);
    clock.advance(2_000);
    assert.equal((await long).status, 408);
    const now = await settled(p);
    assertMoved(before, now, "envoy_cluster_upstream_rq_retry", c, 2);
    assertMoved(before, now, "envoy_cluster_upstream_rq_retry_backoff_exponential", c, 2);
    assertMoved(before, now, "envoy_cluster_upstream_rq_retry_success", c, 1);
    assertMoved(before, now, "envoy_cluster_upstream_rq_retry_limit_exceeded", c, 1);
    assertMoved(before, now, "envoy_cluster_upstream_rq", { ...c, envoy_response_code: "503" }, 3);
    assertMoved(before, now, "envoy_cluster_upstream_rq_xx", { ...c, envoy_response_code_class: "5" }, 3);
    assertMoved(before, now, "envoy_cluster_upstream_rq_max_duration_reached", c, 1);
    assertGauge(now, "envoy_cluster_circuit_breakers_default_remaining_cx_pools", c, 9);
  });
});

describe("tls_inspector.*", () => {
  test("a ClientHello with SNI and ALPN, one without either, and plain bytes", async () => {
    const echo = await startTcpEcho();
    open.push(echo);
    const inspector = {
      name: "envoy.filters.listener.tls_inspector",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector" },
    };
    const p = await startProxy(
      bootstrap(
        [{ ...tcpListener("tls", { cluster: "echo" }), listener_filters: [inspector] }],
        [staticCluster("echo", [echo.port])],
      ),
    );
    open.push(p);
    const before = await scrape(p.adminPort);
    const send = (bytes: Buffer): Promise<void> =>
      new Promise((resolve) => {
        const s = net.connect(p.port(), "127.0.0.1");
        s.on("error", () => {});
        let got = 0;
        s.on("data", (c: Buffer) => {
          got += c.length;
          if (got >= bytes.length) s.destroy();
        });
        s.on("close", () => resolve());
        s.write(bytes);
      });
    await send(clientHello({ sni: "a.example.com", alpn: ["h2"] }));
    await send(clientHello({}));
    await send(Buffer.from("GET / HTTP/1.1\r\n\r\n"));
    const now = await settled(p);
    assertMoved(before, now, "envoy_tls_inspector_tls_found", {}, 2);
    assertMoved(before, now, "envoy_tls_inspector_tls_not_found", {}, 1);
    assertMoved(before, now, "envoy_tls_inspector_sni_found", {}, 1);
    assertMoved(before, now, "envoy_tls_inspector_sni_not_found", {}, 1);
    assertMoved(before, now, "envoy_tls_inspector_alpn_found", {}, 1);
    assertMoved(before, now, "envoy_tls_inspector_alpn_not_found", {}, 1);
  });
});

describe("tcp.<stat_prefix>.* and the clusters behind a tcp_proxy", () => {
  test("bytes both ways, upstream connection stats, idle_timeout on the clock, no route when no host is healthy", async () => {
    const clock = new ManualClock();
    const echo = await startTcpEcho();
    open.push(echo);
    const p = await startProxy(
      bootstrap(
        [tcpListener("tcp", { cluster: "echo", idle_timeout: "5s" }), tcpListener("none", { cluster: "sick" })],
        [
          staticCluster("echo", [echo.port]),
          {
            ...staticCluster("sick", [1]),
            common_lb_config: { healthy_panic_threshold: { value: 0 } },
            load_assignment: {
              cluster_name: "sick",
              endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(1) }, health_status: "UNHEALTHY" }] }],
            },
          },
        ],
      ),
      clock,
    );
    open.push(p);
    const before = await scrape(p.adminPort);
    // One session the client ends, one the idle timeout ends.
    for (const idle of [false, true]) {
      const s = net.connect(p.port("tcp"), "127.0.0.1");
      const closed = new Promise<void>((r) => s.once("close", () => r()));
      s.on("error", () => {});
      let got = "";
      s.on("data", (c: Buffer) => (got += c.toString()));
      s.write("hello");
      await waitFor(() => got === "hello");
      if (idle) clock.advance(5_000);
      else s.end();
      await closed;
    }
    const sick = net.connect(p.port("none"), "127.0.0.1");
    sick.on("error", () => {});
    await new Promise<void>((r) => sick.once("close", () => r()));
    const now = await settled(p, true);
    const t = { envoy_tcp_prefix: "tcp" };
    assertMoved(before, now, "envoy_tcp_downstream_cx_total", t, 2);
    assertMoved(before, now, "envoy_tcp_downstream_cx_rx_bytes_total", t, 10);
    assertMoved(before, now, "envoy_tcp_downstream_cx_tx_bytes_total", t, 10);
    assertMoved(before, now, "envoy_tcp_idle_timeout", t, 1);
    assertMoved(before, now, "envoy_tcp_downstream_cx_no_route", { envoy_tcp_prefix: "none" }, 1);
    assertMoved(before, now, "envoy_cluster_upstream_cx_none_healthy", cluster("sick"), 1);
    const c = cluster("echo");
    assertMoved(before, now, "envoy_cluster_upstream_cx_total", c, 2);
    assertMoved(before, now, "envoy_cluster_upstream_cx_destroy", c, 2);
    assertMoved(before, now, "envoy_cluster_upstream_cx_destroy_local", c, 2);
    assertMoved(before, now, "envoy_cluster_upstream_cx_rx_bytes_total", c, 10);
    assertMoved(before, now, "envoy_cluster_upstream_cx_tx_bytes_total", c, 10);
    assertObserved(before, now, "envoy_cluster_upstream_cx_connect_ms", c, 2);
    assertObserved(before, now, "envoy_cluster_upstream_cx_length_ms", c, 2);
  });

  test("an upstream that does not read pauses reading from the downstream, and resumes it once it drains", async () => {
    const upstreamSockets: net.Socket[] = [];
    const slow = net.createServer((s) => {
      s.pause();
      s.on("error", () => {});
      upstreamSockets.push(s);
    });
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
    open.push({ close: () => new Promise<void>((r) => slow.close(() => r())) });
    const port = (slow.address() as net.AddressInfo).port;
    const p = await startProxy(bootstrap([tcpListener("fc", { cluster: "slow" })], [staticCluster("slow", [port])]));
    open.push(p);
    const t = { envoy_tcp_prefix: "fc" };
    const before = await scrape(p.adminPort);
    const client = net.connect(p.port(), "127.0.0.1");
    client.on("error", () => {});
    const chunk = Buffer.alloc(1 << 20, 1);
    await waitFor(() => upstreamSockets.length === 1);
    // Write until the proxy stops reading (the client's own buffer then fills up too).
    let paused = before;
    for (let i = 0; i < 256; i++) {
      client.write(chunk);
      paused = await scrape(p.adminPort);
      if (valueOf(paused, "envoy_tcp_downstream_flow_control_paused_reading_total", t) > 0) break;
    }
    assertMoved(before, paused, "envoy_tcp_downstream_flow_control_paused_reading_total", t);
    upstreamSockets[0]!.resume();
    let resumed = paused;
    while (valueOf(resumed, "envoy_tcp_downstream_flow_control_resumed_reading_total", t) === 0) {
      await new Promise((r) => setTimeout(r, 5));
      resumed = await scrape(p.adminPort);
    }
    assertMoved(before, resumed, "envoy_tcp_downstream_flow_control_resumed_reading_total", t);
    client.destroy();
    upstreamSockets[0]!.destroy();
    await settled(p, true);
  });
});

/**
 * Families driven by tests in other files: [file, how that file names the stat]. Each entry is checked (the file
 * must still name it), so moving or deleting those assertions shows up here.
 */
const ELSEWHERE: Record<string, readonly [file: string, mention: string]> = {
  ...Object.fromEntries(
    [
      "cx_open",
      "cx_pool_open",
      "remaining_cx",
      "remaining_retries",
      "remaining_rq",
      "rq_retry_open",
      "rq_open",
      "rq_pending_open",
    ].map((g) => [
      `envoy_cluster_circuit_breakers_default_${g}`,
      ["src/proxy/upstream/circuit-breakers.test.ts", `circuit_breakers_default_${g}`] as const,
    ]),
  ),
  envoy_cluster_circuit_breakers_default_remaining_pending: [
    "test/circuit-breakers.test.ts",
    "circuit_breakers_default_remaining_pending",
  ],
  envoy_cluster_upstream_cx_overflow: ["test/circuit-breakers.test.ts", "upstream_cx_overflow"],
  envoy_server_unhandled_errors: ["test/last-line.test.ts", "envoy_server_unhandled_errors"],
  envoy_http2_header_overflow: ["test/h2-conformance/http-semantics.test.ts", 'stat("envoy_http2_header_overflow")'],
  envoy_http2_rx_messaging_error: [
    "test/h2-conformance/http-semantics.test.ts",
    'stat("envoy_http2_rx_messaging_error")',
  ],
  envoy_cluster_upstream_cx_pool_overflow: ["src/proxy/upstream/circuit-breakers.test.ts", "upstream_cx_pool_overflow"],
  envoy_cluster_upstream_rq_pending_active: ["test/circuit-breakers.test.ts", "upstream_rq_pending_active"],
  envoy_cluster_upstream_rq_pending_overflow: ["test/circuit-breakers.test.ts", "upstream_rq_pending_overflow"],
  envoy_cluster_upstream_rq_pending_total: ["test/circuit-breakers.test.ts", "upstream_rq_pending_total"],
  envoy_cluster_upstream_rq_retry_overflow: ["test/retries.test.ts", "upstream_rq_retry_overflow"],
  envoy_cluster_upstream_rq_per_try_timeout: ["test/retries.test.ts", "upstream_rq_per_try_timeout"],
  envoy_cluster_upstream_cx_max_requests: ["src/proxy/http1/pool.test.ts", "upstream_cx_max_requests"],
  envoy_cluster_upstream_cx_max_duration_reached: [
    "src/proxy/upstream/max-connection-duration.test.ts",
    "upstream_cx_max_duration_reached",
  ],
  envoy_cluster_health_check_network_failure: [
    "src/proxy/upstream/health/checker.test.ts",
    "stats.networkFailure.value, 1",
  ],
  ...Object.fromEntries(
    ["attempt", "success", "failure", "healthy"].map((c) => [
      `envoy_cluster_health_check_${c}`,
      ["test/health-checks.test.ts", `envoy_cluster_health_check_${c}`] as const,
    ]),
  ),
  ...Object.fromEntries(
    [
      "ejections_active",
      "ejections_overflow",
      "ejections_enforced_total",
      "ejections_total",
      ...[
        "consecutive_5xx",
        "consecutive_gateway_failure",
        "consecutive_local_origin_failure",
        "success_rate",
        "local_origin_success_rate",
        "failure_percentage",
        "local_origin_failure_percentage",
      ].flatMap((t) => [`ejections_detected_${t}`, `ejections_enforced_${t}`]),
    ].map((c) => [
      `envoy_cluster_outlier_detection_${c}`,
      ["src/proxy/upstream/outlier/detector.test.ts", `"${c}"`] as const,
    ]),
  ),
  envoy_http_cors_origin_valid: ["test/cors.test.ts", "envoy_http_cors_origin_valid"],
  envoy_http_cors_origin_invalid: ["test/cors.test.ts", "envoy_http_cors_origin_invalid"],
  envoy_http_fault_aborts_injected: ["test/fault.test.ts", "envoy_http_fault_aborts_injected"],
  envoy_http_fault_delays_injected: ["test/fault.test.ts", "envoy_http_fault_delays_injected"],
  envoy_http_fault_active_faults: ["test/fault.test.ts", "envoy_http_fault_active_faults"],
  envoy_http_fault_faults_overflow: ["test/fault.test.ts", "envoy_http_fault_faults_overflow"],
  ...Object.fromEntries(
    ["enabled", "enforced", "ok", "rate_limited"].map((c) => [
      `envoy_http_local_rate_limit_${c}`,
      ["test/local-ratelimit.test.ts", `httpStat(proxy, "${c}")`] as const,
    ]),
  ),
  envoy_local_rate_limit_rate_limited: ["test/local-ratelimit.test.ts", "envoy_local_rate_limit_rate_limited"],
  envoy_listener_downstream_pre_cx_active: ["test/tls-passthrough.test.ts", "envoy_listener_downstream_pre_cx_active"],
  envoy_listener_downstream_pre_cx_timeout: [
    "test/tls-passthrough.test.ts",
    "envoy_listener_downstream_pre_cx_timeout",
  ],
  envoy_listener_no_filter_chain_match: ["test/tls-passthrough.test.ts", "envoy_listener_no_filter_chain_match"],
  envoy_tls_inspector_client_hello_too_large: [
    "test/tls-passthrough.test.ts",
    "envoy_tls_inspector_client_hello_too_large",
  ],
};

/** A sidecar with every feature that creates stats: the HTTP filters, a tcp_proxy with a network rate limit, a
 * tls_inspector listener, a cluster with health checks, outlier detection and remaining-count circuit breakers. */
function everythingConfig(port: number): Raw {
  const filters: Raw[] = [
    {
      name: "envoy.filters.http.fault",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault" },
    },
    {
      name: "envoy.filters.http.cors",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors" },
    },
    {
      name: "envoy.filters.http.local_ratelimit",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        stat_prefix: "rl",
        token_bucket: { max_tokens: 10, fill_interval: "1s" },
      },
    },
  ];
  const tcpProxy = {
    name: "envoy.filters.network.tcp_proxy",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
      stat_prefix: "tcp",
      cluster: "app",
    },
  };
  return bootstrap(
    [
      httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
        http_filters: filters,
      }),
      {
        name: "tcp",
        address: socketAddress(0),
        filter_chains: [
          {
            filters: [
              {
                name: "envoy.filters.network.local_ratelimit",
                typed_config: {
                  "@type": "type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit",
                  stat_prefix: "net_rl",
                  token_bucket: { max_tokens: 10, fill_interval: "1s" },
                },
              },
              tcpProxy,
            ],
          },
        ],
      },
      {
        name: "tls",
        address: socketAddress(0),
        listener_filters: [
          {
            name: "envoy.filters.listener.tls_inspector",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
            },
          },
        ],
        filter_chains: [{ filters: [tcpProxy] }],
      },
    ],
    [
      {
        ...staticCluster("app", [port]),
        health_checks: [
          { timeout: "1s", interval: "60s", unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} },
        ],
        outlier_detection: { consecutive_5xx: 5 },
        circuit_breakers: { thresholds: [{ priority: "DEFAULT", track_remaining: true }] },
      },
    ],
  );
}

describe("every exported stat is driven by a test", () => {
  test("each family a fully featured sidecar prints was checked to move by a test here or by the named test elsewhere", async () => {
    const echo = await startTcpEcho();
    open.push(echo);
    const p = await startProxy(everythingConfig(echo.port));
    open.push(p);
    const printed = [...(await scrape(p.adminPort)).types.keys()];
    assert.ok(printed.length > 100, `only ${printed.length} families printed`);
    const missing: string[] = [];
    for (const family of printed) {
      if (covered.has(family)) continue;
      const elsewhere = ELSEWHERE[family];
      if (elsewhere === undefined) {
        missing.push(family);
        continue;
      }
      const [file, mention] = elsewhere;
      const source = readFileSync(new URL(`../${file}`, import.meta.url), "utf8");
      assert.ok(source.includes(mention), `${file} no longer checks ${mention} (listed for ${family})`);
    }
    assert.deepEqual(missing, [], `exported stats that no test drives: ${missing.join(" ")}`);
  });
});
