// HTTP/1.1 tunnels (a WebSocket upgrade answered 101, a CONNECT answered 200) end as tcp_proxy sessions end
// (tcp/join.ts): a FIN is passed on and the other direction keeps flowing, a side that closed cleanly has the other
// flushed before it is closed (bytes in flight arrive whole), an RST on either side closes both at once, a client
// that ends before its first tunnel byte closes the upstream too, and the stream idle timeout still applies. After
// each, nothing is left open: the listener's and the cluster's connections, and downstream_cx_upgrades_active, are
// back to 0. The clock is a ManualClock that moves only when a test says so: no timeout closes anything otherwise.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { ManualClock } from "../src/api/clock.ts";
import { allDomains, bootstrap, httpListener, staticCluster } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { waitFor } from "./support/wait.ts";

/** An upstream that answers the first request head with `answer` and hands the socket (half-open) to the test. */
async function startTunnelUpstream(): Promise<{
  port: number;
  /** The upstream side of each tunnel, once its head was answered, with the bytes that came after it. */
  next(): Promise<UpstreamSide>;
  close(): Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  const waiting: ((s: UpstreamSide) => void)[] = [];
  const ready: UpstreamSide[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    let head = "";
    const onData = (c: Buffer): void => {
      head += c.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      s.off("data", onData);
      const connect = head.startsWith("CONNECT ");
      s.write(
        connect
          ? "HTTP/1.1 200 OK\r\n\r\n"
          : "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n",
      );
      const side = new UpstreamSide(s, head.slice(end + 4));
      const w = waiting.shift();
      if (w) w(side);
      else ready.push(side);
    };
    s.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    next: () => {
      const r = ready.shift();
      return r ? Promise.resolve(r) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

class UpstreamSide {
  received: string;
  ended = false;
  constructor(
    readonly socket: net.Socket,
    already: string,
  ) {
    this.received = already;
    socket.on("data", (c: Buffer) => (this.received += c.toString("latin1")));
    socket.on("end", () => (this.ended = true));
  }
}

/** The client's side: raw bytes, half-open; what follows the tunnel's response head is `tunnel()`. */
class Client {
  raw = Buffer.alloc(0);
  ended = false;
  constructor(readonly socket: net.Socket) {
    socket.on("data", (c: Buffer) => (this.raw = Buffer.concat([this.raw, c])));
    socket.on("end", () => (this.ended = true));
    socket.on("error", () => {});
  }
  get headDone(): boolean {
    return this.raw.indexOf("\r\n\r\n") >= 0;
  }
  get status(): string {
    return this.raw.subarray(0, this.raw.indexOf("\r\n")).toString("latin1");
  }
  tunnel(): Buffer {
    return this.raw.subarray(this.raw.indexOf("\r\n\r\n") + 4);
  }
}

const KINDS = {
  WebSocket: "GET /chat HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n",
  CONNECT: "CONNECT db.internal:5432 HTTP/1.1\r\nhost: db.internal:5432\r\n\r\n",
} as const;

function gauge(proxy: RunningProxy, name: string): number {
  return proxy.proxy.stats
    .toJSON()
    .filter((m) => m.name === name)
    .reduce((n, m) => n + m.value, 0);
}

/** Nothing open on either side of the sidecar, and the upgrade gauge back to 0. */
async function nothingOpen(proxy: RunningProxy): Promise<void> {
  await waitFor(
    () =>
      gauge(proxy, "envoy_listener_downstream_cx_active") === 0 &&
      gauge(proxy, "envoy_http_downstream_cx_active") === 0 &&
      gauge(proxy, "envoy_cluster_upstream_cx_active") === 0 &&
      gauge(proxy, "envoy_http_downstream_cx_upgrades_active") === 0,
  );
}

/** Bytes no single socket write or kernel buffer takes at once: some wait in the sidecar's buffers. */
function payload(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) % 251;
  return b;
}

for (const [kind, request] of Object.entries(KINDS)) {
  describe(`${kind} tunnel`, () => {
    let clock: ManualClock;
    let upstream: Awaited<ReturnType<typeof startTunnelUpstream>>;
    let proxy: RunningProxy;

    async function setup(hcmExtra: Record<string, unknown> = {}): Promise<void> {
      clock = new ManualClock();
      upstream = await startTunnelUpstream();
      proxy = await startProxy(
        bootstrap(
          [
            httpListener(
              "in",
              allDomains([
                { match: { connect_matcher: {} }, route: { cluster: "app" } },
                { match: { prefix: "/" }, route: { cluster: "app" } },
              ]),
              { upgrade_configs: [{ upgrade_type: "websocket" }, { upgrade_type: "CONNECT" }], ...hcmExtra },
            ),
          ],
          [staticCluster("app", [upstream.port])],
        ),
        clock,
      );
    }

    async function teardown(): Promise<void> {
      await proxy.close();
      await upstream.close();
    }

    /** A client whose tunnel is established; `first` goes with the request head. */
    async function open(first = ""): Promise<{ client: Client; up: UpstreamSide }> {
      const socket = net.connect({ port: proxy.port(), host: "127.0.0.1", allowHalfOpen: true });
      await new Promise<void>((r) => socket.once("connect", r));
      const client = new Client(socket);
      socket.write(request + first);
      const up = await upstream.next();
      await waitFor(() => client.headDone && gauge(proxy, "envoy_http_downstream_cx_upgrades_active") === 1);
      assert.match(client.status, kind === "CONNECT" ? /^HTTP\/1\.1 200/ : /^HTTP\/1\.1 101/);
      return { client, up };
    }

    test("client FIN first: passed on; the upstream's answer after it arrives whole, then everything closes", async () => {
      await setup();
      try {
        const { client, up } = await open();
        client.socket.end("last words");
        await waitFor(() => up.ended);
        assert.equal(up.received, "last words");
        const answer = payload(4 << 20, 1);
        up.socket.end(answer);
        await waitFor(() => client.socket.closed);
        assert.ok(client.ended);
        assert.ok(client.tunnel().equals(answer), `${client.tunnel().length} of ${answer.length} bytes`);
        await waitFor(() => up.socket.closed);
        await nothingOpen(proxy);
      } finally {
        await teardown();
      }
    });

    test("upstream FIN first: passed on after the bytes before it; the client's direction stays open, then all closes", async () => {
      await setup();
      try {
        const { client, up } = await open("early ");
        const answer = payload(1 << 20, 2);
        up.socket.end(answer);
        await waitFor(() => client.ended);
        assert.ok(client.tunnel().equals(answer), `${client.tunnel().length} of ${answer.length} bytes`);
        // The client's direction is still open: what it sends after the upstream's FIN still arrives.
        client.socket.write("late");
        await waitFor(() => up.received === "early late");
        assert.equal(up.ended, false);
        client.socket.end();
        await waitFor(() => up.ended);
        await waitFor(() => client.socket.closed && up.socket.closed);
        await nothingOpen(proxy);
      } finally {
        await teardown();
      }
    });

    test("both sides end while the client is not reading: what was written to it arrives whole before it closes", async () => {
      await setup();
      try {
        const { client, up } = await open();
        client.socket.pause();
        const answer = payload(256 << 10, 3);
        up.socket.end(answer);
        client.socket.end("bye");
        await waitFor(() => up.ended && up.received === "bye");
        await waitFor(() => up.socket.closed);
        client.socket.resume();
        await waitFor(() => client.socket.closed);
        assert.ok(client.ended);
        assert.ok(client.tunnel().equals(answer), `${client.tunnel().length} of ${answer.length} bytes`);
        await nothingOpen(proxy);
      } finally {
        await teardown();
      }
    });

    test("client FIN before any tunnel byte: the upstream connection is closed at once", async () => {
      await setup();
      try {
        const { client, up } = await open();
        client.socket.resume();
        client.socket.end();
        // The upstream keeps its side half-open and never ends it: only the sidecar can close it.
        await waitFor(() => up.socket.closed || up.ended);
        await waitFor(() => client.socket.closed);
        await nothingOpen(proxy);
      } finally {
        await teardown();
      }
    });

    test("client RST: both sides closed at once", async () => {
      await setup();
      try {
        const { client, up } = await open("x");
        await waitFor(() => up.received === "x");
        client.socket.resetAndDestroy();
        await waitFor(() => up.socket.closed || up.ended);
        await nothingOpen(proxy);
      } finally {
        await teardown();
      }
    });

    test("upstream RST: both sides closed at once", async () => {
      await setup();
      try {
        const { client, up } = await open("x");
        await waitFor(() => up.received === "x");
        up.socket.resetAndDestroy();
        // The client keeps its own side half-open: the sidecar's FIN (or RST) is what shows its side closed.
        await waitFor(() => client.ended || client.socket.closed);
        await nothingOpen(proxy);
      } finally {
        await teardown();
      }
    });

    test("the stream idle timeout closes an idle tunnel (SI, downstream_rq_idle_timeout); traffic keeps it open", async () => {
      await setup({ stream_idle_timeout: "10s" });
      try {
        const { client, up } = await open("a");
        await waitFor(() => up.received === "a");
        clock.advance(6000);
        client.socket.write("b");
        await waitFor(() => up.received === "ab");
        clock.advance(6000); // 12 s since the tunnel opened, 6 s since its last byte: still open
        assert.equal(client.socket.closed, false);
        assert.equal(up.socket.closed, false);
        clock.advance(5000);
        await waitFor(() => (client.ended || client.socket.closed) && (up.ended || up.socket.closed));
        await nothingOpen(proxy);
        assert.equal(gauge(proxy, "envoy_http_downstream_rq_idle_timeout"), 1);
      } finally {
        await teardown();
      }
    });
  });
}
