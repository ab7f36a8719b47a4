// TLS passthrough by SNI with real sockets: a listener with tls_inspector and filter chains by server name, each a
// tcp_proxy to its own TLS server. The proxy never terminates TLS: the client completes its handshake with the
// upstream server (and sees its certificate), and the bytes the inspector read reach the upstream intact.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { ManualClock } from "../src/api/clock.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { allDomains, bootstrap, httpListener, socketAddress, staticCluster, type Raw } from "./support/envoy-config.ts";
import { h2request, request } from "./support/clients.ts";
import { clientHello } from "./support/client-hello.ts";
import { TEST_CERT, TEST_KEY } from "./support/test-certificate.ts";
import { waitFor } from "./support/wait.ts";

const INSPECTOR: Raw = {
  name: "envoy.filters.listener.tls_inspector",
  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector" },
};

function tcpChain(cluster: string, match?: Raw): Raw {
  const filter = {
    name: "envoy.filters.network.tcp_proxy",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
      stat_prefix: cluster,
      cluster,
    },
  };
  return match === undefined ? { filters: [filter] } : { filter_chain_match: match, filters: [filter] };
}

function sniListener(name: string, extra: Raw): Raw {
  return {
    name,
    address: socketAddress(0),
    listener_filters: [INSPECTOR],
    filter_chains: [
      tcpChain("a", { server_names: ["a.example.com"] }),
      tcpChain("b", { server_names: ["*.b.example.com", "b.example.com"] }),
      tcpChain("plain", { transport_protocol: "raw_buffer" }),
    ],
    ...extra,
  };
}

/** Istio's inbound shape: TLS passes through to a TCP upstream, plain text is served by the HTTP connection manager. */
function mixedListener(): Raw {
  const direct = [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: "plain http" } } }];
  const hcmChain = (httpListener("mixed", allDomains(direct)).filter_chains as Raw[])[0]!;
  return {
    name: "mixed",
    address: socketAddress(0),
    listener_filters: [INSPECTOR],
    filter_chains: [
      tcpChain("a", { transport_protocol: "tls" }),
      { ...hcmChain, filter_chain_match: { transport_protocol: "raw_buffer" } },
    ],
  };
}

/** A TLS server that answers each chunk with "<tag>:<chunk>" (its own certificate: the client checks it). */
async function startTlsServer(tag: string): Promise<{ port: number; server: tls.Server }> {
  const server = tls.createServer({ key: TEST_KEY, cert: TEST_CERT }, (s) => {
    s.on("data", (c: Buffer) => s.write(`${tag}:${c.toString()}`));
    s.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as net.AddressInfo).port, server };
}

/** A plain TCP server that records every byte it receives and answers "plain:<chunk>". */
async function startPlainServer(): Promise<{ port: number; server: net.Server; received: Buffer[] }> {
  const received: Buffer[] = [];
  const server = net.createServer((s) => {
    s.on("data", (c: Buffer) => {
      received.push(c);
      s.write(`plain:${c.toString("latin1")}`);
    });
    s.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as net.AddressInfo).port, server, received };
}

/** A TLS round trip through the proxy: the answer to "hello", and the certificate the client saw. */
async function tlsHello(port: number, servername: string): Promise<{ answer: string; subject: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername,
      ca: TEST_CERT,
      checkServerIdentity: () => undefined,
    });
    socket.once("secureConnect", () => {
      const subject = String(socket.getPeerCertificate().subject.CN);
      socket.write("hello");
      socket.once("data", (c: Buffer) => {
        socket.destroy();
        resolve({ answer: c.toString(), subject });
      });
    });
    socket.once("error", reject);
    socket.once("close", () => reject(new Error("closed before an answer")));
  });
}

/** Resolves when the proxy closes the connection (any error on the way counts as closed). */
function closedBy(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.on("error", () => {});
    socket.once("close", () => resolve());
    socket.resume(); // read (and drop) whatever comes, so the FIN is seen
  });
}

function stat(p: RunningProxy, name: string): number {
  return p.proxy.stats
    .toJSON()
    .filter((x) => x.name === name)
    .reduce((sum, x) => sum + x.value, 0);
}

describe("TLS passthrough by SNI (tls_inspector + filter_chain_match)", () => {
  let a: Awaited<ReturnType<typeof startTlsServer>>;
  let b: Awaited<ReturnType<typeof startTlsServer>>;
  let d: Awaited<ReturnType<typeof startTlsServer>>;
  let plain: Awaited<ReturnType<typeof startPlainServer>>;
  let proxy: RunningProxy;
  const clock = new ManualClock();

  before(async () => {
    [a, b, d, plain] = await Promise.all([
      startTlsServer("A"),
      startTlsServer("B"),
      startTlsServer("D"),
      startPlainServer(),
    ]);
    proxy = await startProxy(
      bootstrap(
        [
          sniListener("with-default", { default_filter_chain: tcpChain("d") }),
          sniListener("strict", { listener_filters_timeout: "5s" }),
          sniListener("lenient", { listener_filters_timeout: "5s", continue_on_listener_filters_timeout: true }),
          mixedListener(),
          // No tls_inspector: no connection has an SNI, so this chain fits none (decided when built).
          {
            name: "blind",
            address: socketAddress(0),
            filter_chains: [tcpChain("a", { server_names: ["a.example.com"] })],
          },
        ],
        [
          staticCluster("a", [a.port]),
          staticCluster("b", [b.port]),
          staticCluster("d", [d.port]),
          staticCluster("plain", [plain.port]),
        ],
      ),
      clock,
    );
  });

  after(async () => {
    await proxy.close();
    for (const s of [a.server, b.server, d.server, plain.server]) s.close();
  });

  test("the SNI picks the upstream; TLS is end to end (the client sees the upstream's certificate)", async () => {
    const port = proxy.port("with-default");
    assert.deepEqual(await tlsHello(port, "a.example.com"), { answer: "A:hello", subject: "trellis test passthrough" });
    assert.equal((await tlsHello(port, "b.example.com")).answer, "B:hello");
    assert.equal((await tlsHello(port, "x.B.example.com")).answer, "B:hello"); // wildcard, any case
    assert.equal((await tlsHello(port, "A.EXAMPLE.COM")).answer, "A:hello");
    assert.ok(stat(proxy, "envoy_tls_inspector_sni_found") >= 4);
  });

  test("an unknown SNI gets the default chain; without one the connection is closed (no_filter_chain_match)", async () => {
    assert.equal((await tlsHello(proxy.port("with-default"), "c.example.com")).answer, "D:hello");
    const before = stat(proxy, "envoy_listener_no_filter_chain_match");
    await assert.rejects(tlsHello(proxy.port("strict"), "c.example.com"));
    assert.equal(stat(proxy, "envoy_listener_no_filter_chain_match"), before + 1);
  });

  test("without tls_inspector a chain that needs an SNI never fits: every connection is closed", async () => {
    const before = stat(proxy, "envoy_listener_no_filter_chain_match");
    await assert.rejects(tlsHello(proxy.port("blind"), "a.example.com"));
    assert.equal(stat(proxy, "envoy_listener_no_filter_chain_match"), before + 1);
  });

  test("a plain-text client gets the raw_buffer chain, its first bytes intact", async () => {
    const socket = net.connect(proxy.port("strict"), "127.0.0.1");
    socket.write("GET / HTTP/1.1\r\n\r\n");
    const answer = await new Promise<string>((resolve) => socket.once("data", (c: Buffer) => resolve(c.toString())));
    socket.destroy();
    assert.equal(answer, "plain:GET / HTTP/1.1\r\n\r\n");
  });

  test("TLS and plain HTTP (HTTP/1.1 and h2c) on one port, told apart by the inspector", async () => {
    const port = proxy.port("mixed");
    assert.equal((await tlsHello(port, "anything.example.net")).answer, "A:hello");
    const reply = await request(port, { path: "/" });
    assert.equal(reply.status, 200);
    assert.equal(reply.body, "plain http");
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const h2 = await h2request(session, { ":method": "GET", ":path": "/" });
      assert.equal(h2.status, 200);
      assert.equal(h2.body, "plain http");
    } finally {
      session.close();
    }
  });

  test("a ClientHello arriving a few bytes at a time is waited for", async () => {
    const hello = clientHello({ sni: "a.example.com", maxFragment: 20 });
    const sessions = stat(proxy, "envoy_tcp_downstream_cx_total");
    const socket = net.connect(proxy.port("strict"), "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    // The hand-built hello is no real handshake: server A's TLS stack refuses it, which shows it got there.
    const closed = closedBy(socket);
    for (let at = 0; at < hello.length; at += 9) {
      socket.write(hello.subarray(at, at + 9));
      await new Promise((r) => setImmediate(r));
    }
    await closed;
    assert.equal(stat(proxy, "envoy_tcp_downstream_cx_total"), sessions + 1); // a tcp_proxy took it
  });

  test("listener_filters_timeout on the injected clock: close, or go on as raw_buffer with the bytes read", async () => {
    const partial = clientHello({ sni: "a.example.com" }).subarray(0, 12);
    const pending = (): number => stat(proxy, "envoy_listener_downstream_pre_cx_active");

    const strict = net.connect(proxy.port("strict"), "127.0.0.1");
    const strictClosed = closedBy(strict);
    strict.write(partial);
    await waitFor(() => pending() === 1);
    clock.advance(4999);
    assert.equal(pending(), 1);
    clock.advance(1);
    await strictClosed;

    const received = plain.received.length;
    const lenient = net.connect(proxy.port("lenient"), "127.0.0.1");
    lenient.on("error", () => {});
    lenient.write(partial);
    await waitFor(() => pending() === 1);
    clock.advance(5000);
    const answer = await new Promise<Buffer>((resolve) => lenient.once("data", resolve));
    lenient.destroy();
    assert.deepEqual(Buffer.concat(plain.received.slice(received)), partial);
    assert.deepEqual(answer, Buffer.concat([Buffer.from("plain:"), Buffer.from(partial.toString("latin1"), "latin1")]));
    assert.equal(stat(proxy, "envoy_listener_downstream_pre_cx_timeout"), 2);
  });

  test("a client that goes away mid-hello, or sends a hello beyond 16 KiB, is closed; the proxy carries on", async () => {
    const quitter = net.connect(proxy.port("strict"), "127.0.0.1");
    quitter.write(clientHello({ sni: "a.example.com" }).subarray(0, 30));
    quitter.end();
    await closedBy(quitter);

    const huge = net.connect(proxy.port("strict"), "127.0.0.1");
    const closed = closedBy(huge);
    huge.write(Buffer.from([0x16, 3, 1, 0x40, 0x00, 1, 0x00, 0x40, 0x01]));
    await closed;
    assert.equal(stat(proxy, "envoy_tls_inspector_client_hello_too_large"), 1);
    await waitFor(() => stat(proxy, "envoy_listener_downstream_pre_cx_active") === 0);
    assert.equal((await tlsHello(proxy.port("strict"), "a.example.com")).answer, "A:hello");
  });
});
