// envoy.filters.listener.proxy_protocol end to end: a real proxy, hand-written headers (v1 and v2, split across
// writes, with TLVs, the LOCAL command), a real upstream that sees x-forwarded-for, and the access log's downstream
// address. A connection with no header, or a bad one, is closed unless allow_requests_without_proxy_protocol.

import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { ManualClock } from "../src/api/clock.ts";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allDomains, bootstrap, httpListener, staticCluster, type Raw } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, startTcpEcho, type EchoRecord, type Upstream } from "./support/upstreams.ts";
import { clientHello } from "./support/client-hello.ts";
import { V2_SIGNATURE } from "../src/proxy/listener/proxy-protocol.ts";

const FILTER_TYPE = "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol";

interface Setup {
  proxy: RunningProxy;
  upstream: Upstream;
  logLines(): Promise<string[]>;
  close(): Promise<void>;
}

async function setup(
  filterConfig: Raw = {},
  extraListenerFilters: Raw[] = [],
  listenerExtra: Raw = {},
  clock?: ManualClock,
): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), "trellis-pp-"));
  const path = join(dir, "access.log");
  const upstream = await startEchoServer("app");
  const listener = httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
    use_remote_address: true,
    access_log: [
      {
        name: "envoy.access_loggers.file",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
          path,
          log_format: {
            text_format_source: {
              inline_string:
                "%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%\n",
            },
          },
        },
      },
    ],
  });
  listener.listener_filters = [
    { name: "envoy.filters.listener.proxy_protocol", typed_config: { "@type": FILTER_TYPE, ...filterConfig } },
    ...extraListenerFilters,
  ];
  Object.assign(listener, listenerExtra);
  let proxy: RunningProxy;
  try {
    proxy = await startProxy(bootstrap([listener], [staticCluster("app", [upstream.port])]), clock);
  } catch (err) {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await proxy.close();
    await upstream.close();
  };
  return {
    proxy,
    upstream,
    logLines: async () => {
      await close();
      const text = readFileSync(path, "utf8");
      rmSync(dir, { recursive: true, force: true });
      return text
        .trim()
        .split("\n")
        .filter((l) => l !== "");
    },
    close,
  };
}

/** Writes `pieces` one per event-loop turn (so they arrive as separate reads), collects all until the close. */
function send(port: number, pieces: (string | Buffer)[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (err: NodeJS.ErrnoException) =>
      err.code === "ECONNRESET" || err.code === "EPIPE" ? undefined : reject(err),
    );
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.on("connect", async () => {
      for (const p of pieces) {
        if (socket.destroyed) break;
        socket.write(p);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
  });
}

const REQUEST = "GET /who HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

function xffOf(upstream: Upstream): string | undefined {
  return (upstream.received.at(-1) as EchoRecord | undefined)?.headers["x-forwarded-for"] as string | undefined;
}

function counter(p: RunningProxy, name: string): number {
  return p.proxy.stats.toJSON().find((s) => s.name === name)?.value ?? 0;
}

test("v1 split across writes: the header's source is the downstream address (x-forwarded-for, access log)", async () => {
  const s = await setup();
  try {
    const header = "PROXY TCP4 192.0.2.10 198.51.100.7 51234 8080\r\n";
    const reply = await send(s.proxy.port(), ["PRO", "XY TCP4 192.0.2", header.slice(18), REQUEST]);
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.equal(xffOf(s.upstream), "192.0.2.10");
    // The header never reaches the HTTP codec or the upstream: the request is the first thing it sees.
    assert.equal(s.upstream.received.at(-1)!.url, "/who");
    assert.equal(counter(s.proxy, "envoy_proxy_proto_versions_v1_found"), 1);
    assert.deepEqual(await s.logLines(), ["192.0.2.10:51234 198.51.100.7:8080 127.0.0.1"]);
  } finally {
    await s.close();
  }
});

test("v1 header and request in one write", async () => {
  const s = await setup();
  try {
    const reply = await send(s.proxy.port(), ["PROXY TCP6 2001:db8::5 2001:db8::1 4000 80\r\n" + REQUEST]);
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.equal(xffOf(s.upstream), "2001:db8::5");
  } finally {
    await s.close();
  }
});

function v2Header(command: number, src: string, dst: string, sport: number, dport: number, tlvs: Buffer): Buffer {
  const body = Buffer.alloc(12);
  src.split(".").forEach((o, i) => (body[i] = Number(o)));
  dst.split(".").forEach((o, i) => (body[4 + i] = Number(o)));
  body.writeUInt16BE(sport, 8);
  body.writeUInt16BE(dport, 10);
  const fixed = Buffer.from([0x20 | command, 0x11, 0, 0]);
  fixed.writeUInt16BE(body.length + tlvs.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, body, tlvs]);
}

test("v2 with TLVs, split inside the signature and inside the TLVs", async () => {
  const s = await setup();
  try {
    const tlvs = Buffer.concat([Buffer.from([0x02, 0x00, 0x05]), Buffer.from("a.com"), Buffer.from([0x04, 0, 0])]);
    const header = v2Header(1, "203.0.113.9", "10.1.2.3", 40000, 15006, tlvs);
    const reply = await send(s.proxy.port(), [
      header.subarray(0, 7),
      header.subarray(7, 30),
      header.subarray(30),
      REQUEST,
    ]);
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.equal(xffOf(s.upstream), "203.0.113.9");
    assert.equal(counter(s.proxy, "envoy_proxy_proto_versions_v2_found"), 1);
    assert.deepEqual(await s.logLines(), ["203.0.113.9:40000 10.1.2.3:15006 127.0.0.1"]);
  } finally {
    await s.close();
  }
});

test("v2 LOCAL (a balancer's health check): skipped, the connection keeps its own address", async () => {
  const s = await setup();
  try {
    const header = v2Header(0, "203.0.113.9", "10.1.2.3", 40000, 15006, Buffer.alloc(0));
    const reply = await send(s.proxy.port(), [Buffer.concat([header, Buffer.from(REQUEST)])]);
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.equal(xffOf(s.upstream), "127.0.0.1");
  } finally {
    await s.close();
  }
});

test("no header, a malformed one, a truncated one then FIN: closed without an answer, nothing upstream", async () => {
  const s = await setup();
  try {
    assert.equal(await send(s.proxy.port(), [REQUEST]), "");
    assert.equal(await send(s.proxy.port(), ["PROXY TCP4 not-an-ip 198.51.100.7 1 2\r\n" + REQUEST]), "");
    assert.equal(await send(s.proxy.port(), ["PROXY TCP4 " + "9".repeat(120)]), "");
    const truncated = new Promise<string>((resolve) => {
      const socket = net.connect(s.proxy.port(), "127.0.0.1", () => socket.end("PROXY TCP4 192.0.2.1"));
      let got = "";
      socket.on("data", (c: Buffer) => (got += c.toString()));
      socket.on("error", () => {});
      socket.on("close", () => resolve(got));
    });
    assert.equal(await truncated, "");
    assert.equal(s.upstream.received.length, 0);
    assert.equal(counter(s.proxy, "envoy_proxy_proto_not_found_disallowed"), 1);
    assert.equal(counter(s.proxy, "envoy_proxy_proto_versions_v1_error"), 2);
  } finally {
    await s.close();
  }
});

test("allow_requests_without_proxy_protocol: a plain connection goes on as it is; a header is still read", async () => {
  const s = await setup({ allow_requests_without_proxy_protocol: true });
  try {
    assert.match(await send(s.proxy.port(), [REQUEST]), /^HTTP\/1\.1 200 /);
    assert.equal(xffOf(s.upstream), "127.0.0.1");
    assert.match(await send(s.proxy.port(), ["PROXY TCP4 192.0.2.77 10.0.0.1 1 2\r\n", REQUEST]), /^HTTP\/1\.1 200 /);
    assert.equal(xffOf(s.upstream), "192.0.2.77");
    assert.equal(counter(s.proxy, "envoy_proxy_proto_not_found_allowed"), 1);
  } finally {
    await s.close();
  }
});

test("disallowed_versions: a v1 header closes the connection", async () => {
  const s = await setup({ disallowed_versions: ["V1"] });
  try {
    assert.equal(await send(s.proxy.port(), ["PROXY TCP4 192.0.2.1 10.0.0.1 1 2\r\n" + REQUEST]), "");
    assert.equal(counter(s.proxy, "envoy_proxy_proto_versions_v1_disallowed"), 1);
  } finally {
    await s.close();
  }
});

test("rules and pass_through_tlvs are refused with their field path", async () => {
  await assert.rejects(
    setup({
      rules: [{ tlv_type: 2, on_tlv_present: { key: "authority" } }],
      pass_through_tlvs: { match_type: "INCLUDE_ALL" },
    }),
    (err: Error) =>
      /listener_filters\[0\]\.typed_config\.rules/.test(err.message) &&
      /listener_filters\[0\]\.typed_config\.pass_through_tlvs/.test(err.message),
  );
});

test("before tls_inspector: the inspector reads the ClientHello after the header, the chain gets it without the header", async () => {
  const echo = await startTcpEcho();
  const tcpProxy = (cluster: string): Raw => ({
    filters: [
      {
        name: "envoy.filters.network.tcp_proxy",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
          stat_prefix: cluster,
          cluster,
        },
      },
    ],
  });
  const proxy = await startProxy(
    bootstrap(
      [
        {
          name: "tls",
          address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
          listener_filters: [
            { name: "envoy.filters.listener.proxy_protocol", typed_config: { "@type": FILTER_TYPE } },
            {
              name: "envoy.filters.listener.tls_inspector",
              typed_config: {
                "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
              },
            },
          ],
          filter_chains: [{ filter_chain_match: { server_names: ["a.example"] }, ...tcpProxy("echo") }],
        },
      ],
      [staticCluster("echo", [echo.port])],
    ),
  );
  try {
    const hello = clientHello({ sni: "a.example" });
    const header = Buffer.from("PROXY TCP4 192.0.2.1 10.0.0.1 5000 443\r\n", "latin1");
    const echoed = await new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect(proxy.port(), "127.0.0.1", () => {
        socket.write(Buffer.concat([header, hello.subarray(0, 20)]));
        setTimeout(() => socket.write(hello.subarray(20)), 5);
      });
      const chunks: Buffer[] = [];
      socket.on("data", (c: Buffer) => {
        chunks.push(c);
        if (Buffer.concat(chunks).length >= hello.length) socket.end();
      });
      socket.on("error", reject);
      socket.on("close", () => resolve(Buffer.concat(chunks)));
    });
    assert.deepEqual(echoed, hello);
    const other = await send(proxy.port(), [header, clientHello({ sni: "b.example" })]);
    assert.equal(other, "", "no chain for b.example: closed");
  } finally {
    await proxy.close();
    await echo.close();
  }
});

test("h2c with prior knowledge after a v2 header: the stream's client is the header's source", async () => {
  const s = await setup();
  try {
    const header = v2Header(1, "198.51.100.20", "10.0.0.1", 33333, 80, Buffer.alloc(0));
    const session = http2.connect(`http://127.0.0.1:${s.proxy.port()}`, {
      createConnection: () => {
        const socket = net.connect(s.proxy.port(), "127.0.0.1");
        socket.write(header);
        return socket;
      },
    });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ":path": "/h2" });
        stream.on("response", (h) => resolve(Number(h[":status"])));
        stream.on("error", reject);
        stream.resume();
      });
      assert.equal(status, 200);
      assert.equal(xffOf(s.upstream), "198.51.100.20");
    } finally {
      session.close();
    }
    assert.deepEqual(await s.logLines(), ["198.51.100.20:33333 10.0.0.1:80 127.0.0.1"]);
  } finally {
    await s.close();
  }
});

test("a header that never completes is closed at listener_filters_timeout (on the proxy's clock)", async () => {
  const clock = new ManualClock();
  const s = await setup({}, [], { listener_filters_timeout: "5s" }, clock);
  try {
    const socket = net.connect(s.proxy.port(), "127.0.0.1");
    socket.on("error", () => {});
    const closed = new Promise<void>((r) => socket.on("close", () => r()));
    socket.write("PROXY TCP4 192.0.2.1 ");
    await new Promise((r) => setTimeout(r, 50));
    clock.advance(4999);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(socket.destroyed, false);
    clock.advance(1);
    await closed;
    assert.equal(counter(s.proxy, "envoy_listener_downstream_pre_cx_timeout"), 1);
  } finally {
    await s.close();
  }
});

test("random bytes never crash the listener: each connection is closed or served, the next one works", async () => {
  // A header that stays incomplete waits at most a second.
  const s = await setup({}, [], { listener_filters_timeout: "1s" });
  try {
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 40; i++) {
      const prefix = i % 2 === 0 ? "PROXY " : V2_SIGNATURE.toString("latin1");
      const junk = Buffer.from(Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)));
      await send(s.proxy.port(), [Buffer.concat([Buffer.from(prefix, "latin1"), junk]), REQUEST]).catch(() => "");
    }
    assert.match(await send(s.proxy.port(), ["PROXY TCP4 192.0.2.5 10.0.0.1 1 2\r\n" + REQUEST]), /^HTTP\/1\.1 200 /);
  } finally {
    await s.close();
  }
});
