// The HTTP/1.1 connection pool against real sockets on 127.0.0.1: LIFO keep-alive reuse, the active count,
// connect failures, and the connect timeout on an injected clock (a connection that never completes).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { ManualClock, systemClock } from "../../api/clock.ts";
import { Headers } from "../http/headers.ts";
import type { BodySink, RequestBody } from "../http/exchange.ts";
import type { ConnectFailure, RetireReason, UpstreamHandler, UpstreamRequest } from "../upstream/pool.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { Http1ConnectionPool } from "./pool.ts";
import { waitFor } from "../../../test/support/wait.ts";

const emptyBody: RequestBody = {
  empty: true,
  length: 0,
  start: (sink: BodySink) => sink.onEnd(undefined),
  pause: () => {},
  resume: () => {},
};

function get(path: string): UpstreamRequest {
  return {
    method: "GET",
    path,
    authority: "a",
    scheme: "http",
    headers: new Headers(),
    body: emptyBody,
    upgrade: undefined,
  };
}

type Outcome = { status?: number; body?: string; failure?: ConnectFailure; reset?: Error };

function run(pool: Http1ConnectionPool, req: UpstreamRequest): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status = 0;
    const handler: UpstreamHandler = {
      onConnectFailure: (failure) => resolve({ failure }),
      onHead: (s) => void (status = s),
      onData: (c) => (chunks.push(c), true),
      onEnd: () => resolve({ status, body: Buffer.concat(chunks).toString() }),
      onReset: (reset) => resolve({ reset }),
    };
    pool.request(req, handler);
  });
}

const options = { connectTimeoutMs: 1000, idleTimeoutMs: 0, maxRequestsPerConnection: 0, limits: DEFAULT_LIMITS };

describe("Http1ConnectionPool", () => {
  test("max_requests_per_connection and the idle timeout retire connections, each counted once", async () => {
    const ports: number[] = [];
    const server = http.createServer((req, res) => {
      ports.push(req.socket.remotePort!);
      res.end("ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const clock = new ManualClock();
    const retired: RetireReason[] = [];
    const stats = {
      onConnectionOpened() {},
      onConnectionClosed() {},
      onConnectFailure() {},
      onRetired: (reason: RetireReason) => void retired.push(reason),
    };
    const port = (server.address() as net.AddressInfo).port;
    const pool = new Http1ConnectionPool(
      "127.0.0.1",
      port,
      { ...options, clock, maxRequestsPerConnection: 2, idleTimeoutMs: 5000 },
      stats,
    );
    try {
      for (let i = 0; i < 3; i++) assert.equal((await run(pool, get(`/${i}`))).status, 200);
      assert.equal(new Set(ports).size, 2, "the third request needed a new connection");
      assert.deepEqual(retired, ["max_requests"], "upstream_cx_max_requests");
      clock.advance(5000);
      assert.equal(pool.connections, 0);
      assert.deepEqual(retired, ["max_requests", "idle_timeout"], "upstream_cx_idle_timeout");
    } finally {
      pool.destroy();
      server.close();
    }
  });

  test("keeps connections alive and reuses the most recently used one", async () => {
    const ports: number[] = [];
    const server = http.createServer((req, res) => {
      ports.push(req.socket.remotePort!);
      res.end(req.url);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const pool = new Http1ConnectionPool("127.0.0.1", (server.address() as net.AddressInfo).port, {
      ...options,
      clock: systemClock,
    });
    try {
      // Two at once need two connections; afterwards one at a time reuses the last released.
      const [a, b] = await Promise.all([run(pool, get("/a")), run(pool, get("/b"))]);
      assert.deepEqual([a.body, b.body], ["/a", "/b"]);
      assert.equal(pool.connections, 2);
      assert.equal(pool.active, 0);
      for (let i = 0; i < 5; i++) assert.equal((await run(pool, get(`/s${i}`))).status, 200);
      assert.equal(new Set(ports.slice(2)).size, 1, "sequential requests share one connection");
      assert.equal(pool.connections, 2);
    } finally {
      pool.destroy();
      server.close();
    }
  });

  test("a response whose last bytes met back-pressure leaves its connection reading for the next request", async () => {
    // The downstream refused the last piece of a response (its socket full, or already gone: a write on a
    // destroyed socket returns false); the connection paused reading, the response was complete, and it went back
    // to the pool still paused: the next request on it was sent and its answer never read (the fuzzer's hang).
    const ports: number[] = [];
    const server = http.createServer((req, res) => {
      ports.push(req.socket.remotePort!);
      res.end(req.url);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const pool = new Http1ConnectionPool("127.0.0.1", (server.address() as net.AddressInfo).port, {
      ...options,
      clock: systemClock,
    });
    try {
      let ended = false;
      pool.request(get("/first"), {
        onConnectFailure: () => {},
        onHead: () => {},
        onData: () => false, // never drained: nobody calls resume()
        onEnd: () => void (ended = true),
        onReset: () => {},
      });
      await waitFor(() => ended);
      assert.equal(pool.connections, 1, "the connection went back to the pool");
      let second: Outcome | undefined;
      void run(pool, get("/second")).then((o) => (second = o));
      await waitFor(() => second !== undefined, 5000).catch(() => assert.fail("the second request got no answer"));
      assert.deepEqual(second, { status: 200, body: "/second" });
      assert.equal(new Set(ports).size, 1, "both requests on one connection");
      assert.equal(pool.active, 0);
    } finally {
      pool.destroy();
      server.close();
    }
  });

  test("a refused connection is reported as connection_refused", async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const pool = new Http1ConnectionPool("127.0.0.1", port, { ...options, clock: systemClock });
    assert.deepEqual(await run(pool, get("/")), { failure: "connection_refused" });
    assert.equal(pool.active, 0);
  });

  test("connect_timeout: a connection that never completes fails after exactly the timeout", async () => {
    const clock = new ManualClock();
    const pending: net.Socket[] = [];
    // A socket that is never connected: what a host dropping SYNs looks like to the pool.
    const connect = () => {
      const s = new net.Socket();
      pending.push(s);
      return s;
    };
    const pool = new Http1ConnectionPool("127.0.0.1", 9, { ...options, clock, connect });
    const outcome = run(pool, get("/"));
    clock.advance(999);
    assert.equal(pool.active, 1);
    clock.advance(1);
    assert.deepEqual(await outcome, { failure: "connect_timeout" });
    assert.equal(pool.active, 0);
    assert.ok(pending[0]!.destroyed);
  });
});
