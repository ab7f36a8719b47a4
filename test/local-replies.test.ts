// The proxy's own answers, end to end over HTTP/1.1 and HTTP/2, as Envoy words them (the table in
// src/proxy/http/rescue.test.ts holds every cause): status, body, content-type only with a body, and Trellis'
// x-trellis-details and response flags beside them.

import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { h2request, request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster } from "./support/envoy-config.ts";
import { startProxy } from "./support/proxies.ts";

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function withProxy(run: (port: number) => Promise<void>): Promise<void> {
  const dead = await closedPort();
  const proxy = await startProxy(
    bootstrap(
      [
        httpListener(
          "http",
          allDomains([
            { match: { prefix: "/empty" }, route: { cluster: "empty" } },
            { match: { prefix: "/dead" }, route: { cluster: "dead" } },
          ]),
        ),
      ],
      [
        { name: "empty", type: "STATIC", connect_timeout: "1s", load_assignment: { cluster_name: "empty" } },
        staticCluster("dead", [dead]),
      ],
    ),
  );
  try {
    await run(proxy.port());
  } finally {
    await proxy.close();
  }
}

const CASES = [
  { path: "/nowhere", status: 404, body: "", flag: "NR" },
  { path: "/empty", status: 503, body: "no healthy upstream", flag: "UH" },
  {
    path: "/dead",
    status: 503,
    body: "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: delayed connect error: 111",
    flag: "UF",
  },
];

test("HTTP/1.1: Envoy's bodies, content-type only with a body", async () => {
  await withProxy(async (port) => {
    for (const c of CASES) {
      const r = await request(port, { path: c.path });
      assert.equal(r.status, c.status, c.path);
      assert.equal(r.body, c.body, c.path);
      assert.equal(r.headers["content-length"], String(c.body.length), c.path);
      assert.equal(r.headers["content-type"], c.body === "" ? undefined : "text/plain", c.path);
      assert.equal(r.headers["x-trellis-response-flags"], c.flag, c.path);
      assert.ok(r.headers["x-trellis-details"], c.path);
    }
  });
});

test("HTTP/2: the same answers", async () => {
  await withProxy(async (port) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      for (const c of CASES) {
        const r = await h2request(session, { ":path": c.path });
        assert.equal(r.status, c.status, c.path);
        assert.equal(r.body, c.body, c.path);
        assert.equal(r.headers["content-type"], c.body === "" ? undefined : "text/plain", c.path);
        assert.equal(r.headers["x-trellis-response-flags"], c.flag, c.path);
      }
    } finally {
      session.close();
    }
  });
});
