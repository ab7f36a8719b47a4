// The upstream transport socket envoy.transport_sockets.upstream_proxy_protocol: a raw upstream checks exactly
// what arrives — the PROXY protocol header first, then the connection's bytes unchanged. tcp_proxy passes the
// downstream connection's addresses; an HTTP pool's connections (which serve many clients) name their own
// addresses in V1 and send the LOCAL command in V2, as Envoy does.

import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { parseProxyHeader } from "../src/proxy/listener/proxy-protocol.ts";
import { V2_LOCAL_HEADER } from "../src/proxy/upstream/proxy-protocol-socket.ts";
import { request } from "./support/clients.ts";
import {
  allDomains,
  bootstrap,
  HTTP2_UPSTREAM,
  httpListener,
  staticCluster,
  tcpListener,
  type Raw,
} from "./support/envoy-config.ts";
import { startProxy } from "./support/proxies.ts";

function transportSocket(version: "V1" | "V2"): Raw {
  return {
    transport_socket: {
      name: "envoy.transport_sockets.upstream_proxy_protocol",
      typed_config: {
        "@type":
          "type.googleapis.com/envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport",
        config: { version },
        transport_socket: {
          name: "envoy.transport_sockets.raw_buffer",
          typed_config: { "@type": "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer" },
        },
      },
    },
  };
}

interface Arrival {
  bytes: Buffer;
  /** The proxy's end of the connection, as this server saw it. */
  peerPort: number;
}

/** Records each connection's bytes; answers an HTTP/1.1 request (after whatever came first) with 200 "ok". */
async function startRecordingUpstream(): Promise<{ port: number; arrivals: Arrival[]; close(): Promise<void> }> {
  const arrivals: Arrival[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    const arrival: Arrival = { bytes: Buffer.alloc(0), peerPort: s.remotePort ?? 0 };
    arrivals.push(arrival);
    s.on("data", (c: Buffer) => {
      arrival.bytes = Buffer.concat([arrival.bytes, c]);
      // (A v2 header starts with CRLF CRLF itself: the TCP case is told apart first.)
      if (arrival.bytes.includes("tcp-bytes")) s.end("echo");
      else if (
        arrival.bytes.includes(" HTTP/1.1\r\n") &&
        arrival.bytes.includes("\r\n\r\n", arrival.bytes.indexOf(" HTTP/1.1\r\n"))
      )
        s.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    arrivals,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

test("HTTP/1.1 cluster, V1: the header names the connection's own addresses, then the request as it was", async () => {
  const up = await startRecordingUpstream();
  const proxy = await startProxy(
    bootstrap(
      [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))],
      [staticCluster("app", [up.port], transportSocket("V1"))],
    ),
  );
  try {
    const r = await request(proxy.port(), { path: "/x" });
    assert.equal(r.status, 200);
    assert.equal(r.body, "ok");
    const a = up.arrivals[0]!;
    const header = `PROXY TCP4 127.0.0.1 127.0.0.1 ${a.peerPort} ${up.port}\r\n`;
    assert.equal(a.bytes.toString("latin1", 0, header.length), header);
    assert.match(a.bytes.toString("latin1", header.length), /^GET \/x HTTP\/1\.1\r\n/);
    // A second request on the kept-alive connection carries no second header.
    assert.equal((await request(proxy.port(), { path: "/y" })).status, 200);
    const all = up.arrivals.map((x) => x.bytes.toString("latin1")).join("");
    assert.equal(all.split("PROXY ").length - 1, up.arrivals.length);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test("HTTP/1.1 cluster, V2: the LOCAL command, then the request", async () => {
  const up = await startRecordingUpstream();
  const proxy = await startProxy(
    bootstrap(
      [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))],
      [staticCluster("app", [up.port], transportSocket("V2"))],
    ),
  );
  try {
    assert.equal((await request(proxy.port(), { path: "/x" })).status, 200);
    const bytes = up.arrivals[0]!.bytes;
    assert.deepEqual(bytes.subarray(0, V2_LOCAL_HEADER.length), V2_LOCAL_HEADER);
    assert.match(bytes.toString("latin1", V2_LOCAL_HEADER.length), /^GET \/x HTTP\/1\.1\r\n/);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test("tcp_proxy, V2: the downstream connection's addresses, then its bytes", async () => {
  const up = await startRecordingUpstream();
  const proxy = await startProxy(
    bootstrap([tcpListener("tcp", { cluster: "app" })], [staticCluster("app", [up.port], transportSocket("V2"))]),
  );
  try {
    const { clientPort, reply } = await new Promise<{ clientPort: number; reply: string }>((resolve, reject) => {
      const socket = net.connect(proxy.port(), "127.0.0.1");
      let reply = "";
      socket.on("connect", () => socket.write("tcp-bytes"));
      socket.on("data", (c: Buffer) => (reply += c.toString()));
      socket.on("error", reject);
      socket.on("end", () => {
        resolve({ clientPort: socket.localPort!, reply });
        socket.end();
      });
    });
    assert.equal(reply, "echo");
    const bytes = up.arrivals[0]!.bytes;
    const h = parseProxyHeader(bytes);
    assert.equal(h.kind, "header");
    if (h.kind !== "header") return;
    assert.equal(h.version, 2);
    assert.deepEqual(h.addresses, {
      sourceAddress: "127.0.0.1",
      sourcePort: clientPort,
      destinationAddress: "127.0.0.1",
      destinationPort: proxy.port(),
    });
    assert.equal(bytes.toString("latin1", h.length), "tcp-bytes");
  } finally {
    await proxy.close();
    await up.close();
  }
});

test("HTTP/2 cluster, V1: the header precedes the connection preface; the h2 upstream behind it answers", async () => {
  const h2 = http2.createServer();
  h2.on("stream", (stream) => stream.respond({ ":status": 200, "x-via": "h2" }, { endStream: true }));
  const headers: string[] = [];
  const front = net.createServer((s) => {
    s.on("error", () => {});
    let seen = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      seen = Buffer.concat([seen, c]);
      const h = parseProxyHeader(seen);
      if (h.kind === "incomplete") return;
      s.off("data", onData);
      if (h.kind !== "header") return void s.destroy();
      headers.push(seen.toString("latin1", 0, h.length));
      // node:http2 reads a net.Socket's handle directly, past anything read already: what follows the header is
      // handed over through a plain Duplex instead.
      const rest = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, cb) {
          s.write(chunk, cb);
        },
        final(cb) {
          s.end();
          cb();
        },
      });
      rest.push(seen.subarray(h.length));
      s.on("data", (more: Buffer) => rest.push(more));
      s.on("end", () => rest.push(null));
      s.on("close", () => rest.destroy());
      h2.emit("connection", rest);
    };
    s.on("data", onData);
  });
  await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
  const port = (front.address() as net.AddressInfo).port;
  const proxy = await startProxy(
    bootstrap(
      [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))],
      [staticCluster("app", [port], { ...HTTP2_UPSTREAM, ...transportSocket("V1") })],
    ),
  );
  try {
    const r = await request(proxy.port(), { path: "/x" });
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-via"], "h2");
    assert.equal(headers.length, 1);
    assert.match(headers[0]!, /^PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+\r\n$/);
  } finally {
    await proxy.close();
    h2.close();
    await new Promise<void>((r) => front.close(() => r()));
  }
});

test("an inner transport socket other than raw_buffer is refused with its path", () => {
  const cluster = staticCluster("app", [1], transportSocket("V1"));
  const ts = cluster.transport_socket as { typed_config: Raw };
  ts.typed_config.transport_socket = {
    name: "envoy.transport_sockets.tls",
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext" },
  };
  assert.throws(
    () => parseBootstrap(JSON.stringify(bootstrap([], [cluster])), "test"),
    /clusters\[0\]\.transport_socket\.typed_config\.transport_socket.*only envoy\.transport_sockets\.raw_buffer can be wrapped/s,
  );
});

test("health checks go through the transport socket too: the HTTP check starts with the header", async () => {
  const up = await startRecordingUpstream();
  const proxy = await startProxy(
    bootstrap(
      [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))],
      [
        staticCluster("app", [up.port], {
          ...transportSocket("V1"),
          health_checks: [
            {
              timeout: "1s",
              interval: "5s",
              unhealthy_threshold: 1,
              healthy_threshold: 1,
              http_health_check: { path: "/healthz" },
            },
          ],
        }),
      ],
    ),
  );
  try {
    const check = up.arrivals.find((a) => a.bytes.includes("/healthz"));
    assert.ok(check, "the first health check round ran before the proxy served");
    assert.match(
      check.bytes.toString("latin1"),
      /^PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+\r\nGET \/healthz HTTP\/1\.1\r\n/,
    );
    const clusters = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/clusters`)).text();
    assert.match(clusters, new RegExp(`app::127\\.0\\.0\\.1:${up.port}::health_flags::healthy`));
    assert.equal((await request(proxy.port(), { path: "/x" })).status, 200);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test("a PROXY header read by the listener is passed on by tcp_proxy's upstream header (the real client, end to end)", async () => {
  const up = await startRecordingUpstream();
  const listener = tcpListener("tcp", { cluster: "app" });
  listener.listener_filters = [
    {
      name: "envoy.filters.listener.proxy_protocol",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol",
      },
    },
  ];
  const proxy = await startProxy(bootstrap([listener], [staticCluster("app", [up.port], transportSocket("V1"))]));
  try {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(proxy.port(), "127.0.0.1", () =>
        socket.write("PROXY TCP4 192.0.2.44 203.0.113.1 41000 443\r\ntcp-bytes"),
      );
      let got = "";
      socket.on("data", (c: Buffer) => (got += c.toString()));
      socket.on("error", reject);
      socket.on("end", () => {
        socket.end();
        resolve(got);
      });
    });
    assert.equal(reply, "echo");
    assert.equal(up.arrivals[0]!.bytes.toString("latin1"), "PROXY TCP4 192.0.2.44 203.0.113.1 41000 443\r\ntcp-bytes");
  } finally {
    await proxy.close();
    await up.close();
  }
});
