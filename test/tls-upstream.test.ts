// TLS origination with real sockets: a plaintext HTTP listener routes to clusters whose transport_socket is
// envoy.transport_sockets.tls (UpstreamTlsContext), in front of an HTTPS test server with a certificate from a test
// CA. The SNI is sent, the server's SANs are checked against the matchers, the chain against trusted_ca, a client
// certificate is presented for mutual TLS; a failed check is a 503 (UF) counted in cluster.<name>.ssl.*.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type tls from "node:tls";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { bootstrap, httpListener, staticCluster, type Raw } from "./support/envoy-config.ts";
import { request } from "./support/clients.ts";
import { scrape, valueOf } from "./support/stats.ts";
import { makePki, type Pem, type TestPki } from "./support/tls-certs.ts";
import { waitFor } from "./support/wait.ts";

const UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

let pki: TestPki;
let serverCert: Pem;
let clientCert: Pem;
let otherCa: Pem;
let server: https.Server;
let serverPort = 0;
let plainServer: http.Server;
let plainPort = 0;
let logDir: string;
let logPath: string;
let proxy: RunningProxy;

function tlsCluster(name: string, context: Raw, port?: number): Raw {
  return staticCluster(name, [port ?? serverPort], {
    transport_socket: { name: "envoy.transport_sockets.tls", typed_config: { "@type": UPSTREAM_TLS, ...context } },
  });
}

function sanExact(value: string): Raw[] {
  return [{ san_type: "DNS", matcher: { exact: value } }];
}

before(async () => {
  pki = makePki();
  logDir = mkdtempSync(join(tmpdir(), "trellis-tls-log-"));
  logPath = join(logDir, "access.log");
  serverCert = pki.leaf("backend", ["DNS:backend.example.com"]);
  clientCert = pki.leaf("client", ["URI:spiffe://cluster.local/ns/default/sa/client"]);
  otherCa = pki.selfSigned("other-ca", ["DNS:other-ca"]);
  server = https.createServer(
    { cert: serverCert.cert, key: serverCert.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const socket = req.socket as tls.TLSSocket;
      const body = JSON.stringify({
        sni: (socket as unknown as { servername?: string }).servername ?? null,
        client: socket.getPeerX509Certificate()?.subjectAltName ?? null,
        authorized: socket.authorized,
      });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  serverPort = (server.address() as net.AddressInfo).port;
  // A plaintext HTTP server a TLS cluster points at by mistake: its answer is no TLS record.
  plainServer = http.createServer((_req, res) => res.end("plaintext"));
  await new Promise<void>((resolve) => plainServer.listen(0, "127.0.0.1", resolve));
  plainPort = (plainServer.address() as net.AddressInfo).port;
  const ca = { inline_string: pki.ca.cert };
  const routes = ["good", "mtls", "badsan", "untrusted", "plain"].map((c) => ({
    match: { prefix: `/${c}` },
    route: { cluster: c },
  }));
  proxy = await startProxy(
    bootstrap(
      [
        httpListener(
          "front",
          { name: "r", virtual_hosts: [{ name: "all", domains: ["*"], routes }] },
          {
            access_log: [
              {
                name: "envoy.access_loggers.file",
                typed_config: {
                  "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                  path: logPath,
                  log_format: {
                    text_format_source: {
                      inline_string:
                        "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %UPSTREAM_TRANSPORT_FAILURE_REASON%\n",
                    },
                  },
                },
              },
            ],
          },
        ),
      ],
      [
        tlsCluster("good", {
          sni: "backend.example.com",
          common_tls_context: {
            validation_context: { trusted_ca: ca, match_typed_subject_alt_names: sanExact("backend.example.com") },
          },
        }),
        tlsCluster("mtls", {
          sni: "backend.example.com",
          common_tls_context: {
            tls_certificates: [
              { certificate_chain: { inline_string: clientCert.cert }, private_key: { inline_string: clientCert.key } },
            ],
            validation_context: { trusted_ca: ca, match_typed_subject_alt_names: sanExact("backend.example.com") },
          },
        }),
        tlsCluster("badsan", {
          common_tls_context: {
            validation_context: { trusted_ca: ca, match_typed_subject_alt_names: sanExact("other.example.com") },
          },
        }),
        tlsCluster("untrusted", {
          common_tls_context: { validation_context: { trusted_ca: { inline_string: otherCa.cert } } },
        }),
        tlsCluster("plain", { common_tls_context: {} }, plainPort),
      ],
    ),
  );
});

after(async () => {
  await proxy?.close();
  server?.close();
  plainServer?.close();
  pki?.close();
  if (logDir !== undefined) rmSync(logDir, { recursive: true, force: true });
});

describe("upstream TLS", () => {
  test("TLS to the upstream with the configured SNI; the server's SAN passes the matcher", async () => {
    const reply = await request(proxy.port("front"), { path: "/good" });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json(), { sni: "backend.example.com", client: null, authorized: false });
    const stats = await scrape(proxy.adminPort);
    assert.equal(valueOf(stats, "envoy_cluster_ssl_handshake", { envoy_cluster_name: "good" }), 1);
  });

  test("mutual TLS: the cluster's client certificate reaches the server, which trusts it", async () => {
    const reply = await request(proxy.port("front"), { path: "/mtls" });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json(), {
      sni: "backend.example.com",
      client: "URI:spiffe://cluster.local/ns/default/sa/client",
      authorized: true,
    });
  });

  test("a server whose SAN matches no matcher: 503, counted in ssl.fail_verify_san, nothing served", async () => {
    const reply = await request(proxy.port("front"), { path: "/badsan" });
    assert.equal(reply.status, 503);
    assert.equal(reply.headers["x-trellis-response-flags"], "UF", "a connection failure, as Envoy's");
    const stats = await scrape(proxy.adminPort);
    assert.ok(valueOf(stats, "envoy_cluster_ssl_fail_verify_san", { envoy_cluster_name: "badsan" }) >= 1);
    assert.equal(valueOf(stats, "envoy_cluster_ssl_handshake", { envoy_cluster_name: "badsan" }), 0);
  });

  test("a server whose chain does not lead to trusted_ca: 503, counted in ssl.fail_verify_error", async () => {
    const reply = await request(proxy.port("front"), { path: "/untrusted" });
    assert.equal(reply.status, 503);
    assert.equal(reply.headers["x-trellis-response-flags"], "UF");
    const stats = await scrape(proxy.adminPort);
    assert.ok(valueOf(stats, "envoy_cluster_ssl_fail_verify_error", { envoy_cluster_name: "untrusted" }) >= 1);
  });

  // Envoy's words: the reset reason and the transport failure reason in the details (spaces as underscores) and in
  // the body; the reason is OpenSSL's (or the SAN matcher's), never a certificate's or a key's bytes.
  test("the TLS reason is in the 503's details and body: SAN mismatch", async () => {
    const reply = await request(proxy.port("front"), { path: "/badsan" });
    assert.equal(reply.status, 503);
    const details = String(reply.headers["x-trellis-details"]);
    assert.match(
      details,
      /^upstream_reset_before_response_started\{connection_failure,TLS_error:_CERTIFICATE_VERIFY_FAILED:_verify_cert_failed:_SAN_matcher\}:badsan\//,
    );
    assert.match(
      reply.body,
      /reset reason: connection failure, transport failure reason: TLS error: CERTIFICATE_VERIFY_FAILED: verify cert failed: SAN matcher/,
    );
    assert.doesNotMatch(details + reply.body, /BEGIN|PRIVATE/);
  });

  test("the TLS reason is in the 503's details: a chain that does not lead to trusted_ca", async () => {
    const reply = await request(proxy.port("front"), { path: "/untrusted" });
    assert.equal(reply.status, 503);
    assert.match(
      String(reply.headers["x-trellis-details"]),
      /^upstream_reset_before_response_started\{connection_failure,TLS_error:_CERTIFICATE_VERIFY_FAILED:_verify_cert_failed:_[A-Z_]+\}:untrusted\//,
    );
  });

  test("the TLS reason is in the 503's details: a plaintext server (OpenSSL's WRONG_VERSION_NUMBER)", async () => {
    const reply = await request(proxy.port("front"), { path: "/plain" });
    assert.equal(reply.status, 503);
    assert.equal(reply.headers["x-trellis-response-flags"], "UF");
    assert.match(
      String(reply.headers["x-trellis-details"]),
      /^upstream_reset_before_response_started\{connection_failure,TLS_error:_[A-Z_]+\}:plain\//,
    );
    const stats = await scrape(proxy.adminPort);
    assert.ok(valueOf(stats, "envoy_cluster_ssl_connection_error", { envoy_cluster_name: "plain" }) >= 1);
    // The access log's %RESPONSE_CODE_DETAILS% carries the same reason, and %UPSTREAM_TRANSPORT_FAILURE_REASON% it
    // alone (spaces as underscores, as Envoy's).
    const line = (): string | undefined =>
      existsSync(logPath)
        ? readFileSync(logPath, "utf8")
            .split("\n")
            .find((l) => l.startsWith("/plain "))
        : undefined;
    await waitFor(() => line() !== undefined);
    assert.match(
      line()!,
      /^\/plain 503 UF upstream_reset_before_response_started\{connection_failure,TLS_error:_[A-Z_]+\}:plain\/\S+ TLS_error:_[A-Z_]+$/,
    );
  });
});
