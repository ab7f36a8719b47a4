// Issue 9, the upstream side: nothing an upstream (or a client) sends may leave a pooled connection in a state the
// next request would misread, nor turn a pooled connection into somebody's tunnel. Hand-written upstream bytes on
// a raw net server; what each request gets, and on which upstream connection, is checked exactly.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { rawExchange, request } from "./support/clients.ts";
import { allDomains, bootstrap, HTTP2_UPSTREAM, httpListener, staticCluster } from "./support/envoy-config.ts";
import { waitFor } from "./support/wait.ts";
import { startScriptedUpstream, type ScriptedRequest, type ScriptedUpstream } from "./support/scripted-upstream.ts";

const OK_B = "HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nfor-b-1";
const SMUGGLED = "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecret";

/** A proxy in front of `upstream` with one catch-all route to it. */
async function proxyTo(upstream: ScriptedUpstream, hcmExtra = {}): Promise<RunningProxy> {
  return startProxy(
    bootstrap(
      [httpListener("in", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), hcmExtra)],
      [staticCluster("app", [upstream.port])],
    ),
  );
}

describe("bytes after a complete upstream response never become the next response", () => {
  // Each case: the first response, then (in the same write) an unsolicited second one.
  const cases: { name: string; method: string; first: string }[] = [
    { name: "after a Content-Length body", method: "GET", first: "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na" },
    {
      name: "after a chunked body",
      method: "GET",
      first: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
    },
    { name: "after a 204 (which has no body)", method: "GET", first: "HTTP/1.1 204 No Content\r\n\r\n" },
    {
      name: "after a 304 that carries a body",
      method: "GET",
      first: "HTTP/1.1 304 Not Modified\r\ncontent-length: 3\r\n\r\nxyz",
    },
    {
      name: "after a response to HEAD that carries a body",
      method: "HEAD",
      first: "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nxyz",
    },
    {
      name: "after a 1xx and the final response",
      method: "GET",
      first: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na",
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const upstream = await startScriptedUpstream((req: ScriptedRequest) =>
        req.target === "/a" ? c.first + SMUGGLED : OK_B,
      );
      const proxy = await proxyTo(upstream);
      try {
        // Two pipelined requests in one write: the second is read while the first's response completes.
        const raw = await rawExchange(
          proxy.port(),
          `${c.method} /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n`,
        );
        assert.doesNotMatch(raw, /secret/);
        assert.match(raw, /for-b-1/);
        const b = upstream.received.find((r) => r.target === "/b");
        assert.ok(b, "the upstream received /b");
        // The connection that carried the extra bytes was closed: /b went on a new one.
        assert.equal(b.connection, 1);
      } finally {
        await proxy.close();
        await upstream.close();
      }
    });
  }

  test("a response read until the upstream closes: its bytes are its body, and the next request opens anew", async () => {
    const upstream = await startScriptedUpstream((req, socket) => {
      if (req.target !== "/a") return OK_B;
      socket.end("HTTP/1.1 200 OK\r\n\r\nuntil-close" + SMUGGLED);
      return undefined;
    });
    const proxy = await proxyTo(upstream);
    try {
      const raw = await rawExchange(
        proxy.port(),
        "GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n",
      );
      // What followed the head was the body of /a (the upstream said so by closing), never an answer to /b.
      assert.match(raw, /until-close/);
      assert.match(raw, /for-b-1/);
      assert.equal(upstream.received.find((r) => r.target === "/b")!.connection, 1);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  test("an early response to a request whose body is still being sent closes the connection", async () => {
    const upstream = await startScriptedUpstream(
      (req) => (req.target === "/b" ? OK_B : undefined),
      (head) =>
        head.startsWith("POST /a ") ? "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nearly" + SMUGGLED : undefined,
    );
    const proxy = await proxyTo(upstream);
    try {
      // Half of the body is sent, and the client stays: the upstream answers /a before it has all of it.
      const client = net.connect(proxy.port(), "127.0.0.1");
      let got = "";
      client.on("data", (d: Buffer) => (got += d.toString("latin1")));
      client.on("error", () => {});
      client.write("POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n12345");
      await waitFor(() => got.includes("early"));
      const next = await request(proxy.port(), { path: "/b" });
      assert.equal(next.body, "for-b-1");
      assert.equal(upstream.received.find((r) => r.target === "/b")!.connection, 1);
      client.destroy();
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("a 101 is relayed only to a request that asked for that upgrade", () => {
  let upstream: ScriptedUpstream;
  let proxy: RunningProxy;
  before(async () => {
    upstream = await startScriptedUpstream((req) =>
      req.target === "/switch" || req.target === "/ws"
        ? "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: evil\r\n\r\ntunnel-bytes"
        : OK_B,
    );
    proxy = await proxyTo(upstream, { upgrade_configs: [{ upgrade_type: "websocket" }] });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  test("an unasked-for 101 is a 502 UPE and its connection is closed, not pooled", async () => {
    const r = await request(proxy.port(), { path: "/switch" });
    assert.equal(r.status, 502);
    assert.equal(r.headers["x-trellis-response-flags"], "UPE");
    const next = await request(proxy.port(), { path: "/b" });
    assert.equal(next.status, 200);
    assert.equal(next.body, "for-b-1");
    const b = upstream.received.find((x) => x.target === "/b")!;
    assert.notEqual(b.connection, upstream.received.find((x) => x.target === "/switch")!.connection);
  });

  test("a 101 to another protocol than the one asked for is a 502 UPE", async () => {
    const raw = await rawExchange(
      proxy.port(),
      "GET /ws HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n",
    );
    assert.match(raw, /^HTTP\/1\.1 502 /);
    assert.match(raw, /x-trellis-response-flags: UPE\r\n/);
    assert.doesNotMatch(raw, /tunnel-bytes/);
  });
});

describe("an upgrade a route does not allow is refused with 403 whatever the route does", () => {
  let upstream: ScriptedUpstream;
  let proxy: RunningProxy;
  before(async () => {
    upstream = await startScriptedUpstream(() => OK_B);
    proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains([
              { match: { prefix: "/direct" }, direct_response: { status: 200, body: { inline_string: "direct" } } },
              { match: { prefix: "/redirect" }, redirect: { path_redirect: "/elsewhere" } },
              { match: { prefix: "/" }, route: { cluster: "app" } },
            ]),
          ),
        ],
        [staticCluster("app", [upstream.port])],
      ),
    );
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  const upgradeHeaders = { connection: "upgrade", upgrade: "websocket" };
  for (const path of ["/direct", "/redirect", "/cluster"]) {
    test(`on a ${path.slice(1)} route`, async () => {
      const r = await request(proxy.port(), { path, headers: upgradeHeaders });
      assert.equal(r.status, 403);
      assert.equal(r.headers["x-trellis-response-flags"], "UPG");
      assert.match(String(r.headers["x-trellis-details"]), /^upgrade_failed/);
    });
  }

  test("the same routes answer requests that ask no upgrade", async () => {
    assert.equal((await request(proxy.port(), { path: "/direct" })).body, "direct");
    assert.equal((await request(proxy.port(), { path: "/redirect" })).status, 301);
    assert.equal(upstream.received.length, 0);
  });
});

describe("CONNECT without upgrade_configs is refused, never forwarded", () => {
  let upstream: ScriptedUpstream;
  let proxy: RunningProxy;
  before(async () => {
    // The upstream would accept the CONNECT and turn its connection into a tunnel.
    upstream = await startScriptedUpstream((req) => (req.method === "CONNECT" ? "HTTP/1.1 200 OK\r\n\r\n" : OK_B));
    proxy = await startProxy(
      bootstrap(
        [httpListener("in", allDomains([{ match: { safe_regex: { regex: ".*" } }, route: { cluster: "app" } }]))],
        [staticCluster("app", [upstream.port])],
      ),
    );
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  test("HTTP/1.1 CONNECT on a route whose match accepts it: 403, and the next client is served apart", async () => {
    const raw = await rawExchange(
      proxy.port(),
      "CONNECT victim.example:443 HTTP/1.1\r\nhost: victim.example:443\r\n\r\n",
    );
    assert.match(raw, /^HTTP\/1\.1 403 /);
    assert.match(raw, /x-trellis-response-flags: UPG\r\n/);
    const next = await request(proxy.port(), { path: "/b", headers: { cookie: "session=victim" } });
    assert.equal(next.body, "for-b-1");
    assert.deepEqual(
      upstream.received.map((r) => r.method),
      ["GET"],
    );
  });

  test("HTTP/2 CONNECT: 403", async () => {
    const session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const s = session.request({ ":method": "CONNECT", ":authority": "victim.example:443" });
        s.on("response", (h) => resolve(Number(h[":status"])));
        s.on("error", reject);
      });
      assert.equal(status, 403);
      assert.equal(upstream.received.filter((r) => r.method === "CONNECT").length, 0);
    } finally {
      session.close();
    }
  });
});

describe("a request the HTTP/2 upstream cannot encode is the client's error, never the endpoint's", () => {
  test("400 DPE; no ejection, no endpoint error, no retry, the shared session lives on", async () => {
    // Three healthy h2c upstreams that count their sessions; /slow is held until released.
    const servers: { port: number; sessions: number; streams: number; close(): Promise<void> }[] = [];
    const held: http2.ServerHttp2Stream[] = [];
    for (let i = 0; i < 3; i++) {
      const server = http2.createServer();
      const s = { port: 0, sessions: 0, streams: 0, close: () => new Promise<void>((r) => server.close(() => r())) };
      server.on("session", (session) => {
        s.sessions++;
        const close = s.close;
        s.close = () => {
          session.destroy();
          return close();
        };
      });
      server.on("stream", (stream, headers) => {
        s.streams++;
        if (headers[":path"] === "/slow") {
          held.push(stream);
          return;
        }
        stream.respond({ ":status": 200 });
        stream.end(`from-${i}`);
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      s.port = (server.address() as net.AddressInfo).port;
      servers.push(s);
    }
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains([
              {
                match: { prefix: "/" },
                route: { cluster: "app", retry_policy: { retry_on: "reset,5xx,connect-failure", num_retries: 3 } },
              },
            ]),
          ),
        ],
        [
          staticCluster(
            "app",
            servers.map((s) => s.port),
            {
              ...HTTP2_UPSTREAM,
              outlier_detection: {
                consecutive_5xx: 2,
                consecutive_local_origin_failure: 2,
                interval: "60s",
                base_ejection_time: "300s",
                max_ejection_percent: 100,
              },
            },
          ),
        ],
      ),
    );
    try {
      // One good request per endpoint first: each endpoint's session is up, and one stream stays open on each.
      const slow = [0, 1, 2].map(() => request(proxy.port(), { path: "/slow" }));
      await waitFor(() => held.length === 3);
      const bad = [
        "content-type: text/plain\r\ncontent-type: text/html\r\n",
        "authorization: a\r\nauthorization: b\r\n",
        "user-agent: a\r\nuser-agent: b\r\n",
      ];
      for (let i = 0; i < 12; i++) {
        const raw = await rawExchange(proxy.port(), `GET /bad HTTP/1.1\r\nhost: x\r\n${bad[i % bad.length]}\r\n`);
        assert.match(raw, /^HTTP\/1\.1 400 /, raw);
        assert.match(raw, /x-trellis-response-flags: DPE\r\n/);
      }
      // The held streams, on the sessions the bad requests would have used, still complete.
      for (const stream of held) stream.respond({ ":status": 200 }, { endStream: true });
      for (const r of await Promise.all(slow)) assert.equal(r.status, 200);
      for (let i = 0; i < 6; i++) assert.equal((await request(proxy.port(), { path: "/ok" })).status, 200);
      assert.deepEqual(
        servers.map((s) => s.sessions),
        [1, 1, 1],
      );
      // Only the good requests reached an upstream: 3 slow + 6.
      assert.equal(
        servers.reduce((n, s) => n + s.streams, 0),
        9,
      );
      const clusters = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/clusters`)).text();
      assert.doesNotMatch(clusters, /failed_outlier_check/);
      assert.match(clusters, /app::127\.0\.0\.1:\d+::rq_error::0\n(.|\n)*::rq_error::0\n(.|\n)*::rq_error::0\n/);
      assert.doesNotMatch(clusters, /::rq_error::[1-9]/);
      const prom = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/stats/prometheus`)).text();
      assert.match(prom, /envoy_cluster_upstream_rq_retry\{envoy_cluster_name="app"\} 0\n/);
    } finally {
      await proxy.close();
      for (const s of servers) await s.close();
    }
  });
});

/**
 * One upstream for both kinds of request: a CONNECT is answered `connectAnswer` and, on 200, its connection echoes
 * every later byte back ("echo:" first); anything else gets OK_B. Records each request's line and connection.
 */
async function startConnectUpstream(connectAnswer = "HTTP/1.1 200 OK\r\n\r\n"): Promise<{
  port: number;
  seen: { line: string; connection: number }[];
  close(): Promise<void>;
}> {
  const seen: { line: string; connection: number }[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((s) => {
    const connection = connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    let tunnel = false;
    let bytes = "";
    s.on("data", (c: Buffer) => {
      if (tunnel) {
        s.write("echo:" + c.toString("latin1"));
        return;
      }
      bytes += c.toString("latin1");
      let end;
      while ((end = bytes.indexOf("\r\n\r\n")) >= 0) {
        const line = bytes.slice(0, bytes.indexOf("\r\n"));
        bytes = bytes.slice(end + 4);
        seen.push({ line, connection });
        if (!line.startsWith("CONNECT ")) {
          s.write(OK_B);
          continue;
        }
        s.write(connectAnswer);
        if (!connectAnswer.startsWith("HTTP/1.1 200")) return;
        tunnel = true;
        if (bytes !== "") s.write("echo:" + bytes);
        return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A client socket that collects what it receives. */
async function openClient(
  port: number,
): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> {
  const socket = net.connect(port, "127.0.0.1");
  let got = "";
  socket.on("data", (d: Buffer) => (got += d.toString("latin1")));
  socket.on("error", () => {});
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  await new Promise<void>((r) => socket.once("connect", r));
  return { socket, received: () => got, closed };
}

describe("CONNECT where upgrade_configs allows it and a connect_matcher route takes it", () => {
  const CONNECT = "CONNECT db.internal:5432 HTTP/1.1\r\nhost: db.internal:5432\r\n\r\n";
  const routes = (routeExtra = {}) =>
    allDomains([
      { match: { connect_matcher: {} }, route: { cluster: "app", ...routeExtra } },
      { match: { prefix: "/" }, route: { cluster: "app" } },
    ]);

  test("is proxied upstream as a CONNECT; the 200 makes a tunnel on a connection no other request gets", async () => {
    const upstream = await startConnectUpstream();
    const proxy = await startProxy(
      bootstrap(
        [httpListener("in", routes(), { upgrade_configs: [{ upgrade_type: "CONNECT" }] })],
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      const c = await openClient(proxy.port());
      c.socket.write(CONNECT);
      await waitFor(() => c.received().includes("\r\n\r\n"));
      assert.match(c.received(), /^HTTP\/1\.1 200 OK\r\n/);
      assert.doesNotMatch(c.received(), /content-length|transfer-encoding/i);
      c.socket.write("ping");
      await waitFor(() => c.received().endsWith("echo:ping"));
      // Another client, same cluster: its request reaches the upstream as a request, on another connection.
      const other = await request(proxy.port(), { path: "/b", headers: { cookie: "session=victim" } });
      assert.equal(other.body, "for-b-1");
      assert.deepEqual(upstream.seen, [
        { line: "CONNECT db.internal:5432 HTTP/1.1", connection: 0 },
        { line: "GET /b HTTP/1.1", connection: 1 },
      ]);
      // The tunnel still carries only its own bytes.
      c.socket.write("pong");
      await waitFor(() => c.received().endsWith("echo:pong"));
      assert.doesNotMatch(c.received(), /victim|GET \/b/);
      c.socket.destroy();
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  test("a CONNECT the upstream refuses is relayed, and neither connection is reused", async () => {
    const upstream = await startConnectUpstream("HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\n\r\nno");
    const proxy = await startProxy(
      bootstrap(
        [httpListener("in", routes(), { upgrade_configs: [{ upgrade_type: "CONNECT" }] })],
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      const raw = await rawExchange(proxy.port(), CONNECT + "GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n", {
        halfClose: false,
      });
      assert.match(raw, /^HTTP\/1\.1 403 Forbidden\r\n/);
      // The bytes after the CONNECT were the tunnel's, not a request: the downstream connection closed instead.
      assert.equal((raw.match(/HTTP\/1\.1 /g) ?? []).length, 1);
      const next = await request(proxy.port(), { path: "/b" });
      assert.equal(next.body, "for-b-1");
      assert.deepEqual(
        upstream.seen.map((s) => s.connection),
        [0, 1],
      );
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  test("a CONNECT framed with a body is refused with 400 and never forwarded", async () => {
    const upstream = await startConnectUpstream();
    const proxy = await startProxy(
      bootstrap(
        [httpListener("in", routes(), { upgrade_configs: [{ upgrade_type: "CONNECT" }] })],
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      for (const framing of ["content-length: 5", "transfer-encoding: chunked"]) {
        const raw = await rawExchange(
          proxy.port(),
          `CONNECT db.internal:5432 HTTP/1.1\r\nhost: db.internal:5432\r\n${framing}\r\n\r\nhello`,
        );
        assert.match(raw, /^HTTP\/1\.1 400 /, framing);
        assert.match(raw, /x-trellis-response-flags: DPE\r\n/);
      }
      assert.equal(upstream.seen.length, 0);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  test("a route's upgrade_configs can allow CONNECT; a CONNECT no connect_matcher route takes is 404 NR", async () => {
    const upstream = await startConnectUpstream();
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener("in", routes({ upgrade_configs: [{ upgrade_type: "CONNECT" }] })),
          httpListener("no-connect-route", allDomains([{ match: { prefix: "" }, route: { cluster: "app" } }]), {
            upgrade_configs: [{ upgrade_type: "CONNECT" }],
          }),
        ],
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      const c = await openClient(proxy.port("in"));
      c.socket.write(CONNECT + "hello");
      await waitFor(() => c.received().endsWith("echo:hello"));
      assert.match(c.received(), /^HTTP\/1\.1 200 OK\r\n/);
      c.socket.destroy();
      const raw = await rawExchange(proxy.port("no-connect-route"), CONNECT);
      assert.match(raw, /^HTTP\/1\.1 404 /);
      assert.match(raw, /x-trellis-response-flags: NR\r\n/);
      assert.equal(upstream.seen.length, 1);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("upgrades that do not happen leave no connection behind", () => {
  test("a WebSocket upgrade answered 200 instead of 101: relayed, and its upstream connection is not reused", async () => {
    const upstream = await startScriptedUpstream(() => OK_B);
    const proxy = await proxyTo(upstream, { upgrade_configs: [{ upgrade_type: "websocket" }] });
    try {
      const raw = await rawExchange(
        proxy.port(),
        "GET /ws HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\nframe-bytes",
        { halfClose: false },
      );
      assert.match(raw, /^HTTP\/1\.1 200 OK\r\n[^]*for-b-1$/);
      const next = await request(proxy.port(), { path: "/b" });
      assert.equal(next.body, "for-b-1");
      assert.deepEqual(
        upstream.received.map((r) => [r.target, r.connection]),
        [
          ["/ws", 0],
          ["/b", 1],
        ],
      );
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  test("a CONNECT routed to an HTTP/2 cluster: 400 DPE, nothing sent, nobody blamed", async () => {
    let streams = 0;
    const server = http2.createServer();
    server.on("stream", (stream) => {
      streams++;
      stream.respond({ ":status": 200 });
      stream.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener("in", allDomains([{ match: { connect_matcher: {} }, route: { cluster: "h2" } }]), {
            upgrade_configs: [{ upgrade_type: "CONNECT" }],
          }),
        ],
        [staticCluster("h2", [port], HTTP2_UPSTREAM)],
      ),
    );
    try {
      const raw = await rawExchange(proxy.port(), "CONNECT db:5432 HTTP/1.1\r\nhost: db:5432\r\n\r\n");
      assert.match(raw, /^HTTP\/1\.1 400 /);
      assert.match(raw, /x-trellis-response-flags: DPE\r\n/);
      assert.match(raw, /x-trellis-details: request_not_encodable:/);
      assert.equal(streams, 0);
      const clusters = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/clusters`)).text();
      assert.match(clusters, /::rq_error::0\n/);
      assert.match(clusters, /::rq_total::0\n/);
    } finally {
      await proxy.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe("mirrors", () => {
  test("a mirror the HTTP/2 shadow cannot encode counts nothing against the shadow endpoint", async () => {
    const primary = await startScriptedUpstream(() => OK_B);
    let shadowStreams = 0;
    const shadow = http2.createServer();
    shadow.on("stream", (stream) => {
      shadowStreams++;
      stream.respond({ ":status": 200 });
      stream.end();
    });
    await new Promise<void>((r) => shadow.listen(0, "127.0.0.1", r));
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains([
              { match: { prefix: "/" }, route: { cluster: "app", request_mirror_policies: [{ cluster: "shadow" }] } },
            ]),
          ),
        ],
        [
          staticCluster("app", [primary.port]),
          staticCluster("shadow", [(shadow.address() as net.AddressInfo).port], HTTP2_UPSTREAM),
        ],
      ),
    );
    try {
      // HTTP/1.1 carries two content-type fields; node:http2 will not.
      const raw = await rawExchange(
        proxy.port(),
        "GET /b HTTP/1.1\r\nhost: x\r\ncontent-type: a/b\r\ncontent-type: c/d\r\n\r\n",
      );
      assert.match(raw, /for-b-1/);
      const clusters = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/clusters`)).text();
      assert.match(clusters, /^shadow::127\.0\.0\.1:\d+::rq_error::0$/m);
      assert.match(clusters, /^shadow::127\.0\.0\.1:\d+::rq_total::0$/m);
      assert.equal(shadowStreams, 0);
    } finally {
      await proxy.close();
      await primary.close();
      await new Promise<void>((r) => shadow.close(() => r()));
    }
  });

  test("an upgrade or a CONNECT is not mirrored", async () => {
    const upstream = await startConnectUpstream();
    const shadow = await startConnectUpstream();
    const mirror = { request_mirror_policies: [{ cluster: "shadow" }] };
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains([
              { match: { connect_matcher: {} }, route: { cluster: "app", ...mirror } },
              { match: { prefix: "/" }, route: { cluster: "app", ...mirror } },
            ]),
            { upgrade_configs: [{ upgrade_type: "CONNECT" }, { upgrade_type: "websocket" }] },
          ),
        ],
        [staticCluster("app", [upstream.port]), staticCluster("shadow", [shadow.port])],
      ),
    );
    try {
      const c = await openClient(proxy.port());
      c.socket.write("CONNECT db:5432 HTTP/1.1\r\nhost: db:5432\r\n\r\nhi");
      await waitFor(() => c.received().endsWith("echo:hi"));
      c.socket.destroy();
      await rawExchange(
        proxy.port(),
        "GET /ws HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n",
      );
      // An ordinary request is mirrored: the shadow is reachable, and saw only that.
      await request(proxy.port(), { path: "/b" });
      await waitFor(() => shadow.seen.length > 0);
      assert.deepEqual(
        shadow.seen.map((s) => s.line),
        ["GET /b HTTP/1.1"],
      );
    } finally {
      await proxy.close();
      await upstream.close();
      await shadow.close();
    }
  });
});

describe("request trailers the HTTP/2 upstream cannot encode", () => {
  test("400 DPE after the body, the endpoint not blamed, the session kept", async () => {
    let sessions = 0;
    let resets = 0;
    const server = http2.createServer();
    server.on("session", () => sessions++);
    server.on("stream", (stream) => {
      // Answer once the whole request (trailers included) has arrived.
      stream.on("close", () => {
        if (stream.rstCode !== 0) resets++;
      });
      stream.resume();
      stream.on("end", () => {
        // Node ends the readable side on RST_STREAM too: answer only a request that arrived whole.
        if (stream.destroyed || stream.closed) return;
        stream.respond({ ":status": 200 });
        stream.end("h2-ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const proxy = await startProxy(
      bootstrap(
        [httpListener("in", allDomains([{ match: { prefix: "/" }, route: { cluster: "h2" } }]))],
        [
          staticCluster("h2", [port], {
            ...HTTP2_UPSTREAM,
            outlier_detection: { consecutive_5xx: 1, consecutive_local_origin_failure: 1, max_ejection_percent: 100 },
          }),
        ],
      ),
    );
    try {
      for (let i = 0; i < 3; i++) {
        // Two user-agent fields: node:http2 sends one value only. (Two content-type fields would not do: the HTTP/1.1
        // codec drops a trailer RFC 9110 §6.5.1 forbids before it gets this far.)
        const raw = await rawExchange(
          proxy.port(),
          "POST /t HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n" +
            "3\r\nabc\r\n0\r\nx-sum: a\r\nx-sum: b\r\nuser-agent: a/b\r\nuser-agent: c/d\r\n\r\n",
        );
        assert.match(raw, /^HTTP\/1\.1 400 /, raw);
        assert.match(raw, /x-trellis-response-flags: DPE\r\n/);
      }
      const ok = await request(proxy.port(), { path: "/after" });
      assert.equal(ok.body, "h2-ok");
      assert.equal(sessions, 1);
      const clusters = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/clusters`)).text();
      assert.doesNotMatch(clusters, /failed_outlier_check/);
      assert.match(clusters, /^h2::127\.0\.0\.1:\d+::rq_error::0$/m);
      assert.equal(resets, 3);
    } finally {
      await proxy.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
