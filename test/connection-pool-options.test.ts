// The cluster connection options a DestinationRule's connectionPool becomes, through a real proxy to real
// upstreams: TCP keepalive on every kind of upstream connection (HTTP/1.1 pool, HTTP/2 session, tcp_proxy), the
// HTTP/2 stream cap, and the upstream protocol following the downstream's.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { ManualClock } from "../src/api/clock.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { h2request, request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster, tcpListener, type Raw } from "./support/envoy-config.ts";
import { waitFor } from "./support/wait.ts";

const KEEPALIVE_TIME_S = 7;
const KEEPALIVE: Raw = { upstream_connection_options: { tcp_keepalive: { keepalive_time: KEEPALIVE_TIME_S } } };

function httpProtocolOptions(options: Raw): Raw {
  return {
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        ...options,
      },
    },
  };
}

const H2: Raw = httpProtocolOptions({ explicit_http_config: { http2_protocol_options: {} } });

/** A proxy with one HTTP listener that routes everything to cluster "app": the upstream at `port`. */
function proxyToApp(port: number, cluster: Raw): Promise<RunningProxy> {
  const routes = allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]);
  return startProxy(bootstrap([httpListener("http", routes)], [staticCluster("app", [port], cluster)]));
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as net.AddressInfo).port;
}

function close(server: net.Server & { closeAllConnections?: () => void }): Promise<void> {
  server.closeAllConnections?.();
  return new Promise((r) => server.close(() => r()));
}

/**
 * The kernel's timer on our end of the connection from `localPort` to `remotePort` (/proc/net/tcp: "tr" 2 is the
 * keepalive timer, "tm->when" its remaining time in clock ticks of 1/100 s). Node cannot getsockopt, but the
 * kernel shows what was set.
 */
function tcpTimer(localPort: number, remotePort: number): { kind: number; seconds: number } {
  const hex = (p: number): string => p.toString(16).toUpperCase().padStart(4, "0");
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(`:${hex(localPort)}`) && f[2]?.endsWith(`:${hex(remotePort)}`)) {
      const [kind, when] = f[5]!.split(":");
      return { kind: Number.parseInt(kind!, 16), seconds: Number.parseInt(when!, 16) / 100 };
    }
  }
  throw new Error(`no connection ${localPort} → ${remotePort} in /proc/net/tcp`);
}

const KEEPALIVE_TIMER = 2;

describe(
  "tcp_keepalive on upstream connections",
  { skip: !existsSync("/proc/net/tcp") && "needs /proc/net/tcp" },
  () => {
    // Each upstream answers with the client port it saw: our end of the upstream connection.
    const h1 = http.createServer((req, res) => res.end(String(req.socket.remotePort)));
    const h2 = http2.createServer();
    h2.on("stream", (stream) => {
      stream.respond({ ":status": 200 });
      stream.end(String(stream.session!.socket.remotePort));
    });
    const tcpPorts: number[] = [];
    const tcp = net.createServer((s) => {
      tcpPorts.push(s.remotePort!);
      s.on("error", () => {});
    });
    const ports = { h1: 0, h2: 0, tcp: 0 };
    let proxy: RunningProxy;

    before(async () => {
      ports.h1 = await listen(h1);
      ports.h2 = await listen(h2);
      ports.tcp = await listen(tcp);
      const route = (prefix: string, cluster: string): Raw => ({ match: { prefix }, route: { cluster } });
      proxy = await startProxy(
        bootstrap(
          [
            httpListener("http", allDomains([route("/h1", "h1"), route("/h2", "h2"), route("/plain", "plain")])),
            tcpListener("tcp", { cluster: "tcp" }),
          ],
          [
            staticCluster("h1", [ports.h1], KEEPALIVE),
            staticCluster("h2", [ports.h2], { ...KEEPALIVE, ...H2 }),
            staticCluster("tcp", [ports.tcp], KEEPALIVE),
            staticCluster("plain", [ports.h1]),
          ],
        ),
      );
    });
    after(async () => {
      await proxy.close();
      await Promise.all([close(h1), close(h2), close(tcp)]);
    });

    function assertKeepalive(localPort: number, upstreamPort: number): void {
      const timer = tcpTimer(localPort, upstreamPort);
      assert.equal(timer.kind, KEEPALIVE_TIMER, "the keepalive timer runs on the idle connection");
      assert.ok(timer.seconds > 0 && timer.seconds <= KEEPALIVE_TIME_S, `first probe in ${timer.seconds} s`);
    }

    test("HTTP/1.1 pool connections", async () => {
      const r = await request(proxy.port("http"), { path: "/h1" });
      assertKeepalive(Number(r.body), ports.h1);
    });

    test("HTTP/2 sessions", async () => {
      const r = await request(proxy.port("http"), { path: "/h2" });
      assertKeepalive(Number(r.body), ports.h2);
    });

    test("tcp_proxy connections", async () => {
      const client = net.connect({ host: "127.0.0.1", port: proxy.port("tcp") });
      try {
        await waitFor(() => tcpPorts.length === 1);
        assertKeepalive(tcpPorts[0]!, ports.tcp);
      } finally {
        client.destroy();
      }
    });

    test("health-check connections (HTTP, reused between checks), as Envoy's", async () => {
      const seen: number[] = [];
      const app = http.createServer((req, res) => {
        seen.push(req.socket.remotePort!);
        res.end("ok");
      });
      const appPort = await listen(app);
      const checked = staticCluster("checked", [appPort], {
        ...KEEPALIVE,
        health_checks: [
          {
            timeout: "1s",
            interval: "60s",
            unhealthy_threshold: 1,
            healthy_threshold: 1,
            http_health_check: { path: "/health" },
          },
        ],
      });
      // The injected clock holds the next check back: the first one runs at start and its connection stays open.
      const checking = await startProxy(
        bootstrap([tcpListener("unused", { cluster: "checked" })], [checked]),
        new ManualClock(),
      );
      try {
        await waitFor(() => seen.length === 1);
        assertKeepalive(seen[0]!, appPort);
        // Not the 1 s an http.Agent sets on the sockets it keeps: the cluster's own delay.
        await waitFor(() => tcpTimer(seen[0]!, appPort).seconds > 1);
      } finally {
        await checking.close();
        await close(app);
      }
    });

    test("a cluster without it has no keepalive timer", async () => {
      const r = await request(proxy.port("http"), { path: "/plain" });
      assert.equal(tcpTimer(Number(r.body), ports.h1).kind, 0);
    });
  },
);

describe("http2_protocol_options.max_concurrent_streams", () => {
  test("with 2 allowed, a third concurrent request opens a second session", async () => {
    const held: http2.ServerHttp2Stream[] = [];
    const sessions = new Set<http2.Http2Session>();
    const upstream = http2.createServer();
    upstream.on("stream", (stream) => {
      sessions.add(stream.session!);
      held.push(stream);
    });
    const port = await listen(upstream);
    const proxy = await proxyToApp(
      port,
      httpProtocolOptions({ explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 2 } } }),
    );
    try {
      const replies = [1, 2, 3].map((i) => request(proxy.port(), { path: `/slow${i}` }));
      await waitFor(() => held.length === 3);
      assert.equal(sessions.size, 2);
      for (const stream of held) {
        stream.respond({ ":status": 200 });
        stream.end("ok");
      }
      assert.deepEqual(
        (await Promise.all(replies)).map((r) => r.status),
        [200, 200, 200],
      );
    } finally {
      await proxy.close();
      for (const s of sessions) s.destroy();
      await close(upstream);
    }
  });
});

/**
 * One port that serves h2c and HTTP/1.1 and answers with the version each request came in. (node:http2's
 * allowHTTP1 works only with TLS in Node 20, so the connection's first bytes choose the server here.)
 */
function bothProtocols(): { server: net.Server; close(): Promise<void> } {
  const answer = (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ): void => void res.end(req.httpVersion);
  const h1 = http.createServer(answer);
  const h2 = http2.createServer(answer);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.once("readable", () => {
      const first = socket.read(3) as Buffer | null;
      if (first === null) return;
      socket.unshift(first);
      // Every HTTP/2 connection starts with the preface "PRI * HTTP/2.0".
      (first.toString("latin1") === "PRI" ? h2 : h1).emit("connection", socket);
    });
  });
  return {
    server,
    close: async () => {
      for (const s of sockets) s.destroy();
      await close(server);
    },
  };
}

describe("use_downstream_protocol_config (Istio's useClientProtocol)", () => {
  const upstream = bothProtocols();
  let proxy: RunningProxy;
  let session: http2.ClientHttp2Session;

  before(async () => {
    const port = await listen(upstream.server);
    proxy = await proxyToApp(
      port,
      httpProtocolOptions({
        use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
      }),
    );
    session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
  });
  after(async () => {
    session.close();
    await proxy.close();
    await upstream.close();
  });

  test("an h2c client's request goes upstream as HTTP/2", async () => {
    const r = await h2request(session, { ":method": "GET", ":path": "/", ":authority": "app" });
    assert.equal(r.status, 200);
    assert.equal(r.body, "2.0");
  });

  test("an HTTP/1.1 client's request goes upstream as HTTP/1.1", async () => {
    const r = await request(proxy.port(), { path: "/" });
    assert.equal(r.status, 200);
    assert.equal(r.body, "1.1");
  });

  test("both at once, each in its own protocol", async () => {
    const [a, b] = await Promise.all([
      h2request(session, { ":method": "GET", ":path": "/", ":authority": "app" }),
      request(proxy.port(), { path: "/" }),
    ]);
    assert.deepEqual([a.body, b.body], ["2.0", "1.1"]);
  });
});
