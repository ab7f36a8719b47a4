import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { ManualClock } from "../../api/clock.ts";
import type { RequestBody } from "../http/exchange.ts";
import { Headers } from "../http/headers.ts";
import type { RetireReason, UpstreamRequest } from "../upstream/pool.ts";
import { H2ConnectionPool } from "./upstream-pool.ts";
import type { H2PoolOptions } from "./upstream-pool.ts";
import { BufferBody, RecordingHandler } from "./test-support.ts";

const C = http2.constants;
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

type StreamFn = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  session: http2.Http2Session,
) => void;

/** A node:http2 server on 127.0.0.1:0; counts sessions. */
async function upstream(onStream: StreamFn, settings: http2.Settings = {}) {
  const server = http2.createServer({ settings });
  const sessions: http2.ServerHttp2Session[] = [];
  server.on("session", (s) => {
    sessions.push(s);
    s.on("error", () => {});
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    onStream(stream, headers, stream.session!);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  cleanups.push(() => {
    for (const s of sessions) s.destroy();
    server.close();
  });
  return { port, sessions };
}

function pool(port: number, extra: Partial<H2PoolOptions> = {}) {
  const clock = new ManualClock();
  /** Sessions the pool retired by its own limits, by reason (the cluster counts them in its stats). */
  const retired: RetireReason[] = [];
  const p = new H2ConnectionPool(
    { address: "127.0.0.1", port },
    { clock, connectTimeoutMs: 1000, idleTimeoutMs: 0, maxRequestsPerConnection: 0, ...extra },
    { onConnectionOpened() {}, onConnectionClosed() {}, onConnectFailure() {}, onRetired: (r) => retired.push(r) },
  );
  cleanups.push(() => p.close());
  return { pool: p, clock, retired };
}

function req(
  method: string,
  path: string,
  body: RequestBody = new BufferBody([]),
  headers = new Headers(),
): UpstreamRequest {
  return { method, path, authority: "backend.local", scheme: "http", headers, body, upgrade: undefined };
}

/** Answers with the request's method, path, authority and body; echoes request trailers as response trailers. */
const echo: StreamFn = (stream, headers) => {
  const chunks: Buffer[] = [];
  let trailers: http2.IncomingHttpHeaders | undefined;
  stream.on("data", (c: Buffer) => chunks.push(c));
  stream.on("trailers", (t) => (trailers = t));
  stream.on("end", () => {
    stream.respond(
      {
        ":status": 200,
        "x-method": String(headers[":method"]),
        "x-path": String(headers[":path"]),
        "x-authority": String(headers[":authority"]),
        "x-te": String(headers["te"]),
      },
      { waitForTrailers: true },
    );
    stream.on("wantTrailers", () =>
      stream.sendTrailers(trailers?.["x-sum"] ? { "x-sum": String(trailers["x-sum"]) } : {}),
    );
    stream.end(Buffer.concat(chunks));
  });
};

describe("H2ConnectionPool", () => {
  test("unary request: head, body, end; active counts the request while in flight", async () => {
    const { port } = await upstream(echo);
    const { pool: p } = pool(port);
    const h = new RecordingHandler();
    p.request(req("GET", "/x?y=1", new BufferBody([]), Headers.of({ te: "trailers", connection: "close" })), h);
    assert.equal(p.active, 1);
    assert.equal(await h.done, "end");
    assert.equal(h.status, 200);
    assert.equal(h.headers?.get("x-method"), "GET");
    assert.equal(h.headers?.get("x-path"), "/x?y=1");
    assert.equal(h.headers?.get("x-authority"), "backend.local");
    assert.equal(h.headers?.get("x-te"), "trailers");
    assert.equal(h.headers?.has(":status"), false);
    assert.deepEqual(h.events, ["head", "end"]);
    await waitFor(() => p.active === 0);
    assert.equal(p.connections, 1);
  });

  test("streams a request body with trailers and gets response trailers; one session for sequential requests", async () => {
    const { port, sessions } = await upstream(echo);
    const { pool: p } = pool(port);
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * 1024, i));
    const body = new BufferBody(chunks, Headers.of({ "x-sum": "abc" }));
    const h = new RecordingHandler();
    p.request(req("POST", "/upload", body), h);
    assert.equal(await h.done, "end");
    assert.deepEqual(h.body, Buffer.concat(chunks));
    assert.equal(h.trailers?.get("x-sum"), "abc");
    assert.ok(body.pauses > 0, "the request body was paused by stream back-pressure");
    const h2 = new RecordingHandler();
    p.request(req("GET", "/again"), h2);
    assert.equal(await h2.done, "end");
    assert.equal(sessions.length, 1);
  });

  test("response back-pressure: onData returning false pauses until resume()", async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    const { port } = await upstream((stream) => {
      stream.respond({ ":status": 200 });
      stream.end(big);
    });
    const { pool: p } = pool(port);
    const h = new RecordingHandler();
    h.accept = false;
    const s = p.request(req("GET", "/big"), h);
    await h.headReceived;
    await waitFor(() => h.chunks.length > 0);
    // Paused: with the handler refusing, only the stream window's worth can arrive.
    await new Promise((r) => setImmediate(r));
    const received = h.body.length;
    assert.ok(received < big.length, `paused after ${received} bytes`);
    h.accept = true;
    s.resume();
    assert.equal(await h.done, "end");
    assert.equal(h.body.length, big.length);
  });

  test("connect refused → onConnectFailure('connection_refused')", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { pool: p } = pool(port);
    const h = new RecordingHandler();
    p.request(req("GET", "/"), h);
    assert.equal(await h.done, "connectFailure");
    assert.equal(h.failure?.reason, "connection_refused");
    assert.equal(p.active, 0);
    assert.equal(p.connections, 0);
  });

  test("connect timeout (ManualClock) while the TCP connect is still pending", async () => {
    const sockets: net.Socket[] = [];
    const { pool: p, clock } = pool(1, {
      connectTimeoutMs: 250,
      // A socket that never finishes connecting: no traffic leaves the machine.
      connect: () => {
        const s = new net.Socket();
        Object.defineProperty(s, "connecting", { value: true });
        sockets.push(s);
        return s;
      },
    });
    const h = new RecordingHandler();
    const h2b = new RecordingHandler();
    p.request(req("GET", "/"), h);
    p.request(req("GET", "/"), h2b);
    assert.equal(sockets.length, 1, "both requests wait for the one connection");
    assert.equal(p.active, 2);
    clock.advance(249);
    assert.deepEqual(h.events, []);
    clock.advance(1);
    assert.equal(await h.done, "connectFailure");
    assert.equal(await h2b.done, "connectFailure");
    assert.equal(h.failure?.reason, "connect_timeout");
    assert.equal(sockets[0]!.destroyed, true);
    assert.equal(p.active, 0);
  });

  test("aborting a request that waits for its connection takes it out of active", async () => {
    const { pool: p } = pool(1, {
      connect: () => {
        const s = new net.Socket();
        Object.defineProperty(s, "connecting", { value: true });
        return s;
      },
    });
    const h = new RecordingHandler();
    const s = p.request(req("GET", "/"), h);
    assert.equal(p.active, 1);
    s.abort();
    s.abort();
    assert.equal(p.active, 0);
    assert.deepEqual(h.events, []);
  });

  test("RST_STREAM → onReset; REFUSED_STREAM is told apart by err.code", async () => {
    const { port } = await upstream((stream, headers) => {
      if (headers[":path"] === "/refused") stream.close(C.NGHTTP2_REFUSED_STREAM);
      else {
        // More than the stream window: the END_STREAM cannot go out before the RST_STREAM (node's close() ends
        // the writable side first, so a short body would arrive complete).
        stream.respond({ ":status": 200 });
        stream.write(Buffer.alloc(4 * 1024 * 1024));
        setImmediate(() => stream.close(C.NGHTTP2_INTERNAL_ERROR));
      }
    });
    const { pool: p } = pool(port);
    const refused = new RecordingHandler();
    p.request(req("GET", "/refused"), refused);
    assert.equal(await refused.done, "reset");
    assert.equal(refused.resetError?.code, "REFUSED_STREAM");
    assert.deepEqual(refused.events, ["reset"]);
    const broken = new RecordingHandler();
    p.request(req("GET", "/broken"), broken);
    assert.equal(await broken.done, "reset");
    assert.equal(broken.resetError?.code, "TRELLIS_H2_STREAM_RESET");
    assert.equal(broken.resetError?.rstCode, C.NGHTTP2_INTERNAL_ERROR);
    assert.deepEqual(broken.events, ["head", "data", "reset"]);
    await waitFor(() => p.active === 0);
  });

  test("GOAWAY: the stream in flight finishes, the next request opens a new session", async () => {
    let held: http2.ServerHttp2Stream | undefined;
    let goawaySeen = false;
    const { port, sessions } = await upstream((stream, headers, session) => {
      if (headers[":path"] === "/first") {
        held = stream;
        session.goaway(C.NGHTTP2_NO_ERROR, stream.id);
        // The PING's answer comes after the client has processed the GOAWAY sent before it.
        session.ping(() => (goawaySeen = true));
        return;
      }
      stream.respond({ ":status": 200 });
      stream.end("second");
    });
    const { pool: p } = pool(port);
    const first = new RecordingHandler();
    p.request(req("GET", "/first"), first);
    await waitFor(() => goawaySeen);
    const second = new RecordingHandler();
    p.request(req("GET", "/second"), second);
    assert.equal(await second.done, "end");
    assert.equal(second.body.toString(), "second");
    assert.equal(sessions.length, 2);
    held!.respond({ ":status": 200 });
    held!.end("first");
    assert.equal(await first.done, "end");
    assert.equal(first.body.toString(), "first");
  });

  test("streams past the GOAWAY's last-stream-id are REFUSED_STREAM", async () => {
    const { port } = await upstream((stream, headers, session) => {
      if (headers[":path"] === "/a") {
        session.goaway(C.NGHTTP2_NO_ERROR, stream.id);
        stream.respond({ ":status": 200 });
        stream.end("a");
      }
    });
    const { pool: p } = pool(port);
    const a = new RecordingHandler();
    const b = new RecordingHandler();
    p.request(req("GET", "/a"), a);
    p.request(req("GET", "/b"), b);
    assert.equal(await a.done, "end");
    assert.equal(await b.done, "reset");
    assert.equal(b.resetError?.code, "REFUSED_STREAM");
  });

  test("the peer's SETTINGS_MAX_CONCURRENT_STREAMS makes the pool open a second session", async () => {
    const held: http2.ServerHttp2Stream[] = [];
    const { port, sessions } = await upstream(
      (stream, headers) => {
        if (headers[":path"] === "/warm") {
          stream.respond({ ":status": 200 });
          stream.end();
        } else held.push(stream);
      },
      { maxConcurrentStreams: 2 },
    );
    const { pool: p } = pool(port);
    const warm = new RecordingHandler();
    p.request(req("GET", "/warm"), warm);
    assert.equal(await warm.done, "end"); // the peer's SETTINGS are known from here
    const hs = [new RecordingHandler(), new RecordingHandler(), new RecordingHandler()];
    for (const h of hs) p.request(req("GET", "/held"), h);
    await waitFor(() => held.length === 3);
    assert.equal(p.connections, 2);
    assert.equal(sessions.length, 2);
    assert.equal(p.active, 3);
    for (const s of held) {
      s.respond({ ":status": 204 });
      s.end();
    }
    for (const h of hs) assert.equal(await h.done, "end");
  });

  test("idle sessions close after idleTimeoutMs (ManualClock); the next request reconnects", async () => {
    const { port, sessions } = await upstream((stream) => {
      stream.respond({ ":status": 200 });
      stream.end();
    });
    const { pool: p, clock, retired } = pool(port, { idleTimeoutMs: 5000 });
    const h = new RecordingHandler();
    p.request(req("GET", "/"), h);
    await h.done;
    await waitFor(() => p.active === 0);
    clock.advance(4999);
    assert.equal(p.connections, 1);
    clock.advance(1);
    await waitFor(() => p.connections === 0);
    assert.deepEqual(retired, ["idle_timeout"], "upstream_cx_idle_timeout");
    const again = new RecordingHandler();
    p.request(req("GET", "/"), again);
    assert.equal(await again.done, "end");
    assert.equal(sessions.length, 2);
  });

  test("maxRequestsPerConnection retires a session after that many streams", async () => {
    const { port, sessions } = await upstream((stream) => {
      stream.respond({ ":status": 200 });
      stream.end();
    });
    const { pool: p, retired } = pool(port, { maxRequestsPerConnection: 2 });
    for (let i = 0; i < 3; i++) {
      const h = new RecordingHandler();
      p.request(req("GET", "/"), h);
      assert.equal(await h.done, "end");
    }
    assert.equal(sessions.length, 2);
    assert.deepEqual(retired, ["max_requests"], "upstream_cx_max_requests, once for the first session");
  });

  test("abort() after start resets the upstream stream with CANCEL and reports nothing more", async () => {
    let rst: number | undefined;
    let closed!: () => void;
    const closedP = new Promise<void>((r) => (closed = r));
    const { port } = await upstream((stream) => {
      stream.respond({ ":status": 200 });
      stream.write("x");
      stream.on("close", () => {
        rst = stream.rstCode;
        closed();
      });
    });
    const { pool: p } = pool(port);
    const h = new RecordingHandler();
    const s = p.request(req("GET", "/"), h);
    await h.headReceived;
    s.abort();
    await closedP;
    assert.equal(rst, C.NGHTTP2_CANCEL);
    await waitFor(() => p.active === 0);
    assert.deepEqual(
      h.events.filter((e) => e !== "data"),
      ["head"],
    );
  });

  test("close() is graceful: the stream in flight completes, later requests are refused", async () => {
    let held: http2.ServerHttp2Stream | undefined;
    const { port } = await upstream((stream) => (held = stream));
    const { pool: p } = pool(port);
    const h = new RecordingHandler();
    p.request(req("GET", "/"), h);
    await waitFor(() => held !== undefined);
    p.close();
    const late = new RecordingHandler();
    p.request(req("GET", "/"), late);
    assert.equal(await late.done, "connectFailure");
    assert.equal((late.failure?.err as { code?: string }).code, "TRELLIS_POOL_CLOSED");
    held!.respond({ ":status": 200 });
    held!.end("done");
    assert.equal(await h.done, "end");
    await waitFor(() => p.connections === 0);
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setImmediate(r));
  }
}
