// common_http_protocol_options.max_connection_duration in both upstream pools, against real sockets on an injected
// clock: a connection up that long takes no new request; one with a request in flight finishes it and then closes;
// an idle one closes at once. The clock counts from the connect (Envoy's ActiveClient starts its timer then).

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import { ManualClock } from "../../api/clock.ts";
import { Http1ConnectionPool } from "../http1/pool.ts";
import { DEFAULT_LIMITS } from "../http1/limits.ts";
import { H2ConnectionPool } from "../http2/upstream-pool.ts";
import type { ConnectionPool, RetireReason } from "./pool.ts";
import { get, send, type Outcome } from "./breakers-testing.ts";
import { waitFor } from "../../../test/support/wait.ts";

const MAX_DURATION_MS = 1000;
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

/** Sends GET `path` and resolves with what came back (the body as text). */
function fetch(pool: ConnectionPool, path: string): Promise<Outcome> {
  return send(pool, get(path)).outcome;
}

/** Pool stats that record only why connections were retired. */
function recorder(retired: RetireReason[]) {
  return {
    onConnectionOpened() {},
    onConnectionClosed() {},
    onConnectFailure() {},
    onRetired: (reason: RetireReason) => void retired.push(reason),
  };
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as net.AddressInfo).port;
}

describe("max_connection_duration", () => {
  test("HTTP/1.1: the request in flight finishes, later ones get a new connection, an idle one closes", async () => {
    // Answers with the client port (which connection carried the request); holds /slow until released.
    const held: http.ServerResponse[] = [];
    const server = http.createServer((req, res) => {
      if (req.url === "/slow") held.push(res);
      else res.end(String(req.socket.remotePort));
    });
    const port = await listen(server);
    const clock = new ManualClock();
    const retired: RetireReason[] = [];
    const pool = new Http1ConnectionPool(
      "127.0.0.1",
      port,
      {
        clock,
        connectTimeoutMs: 1000,
        idleTimeoutMs: 0,
        maxRequestsPerConnection: 0,
        maxConnectionDurationMs: MAX_DURATION_MS,
        limits: DEFAULT_LIMITS,
      },
      recorder(retired),
    );
    cleanups.push(() => {
      pool.destroy();
      server.closeAllConnections();
      server.close();
    });

    const first = (await fetch(pool, "/a")).body;
    clock.advance(MAX_DURATION_MS - 1);
    assert.equal((await fetch(pool, "/b")).body, first, "still young: the connection is reused");

    const slow = fetch(pool, "/slow");
    await waitFor(() => held.length === 1);
    clock.advance(1);
    assert.equal(pool.connections, 1, "busy: it stays open until its response is done");
    held[0]!.end("done");
    const finished = await slow;
    assert.equal(finished.status, 200);
    assert.equal(finished.body, "done");
    assert.equal(pool.connections, 0, "then it closes instead of going back to the pool");

    const next = (await fetch(pool, "/c")).body;
    assert.notEqual(next, first, "a new connection");
    assert.equal(pool.connections, 1);
    clock.advance(MAX_DURATION_MS);
    assert.equal(pool.connections, 0, "an idle connection closes when its time is up");
    assert.deepEqual(retired, ["max_duration", "max_duration"], "upstream_cx_max_duration_reached, once each");
  });

  test("HTTP/2: the session drains — its stream finishes, new streams go to a new session, then it closes", async () => {
    const held: http2.ServerHttp2Stream[] = [];
    const sessions: http2.ServerHttp2Session[] = [];
    const server = http2.createServer();
    server.on("session", (s) => {
      sessions.push(s);
      s.on("error", () => {});
    });
    server.on("stream", (stream, headers) => {
      stream.on("error", () => {});
      if (headers[":path"] === "/slow") held.push(stream);
      else {
        stream.respond({ ":status": 200 });
        stream.end(String(sessions.indexOf(stream.session as http2.ServerHttp2Session)));
      }
    });
    const port = await listen(server);
    const clock = new ManualClock();
    const retired: RetireReason[] = [];
    const pool = new H2ConnectionPool(
      { address: "127.0.0.1", port },
      {
        clock,
        connectTimeoutMs: 1000,
        idleTimeoutMs: 0,
        maxRequestsPerConnection: 0,
        maxConnectionDurationMs: MAX_DURATION_MS,
      },
      recorder(retired),
    );
    cleanups.push(() => {
      pool.close();
      for (const s of sessions) s.destroy();
      server.close();
    });

    assert.equal((await fetch(pool, "/a")).body, "0");
    const slow = fetch(pool, "/slow");
    await waitFor(() => held.length === 1);
    clock.advance(MAX_DURATION_MS);
    assert.equal((await fetch(pool, "/b")).body, "1", "after the duration: a new session");
    assert.equal(pool.connections, 2, "the old one is still open for its stream");

    held[0]!.respond({ ":status": 200 });
    held[0]!.end("done");
    const finished = await slow;
    assert.equal(finished.status, 200);
    assert.equal(finished.body, "done");
    await waitFor(() => pool.connections === 1);
    await waitFor(() => sessions[0]!.closed || sessions[0]!.destroyed);

    clock.advance(MAX_DURATION_MS);
    await waitFor(() => pool.connections === 0);
    assert.equal(sessions.length, 2);
    assert.deepEqual(retired, ["max_duration", "max_duration"], "upstream_cx_max_duration_reached, once each");
  });
});
