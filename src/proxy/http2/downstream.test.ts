import { test, describe, after, before } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { createHash } from "node:crypto";
import { ManualClock } from "../../api/clock.ts";
import type { Exchange, Handler } from "../http/exchange.ts";
import { Headers } from "../http/headers.ts";
import { createH2Downstream } from "./downstream.ts";
import type { H2DownstreamOptions } from "./downstream.ts";
import { listenWith } from "./test-support.ts";

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

async function start(handler: Handler, extra: Partial<H2DownstreamOptions> = {}) {
  const clock = new ManualClock();
  const completed: Exchange[] = [];
  const downstream = createH2Downstream(handler, {
    clock,
    streamIdleTimeoutMs: 0,
    onStreamComplete: (ex) => completed.push(ex),
    ...extra,
  });
  const { port, server } = await listenWith(downstream);
  const clients: http2.ClientHttp2Session[] = [];
  const connect = () => {
    const c = http2.connect(`http://127.0.0.1:${port}`);
    c.on("error", () => {});
    clients.push(c);
    return c;
  };
  cleanups.push(() => {
    for (const c of clients) c.destroy();
    downstream.close();
    server.close();
  });
  return { clock, completed, downstream, port, connect };
}

/** Sends a request and collects the whole response. */
function fetch(
  client: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer,
  options: http2.ClientSessionRequestOptions = {},
) {
  const req = client.request(headers, { endStream: body === undefined, ...options });
  if (body !== undefined) req.end(body);
  return collect(req);
}

function collect(req: http2.ClientHttp2Stream) {
  return new Promise<{
    headers: http2.IncomingHttpHeaders;
    flags: number;
    body: Buffer;
    trailers: http2.IncomingHttpHeaders | undefined;
  }>((resolve, reject) => {
    let head: http2.IncomingHttpHeaders = {};
    let flags = 0;
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on("response", (h, f) => {
      head = h;
      flags = f;
    });
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve({ headers: head, flags, body: Buffer.concat(chunks), trailers }));
    req.on("error", reject);
  });
}

/** Echo: answers with the request body and trailers; pauses the request body when the response is congested. */
function echoHandler(stats: { pauses: number }): Handler {
  return (ex) => {
    ex.response.head(200, Headers.of({ "x-path": ex.path, "x-length": String(ex.body.length) }));
    ex.body.start({
      onData(chunk) {
        if (!ex.response.data(chunk)) {
          stats.pauses++;
          ex.body.pause();
          ex.response.onDrain(() => ex.body.resume());
        }
      },
      onEnd(trailers) {
        ex.response.end(trailers);
      },
      onAbort() {},
    });
  };
}

function sha(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Deterministic pseudo-random bytes (xorshift32). */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

describe("H2 downstream", () => {
  test("maps pseudo-headers and headers, filters connection-specific response headers, reports completion", async () => {
    let seen: Exchange | undefined;
    const { connect, completed } = await start((ex) => {
      seen = ex;
      ex.response.head(
        201,
        new Headers([
          "content-type",
          "text/plain",
          "connection",
          "close",
          "keep-alive",
          "timeout=5",
          "transfer-encoding",
          "chunked",
          "upgrade",
          "h2c",
          "te",
          "gzip",
          "set-cookie",
          "a=1",
          "set-cookie",
          "b=2",
        ]),
      );
      ex.response.data(Buffer.from("hello"));
      ex.response.end();
    });
    const res = await fetch(connect(), {
      ":method": "GET",
      ":path": "/a/b?c=d",
      ":authority": "reviews:9080",
      "x-custom": "v",
      cookie: ["k1=v1", "k2=v2"],
      te: "trailers",
    });
    assert.equal(res.headers[":status"], 201);
    assert.equal(res.body.toString(), "hello");
    assert.deepEqual(res.headers["set-cookie"], ["a=1", "b=2"]);
    for (const h of ["connection", "keep-alive", "transfer-encoding", "upgrade", "te"])
      assert.equal(res.headers[h], undefined, h);
    assert.ok(seen);
    assert.equal(seen.protocol, "HTTP/2");
    assert.equal(seen.method, "GET");
    assert.equal(seen.path, "/a/b?c=d");
    assert.equal(seen.authority, "reviews:9080");
    assert.equal(seen.scheme, "http");
    assert.equal(seen.headers.get("x-custom"), "v");
    assert.equal(seen.headers.get("cookie"), "k1=v1; k2=v2");
    assert.equal(seen.headers.get("te"), "trailers");
    assert.equal(seen.headers.has(":path"), false);
    assert.equal(seen.body.empty, true);
    assert.equal(seen.body.length, 0);
    assert.equal(seen.downstream.remoteAddress, "127.0.0.1");
    assert.equal(seen.downstream.tls, false);
    await waitFor(() => completed.length === 1);
    assert.equal(completed[0], seen);
    assert.equal(seen.info.responseCode, 201);
    assert.equal(seen.info.bytesSent, 5);
  });

  test("a request with host but no :authority takes the host", async () => {
    let authority = "";
    let hostHeader: string | undefined = "unset";
    const { connect } = await start((ex) => {
      authority = ex.authority;
      hostHeader = ex.headers.get("host");
      ex.response.head(204, new Headers());
      ex.response.end();
    });
    // node's client always adds :authority unless told otherwise; an explicit empty one is removed by the server.
    const client = connect();
    const req = client.request({ ":method": "GET", ":path": "/", host: "ratings.default:8080" }, { endStream: true });
    const res = await collect(req);
    assert.equal(res.headers[":status"], 204);
    // node sends :authority (from the URL) and host: one of them must reach the exchange, host never as a header.
    assert.ok(authority === "ratings.default:8080" || authority.startsWith("127.0.0.1:"));
    assert.equal(hostHeader, undefined);
  });

  test("streams ≥ 4 MiB both ways with back-pressure, and echoes request trailers as response trailers", async () => {
    const stats = { pauses: 0 };
    const { connect, completed } = await start(echoHandler(stats));
    const client = connect();
    const payload = bytes(5 * 1024 * 1024, 42);
    const req = client.request(
      { ":method": "POST", ":path": "/echo", "content-length": String(payload.length) },
      {
        waitForTrailers: true,
      },
    );
    req.on("wantTrailers", () => req.sendTrailers({ "x-checksum": sha(payload) }));
    // The client does not read until the upload is done: the proxy's response must back up into the request.
    req.pause();
    let uploaded = false;
    req.write(payload, () => (uploaded = true));
    req.end();
    const done = collect(req);
    await waitFor(() => stats.pauses > 0);
    req.resume();
    const res = await done;
    assert.ok(uploaded);
    assert.equal(res.headers[":status"], 200);
    assert.equal(res.headers["x-length"], String(payload.length));
    assert.equal(res.body.length, payload.length);
    assert.equal(sha(res.body), sha(payload));
    assert.equal(res.trailers?.["x-checksum"], sha(payload));
    assert.ok(stats.pauses > 0, "the echo was paused at least once");
    await waitFor(() => completed.length === 1);
    assert.equal(completed[0]!.info.bytesReceived, payload.length);
    assert.equal(completed[0]!.info.bytesSent, payload.length);
  });

  test("a body without content-length has length -1 and is not empty; END_STREAM on HEADERS gives an empty body", async () => {
    const seen: { empty: boolean; length: number; ended: boolean }[] = [];
    const { connect } = await start((ex) => {
      const entry = { empty: ex.body.empty, length: ex.body.length, ended: false };
      seen.push(entry);
      ex.body.start({
        onData() {},
        onEnd() {
          entry.ended = true;
          ex.response.head(200, new Headers());
          ex.response.end();
        },
        onAbort() {},
      });
    });
    const client = connect();
    await fetch(client, { ":method": "GET", ":path": "/empty" });
    await fetch(client, { ":method": "POST", ":path": "/chunked" }, Buffer.from("abc"));
    assert.deepEqual(seen, [
      { empty: true, length: 0, ended: true },
      { empty: false, length: -1, ended: true },
    ]);
  });

  test("serves ≥ 200 concurrent streams on one connection", async () => {
    const N = 250;
    const held: Exchange[] = [];
    const { connect } = await start((ex) => {
      held.push(ex);
      // Answer only once all N are open at the same time.
      if (held.length === N)
        for (const h of held) {
          h.response.head(200, Headers.of({ "content-type": "text/plain" }));
          h.response.data(Buffer.from(h.path));
          h.response.end();
        }
    });
    const client = connect();
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => fetch(client, { ":method": "GET", ":path": `/r/${i}` })),
    );
    assert.equal(held.length, N);
    results.forEach((r, i) => assert.equal(r.body.toString(), `/r/${i}`));
  });

  /** A handler that answers the head and part of the body, then waits; counts abort callbacks. */
  function halfAnswer() {
    const counts = { aborted: 0, bodyAborted: 0, bodyEnded: 0 };
    let headSent!: () => void;
    const headSentP = new Promise<void>((r) => (headSent = r));
    const handler: Handler = (ex) => {
      ex.response.onAbort(() => counts.aborted++);
      ex.body.start({ onData() {}, onEnd: () => counts.bodyEnded++, onAbort: () => counts.bodyAborted++ });
      ex.response.head(200, new Headers());
      ex.response.data(Buffer.from("partial"));
      headSent();
    };
    return { counts, headSentP, handler };
  }

  test("a client RST_STREAM mid-request and mid-response fires onAbort and the body sink's onAbort", async () => {
    const { counts, headSentP, handler } = halfAnswer();
    const { connect, completed } = await start(handler);
    const req = connect().request({ ":method": "POST", ":path": "/slow" });
    req.on("error", () => {});
    req.write("some");
    await headSentP;
    req.destroy(); // RST_STREAM without END_STREAM on the request
    await waitFor(() => completed.length === 1);
    assert.deepEqual(counts, { aborted: 1, bodyAborted: 1, bodyEnded: 0 });
  });

  test("a client CANCEL after its request completed fires onAbort only", async () => {
    const { counts, headSentP, handler } = halfAnswer();
    const { connect, completed } = await start(handler);
    const req = connect().request({ ":method": "POST", ":path": "/slow" });
    req.on("error", () => {});
    req.end("all");
    await headSentP;
    req.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => completed.length === 1);
    assert.deepEqual(counts, { aborted: 1, bodyAborted: 0, bodyEnded: 1 });
  });

  test("a client connection lost mid-request aborts the exchange", async () => {
    const { counts, headSentP, handler } = halfAnswer();
    const { connect, completed } = await start(handler);
    const client = connect();
    const req = client.request({ ":method": "POST", ":path": "/slow" });
    req.on("error", () => {});
    req.write("some");
    await headSentP;
    client.destroy();
    await waitFor(() => completed.length === 1);
    assert.deepEqual(counts, { aborted: 1, bodyAborted: 1, bodyEnded: 0 });
  });

  test("head with grpc-status then end() is one HEADERS frame with END_STREAM (Trailers-Only)", async () => {
    const { connect } = await start((ex) => {
      ex.response.head(
        200,
        Headers.of({ "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "nope" }),
      );
      ex.response.end();
    });
    const res = await fetch(
      connect(),
      { ":method": "POST", ":path": "/pkg.Svc/M", "content-type": "application/grpc" },
      Buffer.alloc(5),
    );
    assert.ok((res.flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0, "END_STREAM on the response HEADERS");
    assert.equal(res.headers["grpc-status"], "5");
    assert.equal(res.trailers, undefined);
  });

  test("head without grpc-status then end(trailers) keeps headers and trailers apart", async () => {
    const { connect } = await start((ex) => {
      ex.response.head(200, Headers.of({ "content-type": "application/grpc" }));
      ex.response.end(Headers.of({ "grpc-status": "0" }));
    });
    const res = await fetch(connect(), { ":method": "GET", ":path": "/" });
    assert.equal(res.flags & http2.constants.NGHTTP2_FLAG_END_STREAM, 0);
    assert.equal(res.headers["grpc-status"], undefined);
    assert.equal(res.trailers?.["grpc-status"], "0");
  });

  test("stream idle timeout (ManualClock): 408 with flag SI before the head, the abort callback runs", async () => {
    let aborted = 0;
    let arrived!: () => void;
    const arrivedP = new Promise<void>((r) => (arrived = r));
    const { connect, clock, completed } = await start(
      (ex) => {
        ex.response.onAbort(() => aborted++);
        arrived();
      },
      { streamIdleTimeoutMs: 1000 },
    );
    const resP = fetch(connect(), { ":method": "GET", ":path": "/hang" });
    await arrivedP;
    clock.advance(999);
    assert.equal(aborted, 0);
    clock.advance(1);
    const res = await resP;
    assert.equal(res.headers[":status"], 408);
    assert.equal(res.headers["x-trellis-response-flags"], "SI");
    assert.equal(aborted, 1);
    await waitFor(() => completed.length === 1);
    assert.equal(completed[0]!.info.responseFlags, "SI");
  });

  test("a malformed frame closes that session only", { timeout: 20_000 }, async () => {
    let release: (() => void) | undefined;
    const { connect, port, downstream, clock } = await start(
      (ex) => {
        const answer = () => {
          ex.response.head(200, new Headers());
          ex.response.end();
        };
        if (ex.path === "/hold") release = answer;
        else answer();
      },
      { idleTimeoutMs: 60_000 },
    );
    const good = connect();
    assert.equal((await fetch(good, { ":method": "GET", ":path": "/" })).headers[":status"], 200);
    const bad = net.connect(port, "127.0.0.1");
    bad.on("error", () => {});
    // Listened for from the start: under load node may close the socket as soon as GOAWAY is out.
    const badClosed = new Promise<void>((r) => bad.on("close", () => r()));
    // The preface, then a SETTINGS frame whose length is not a multiple of 6: FRAME_SIZE_ERROR.
    bad.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    bad.write(Buffer.from([0, 0, 5, 4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5]));
    const goawayCode = await readGoaway(bad);
    assert.equal(goawayCode, http2.constants.NGHTTP2_FRAME_SIZE_ERROR);
    // The other session is untouched.
    assert.equal((await fetch(good, { ":method": "GET", ":path": "/" })).headers[":status"], 200);
    // node stops reading a session it has sent GOAWAY on: the connection idle timeout reaps it, while the good
    // session, with a stream in flight, stays.
    assert.ok(downstream.sessions <= 2);
    const held = fetch(good, { ":method": "GET", ":path": "/hold" });
    await waitFor(() => release !== undefined);
    clock.advance(60_000);
    await badClosed;
    await waitFor(() => downstream.sessions === 1);
    release!();
    assert.equal((await held).headers[":status"], 200);
  });

  test("drain() sends GOAWAY, lets the stream in flight finish, then the session closes", async () => {
    let release!: () => void;
    const { connect, downstream } = await start((ex) => {
      release = () => {
        ex.response.head(200, new Headers());
        ex.response.data(Buffer.from("late"));
        ex.response.end();
      };
    });
    const client = connect();
    const goaway = new Promise<number>((r) => client.on("goaway", (code) => r(code)));
    const resP = fetch(client, { ":method": "GET", ":path": "/" });
    await waitFor(() => release !== undefined);
    assert.equal(downstream.sessions, 1);
    downstream.drain();
    assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
    release();
    assert.equal((await resP).body.toString(), "late");
    await waitFor(() => downstream.sessions === 0);
  });

  describe("a layer that throws ends its own stream, never the process", () => {
    const uncaught: Error[] = [];
    const monitor = (err: Error): void => void uncaught.push(err);
    before(() => process.on("uncaughtExceptionMonitor", monitor));
    after(() => process.off("uncaughtExceptionMonitor", monitor));

    /** Sends a POST with a body and returns how its stream ended (status, or the reset). */
    async function outcome(client: http2.ClientHttp2Session, path: string): Promise<string> {
      try {
        const res = await fetch(client, { ":method": "POST", ":path": path }, Buffer.from("body"));
        return String(res.headers[":status"]);
      } catch (err) {
        return `reset ${(err as Error).message}`;
      }
    }

    test("the handler, the body sink and the completion callback each throw", async () => {
      const completed: Exchange[] = [];
      const { connect } = await start(
        (ex) => {
          if (ex.path === "/handler") throw new Error("handler");
          ex.body.start({
            onData() {
              if (ex.path === "/sink") throw new Error("sink");
            },
            onEnd() {
              ex.response.head(200, new Headers());
              ex.response.end();
            },
            onAbort() {},
          });
        },
        {
          onStreamComplete: (ex) => {
            completed.push(ex);
            if (ex.path === "/complete") throw new Error("access log");
          },
        },
      );
      const client = connect();
      assert.match(await outcome(client, "/handler"), /reset .*INTERNAL_ERROR/);
      assert.match(await outcome(client, "/sink"), /reset .*INTERNAL_ERROR/);
      assert.equal(await outcome(client, "/complete"), "200");
      // The same session serves the next stream.
      assert.equal(await outcome(client, "/fine"), "200");
      await waitFor(() => completed.some((ex) => ex.path === "/fine"));
      assert.deepEqual(uncaught.map(String), []);
    });
  });
});

/** Reads HTTP/2 frames from a raw socket until a GOAWAY; resolves with its error code. */
function readGoaway(socket: net.Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) return;
        if (buf[3] === 7) return resolve(buf.readUInt32BE(9 + 4));
        buf = buf.subarray(9 + len);
      }
    });
    socket.on("close", () => reject(new Error("closed without GOAWAY")));
  });
}

/** Waits for a condition driven by socket events (polls on the event loop, never a fixed sleep). */
async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setImmediate(r));
  }
}
