// Local rate limiting end to end, on real sockets with a ManualClock: the HTTP filter (HTTP/1.1, HTTP/2, gRPC
// callers; listener-level, per-route and per-connection buckets; not-enforced mode; x-ratelimit headers; stats)
// and the network filter in front of a tcp_proxy listener.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { ManualClock } from "../src/api/clock.ts";
import { mulberry32 } from "../src/api/random.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, startTcpEcho, type Upstream } from "./support/upstreams.ts";
import { h2request, request, type Reply } from "./support/clients.ts";
import { bootstrap, httpListener, socketAddress, staticCluster, type Raw } from "./support/envoy-config.ts";

const HTTP_TYPE = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
const NETWORK_TYPE = "type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit";
const ALL = { default_value: { numerator: 100, denominator: "HUNDRED" }, runtime_key: "rl_on" };
const NONE = { default_value: { numerator: 0, denominator: "HUNDRED" } };

function limit(bucket: Raw, extra: Raw = {}): Raw {
  return {
    "@type": HTTP_TYPE,
    stat_prefix: "rl",
    token_bucket: bucket,
    filter_enabled: ALL,
    filter_enforced: ALL,
    response_headers_to_add: [
      { append_action: "OVERWRITE_IF_EXISTS_OR_ADD", header: { key: "x-local-rate-limit", value: "true" } },
    ],
    ...extra,
  };
}

/** One listener with the HTTP filter; routes /limited (own bucket of 1), /free (disabled), / (listener's bucket). */
function httpConfig(upstreamPort: number, filter: Raw): Raw {
  return bootstrap(
    [
      httpListener(
        "in",
        {
          name: "local",
          virtual_hosts: [
            {
              name: "all",
              domains: ["*"],
              routes: [
                {
                  name: "limited-route",
                  match: { prefix: "/limited" },
                  route: { cluster: "up" },
                  typed_per_filter_config: {
                    "envoy.filters.http.local_ratelimit": limit(
                      { max_tokens: 1, fill_interval: "60s" },
                      { stat_prefix: "route_rl" },
                    ),
                  },
                },
                {
                  name: "free-route",
                  match: { prefix: "/free" },
                  route: { cluster: "up" },
                  typed_per_filter_config: {
                    "envoy.filters.http.local_ratelimit": {
                      "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
                      disabled: true,
                    },
                  },
                },
                { name: "default-route", match: { prefix: "/" }, route: { cluster: "up" } },
              ],
            },
          ],
        },
        { http_filters: [{ name: "envoy.filters.http.local_ratelimit", typed_config: filter }] },
      ),
    ],
    [staticCluster("up", [upstreamPort])],
  );
}

function counter(p: RunningProxy, name: string, labels: Record<string, string>): number {
  const found = p.proxy.stats
    .toJSON()
    .find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found?.value ?? 0;
}

const httpStat = (p: RunningProxy, name: string, prefix = "rl"): number =>
  counter(p, `envoy_http_local_rate_limit_${name}`, { envoy_local_http_ratelimit_prefix: prefix });

async function statuses(n: number, send: () => Promise<{ status: number }>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await send()).status);
  return out;
}

const repeat = (value: number, n: number): number[] => Array.from({ length: n }, () => value);

describe("envoy.filters.http.local_ratelimit over HTTP/1.1", () => {
  let up: Upstream;
  let clock: ManualClock;
  let proxy: RunningProxy;
  before(async () => {
    up = await startEchoServer("up");
    clock = new ManualClock();
    proxy = await startProxy(
      httpConfig(up.port, limit({ max_tokens: 3, tokens_per_fill: 2, fill_interval: "1s" })),
      clock,
    );
  });
  after(async () => {
    await proxy.close();
    await up.close();
  });

  test("max_tokens requests pass, then 429 with RL, details and the configured headers; a fill admits exactly tokens_per_fill more", async () => {
    const get = (): Promise<Reply> => request(proxy.port(), { path: "/x" });
    const upstreamBefore = up.received.length;
    assert.deepEqual(await statuses(3, get), [200, 200, 200]);
    const limited = await get();
    assert.equal(limited.status, 429);
    assert.equal(limited.headers["x-trellis-response-flags"], "RL");
    assert.equal(limited.headers["x-trellis-details"], "local_rate_limited:default-route");
    assert.equal(limited.headers["x-local-rate-limit"], "true");
    // As Envoy's: x-envoy-ratelimited, the body "local_rate_limited", text/plain.
    assert.equal(limited.headers["x-envoy-ratelimited"], "true");
    assert.equal(limited.body, "local_rate_limited");
    assert.equal(limited.headers["content-type"], "text/plain");
    assert.equal(up.received.length, upstreamBefore + 3, "the limited request never reached the upstream");

    clock.advance(999);
    assert.equal((await get()).status, 429);
    clock.advance(1);
    assert.deepEqual(await statuses(3, get), [200, 200, 429]);
    clock.advance(10_000); // many fills, capped at max_tokens
    assert.deepEqual(await statuses(4, get), [200, 200, 200, 429]);

    assert.equal(httpStat(proxy, "enabled"), 12);
    assert.equal(httpStat(proxy, "ok"), 8);
    assert.equal(httpStat(proxy, "rate_limited"), 4);
    assert.equal(httpStat(proxy, "enforced"), 4);
  });

  test("a per-route override has its own bucket; routes without one keep the listener's; disabled routes are never limited", async () => {
    const okBefore = httpStat(proxy, "ok");
    assert.deepEqual(await statuses(2, () => request(proxy.port(), { path: "/limited" })), [200, 429]);
    const limited = await request(proxy.port(), { path: "/limited/y" });
    assert.equal(limited.headers["x-trellis-details"], "local_rate_limited:limited-route");
    assert.equal(httpStat(proxy, "ok", "route_rl"), 1);
    assert.equal(httpStat(proxy, "enforced", "route_rl"), 2);
    assert.equal(httpStat(proxy, "ok"), okBefore, "the listener's bucket was not touched");
    assert.deepEqual(await statuses(10, () => request(proxy.port(), { path: "/free" })), repeat(200, 10));
  });

  test("the Envoy-style /stats names", async () => {
    const admin = await request(proxy.adminPort, { path: "/stats" });
    assert.match(admin.body, /^rl\.http_local_rate_limit\.enforced: \d+$/m);
    assert.match(admin.body, /^route_rl\.http_local_rate_limit\.ok: 1$/m);
  });
});

describe("local_ratelimit options", () => {
  let up: Upstream;
  const proxies: RunningProxy[] = [];
  before(async () => {
    up = await startEchoServer("up");
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await up.close();
  });
  const start = async (filter: Raw, clock = new ManualClock()): Promise<RunningProxy> => {
    const p = await startProxy(httpConfig(up.port, filter), clock, mulberry32(7));
    proxies.push(p);
    return p;
  };

  test("filter_enforced 0 %: everything passes, the excess is counted and marked with a request header", async () => {
    const p = await start(
      limit(
        { max_tokens: 2, fill_interval: "1s" },
        {
          filter_enforced: NONE,
          request_headers_to_add_when_not_enforced: [{ header: { key: "x-rate-limited", value: "would-be" } }],
        },
      ),
    );
    const replies: Reply[] = [];
    for (let i = 0; i < 5; i++) replies.push(await request(p.port(), { path: "/" }));
    assert.deepEqual(
      replies.map((r) => r.status),
      repeat(200, 5),
    );
    const marks = replies.map((r) => r.json<{ headers: Record<string, string> }>().headers["x-rate-limited"]);
    assert.deepEqual(marks, [undefined, undefined, "would-be", "would-be", "would-be"]);
    assert.equal(httpStat(p, "rate_limited"), 3);
    assert.equal(httpStat(p, "enforced"), 0);
    assert.equal(httpStat(p, "ok"), 2);
  });

  test("filter_enabled absent (0 %, as in Envoy): the filter does nothing and counts nothing", async () => {
    const raw = limit({ max_tokens: 1, fill_interval: "1s" });
    delete raw.filter_enabled;
    const p = await start(raw);
    assert.deepEqual(await statuses(3, () => request(p.port(), { path: "/" })), [200, 200, 200]);
    assert.equal(httpStat(p, "enabled"), 0);
  });

  test("local_rate_limit_per_downstream_connection: each connection has its own bucket", async () => {
    const p = await start(
      limit({ max_tokens: 2, fill_interval: "1s" }, { local_rate_limit_per_downstream_connection: true }),
    );
    const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const b = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      assert.deepEqual(await statuses(3, () => request(p.port(), { path: "/", agent: a })), [200, 200, 429]);
      assert.deepEqual(await statuses(3, () => request(p.port(), { path: "/", agent: b })), [200, 200, 429]);
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  test("enable_x_ratelimit_headers: limit, remaining and reset on forwarded and limited responses", async () => {
    const clock = new ManualClock();
    const p = await start(
      limit({ max_tokens: 2, fill_interval: "60s" }, { enable_x_ratelimit_headers: "DRAFT_VERSION_03" }),
      clock,
    );
    const seen = async (): Promise<string[]> => {
      const r = await request(p.port(), { path: "/" });
      return [
        String(r.status),
        String(r.headers["x-ratelimit-limit"]),
        String(r.headers["x-ratelimit-remaining"]),
        String(r.headers["x-ratelimit-reset"]),
      ];
    };
    assert.deepEqual(await seen(), ["200", "2", "1", "60"]);
    clock.advance(15_000);
    assert.deepEqual(await seen(), ["200", "2", "0", "45"]);
    assert.deepEqual(await seen(), ["429", "2", "0", "45"]);
  });

  test("HTTP/2: exactly max_tokens streams pass, then 429 with RL", async () => {
    const p = await start(limit({ max_tokens: 3, fill_interval: "1s" }));
    const session = http2.connect(`http://127.0.0.1:${p.port()}`);
    try {
      const get = () => h2request(session, { ":method": "GET", ":path": "/h2" });
      assert.deepEqual(await statuses(3, get), [200, 200, 200]);
      const limited = await get();
      assert.equal(limited.status, 429);
      assert.equal(limited.headers["x-trellis-response-flags"], "RL");
      assert.equal(limited.headers["x-local-rate-limit"], "true");
    } finally {
      session.close();
    }
  });

  test("gRPC callers get a gRPC status: UNAVAILABLE by default, RESOURCE_EXHAUSTED when asked", async () => {
    const grpcCall = (port: number) => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      return h2request(session, {
        ":method": "POST",
        ":path": "/pkg.Svc/Call",
        "content-type": "application/grpc",
        te: "trailers",
      }).finally(() => session.close());
    };
    for (const [extra, code] of [
      [{}, "14"],
      [{ rate_limited_as_resource_exhausted: true }, "8"],
    ] as const) {
      const p = await start(limit({ max_tokens: 1, fill_interval: "1s" }, extra));
      assert.equal((await request(p.port(), { path: "/" })).status, 200); // takes the only token
      const reply = await grpcCall(p.port());
      assert.equal(reply.status, 200);
      assert.equal(reply.headers["grpc-status"], code);
      assert.equal(reply.headers["x-trellis-response-flags"], "RL");
      assert.equal(reply.headers["x-local-rate-limit"], "true");
    }
  });

  test("no token_bucket at the listener: only routes with their own limit are limited", async () => {
    const raw = limit({});
    delete raw.token_bucket;
    const p = await start(raw);
    assert.deepEqual(await statuses(5, () => request(p.port(), { path: "/" })), repeat(200, 5));
    assert.deepEqual(await statuses(2, () => request(p.port(), { path: "/limited" })), [200, 429]);
  });
});

describe("envoy.filters.network.local_ratelimit", () => {
  let echo: { port: number; close(): Promise<void> };
  let clock: ManualClock;
  let proxy: RunningProxy;
  const open: net.Socket[] = [];
  before(async () => {
    echo = await startTcpEcho();
    clock = new ManualClock();
    const listener: Raw = {
      name: "tcp",
      address: socketAddress(0),
      filter_chains: [
        {
          filters: [
            {
              name: "envoy.filters.network.local_ratelimit",
              typed_config: {
                "@type": NETWORK_TYPE,
                stat_prefix: "conn_rl",
                token_bucket: { max_tokens: 2, tokens_per_fill: 1, fill_interval: "1s" },
                runtime_enabled: { default_value: true, runtime_key: "conn_rl_on" },
              },
            },
            {
              name: "envoy.filters.network.tcp_proxy",
              typed_config: {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                stat_prefix: "tcp",
                cluster: "echo",
              },
            },
          ],
        },
      ],
    };
    proxy = await startProxy(bootstrap([listener], [staticCluster("echo", [echo.port])]), clock);
  });
  after(async () => {
    for (const s of open) s.destroy();
    await proxy.close();
    await echo.close();
  });

  /** "echoed" when the connection carried bytes both ways, "closed" when the proxy closed it without a byte. */
  const attempt = (): Promise<"echoed" | "closed"> =>
    new Promise((resolve, reject) => {
      const socket = net.connect(proxy.port(), "127.0.0.1");
      open.push(socket);
      socket.on("data", (d: Buffer) => {
        if (d.toString() === "ping") resolve("echoed");
      });
      socket.on("error", (err: NodeJS.ErrnoException) =>
        err.code === "ECONNRESET" || err.code === "EPIPE" ? resolve("closed") : reject(err),
      );
      socket.on("close", () => resolve("closed"));
      socket.on("connect", () => socket.write("ping"));
    });

  test("admits exactly max_tokens connections, closes the next at once, and refills with the clock", async () => {
    assert.deepEqual([await attempt(), await attempt(), await attempt()], ["echoed", "echoed", "closed"]);
    const rateLimited = (): number =>
      counter(proxy, "envoy_local_rate_limit_rate_limited", { envoy_local_network_ratelimit_prefix: "conn_rl" });
    assert.equal(rateLimited(), 1);
    clock.advance(1000);
    assert.deepEqual([await attempt(), await attempt()], ["echoed", "closed"]);
    assert.equal(rateLimited(), 2);
    const admin = await request(proxy.adminPort, { path: "/stats" });
    assert.match(admin.body, /^local_rate_limit\.conn_rl\.rate_limited: 2$/m);
  });
});
