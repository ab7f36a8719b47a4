// The HTTP/1.1 pool under the cluster's circuit breakers, against a real upstream that holds every response until
// the test releases it: connections stop at max_connections, requests wait in a FIFO queue up to
// max_pending_requests and are refused at once beyond it, a released connection serves the oldest waiting request.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../api/clock.ts";
import type { Http1ConnectionPool } from "./pool.ts";
import {
  breakers,
  get,
  send,
  startHoldingUpstream,
  stat,
  testUpstreamCluster,
  type HoldingUpstream,
} from "../upstream/breakers-testing.ts";

function gauge(store: Parameters<typeof stat>[0], name: string): number {
  return stat(store, `circuit_breakers_default_${name}`);
}

async function withUpstream(fn: (up: HoldingUpstream) => Promise<void>): Promise<void> {
  const up = await startHoldingUpstream();
  try {
    await fn(up);
  } finally {
    await up.close();
  }
}

describe("HTTP/1.1 pool with circuit breakers", () => {
  test("max_connections 2, max_pending_requests 3: 2 connections, 3 wait, the 6th is refused at once", () =>
    withUpstream(async (up) => {
      const { cluster, endpoints, store } = testUpstreamCluster(
        [up.port],
        breakers({ maxConnections: 2, maxPendingRequests: 3, trackRemaining: true }),
        new ManualClock(),
      );
      const pool = cluster.poolFor(endpoints[0]!) as Http1ConnectionPool;
      const calls = [1, 2, 3, 4, 5, 6].map((i) => send(pool, get(`/${i}`)));
      // The refusal comes before any upstream answer: nothing has been released yet.
      const sixth = await calls[5]!.outcome;
      assert.equal(sixth.failure, "overflow");
      assert.equal((sixth.error as { code?: string }).code, "TRELLIS_UPSTREAM_OVERFLOW");
      await up.holding(2);
      assert.equal(pool.connections, 2);
      assert.equal(up.connections, 2);
      assert.equal(pool.pending, 3);
      assert.equal(pool.active, 5);
      assert.equal(stat(store, "upstream_rq_pending_total"), 3);
      assert.equal(stat(store, "upstream_rq_pending_active"), 3);
      assert.equal(stat(store, "upstream_rq_pending_overflow"), 1);
      assert.equal(stat(store, "upstream_cx_overflow"), 4, "requests 3 to 6 each wanted a connection");
      assert.equal(gauge(store, "cx_open"), 1);
      assert.equal(gauge(store, "rq_pending_open"), 1);
      assert.equal(gauge(store, "remaining_cx"), 0);
      assert.equal(gauge(store, "remaining_pending"), 0);

      // Releasing /1 lets the oldest waiting request (/3) proceed on that very connection.
      const first = up.held.find((h) => h.path === "/1")!;
      first.release();
      assert.deepEqual(await calls[0]!.outcome, { status: 200, body: "/1" });
      const third = await up.arrived("/3");
      assert.deepEqual(
        up.held.map((h) => h.path),
        ["/2", "/3"],
      );
      assert.equal(third.remotePort, first.remotePort);
      assert.equal(pool.pending, 2);
      assert.equal(stat(store, "upstream_rq_pending_active"), 2);
      assert.equal(gauge(store, "rq_pending_open"), 0);
      assert.equal(gauge(store, "remaining_pending"), 1);
      assert.equal(up.connections, 2, "no new connection was opened");

      // Everything drains in order on the two connections.
      for (let n = 2; n <= 5; n++) {
        await up.holding(1);
        up.held[0]!.release();
      }
      const outcomes = await Promise.all(calls.slice(0, 5).map((c) => c.outcome));
      assert.deepEqual(
        outcomes.map((o) => o.body),
        ["/1", "/2", "/3", "/4", "/5"],
      );
      assert.deepEqual(up.seen.slice(2), ["/3", "/4", "/5"]);
      assert.equal(pool.active, 0);
      assert.equal(stat(store, "upstream_rq_pending_active"), 0);
      assert.equal(up.connections, 2);
      cluster.close();
    }));

  test("an aborted queued request leaves the queue and is never sent", () =>
    withUpstream(async (up) => {
      const { cluster, endpoints, store } = testUpstreamCluster(
        [up.port],
        breakers({ maxConnections: 1, maxPendingRequests: 2 }),
        new ManualClock(),
      );
      const pool = cluster.poolFor(endpoints[0]!) as Http1ConnectionPool;
      const a = send(pool, get("/a"));
      const b = send(pool, get("/b"));
      const c = send(pool, get("/c"));
      await up.holding(1);
      assert.equal(pool.pending, 2);
      b.stream.abort();
      assert.equal(pool.pending, 1);
      assert.equal(pool.active, 2);
      assert.equal(stat(store, "upstream_rq_pending_active"), 1);
      // With the place freed, another request may wait again.
      const d = send(pool, get("/d"));
      assert.equal(pool.pending, 2);
      up.held[0]!.release();
      await up.holding(1);
      up.held[0]!.release();
      await up.holding(1);
      up.held[0]!.release();
      assert.equal((await a.outcome).body, "/a");
      assert.equal((await c.outcome).body, "/c");
      assert.equal((await d.outcome).body, "/d");
      assert.deepEqual(up.seen, ["/a", "/c", "/d"]);
      assert.equal(pool.active, 0);
      assert.equal(stat(store, "upstream_rq_pending_active"), 0);
      cluster.close();
    }));

  test("closing the pool fails the queued requests cleanly", () =>
    withUpstream(async (up) => {
      const { cluster, endpoints, store } = testUpstreamCluster(
        [up.port],
        breakers({ maxConnections: 1 }),
        new ManualClock(),
      );
      const pool = cluster.poolFor(endpoints[0]!) as Http1ConnectionPool;
      const a = send(pool, get("/a"));
      const b = send(pool, get("/b"));
      await up.holding(1);
      pool.close();
      const failed = await b.outcome;
      assert.equal(failed.failure, "connection_failure");
      assert.equal((failed.error as { code?: string }).code, "TRELLIS_POOL_CLOSED");
      assert.equal(stat(store, "upstream_rq_pending_active"), 0);
      up.held[0]!.release();
      assert.equal((await a.outcome).body, "/a");
      assert.equal(pool.active, 0);
      assert.deepEqual(up.seen, ["/a"]);
    }));

  test("a pool with no connection opens one even when the cluster is at max_connections (no starving)", async () => {
    const upA = await startHoldingUpstream();
    const upB = await startHoldingUpstream();
    try {
      const { cluster, endpoints, store } = testUpstreamCluster(
        [upA.port, upB.port],
        breakers({ maxConnections: 1 }),
        new ManualClock(),
      );
      const poolA = cluster.poolFor(endpoints[0]!) as Http1ConnectionPool;
      const poolB = cluster.poolFor(endpoints[1]!) as Http1ConnectionPool;
      const a = send(poolA, get("/a"));
      const b1 = send(poolB, get("/b1"));
      const b2 = send(poolB, get("/b2"));
      await upA.holding(1);
      await upB.holding(1);
      assert.equal(poolB.connections, 1, "B opened its one connection above the limit");
      assert.equal(poolB.pending, 1, "but no second one");
      assert.equal(stat(store, "upstream_cx_active"), 2);
      assert.equal(stat(store, "upstream_cx_overflow"), 2);
      upB.held[0]!.release();
      await upB.holding(1);
      upB.held[0]!.release();
      upA.held[0]!.release();
      assert.deepEqual(
        (await Promise.all([a.outcome, b1.outcome, b2.outcome])).map((o) => o.body),
        ["/a", "/b1", "/b2"],
      );
      assert.equal(upB.connections, 1);
      cluster.close();
    } finally {
      await upA.close();
      await upB.close();
    }
  });

  test("per-host max_connections limits one endpoint while the cluster has room", () =>
    withUpstream(async (up) => {
      const { cluster, endpoints, store } = testUpstreamCluster(
        [up.port],
        breakers({ maxConnections: 100, maxPendingRequests: 1 }, 1),
        new ManualClock(),
      );
      const pool = cluster.poolFor(endpoints[0]!) as Http1ConnectionPool;
      const a = send(pool, get("/a"));
      const b = send(pool, get("/b"));
      const c = send(pool, get("/c"));
      assert.equal((await c.outcome).failure, "overflow");
      await up.holding(1);
      assert.equal(pool.connections, 1);
      assert.equal(endpoints[0]!.connections, 1);
      assert.equal(gauge(store, "cx_open"), 0, "the cluster-wide breaker is not at its limit");
      up.held[0]!.release();
      await up.holding(1);
      up.held[0]!.release();
      assert.deepEqual(
        (await Promise.all([a.outcome, b.outcome])).map((o) => o.body),
        ["/a", "/b"],
      );
      cluster.close();
      assert.equal(endpoints[0]!.connections, 0);
    }));

  test("a connection that closes makes room for the next waiting request", () =>
    withUpstream(async (up) => {
      const { cluster, endpoints, store } = testUpstreamCluster(
        [up.port],
        breakers({ maxConnections: 1 }),
        new ManualClock(),
      );
      const pool = cluster.poolFor(endpoints[0]!) as Http1ConnectionPool;
      const a = send(pool, get("/a"));
      const b = send(pool, get("/b"));
      await up.holding(1);
      a.stream.abort(); // the router gave up (route timeout): its connection is closed
      const heldB = await up.arrived("/b");
      assert.equal(up.connections, 2, "a fresh connection replaced the aborted one");
      heldB.release();
      assert.equal((await b.outcome).body, "/b");
      assert.equal(stat(store, "upstream_cx_active"), 1);
      cluster.close();
    }));
});
