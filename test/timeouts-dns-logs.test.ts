// Timeouts with an injected clock (route timeout → 504 UT, request_timeout → 408, connect timeout → 503 UF),
// STRICT_DNS clusters resolving a real name, and the access log line of a request the proxy answered itself.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../src/api/clock.ts";
import { startProxy } from "./support/proxies.ts";
import { startEchoServer, type EchoRecord } from "./support/upstreams.ts";
import { rawExchange, request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster } from "./support/envoy-config.ts";
import { waitFor } from "./support/wait.ts";

describe("timeouts on an injected clock", () => {
  test("the route timeout answers 504 UT naming the route, and aborts the upstream request", async () => {
    const clock = new ManualClock();
    let upstreamClosed = false;
    const upstream = await startEchoServer("slow", (req) => {
      req.socket.once("close", () => (upstreamClosed = true));
    });
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "http",
            allDomains([{ name: "slow-route", match: { prefix: "/" }, route: { cluster: "app", timeout: "2s" } }]),
          ),
        ],
        [staticCluster("app", [upstream.port])],
      ),
      clock,
    );
    try {
      const reply = request(proxy.port());
      await waitFor(() => upstream.received.length === 1);
      clock.advance(1999);
      clock.advance(1);
      const r = await reply;
      assert.equal(r.status, 504);
      assert.equal(r.headers["x-trellis-response-flags"], "UT");
      assert.match(String(r.headers["x-trellis-details"]), /upstream_response_timeout:slow-route/);
      await waitFor(() => upstreamClosed);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  test("request_timeout: a request whose body never completes gets 408", async () => {
    const clock = new ManualClock();
    const upstream = await startEchoServer("app");
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app", timeout: "0s" } }]), {
            request_timeout: "5s",
          }),
        ],
        // A connect timeout longer than the jump of the clock, so only request_timeout can fire.
        [{ ...staticCluster("app", [upstream.port]), connect_timeout: "10s" }],
      ),
      clock,
    );
    try {
      const socket = net.connect(proxy.port(), "127.0.0.1");
      const chunks: Buffer[] = [];
      socket.on("data", (c: Buffer) => chunks.push(c));
      const closed = new Promise<void>((r) => socket.on("close", () => r()));
      socket.write("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly part");
      await waitFor(() =>
        proxy.proxy.stats.toJSON().some((s) => s.name === "envoy_http_downstream_rq_total" && s.value === 1),
      );
      clock.advance(5000);
      await closed;
      const text = Buffer.concat(chunks).toString("latin1");
      assert.match(text, /^HTTP\/1\.1 408 /);
      assert.match(text, /request_overall_timeout/);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("STRICT_DNS clusters", () => {
  test("endpoints come from resolving the name", async () => {
    const upstream = await startEchoServer("dns-app");
    const proxy = await startProxy(
      bootstrap(
        [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "by-name" } }]))],
        [
          {
            name: "by-name",
            type: "STRICT_DNS",
            dns_lookup_family: "V4_ONLY",
            connect_timeout: "1s",
            load_assignment: {
              cluster_name: "by-name",
              endpoints: [
                {
                  lb_endpoints: [
                    { endpoint: { address: { socket_address: { address: "localhost", port_value: upstream.port } } } },
                  ],
                },
              ],
            },
          },
        ],
      ),
    );
    try {
      const r = await request(proxy.port());
      assert.equal(r.status, 200);
      assert.equal(r.json<EchoRecord>().name, "dns-app");
      const clusters = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/clusters`)).text();
      assert.match(clusters, new RegExp(`by-name::127\\.0\\.0\\.1:${upstream.port}::`));
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("access log", () => {
  test("each request is one line with the response flags, route, cluster and upstream host", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-log-"));
    const path = join(dir, "access.log");
    const upstream = await startEchoServer("app");
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener("http", allDomains([{ name: "to-app", match: { prefix: "/app" }, route: { cluster: "app" } }]), {
            access_log: [
              {
                name: "envoy.access_loggers.file",
                typed_config: {
                  "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                  path,
                  log_format: {
                    text_format_source: {
                      inline_string:
                        "%RESPONSE_CODE% %RESPONSE_FLAGS% %ROUTE_NAME% %UPSTREAM_CLUSTER% %UPSTREAM_HOST% %REQ(:PATH)% %RESPONSE_CODE_DETAILS%\n",
                    },
                  },
                },
              },
            ],
          }),
        ],
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      assert.equal((await request(proxy.port(), { path: "/app/x" })).status, 200);
      assert.equal((await request(proxy.port(), { path: "/nope" })).status, 404);
      await rawExchange(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n");
      await proxy.close();
      const lines = readFileSync(path, "utf8").trim().split("\n");
      assert.equal(lines[0], `200 - to-app app 127.0.0.1:${upstream.port} /app/x via_upstream`);
      assert.match(lines[1]!, /^404 NR - - - \/nope route_not_found/);
      // A request refused by the codec is logged too, with DPE and the codec's reason.
      assert.match(lines[2]!, /^400 DPE - - - - HPE_/);
      assert.equal(lines.length, 3);
    } finally {
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("stream_idle_timeout counts response bytes as activity", () => {
  test("a response that keeps streaming is not cut by the idle timeout; one that stalls is", async () => {
    const clock = new ManualClock();
    const writers: ((s: string) => void)[] = [];
    let upstreamClosed = false;
    const upstream = await startEchoServer("stream", (req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      writers.push((s) => res.write(s));
      req.socket.once("close", () => (upstreamClosed = true));
    });
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app", timeout: "0s" } }]), {
            stream_idle_timeout: "10s",
          }),
        ],
        [{ ...staticCluster("app", [upstream.port]), connect_timeout: "100s" }],
      ),
      clock,
    );
    try {
      const socket = net.connect(proxy.port(), "127.0.0.1");
      let received = "";
      socket.on("data", (c: Buffer) => (received += c.toString("latin1")));
      const closed = new Promise<void>((r) => socket.on("close", () => r()));
      socket.write("GET /events HTTP/1.1\r\nHost: a\r\n\r\n");
      await waitFor(() => writers.length === 1);
      // Every 6 s of clock a piece arrives: 30 s in all, three times the idle timeout.
      for (let i = 0; i < 5; i++) {
        writers[0]!(`piece${i};`);
        await waitFor(() => received.includes(`piece${i};`));
        clock.advance(6000);
      }
      assert.equal(socket.destroyed, false);
      // Then it stalls: the next 10 s of silence end the stream.
      clock.advance(10_000);
      await closed;
      assert.match(received, /piece4;/);
      // The upstream request is abandoned with it.
      await waitFor(() => upstreamClosed);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("request_timeout over HTTP/2", () => {
  test("a stream whose body never completes gets 408 naming the timeout", async () => {
    const clock = new ManualClock();
    const upstream = await startEchoServer("app");
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app", timeout: "0s" } }]), {
            request_timeout: "5s",
          }),
        ],
        [{ ...staticCluster("app", [upstream.port]), connect_timeout: "10s" }],
      ),
      clock,
    );
    const session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
    try {
      const stream = session.request({ ":method": "POST", ":path": "/upload", ":authority": "a" });
      stream.write("only part");
      const response = new Promise<{ status: number; details: string }>((resolve) =>
        stream.on("response", (h) =>
          resolve({ status: Number(h[":status"]), details: String(h["x-trellis-details"]) }),
        ),
      );
      stream.on("error", () => {});
      await waitFor(
        () =>
          clock.pendingTimers > 0 &&
          proxy.proxy.stats.toJSON().some((s) => s.name === "envoy_http_downstream_rq_total" && s.value === 1),
      );
      clock.advance(4999);
      clock.advance(1);
      const r = await response;
      assert.equal(r.status, 408);
      assert.equal(r.details, "request_overall_timeout");
    } finally {
      session.destroy();
      await proxy.close();
      await upstream.close();
    }
  });
});
