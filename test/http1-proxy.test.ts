// HTTP/1.1 through real sidecars on 127.0.0.1: the 2-hop chain, framing in both directions, keep-alive and
// pipelining, header hygiene, and every reply the proxy makes itself.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { startChain, startProxy, type RunningProxy } from "./support/proxies.ts";
import { closedPort, startEchoServer, type EchoRecord, type Upstream } from "./support/upstreams.ts";
import { rawExchange, request, statusLines } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster } from "./support/envoy-config.ts";

describe("HTTP/1.1 through two sidecars", () => {
  let upstream: Upstream;
  let chain: Awaited<ReturnType<typeof startChain>>;
  before(async () => {
    upstream = await startEchoServer("app");
    chain = await startChain(upstream.port);
  });
  after(async () => {
    await chain.close();
    await upstream.close();
  });

  test("a GET arrives with forwarding headers and a request id", async () => {
    const reply = await request(chain.port, { path: "/hello?x=1", headers: { "user-agent": "t" } });
    assert.equal(reply.status, 200);
    const seen = reply.json<EchoRecord>();
    assert.equal(seen.url, "/hello?x=1");
    assert.equal(seen.method, "GET");
    // Sidecars do not use_remote_address: as in Envoy, x-forwarded-for is appended only on listeners that do.
    assert.equal(seen.headers["x-forwarded-for"], undefined);
    assert.equal(seen.headers["x-forwarded-proto"], "http");
    assert.match(String(seen.headers["x-request-id"]), /^[0-9a-f-]{36}$/);
    assert.equal(seen.headers.host, `127.0.0.1:${chain.port}`);
    assert.ok(reply.headers["x-envoy-upstream-service-time"] !== undefined);
  });

  test("an x-request-id that is present is kept end to end", async () => {
    const reply = await request(chain.port, { headers: { "x-request-id": "keep-me-1" } });
    assert.equal(reply.json<EchoRecord>().headers["x-request-id"], "keep-me-1");
  });

  test("hop-by-hop headers, and those named in Connection, do not travel", async () => {
    const reply = await request(chain.port, {
      headers: {
        connection: "keep-alive, x-private",
        "x-private": "secret",
        "keep-alive": "timeout=5",
        "x-public": "1",
      },
    });
    const h = reply.json<EchoRecord>().headers;
    assert.equal(h["x-private"], undefined);
    assert.equal(h["keep-alive"], undefined);
    assert.equal(h["x-public"], "1");
  });

  test("POST bodies with Content-Length and chunked arrive whole", async () => {
    const body = "x".repeat(200_000);
    const a = await request(chain.port, { method: "POST", body });
    assert.equal(a.json<EchoRecord>().body.length, body.length);
    const b = await request(chain.port, { method: "POST", body: "chunked body", chunked: true });
    assert.equal(b.json<EchoRecord>().body, "chunked body");
  });

  test("keep-alive: many requests reuse one downstream connection", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    agent.on("free", (s) => sockets.add(s));
    for (let i = 0; i < 20; i++) assert.equal((await request(chain.port, { agent, path: `/k${i}` })).status, 200);
    agent.destroy();
    assert.equal(sockets.size, 1);
  });

  test("pipelined requests are answered in order", async () => {
    const reqs = [1, 2, 3, 4, 5].map((i) => `GET /p${i} HTTP/1.1\r\nHost: a\r\n\r\n`).join("");
    const raw = await rawExchange(chain.port, reqs + "GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert.deepEqual(statusLines(raw), [200, 200, 200, 200, 200, 200]);
    const order = [...raw.matchAll(/"url":"(\/[a-z0-9]+)"/g)].map((m) => m[1]);
    assert.deepEqual(order, ["/p1", "/p2", "/p3", "/p4", "/p5", "/last"]);
  });

  test("Connection: close is honoured", async () => {
    const raw = await rawExchange(chain.port, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", {
      halfClose: false,
    });
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.match(raw, /connection: close/i);
  });

  test("Expect: 100-continue gets 100 before the body is sent", async () => {
    const reply = await new Promise<{ status: number; body: string; sawContinue: boolean }>((resolve, reject) => {
      let sawContinue = false;
      const req = http.request(
        {
          host: "127.0.0.1",
          port: chain.port,
          method: "PUT",
          path: "/c",
          headers: { expect: "100-continue", "content-length": 5 },
        },
        (res) => {
          let body = "";
          res.on("data", (c) => (body += c));
          res.on("end", () => resolve({ status: res.statusCode!, body, sawContinue }));
        },
      );
      req.on("continue", () => {
        sawContinue = true;
        req.end("hello");
      });
      req.on("error", reject);
    });
    assert.equal(reply.sawContinue, true);
    assert.equal(reply.status, 200);
    assert.equal(JSON.parse(reply.body).body, "hello");
  });

  test("HTTP/1.0 requests are answered", async () => {
    const raw = await rawExchange(chain.port, "GET /old HTTP/1.0\r\nHost: a\r\n\r\n");
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.match(raw, /"url":"\/old"/);
  });

  test("a malformed request is refused with 400 and never forwarded", async () => {
    const before = upstream.received.length;
    const raw = await rawExchange(
      chain.port,
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    );
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /x-trellis-response-flags: DPE/);
    assert.equal(upstream.received.length, before);
  });
});

describe("chunked responses and streaming", () => {
  test("a chunked upstream response streams through, trailers and all", async () => {
    const upstream = await startEchoServer("chunky", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", trailer: "x-checksum" });
      res.write("part1-");
      setImmediate(() => {
        res.write("part2");
        res.addTrailers({ "x-checksum": "abc" });
        res.end();
      });
    });
    const chain = await startChain(upstream.port);
    try {
      const raw = await rawExchange(chain.port, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
      assert.match(raw, /transfer-encoding: chunked/i);
      const reply = await request(chain.port);
      assert.equal(reply.body, "part1-part2");
    } finally {
      await chain.close();
      await upstream.close();
    }
  });
});

describe("replies the proxy makes itself say why", () => {
  let proxy: RunningProxy;
  let upstream: Upstream;
  before(async () => {
    upstream = await startEchoServer("app");
    const dead = await closedPort();
    proxy = await startProxy(
      bootstrap(
        [
          httpListener("http", {
            name: "rc",
            virtual_hosts: [
              {
                name: "svc",
                domains: ["svc.local", "svc.local:8080"],
                routes: [
                  { match: { prefix: "/dead" }, route: { cluster: "dead" } },
                  { match: { prefix: "/empty" }, route: { cluster: "empty" } },
                  { match: { prefix: "/ok" }, route: { cluster: "app" } },
                ],
              },
            ],
          }),
        ],
        [
          staticCluster("app", [upstream.port]),
          staticCluster("dead", [dead]),
          {
            name: "empty",
            type: "STATIC",
            connect_timeout: "1s",
            load_assignment: { cluster_name: "empty", endpoints: [] },
          },
        ],
      ),
    );
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  test("no virtual host: 404 NR naming the authority", async () => {
    const r = await request(proxy.port(), { headers: { host: "other.local" } });
    assert.equal(r.status, 404);
    assert.equal(r.headers["x-trellis-response-flags"], "NR");
    assert.match(String(r.headers["x-trellis-details"]), /other\.local/);
  });

  test("no route in the virtual host: 404 NR naming the virtual host", async () => {
    const r = await request(proxy.port(), { headers: { host: "svc.local" }, path: "/nothing" });
    assert.equal(r.status, 404);
    assert.equal(r.headers["x-trellis-response-flags"], "NR");
    assert.match(String(r.headers["x-trellis-details"]), /svc/);
  });

  test("connect failure: 503 UF naming the cluster", async () => {
    const r = await request(proxy.port(), { headers: { host: "svc.local" }, path: "/dead" });
    assert.equal(r.status, 503);
    assert.equal(r.headers["x-trellis-response-flags"], "UF");
    assert.match(String(r.headers["x-trellis-details"]), /dead/);
  });

  test("no endpoints: 503 UH naming the cluster", async () => {
    const r = await request(proxy.port(), { headers: { host: "svc.local" }, path: "/empty" });
    assert.equal(r.status, 503);
    assert.equal(r.headers["x-trellis-response-flags"], "UH");
    assert.match(String(r.headers["x-trellis-details"]), /empty/);
  });

  test("the port in the authority is matched like Envoy: exact domain with port", async () => {
    const r = await request(proxy.port(), { headers: { host: "svc.local:8080" }, path: "/ok" });
    assert.equal(r.status, 200);
  });
});

/** A proxy in front of a raw TCP upstream that behaves as `onData` says; runs `fn` against the proxy's port. */
async function withRawUpstream(onData: (s: net.Socket) => void, fn: (port: number) => Promise<void>): Promise<void> {
  const server = net.createServer((s) => s.once("data", () => onData(s)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const proxy = await startProxy(
    bootstrap(
      [httpListener("h", allDomains([{ match: { prefix: "/" }, route: { cluster: "c" } }]))],
      [staticCluster("c", [port])],
    ),
  );
  try {
    await fn(proxy.port());
  } finally {
    await proxy.close();
    server.close();
  }
}

describe("upstream behaviour", () => {
  test("an upstream that closes without answering gives 503 UC", () =>
    withRawUpstream(
      (s) => s.destroy(),
      async (port) => {
        const r = await request(port);
        assert.equal(r.status, 503);
        assert.equal(r.headers["x-trellis-response-flags"], "UC");
      },
    ));

  test("an upstream that answers garbage gives 502 UPE", () =>
    withRawUpstream(
      (s) => s.end("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
      async (port) => {
        const r = await request(port);
        assert.equal(r.status, 502);
        assert.equal(r.headers["x-trellis-response-flags"], "UPE");
      },
    ));
});
