// The HTTP/2 pool under the cluster's circuit breakers: sessions count toward max_connections; at the limit a
// request that finds its sessions full is refused at once with "overflow".

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import type net from "node:net";
import { ManualClock } from "../../api/clock.ts";
import { Headers } from "../http/headers.ts";
import type { UpstreamRequest } from "../upstream/pool.ts";
import { breakers, stat, testUpstreamCluster } from "../upstream/breakers-testing.ts";
import type { H2ConnectionPool } from "./upstream-pool.ts";
import { BufferBody, RecordingHandler } from "./test-support.ts";

function req(path: string): UpstreamRequest {
  return {
    method: "GET",
    path,
    authority: "b",
    scheme: "http",
    headers: new Headers(),
    body: new BufferBody([]),
    upgrade: undefined,
  };
}

describe("H2ConnectionPool with circuit breakers", () => {
  test("max_connections 1: a full session is not joined by a second one; the extra request overflows", async () => {
    const held: http2.ServerHttp2Stream[] = [];
    let arrivedResolve: (() => void) | undefined;
    const server = http2.createServer({ settings: { maxConcurrentStreams: 2 } });
    const sessions: http2.ServerHttp2Session[] = [];
    server.on("session", (s) => {
      sessions.push(s);
      s.on("error", () => {});
    });
    server.on("stream", (stream, headers) => {
      stream.on("error", () => {});
      if (headers[":path"] === "/warm") {
        stream.respond({ ":status": 200 });
        stream.end();
        return;
      }
      held.push(stream);
      if (held.length === 2) arrivedResolve?.();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const { cluster, endpoints, store } = testUpstreamCluster(
      [port],
      breakers({ maxConnections: 1 }, undefined, true),
      new ManualClock(),
    );
    try {
      const pool = cluster.poolFor(endpoints[0]!) as H2ConnectionPool;
      const warm = new RecordingHandler();
      pool.request(req("/warm"), warm);
      assert.equal(await warm.done, "end");
      await until(() => pool.active === 0); // the stream is released once node closes it // the peer's SETTINGS (2 streams) are known from here
      const arrived = new Promise<void>((r) => (arrivedResolve = r));
      const hs = [new RecordingHandler(), new RecordingHandler(), new RecordingHandler()];
      for (const h of hs) pool.request(req("/held"), h);
      assert.equal(await hs[2]!.done, "connectFailure");
      assert.equal(hs[2]!.failure?.reason, "overflow");
      await arrived;
      assert.equal(pool.connections, 1);
      assert.equal(pool.active, 2);
      assert.equal(stat(store, "upstream_cx_overflow"), 1);
      assert.equal(stat(store, "upstream_cx_active"), 1);
      assert.equal(stat(store, "circuit_breakers_default_cx_open"), 1);
      assert.equal(endpoints[0]!.connections, 1);
      for (const s of held) {
        s.respond({ ":status": 204 });
        s.end();
      }
      for (const h of hs.slice(0, 2)) assert.equal(await h.done, "end");
    } finally {
      cluster.close();
      for (const s of sessions) s.destroy();
      server.close();
    }
  });
});

/** Waits for a condition the event loop will bring about (polled once per turn; no timer stands in for it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}
