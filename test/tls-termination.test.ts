// TLS termination with real sockets: a listener with tls_inspector and filter chains by SNI, each terminating TLS
// with its own certificate (inline, from a file through a static SDS secret), ALPN choosing HTTP/2 or HTTP/1.1,
// mutual TLS with a SAN check, and hostile clients (garbage, a hello cut short, a handshake never finished,
// plaintext HTTP to a TLS chain). Certificates are made by the openssl CLI for the test (support/tls-certs.ts).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import tls from "node:tls";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { bootstrap, socketAddress, staticCluster, type Raw } from "./support/envoy-config.ts";
import { h2request } from "./support/clients.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { scrape, valueOf } from "./support/stats.ts";
import { makePki, type Pem, type TestPki } from "./support/tls-certs.ts";

const INSPECTOR: Raw = {
  name: "envoy.filters.listener.tls_inspector",
  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector" },
};
const DOWNSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
const CLIENT_SPIFFE = "spiffe://cluster.local/ns/default/sa/client";

function tlsSocket(context: Raw): Raw {
  return { name: "envoy.transport_sockets.tls", typed_config: { "@type": DOWNSTREAM_TLS, ...context } };
}

function hcm(name: string): Raw {
  return {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      stat_prefix: name,
      codec_type: "AUTO",
      route_config: {
        name,
        virtual_hosts: [{ name, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "echo" } }] }],
      },
    },
  };
}

function inline(pem: Pem): Raw {
  return { certificate_chain: { inline_string: pem.cert }, private_key: { inline_string: pem.key } };
}

let pki: TestPki;
let certA: Pem;
let certB: Pem;
let certMtls: Pem;
let clientGood: Pem;
let clientOther: Pem;
let clientRogue: Pem;
let echo: Upstream;
let proxy: RunningProxy;

function config(): Raw {
  const alpn = ["h2", "http/1.1"];
  const raw = bootstrap(
    [
      {
        name: "sni",
        address: socketAddress(0),
        listener_filters: [INSPECTOR],
        filter_chains: [
          {
            filter_chain_match: { server_names: ["a.example.com"] },
            transport_socket: tlsSocket({
              common_tls_context: { tls_certificates: [inline(certA)], alpn_protocols: alpn },
            }),
            filters: [hcm("a")],
          },
          {
            // From files, through a static secret (no sds_config: static_resources.secrets).
            filter_chain_match: { server_names: ["b.example.com"] },
            transport_socket: tlsSocket({
              common_tls_context: { tls_certificate_sds_secret_configs: [{ name: "b-cert" }], alpn_protocols: alpn },
            }),
            filters: [hcm("b")],
          },
          {
            filter_chain_match: { server_names: ["mtls.example.com"] },
            transport_socket: tlsSocket({
              require_client_certificate: true,
              common_tls_context: {
                tls_certificates: [inline(certMtls)],
                validation_context: {
                  trusted_ca: { inline_string: pki.ca.cert },
                  match_typed_subject_alt_names: [{ san_type: "URI", matcher: { exact: CLIENT_SPIFFE } }],
                },
              },
            }),
            filters: [hcm("mtls")],
          },
          {
            // A client certificate is checked when given, not required (PERMISSIVE-like): none is counted.
            filter_chain_match: { server_names: ["optional.example.com"] },
            transport_socket: tlsSocket({
              common_tls_context: {
                tls_certificates: [inline(certMtls)],
                validation_context: { trusted_ca: { inline_string: pki.ca.cert } },
              },
            }),
            filters: [hcm("optional")],
          },
        ],
      },
      {
        name: "tls13",
        address: socketAddress(0),
        filter_chains: [
          {
            transport_socket: tlsSocket({
              common_tls_context: {
                tls_certificates: [inline(certA)],
                tls_params: { tls_minimum_protocol_version: "TLSv1_3", tls_maximum_protocol_version: "TLSv1_3" },
              },
            }),
            filters: [hcm("tls13")],
          },
        ],
      },
      {
        // No listener filters: every connection is TLS on this port, whatever it sends.
        name: "tls-only",
        address: socketAddress(0),
        filter_chains: [
          {
            transport_socket: tlsSocket({ common_tls_context: { tls_certificates: [inline(certA)] } }),
            transport_socket_connect_timeout: "0.5s",
            filters: [hcm("tls-only")],
          },
        ],
      },
    ],
    [staticCluster("echo", [echo.port])],
  );
  (raw.static_resources as Raw).secrets = [
    {
      name: "b-cert",
      tls_certificate: { certificate_chain: { filename: certB.certFile }, private_key: { filename: certB.keyFile } },
    },
  ];
  return raw;
}

function connectTls(port: number, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca: pki.ca.cert, ...options }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** One HTTP/1.1 request over an open TLS socket; resolves with the raw answer once the proxy closes. */
function http1Over(socket: tls.TLSSocket, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.on("error", reject);
    socket.write(`GET /hello HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
  });
}

/** Whether the proxy closes `socket` (end or error) — the connection was refused. */
function closedByPeer(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.on("error", () => {});
    socket.once("close", () => resolve());
    socket.resume(); // reading, so the peer's close is seen
  });
}

/** A duplex over a TCP connection that writes everything in pieces of `size` bytes, one per event-loop turn. */
function trickle(port: number, size: number): Duplex {
  const raw = net.connect({ host: "127.0.0.1", port, noDelay: true });
  const duplex = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _enc, done) {
      void (async () => {
        for (let i = 0; i < chunk.length; i += size) {
          raw.write(chunk.subarray(i, i + size));
          await new Promise((r) => setTimeout(r, 2));
        }
        done();
      })();
    },
    final(done) {
      raw.end();
      done();
    },
    destroy(err, done) {
      raw.destroy();
      done(err);
    },
  });
  raw.on("data", (c: Buffer) => {
    if (!duplex.push(c)) raw.pause();
  });
  raw.on("end", () => duplex.push(null));
  raw.on("error", (e) => duplex.destroy(e));
  return duplex;
}

/** Resolves once the proxy's listeners hold no connection (envoy_listener_downstream_cx_active 0): none leaked. */
async function noConnectionsLeft(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (valueOf(await scrape(proxy.adminPort), "envoy_listener_downstream_cx_active") === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail("connections still open on the proxy's listeners");
}

before(async () => {
  pki = makePki();
  certA = pki.leaf("a", ["DNS:a.example.com"]);
  certB = pki.leaf("b", ["DNS:b.example.com"]);
  certMtls = pki.leaf("mtls", ["DNS:mtls.example.com"]);
  clientGood = pki.leaf("client", [`URI:${CLIENT_SPIFFE}`]);
  clientOther = pki.leaf("other", ["URI:spiffe://cluster.local/ns/default/sa/other"]);
  clientRogue = pki.selfSigned("rogue", [`URI:${CLIENT_SPIFFE}`]);
  echo = await startEchoServer("echo");
  proxy = await startProxy(config());
});

after(async () => {
  await proxy?.close();
  await echo?.close();
  pki?.close();
});

describe("TLS termination", () => {
  test("SNI chooses between two certificates on one port (one inline, one from files through a static secret)", async () => {
    const port = proxy.port("sni");
    const a = await connectTls(port, { servername: "a.example.com", ALPNProtocols: ["http/1.1"] });
    assert.equal(a.getPeerX509Certificate()?.subjectAltName, "DNS:a.example.com");
    const answerA = await http1Over(a, "a.example.com");
    assert.match(answerA, /^HTTP\/1.1 200/);
    const b = await connectTls(port, { servername: "b.example.com", ALPNProtocols: ["http/1.1"] });
    assert.equal(b.getPeerX509Certificate()?.subjectAltName, "DNS:b.example.com");
    assert.match(await http1Over(b, "b.example.com"), /^HTTP\/1.1 200/);
  });

  test("a request that came over TLS is forwarded with x-forwarded-proto: https", async () => {
    const before = echo.received.length;
    const s = await connectTls(proxy.port("sni"), { servername: "a.example.com", ALPNProtocols: ["http/1.1"] });
    await http1Over(s, "a.example.com");
    assert.equal(echo.received[before]!.headers["x-forwarded-proto"], "https");
  });

  test("ALPN: h2 is served as HTTP/2 and http/1.1 as HTTP/1.1; the client's order does not override the server's", async () => {
    const port = proxy.port("sni");
    const session = http2.connect(`https://a.example.com:${port}`, {
      ca: pki.ca.cert,
      servername: "a.example.com",
      createConnection: () =>
        tls.connect({ host: "127.0.0.1", port, servername: "a.example.com", ca: pki.ca.cert, ALPNProtocols: ["h2"] }),
    });
    try {
      const before = echo.received.length;
      const reply = await h2request(session, { ":path": "/h2", ":authority": "a.example.com" });
      assert.equal(reply.status, 200);
      assert.equal(echo.received[before]!.headers["x-forwarded-proto"], "https");
    } finally {
      session.close();
    }
    const both = await connectTls(port, { servername: "a.example.com", ALPNProtocols: ["http/1.1", "h2"] });
    assert.equal(both.alpnProtocol, "h2", "server preference: h2 first");
    both.destroy();
    const h1 = await connectTls(port, { servername: "a.example.com", ALPNProtocols: ["http/1.1"] });
    assert.equal(h1.alpnProtocol, "http/1.1");
    assert.match(await http1Over(h1, "a.example.com"), /^HTTP\/1.1 200/);
  });

  test("a ClientHello split over many TCP segments reaches TLS intact", async () => {
    const before = await scrape(proxy.adminPort);
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect(
        {
          socket: trickle(proxy.port("sni"), 7),
          servername: "b.example.com",
          ca: pki.ca.cert,
          ALPNProtocols: ["http/1.1"],
        },
        () => resolve(s),
      );
      s.once("error", reject);
    });
    assert.equal(socket.getPeerX509Certificate()?.subjectAltName, "DNS:b.example.com");
    assert.match(await http1Over(socket, "b.example.com"), /^HTTP\/1.1 200/);
    const now = await scrape(proxy.adminPort);
    assert.ok(valueOf(now, "envoy_listener_ssl_handshake") > valueOf(before, "envoy_listener_ssl_handshake"));
  });

  test("mutual TLS: a client certificate from the CA with the expected SAN is accepted", async () => {
    const s = await connectTls(proxy.port("sni"), {
      servername: "mtls.example.com",
      cert: clientGood.cert,
      key: clientGood.key,
    });
    assert.match(await http1Over(s, "mtls.example.com"), /^HTTP\/1.1 200/);
  });

  test("client certificate optional: a client without one is served and counted in ssl.no_certificate", async () => {
    const before = await scrape(proxy.adminPort);
    const s = await connectTls(proxy.port("sni"), {
      servername: "optional.example.com",
      checkServerIdentity: () => undefined,
    });
    assert.match(await http1Over(s, "optional.example.com"), /^HTTP\/1.1 200/);
    const now = await scrape(proxy.adminPort);
    assert.equal(
      valueOf(now, "envoy_listener_ssl_no_certificate") - valueOf(before, "envoy_listener_ssl_no_certificate"),
      1,
    );
  });

  test("mutual TLS refused: no certificate, another SAN, a certificate not from the CA; each counted", async () => {
    const port = proxy.port("sni");
    const before = await scrape(proxy.adminPort);
    const refused = async (options: tls.ConnectionOptions): Promise<void> => {
      // TLS 1.3: the client may finish its side before the server judged its certificate; the proxy then closes.
      const socket = tls.connect({
        host: "127.0.0.1",
        port,
        ca: pki.ca.cert,
        servername: "mtls.example.com",
        ...options,
      });
      socket.on("error", () => {});
      socket.on("secureConnect", () => socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
      let answered = "";
      socket.on("data", (c: Buffer) => (answered += c.toString()));
      await closedByPeer(socket);
      assert.equal(answered, "", "nothing is served over a refused connection");
    };
    await refused({});
    await refused({ cert: clientOther.cert, key: clientOther.key });
    await refused({ cert: clientRogue.cert, key: clientRogue.key });
    const now = await scrape(proxy.adminPort);
    const delta = (family: string): number => valueOf(now, family) - valueOf(before, family);
    assert.equal(delta("envoy_listener_ssl_fail_verify_no_cert"), 1);
    assert.equal(delta("envoy_listener_ssl_fail_verify_san"), 1);
    assert.equal(delta("envoy_listener_ssl_fail_verify_error"), 1);
  });

  test("stats: handshakes and TLS versions are counted per listener", async () => {
    const before = await scrape(proxy.adminPort);
    const s = await connectTls(proxy.port("sni"), {
      servername: "a.example.com",
      ALPNProtocols: ["http/1.1"],
      maxVersion: "TLSv1.2",
    });
    await http1Over(s, "a.example.com");
    const now = await scrape(proxy.adminPort);
    const delta = (family: string): number => valueOf(now, family) - valueOf(before, family);
    assert.equal(delta("envoy_listener_ssl_handshake"), 1);
    assert.equal(delta("envoy_listener_ssl_versions_TLSv1_2"), 1);
  });
});

describe("tls_params", () => {
  test("tls_minimum_protocol_version TLSv1_3: a TLS 1.2 client is refused (connection_error), a TLS 1.3 one served", async () => {
    const port = proxy.port("tls13");
    const before = await scrape(proxy.adminPort);
    await assert.rejects(connectTls(port, { servername: "a.example.com", maxVersion: "TLSv1.2" }));
    // The client may see the alert before the proxy's count: wait for it (bounded).
    const family = "envoy_listener_ssl_connection_error";
    let delta = 0;
    for (let i = 0; i < 100 && delta < 1; i++) {
      delta = valueOf(await scrape(proxy.adminPort), family) - valueOf(before, family);
      if (delta < 1) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(delta, 1);
    const s = await connectTls(port, { servername: "a.example.com" });
    assert.equal(s.getProtocol(), "TLSv1.3");
    assert.match(await http1Over(s, "a.example.com"), /^HTTP\/1.1 200/);
  });
});

describe("redaction", () => {
  test("/config_dump shows the static listeners' inline private keys and the static secret as [redacted]", async () => {
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: proxy.adminPort, path: "/config_dump" }, (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => resolve(text));
        })
        .on("error", reject);
    });
    assert.ok(body.includes("BEGIN CERTIFICATE"), "certificates are shown");
    assert.ok(!body.includes("PRIVATE KEY"), "no private key in /config_dump");
    assert.ok(body.includes("[redacted]"));
    assert.ok(body.includes(certB.keyFile), "a key's file name is shown (it is not the key)");
  });
});

describe("hostile input to TLS chains: the process survives, each is closed and counted", () => {
  test("garbage instead of a ClientHello on a TLS-only port: connection_error", async () => {
    const before = await scrape(proxy.adminPort);
    const s = net.connect({ host: "127.0.0.1", port: proxy.port("tls-only") });
    s.on("connect", () => s.write(Buffer.from("\x16\x03\x01\x00\x05garbagegarbagegarbage", "latin1")));
    await closedByPeer(s);
    const now = await scrape(proxy.adminPort);
    assert.equal(
      valueOf(now, "envoy_listener_ssl_connection_error") - valueOf(before, "envoy_listener_ssl_connection_error"),
      1,
    );
  });

  test("plaintext HTTP sent to a TLS chain: closed, connection_error, nothing forwarded", async () => {
    const before = await scrape(proxy.adminPort);
    const requests = echo.received.length;
    const s = net.connect({ host: "127.0.0.1", port: proxy.port("tls-only") });
    s.on("connect", () => s.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
    await closedByPeer(s);
    const now = await scrape(proxy.adminPort);
    assert.equal(
      valueOf(now, "envoy_listener_ssl_connection_error") - valueOf(before, "envoy_listener_ssl_connection_error"),
      1,
    );
    assert.equal(echo.received.length, requests);
  });

  test("a ClientHello cut short, then closed: the connection is cleaned up", async () => {
    const hello = await new Promise<Buffer>((resolve) => {
      const server = net.createServer((s) => s.once("data", (c: Buffer) => (resolve(c), s.destroy(), server.close())));
      server.listen(0, "127.0.0.1", () => {
        const c = tls.connect({
          host: "127.0.0.1",
          port: (server.address() as net.AddressInfo).port,
          servername: "a.example.com",
        });
        c.on("error", () => {});
      });
    });
    for (const listener of ["sni", "tls-only"]) {
      const s = net.connect({ host: "127.0.0.1", port: proxy.port(listener) });
      await new Promise((r) => s.once("connect", r));
      s.end(hello.subarray(0, Math.floor(hello.length / 2)));
      await closedByPeer(s);
    }
    await noConnectionsLeft();
  });

  test("a handshake that never completes is closed at transport_socket_connect_timeout and counted", async () => {
    const before = await scrape(proxy.adminPort);
    const s = net.connect({ host: "127.0.0.1", port: proxy.port("tls-only") });
    await new Promise((r) => s.once("connect", r));
    s.write(Buffer.from([0x16, 0x03, 0x01])); // the start of a record, then nothing
    await closedByPeer(s);
    const now = await scrape(proxy.adminPort);
    const family = "envoy_listener_downstream_cx_transport_socket_connect_timeout";
    assert.equal(valueOf(now, family) - valueOf(before, family), 1);
    await noConnectionsLeft();
  });

  test("after all of it the proxy still serves TLS", async () => {
    const s = await connectTls(proxy.port("tls-only"), { servername: "a.example.com" });
    assert.match(await http1Over(s, "a.example.com"), /^HTTP\/1.1 200/);
  });
});
