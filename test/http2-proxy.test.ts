// HTTP/2 (h2c with prior knowledge) through two sidecars: on a port that also serves HTTP/1.1 (codec AUTO), to
// HTTP/1.1 and to HTTP/2 upstreams, with many concurrent streams, large bodies under flow control, and trailers.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { startChain, startProxy } from "./support/proxies.ts";
import { startEchoServer, startH2EchoServer, type EchoRecord, type Upstream } from "./support/upstreams.ts";
import { h2request, request } from "./support/clients.ts";
import { HTTP2_UPSTREAM, allDomains, bootstrap, httpListener, staticCluster } from "./support/envoy-config.ts";

for (const upstreamKind of ["HTTP/1.1", "HTTP/2"] as const) {
  describe(`h2c client → two sidecars → ${upstreamKind} upstream`, () => {
    let upstream: Upstream;
    let chain: Awaited<ReturnType<typeof startChain>>;
    let session: http2.ClientHttp2Session;
    before(async () => {
      if (upstreamKind === "HTTP/2") {
        upstream = await startH2EchoServer("app");
        chain = await startChain(upstream.port, { serverCluster: HTTP2_UPSTREAM, hopCluster: HTTP2_UPSTREAM });
      } else {
        upstream = await startEchoServer("app");
        chain = await startChain(upstream.port);
      }
      session = http2.connect(`http://127.0.0.1:${chain.port}`);
    });
    after(async () => {
      session.close();
      await chain.close();
      await upstream.close();
    });

    test("a GET with headers arrives and is answered", async () => {
      const r = await h2request(session, {
        ":method": "GET",
        ":path": "/h2?q=1",
        ":authority": "svc.local",
        "x-custom": "v",
      });
      assert.equal(r.status, 200);
      const seen = JSON.parse(r.body) as EchoRecord;
      assert.equal(seen.url, "/h2?q=1");
      assert.equal(seen.headers["x-custom"], "v");
      assert.equal(seen.headers.host, "svc.local");
      // Sidecars do not use_remote_address, so (as in Envoy) nothing is appended to x-forwarded-for.
      assert.equal(seen.headers["x-forwarded-for"], undefined);
      assert.ok(seen.headers["x-request-id"]);
    });

    test("the same port still serves HTTP/1.1 (codec AUTO)", async () => {
      const r = await request(chain.port, { path: "/h1" });
      assert.equal(r.status, 200);
      assert.equal(r.json<EchoRecord>().url, "/h1");
    });

    test("200 concurrent streams on one connection", async () => {
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          h2request(session, { ":method": "GET", ":path": `/s${i}`, ":authority": "a" }),
        ),
      );
      assert.ok(replies.every((r) => r.status === 200));
      assert.deepEqual(
        replies.map((r) => (JSON.parse(r.body) as EchoRecord).url),
        Array.from({ length: 200 }, (_, i) => `/s${i}`),
      );
    });

    test("a 3 MiB request body crosses flow-controlled hops intact", async () => {
      const body = Buffer.alloc(3 * 1024 * 1024, "z");
      const r = await h2request(session, { ":method": "POST", ":path": "/big", ":authority": "a" }, body);
      assert.equal(r.status, 200);
      assert.equal((JSON.parse(r.body) as EchoRecord).body.length, body.length);
    });
  });
}

describe("HTTP/2 replies the proxy makes itself", () => {
  test("no route: 404 with the flag, over h2", async () => {
    const upstream = await startEchoServer("app");
    const chain = await startChain(upstream.port, { routeExtra: {} });
    const session = http2.connect(`http://127.0.0.1:${chain.port}`);
    try {
      // Through the chain every path routes; a bad upstream port gives the flag instead.
      await upstream.close();
      const r = await h2request(session, { ":method": "GET", ":path": "/", ":authority": "a" });
      assert.equal(r.status, 503);
      assert.equal(r.headers["x-trellis-response-flags"], "UF");
    } finally {
      session.close();
      await chain.close();
    }
  });

  test("response trailers from an HTTP/2 upstream reach an HTTP/2 client", async () => {
    const server = http2.createServer();
    server.on("stream", (stream) => {
      stream.respond({ ":status": 200, "content-type": "text/plain" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "x-trailer": "done" }));
      stream.end("body");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const chain = await startChain(port, { serverCluster: HTTP2_UPSTREAM, hopCluster: HTTP2_UPSTREAM });
    const session = http2.connect(`http://127.0.0.1:${chain.port}`);
    try {
      const r = await h2request(session, { ":method": "GET", ":path": "/", ":authority": "a" });
      assert.equal(r.body, "body");
      assert.equal(r.trailers?.["x-trailer"], "done");
    } finally {
      session.close();
      await chain.close();
      server.close();
    }
  });
});

describe("an HTTP/2 request body that is only an empty DATA frame with END_STREAM", () => {
  test("is forwarded and ended on a new upstream connection (node may end the stream before the body is read)", async () => {
    const upstream = await startEchoServer("app");
    const proxy = await startProxy(
      bootstrap(
        [httpListener("in", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))],
        [staticCluster("app", [upstream.port])],
      ),
    );
    const session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
    try {
      // The first request opens the upstream connection, so the body is read only after connecting.
      const r = await h2request(session, { ":method": "POST", ":path": "/empty" }, "");
      assert.equal(r.status, 200);
      assert.equal(upstream.received[0]!.body, "");
    } finally {
      session.close();
      await proxy.close();
      await upstream.close();
    }
  });
});
