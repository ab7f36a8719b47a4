// Connections that end before (or without) saying anything: a load balancer's TCP health check connects and closes,
// a client resets. tcp_proxy closes the upstream side at once (while connecting or after), instead of leaving both
// sockets to the idle timeout; a session that did send bytes keeps Envoy's half-close semantics (a FIN is passed on,
// the session ends when both directions are done, what was sent before the FIN arrives). HTTP listeners (codec AUTO,
// with and without tls_inspector) leak nothing either. The clock is a ManualClock that never moves: no timeout can
// be what closes anything here.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { Worker } from "node:worker_threads";
import { ManualClock } from "../src/api/clock.ts";
import { allDomains, bootstrap, httpListener, staticCluster, tcpListener } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer } from "./support/upstreams.ts";
import { waitFor } from "./support/wait.ts";
import { PREFACE, settings } from "./support/h2-wire.ts";

/** An upstream that keeps half-open connections (as many servers do): it never ends its side on a FIN. */
async function startHalfOpenUpstream(onConnection?: (s: net.Socket) => void): Promise<{
  port: number;
  accepted: number;
  /** Connections the proxy closed (FIN or RST seen). */
  closed: number;
  received: string[];
  close(): Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  const state = {
    port: 0,
    accepted: 0,
    closed: 0,
    received: [] as string[],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    state.accepted++;
    sockets.add(s);
    const i = state.received.push("") - 1;
    s.on("data", (c: Buffer) => (state.received[i] += c.toString("latin1")));
    s.on("error", () => {});
    // The proxy's side is gone once a FIN (or RST) arrives; this server's own side may stay half-open.
    let gone = false;
    const left = (): void => {
      if (gone) return;
      gone = true;
      state.closed++;
    };
    s.on("end", left);
    s.on("close", () => {
      sockets.delete(s);
      left();
    });
    onConnection?.(s);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

/**
 * A listening port whose connects never complete: the server's thread is blocked (it never accepts) and its
 * backlog is filled, so the kernel drops further SYNs and a connect stays pending.
 */
async function startBlackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const lock = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const net = require("node:net"); const { parentPort, workerData } = require("node:worker_threads");
     const server = net.createServer();
     server.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(workerData, 0, 0);
       process.exit(0);
     });`,
    { eval: true, workerData: lock },
  );
  const port = await new Promise<number>((resolve) => worker.once("message", resolve));
  // Fill the accept queue (backlog 1 holds two); later connects are left without an answer.
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 3; i++) {
    const s = net.connect(port, "127.0.0.1");
    s.on("error", () => {});
    fillers.push(s);
  }
  await waitFor(() => fillers.filter((s) => !s.pending).length >= 2);
  return {
    port,
    close: async () => {
      for (const s of fillers) s.destroy();
      Atomics.store(lock, 0, 1);
      Atomics.notify(lock, 0);
      await new Promise((resolve) => worker.once("exit", resolve));
    },
  };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** The client's socket fully closed (bounded: a leak fails the test instead of hanging it). */
function closed(s: net.Socket): Promise<void> {
  return waitFor(() => s.closed);
}

function listenerOpen(proxy: RunningProxy): number {
  return proxy.proxy.stats
    .toJSON()
    .filter((m) => m.name === "envoy_listener_downstream_cx_active")
    .reduce((n, m) => n + m.value, 0);
}

function h2Active(proxy: RunningProxy): number {
  return proxy.proxy.stats
    .toJSON()
    .filter((m) => m.name === "envoy_http_downstream_cx_http2_active")
    .reduce((n, m) => n + m.value, 0);
}

describe("tcp_proxy: a connection closed before any byte", () => {
  for (const how of ["FIN", "RST"] as const) {
    test(`${how} after the upstream connected: the upstream connection is closed at once`, async () => {
      const upstream = await startHalfOpenUpstream();
      const clock = new ManualClock();
      const proxy = await startProxy(
        bootstrap([tcpListener("tcp", { cluster: "app" })], [staticCluster("app", [upstream.port])]),
        clock,
      );
      try {
        const client = await connect(proxy.port());
        client.on("error", () => {});
        await waitFor(() => upstream.accepted === 1);
        if (how === "FIN") client.end();
        else client.resetAndDestroy();
        await waitFor(() => upstream.closed === 1);
        await closed(client);
        const cluster = proxy.proxy.cluster("app")!;
        await waitFor(() => cluster.stats.upstreamCxActive.value === 0 && listenerOpen(proxy) === 0);
        assert.deepEqual(upstream.received, [""]);
      } finally {
        await proxy.close();
        await upstream.close();
      }
    });

    test(`${how} while the upstream is still connecting: the connect is abandoned`, async () => {
      const hole = await startBlackhole();
      const clock = new ManualClock();
      const proxy = await startProxy(
        bootstrap(
          [tcpListener("tcp", { cluster: "app" })],
          [staticCluster("app", [hole.port], { connect_timeout: "60s" })],
        ),
        clock,
      );
      try {
        const client = await connect(proxy.port());
        client.on("error", () => {});
        const cluster = proxy.proxy.cluster("app")!;
        await waitFor(() => cluster.stats.upstreamCxActive.value === 1);
        if (how === "FIN") client.end();
        else client.resetAndDestroy();
        await closed(client);
        await waitFor(() => cluster.stats.upstreamCxActive.value === 0 && listenerOpen(proxy) === 0);
        assert.equal(cluster.stats.upstreamCxConnectFail.value, 0, "not a connect failure: the client left");
      } finally {
        await proxy.close();
        await hole.close();
      }
    });
  }
});

describe("tcp_proxy: half-close once bytes were sent (Envoy's semantics)", () => {
  test("a client FIN after its bytes is passed on; the upstream still answers; the session ends when both are done", async () => {
    const upstream = await startHalfOpenUpstream((s) =>
      s.on("end", () => {
        s.write(Buffer.alloc(256 * 1024, 0x61));
        s.end("!");
      }),
    );
    const proxy = await startProxy(
      bootstrap([tcpListener("tcp", { cluster: "app" })], [staticCluster("app", [upstream.port])]),
      new ManualClock(),
    );
    try {
      const client = await connect(proxy.port());
      let got = 0;
      let last = "";
      client.on("data", (c: Buffer) => {
        got += c.length;
        last = c.toString("latin1", c.length - 1);
      });
      client.end("hello");
      await closed(client);
      assert.equal(got, 256 * 1024 + 1, "every byte the upstream sent before its FIN arrives");
      assert.equal(last, "!");
      assert.deepEqual(upstream.received, ["hello"]);
      await waitFor(() => upstream.closed === 1 && listenerOpen(proxy) === 0);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  test("an upstream FIN is passed on and the client can still send; a one-way session stays open", async () => {
    let upstreamSocket: net.Socket | undefined;
    const upstream = await startHalfOpenUpstream((s) => {
      upstreamSocket = s;
      s.end("bye");
    });
    const proxy = await startProxy(
      bootstrap([tcpListener("tcp", { cluster: "app" })], [staticCluster("app", [upstream.port])]),
      new ManualClock(),
    );
    try {
      const client = await connect(proxy.port());
      let text = "";
      client.on("data", (c: Buffer) => (text += c.toString("latin1")));
      client.write("x");
      await new Promise((resolve) => client.once("end", resolve));
      assert.equal(text, "bye");
      client.write("after");
      await waitFor(() => upstream.received[0] === "xafter");
      assert.equal(upstreamSocket!.destroyed, false);
      client.end();
      await closed(client);
      await waitFor(() => upstream.closed === 1 && listenerOpen(proxy) === 0);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("HTTP listeners: a connection closed before any byte leaks nothing (every codec, and tls_inspector)", () => {
  const listeners = {
    "codec AUTO": (port: number) =>
      httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {}, port),
    "codec HTTP1": (port: number) =>
      httpListener(
        "http",
        allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]),
        { codec_type: "HTTP1" },
        port,
      ),
    "codec HTTP2": (port: number) =>
      httpListener(
        "http",
        allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]),
        { codec_type: "HTTP2" },
        port,
      ),
    "codec AUTO behind tls_inspector": (port: number) => ({
      ...httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {}, port),
      listener_filters: [
        {
          name: "envoy.filters.listener.tls_inspector",
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
          },
        },
      ],
    }),
  };
  for (const [name, listener] of Object.entries(listeners)) {
    for (const how of ["FIN", "RST"] as const) {
      test(`${name}, ${how}`, async () => {
        const upstream = await startEchoServer();
        const proxy = await startProxy(
          bootstrap([listener(0)], [staticCluster("app", [upstream.port])]),
          new ManualClock(),
        );
        try {
          const clients = await Promise.all(Array.from({ length: 5 }, () => connect(proxy.port())));
          await waitFor(() => listenerOpen(proxy) === 5);
          for (const c of clients) {
            c.on("error", () => {});
            c.resume(); // an HTTP/2 server speaks first (SETTINGS): read it, so the client's end can be seen
            if (how === "FIN") c.end();
            else c.resetAndDestroy();
          }
          await Promise.all(clients.map(closed));
          await waitFor(() => listenerOpen(proxy) === 0);
          assert.equal(upstream.received.length, 0);
        } finally {
          await proxy.close();
          await upstream.close();
        }
      });
    }
  }
});

describe("HTTP/2 sessions: a client's FIN after the preface closes the session (no idle timeout needed)", () => {
  for (const codec of ["AUTO", "HTTP2"] as const) {
    test(`codec ${codec}: preface, SETTINGS, FIN`, async () => {
      const upstream = await startEchoServer();
      const proxy = await startProxy(
        bootstrap(
          [
            httpListener(
              "http",
              allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]),
              { codec_type: codec },
              0,
            ),
          ],
          [staticCluster("app", [upstream.port])],
        ),
        new ManualClock(),
      );
      try {
        const clients = await Promise.all(Array.from({ length: 3 }, () => connect(proxy.port())));
        await waitFor(() => listenerOpen(proxy) === 3);
        for (const c of clients) {
          c.on("error", () => {});
          c.resume();
          c.write(Buffer.concat([PREFACE, settings()]));
        }
        await waitFor(() => h2Active(proxy) === 3);
        for (const c of clients) c.end();
        await Promise.all(clients.map(closed));
        await waitFor(() => listenerOpen(proxy) === 0 && h2Active(proxy) === 0);
        assert.equal(upstream.received.length, 0);
      } finally {
        await proxy.close();
        await upstream.close();
      }
    });
  }
});
