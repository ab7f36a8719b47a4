// The TLS stats of a handshake's parameters, with real sockets: ssl.ciphers.<name>, ssl.curves.<name> and
// ssl.session_reused under the cluster (upstream TLS, whose sessions the proxy keeps and offers again) and the
// listener (TLS termination, a client offering its earlier session). Connections are not kept alive, so each
// request is one handshake.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import type net from "node:net";
import tls from "node:tls";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { allDomains, bootstrap, httpListener, socketAddress, staticCluster, type Raw } from "./support/envoy-config.ts";
import { request } from "./support/clients.ts";
import { scrape, valueOf } from "./support/stats.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { makePki, type TestPki } from "./support/tls-certs.ts";

const UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
const DOWNSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

let pki: TestPki;
let server: https.Server;
let echo: Upstream;
let proxy: RunningProxy;

function tlsCluster(name: string, port: number, common: Raw): Raw {
  return staticCluster(name, [port], {
    transport_socket: {
      name: "envoy.transport_sockets.tls",
      typed_config: { "@type": UPSTREAM_TLS, sni: "backend.example.com", common_tls_context: common },
    },
  });
}

before(async () => {
  pki = makePki();
  const cert = pki.leaf("backend", ["DNS:backend.example.com"]);
  // Every answer closes its connection: each request through the proxy is a new TLS connection.
  server = https.createServer({ cert: cert.cert, key: cert.key }, (_req, res) => {
    res.writeHead(200, { connection: "close", "content-length": "2" });
    res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  echo = await startEchoServer("echo");
  const validation = { trusted_ca: { inline_string: pki.ca.cert } };
  const gw = pki.leaf("gw", ["DNS:gw.example.com"]);
  const routes = ["tls12", "tls13"].map((c) => ({ match: { prefix: `/${c}` }, route: { cluster: c } }));
  proxy = await startProxy(
    bootstrap(
      [
        httpListener("front", allDomains(routes)),
        {
          name: "https",
          address: socketAddress(0),
          filter_chains: [
            {
              transport_socket: {
                name: "envoy.transport_sockets.tls",
                typed_config: {
                  "@type": DOWNSTREAM_TLS,
                  common_tls_context: {
                    tls_certificates: [
                      { certificate_chain: { inline_string: gw.cert }, private_key: { inline_string: gw.key } },
                    ],
                  },
                },
              },
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typed_config: {
                    "@type": HCM,
                    stat_prefix: "https",
                    route_config: {
                      name: "r",
                      virtual_hosts: [
                        {
                          name: "all",
                          domains: ["*"],
                          routes: [{ match: { prefix: "/" }, route: { cluster: "echo" } }],
                        },
                      ],
                    },
                  },
                },
              ],
            },
          ],
        },
      ],
      [
        tlsCluster("tls12", port, {
          tls_params: {
            tls_maximum_protocol_version: "TLSv1_2",
            cipher_suites: ["ECDHE-ECDSA-AES128-GCM-SHA256"],
            ecdh_curves: ["P-256"],
          },
          validation_context: validation,
        }),
        tlsCluster("tls13", port, {
          tls_params: { tls_minimum_protocol_version: "TLSv1_3" },
          validation_context: validation,
        }),
        staticCluster("echo", [echo.port]),
      ],
    ),
  );
});

after(async () => {
  await proxy?.close();
  server?.close();
  await echo?.close();
  pki?.close();
});

const cluster = (name: string) => ({ envoy_cluster_name: name });

describe("TLS handshake stats", () => {
  test("upstream TLS 1.2: ssl.ciphers and ssl.curves by name; the second connection resumes the first's session", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await request(proxy.port("front"), { path: "/tls12" })).status, 200);
    const stats = await scrape(proxy.adminPort);
    assert.equal(valueOf(stats, "envoy_cluster_ssl_handshake", cluster("tls12")), 3);
    assert.equal(valueOf(stats, "envoy_cluster_ssl_ciphers_ECDHE_ECDSA_AES128_GCM_SHA256", cluster("tls12")), 3);
    // A resumed TLS 1.2 session makes no key exchange: only the full handshake has a curve (as Envoy counts).
    assert.equal(valueOf(stats, "envoy_cluster_ssl_curves_P_256", cluster("tls12")), 1);
    assert.equal(valueOf(stats, "envoy_cluster_ssl_versions_TLSv1_2", cluster("tls12")), 3);
    assert.equal(
      valueOf(stats, "envoy_cluster_ssl_session_reused", cluster("tls12")),
      2,
      "connections 2 and 3 resumed",
    );
  });

  test("upstream TLS 1.3: a TLS 1.3 suite and X25519 counted on each (resumption keeps (EC)DHE); session tickets resume later connections", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await request(proxy.port("front"), { path: "/tls13" })).status, 200);
    const stats = await scrape(proxy.adminPort);
    const ciphers = stats.series.filter(
      (x) => x.family.startsWith("envoy_cluster_ssl_ciphers_TLS_") && x.labels.envoy_cluster_name === "tls13",
    );
    assert.equal(
      ciphers.reduce((n, x) => n + x.value, 0),
      3,
      ciphers.map((x) => x.family).join(),
    );
    assert.equal(valueOf(stats, "envoy_cluster_ssl_curves_X25519", cluster("tls13")), 3);
    assert.equal(valueOf(stats, "envoy_cluster_ssl_session_reused", cluster("tls13")), 2);
  });

  test("downstream: the listener counts the cipher; a client offering its earlier session is resumed (ssl.session_reused)", async () => {
    const https = proxy.port("https");
    const connect = (session?: Buffer): Promise<{ reused: boolean; session: Buffer | undefined }> =>
      new Promise((resolve, reject) => {
        let kept: Buffer | undefined;
        const s = tls.connect({
          host: "127.0.0.1",
          port: https,
          servername: "gw.example.com",
          ca: pki.ca.cert,
          maxVersion: "TLSv1.2",
          ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384",
          ...(session === undefined ? {} : { session }),
        });
        s.on("session", (b: Buffer) => (kept = b));
        s.once("secureConnect", () => {
          // One request, so the server has counted the handshake before the client leaves.
          s.write("GET / HTTP/1.1\r\nhost: gw.example.com\r\nconnection: close\r\n\r\n");
        });
        s.resume();
        s.once("end", () => resolve({ reused: s.isSessionReused(), session: kept }));
        s.once("error", reject);
      });
    const first = await connect();
    assert.equal(first.reused, false);
    assert.ok(first.session !== undefined);
    const second = await connect(first.session);
    assert.equal(second.reused, true);
    const stats = await scrape(proxy.adminPort);
    const listener = stats.series.filter(
      (x) => x.family === "envoy_listener_ssl_ciphers_ECDHE_ECDSA_AES256_GCM_SHA384",
    );
    assert.equal(
      listener.reduce((n, x) => n + x.value, 0),
      2,
    );
    assert.equal(valueOf(stats, "envoy_listener_ssl_session_reused"), 1);
  });
});
