// HTTP/2 to an upstream over TLS, with real sockets: a cluster with explicit_http_config.http2_protocol_options and
// an UpstreamTlsContext in front of a TLS server that speaks only HTTP/2 (http2.createSecureServer, no HTTP/1.1
// fallback: a client that does not negotiate h2 by ALPN is refused). The proxy's listener is plaintext, reached over
// HTTP/1.1 and over HTTP/2 (h2c); requests, bodies and a gRPC-style response with trailers cross it.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import type net from "node:net";
import type tls from "node:tls";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import {
  allDomains,
  bootstrap,
  httpListener,
  HTTP2_UPSTREAM,
  staticCluster,
  type Raw,
} from "./support/envoy-config.ts";
import { h2request, request } from "./support/clients.ts";
import { scrape, valueOf } from "./support/stats.ts";
import { makePki, type TestPki } from "./support/tls-certs.ts";

const UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

let pki: TestPki;
let server: http2.Http2SecureServer;
let proxy: RunningProxy;

function h2TlsCluster(name: string, port: number, context: Raw): Raw {
  return staticCluster(name, [port], {
    ...HTTP2_UPSTREAM,
    transport_socket: { name: "envoy.transport_sockets.tls", typed_config: { "@type": UPSTREAM_TLS, ...context } },
  });
}

before(async () => {
  pki = makePki();
  const cert = pki.leaf("greeter", ["DNS:greeter.example.com"]);
  server = http2.createSecureServer({ cert: cert.cert, key: cert.key, allowHTTP1: false });
  server.on("stream", (stream, headers) => {
    const socket = stream.session?.socket as tls.TLSSocket | undefined;
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const body = JSON.stringify({
        alpn: socket?.alpnProtocol ?? null,
        sni: (socket as unknown as { servername?: string } | undefined)?.servername ?? null,
        path: headers[":path"],
        received: Buffer.concat(chunks).toString("utf8"),
      });
      if (headers["content-type"] === "application/grpc") {
        // A gRPC-shaped answer: the status in trailers after the body.
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "grpc-message": "ok" }));
        stream.end(body);
        return;
      }
      stream.respond({ ":status": 200, "content-type": "application/json" });
      stream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const validation = {
    trusted_ca: { inline_string: pki.ca.cert },
    match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: "greeter.example.com" } }],
  };
  const routes = ["explicit", "derived"].map((c) => ({ match: { prefix: `/${c}` }, route: { cluster: c } }));
  proxy = await startProxy(
    bootstrap(
      [httpListener("front", allDomains(routes))],
      [
        // alpn_protocols given, as Istio writes it for an HTTP/2 cluster.
        h2TlsCluster("explicit", port, {
          sni: "greeter.example.com",
          common_tls_context: { alpn_protocols: ["h2"], validation_context: validation },
        }),
        // No alpn_protocols: as Envoy, the HTTP/2 pool offers h2 (its ALPN fallback).
        h2TlsCluster("derived", port, {
          sni: "greeter.example.com",
          common_tls_context: { validation_context: validation },
        }),
      ],
    ),
  );
});

after(async () => {
  await proxy?.close();
  server?.close();
  pki?.close();
});

describe("HTTP/2 to an upstream over TLS", () => {
  test("alpn_protocols [h2]: an HTTP/1.1 request goes out as HTTP/2 over TLS, the body crosses", async () => {
    const reply = await request(proxy.port("front"), { method: "POST", path: "/explicit/a", body: "hello" });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json(), { alpn: "h2", sni: "greeter.example.com", path: "/explicit/a", received: "hello" });
    const stats = await scrape(proxy.adminPort);
    assert.equal(valueOf(stats, "envoy_cluster_ssl_handshake", { envoy_cluster_name: "explicit" }), 1);
    assert.equal(valueOf(stats, "envoy_cluster_upstream_cx_http2_total", { envoy_cluster_name: "explicit" }), 1);
  });

  test("no alpn_protocols on an HTTP/2 cluster: h2 is offered by ALPN (Envoy's fallback), the server accepts", async () => {
    const reply = await request(proxy.port("front"), { path: "/derived/b" });
    assert.equal(reply.status, 200, String(reply.headers["x-trellis-details"]));
    assert.equal((reply.json() as { alpn: string }).alpn, "h2");
  });

  test("an HTTP/2 client, gRPC-shaped: streams share the one TLS connection and trailers come through", async () => {
    const session = http2.connect(`http://127.0.0.1:${proxy.port("front")}`);
    try {
      const replies = await Promise.all(
        [1, 2, 3].map((i) =>
          h2request(
            session,
            { ":method": "POST", ":path": `/explicit/grpc/${i}`, "content-type": "application/grpc", te: "trailers" },
            `call ${i}`,
          ),
        ),
      );
      for (const [i, reply] of replies.entries()) {
        assert.equal(reply.status, 200);
        assert.equal(reply.trailers?.["grpc-status"], "0");
        assert.equal(reply.trailers?.["grpc-message"], "ok");
        assert.deepEqual(JSON.parse(reply.body), {
          alpn: "h2",
          sni: "greeter.example.com",
          path: `/explicit/grpc/${i + 1}`,
          received: `call ${i + 1}`,
        });
      }
      const stats = await scrape(proxy.adminPort);
      // The first test's connection is kept: one HTTP/2 connection carried everything.
      assert.equal(valueOf(stats, "envoy_cluster_upstream_cx_http2_total", { envoy_cluster_name: "explicit" }), 1);
      assert.equal(valueOf(stats, "envoy_cluster_ssl_handshake", { envoy_cluster_name: "explicit" }), 1);
    } finally {
      session.close();
    }
  });
});
