// SDS over ADS with real sockets: a listener whose TLS certificate is a secret named with sds_config {ads: {}},
// delivered by a real gRPC ADS server (support/fake-ads.ts, state of the world). The client asks for the secret by
// name once the listener names it; until it comes, connections are refused and counted; a new version applies to
// new handshakes while a connection opened before keeps working; a bad secret is NACKed naming it and the last good
// one stays; /config_dump never shows the key.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type tls from "node:tls";
import { ManualClock } from "../src/api/clock.ts";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { SECRET_TYPE_URL } from "../src/api/xds/parse/secret.ts";
import { Proxy } from "../src/proxy/server.ts";
import { XdsClient } from "../src/proxy/xds-client/client.ts";
import { FakeAds } from "./support/fake-ads.ts";
import { scrape, valueOf } from "./support/stats.ts";
import { makePki, type Pem, type TestPki } from "./support/tls-certs.ts";
import { socketAddress, staticCluster, type Raw } from "./support/envoy-config.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { openTls, requestOn, sdsTlsListener, tlsSecret } from "./support/sds.ts";
import { waitFor } from "./support/wait.ts";

let pki: TestPki;
let first: Pem;
let second: Pem;
let echo: Upstream;
let ads: FakeAds;
let proxy: Proxy;
let client: XdsClient;

function port(): number {
  return proxy.listenerAddresses().https!.port;
}

function open(): Promise<tls.TLSSocket> {
  return openTls(port(), pki.ca.cert);
}

before(async () => {
  pki = makePki();
  first = pki.leaf("first", ["DNS:gw.example.com"]);
  second = pki.leaf("second", ["DNS:gw.example.com", "DNS:second.example.com"]);
  echo = await startEchoServer("echo");
  ads = await new FakeAds().start();
  ads.set(TYPE_URL.cluster, "c1", [staticCluster("echo", [echo.port])]);
  ads.set(TYPE_URL.listener, "l1", [sdsTlsListener("https", "gateway-cert")]);
  const bootstrap = parseBootstrap(
    JSON.stringify({ node: { id: "gw", cluster: "gw" }, admin: { address: socketAddress(0) } }),
    "t",
  );
  proxy = new Proxy(bootstrap, { log: () => {} });
  await proxy.start();
  client = new XdsClient({
    servers: [ads.address],
    node: bootstrap.node,
    target: proxy,
    clock: new ManualClock(),
    protocol: "sotw",
  });
  client.start();
});

after(async () => {
  client?.stop();
  ads?.stop();
  await proxy?.shutdown(0);
  await echo?.close();
  pki?.close();
});

describe("SDS", () => {
  test("the secret is asked for by name once a listener names it; until it comes, connections are refused and counted", async () => {
    const asked = await ads.nextRequest(
      (r) => r.type_url === SECRET_TYPE_URL && (r.resource_names ?? []).includes("gateway-cert"),
      0,
    );
    assert.deepEqual(asked.resource_names, ["gateway-cert"]);
    await waitFor(() => proxy.listenerAddresses().https !== undefined);
    const s = net.connect({ host: "127.0.0.1", port: port() });
    s.on("error", () => {});
    s.resume();
    await new Promise((r) => s.once("close", r));
    const stats = await scrape(proxy.adminPort!);
    assert.equal(valueOf(stats, "envoy_listener_server_ssl_socket_factory_downstream_context_secrets_not_ready"), 1);
  });

  test("delivered: handshakes use it; a new version reaches new handshakes while an open connection keeps working", async () => {
    ads.set(SECRET_TYPE_URL, "s1", [tlsSecret("gateway-cert", first)]);
    await ads.reply(SECRET_TYPE_URL, "s1");
    const kept = await open();
    assert.equal(kept.getPeerX509Certificate()?.subjectAltName, "DNS:gw.example.com");
    assert.equal(await requestOn(kept), 200);
    ads.set(SECRET_TYPE_URL, "s2", [tlsSecret("gateway-cert", second)]);
    const ack = await ads.reply(SECRET_TYPE_URL, "s2");
    assert.equal(ack.error_detail ?? undefined, undefined);
    const fresh = await open();
    assert.equal(fresh.getPeerX509Certificate()?.subjectAltName, "DNS:gw.example.com, DNS:second.example.com");
    fresh.destroy();
    assert.equal(await requestOn(kept), 200, "the connection opened before the rotation still serves");
    kept.destroy();
  });

  test("a bad secret (key of another certificate, unparsable PEM) is NACKed naming it, never quoting the key; the last good one stays", async () => {
    const mismatched = {
      ...tlsSecret("gateway-cert", first),
      tls_certificate: { certificate_chain: { inline_string: first.cert }, private_key: { inline_string: second.key } },
    };
    ads.set(SECRET_TYPE_URL, "s3", [mismatched]);
    const nack = await ads.reply(SECRET_TYPE_URL, "s3");
    assert.match(
      nack.error_detail?.message ?? "",
      /secret gateway-cert: the private key does not match the certificate/,
    );
    assert.ok(!(nack.error_detail?.message ?? "").includes("PRIVATE KEY"), "no key material in the NACK");
    ads.set(SECRET_TYPE_URL, "s4", [
      {
        ...tlsSecret("gateway-cert", first),
        tls_certificate: {
          certificate_chain: { inline_string: "not a pem" },
          private_key: { inline_string: first.key },
        },
      },
    ]);
    const nack2 = await ads.reply(SECRET_TYPE_URL, "s4");
    assert.match(
      nack2.error_detail?.message ?? "",
      /secret gateway-cert certificate_chain: expected PEM certificates, found none/,
    );
    const s = await open();
    assert.equal(s.getPeerX509Certificate()?.subjectAltName, "DNS:gw.example.com, DNS:second.example.com", "still s2");
    s.destroy();
  });

  test("/config_dump shows the secret with its private key [redacted]", async () => {
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: proxy.adminPort!, path: "/config_dump" }, (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => resolve(text));
        })
        .on("error", reject);
    });
    assert.ok(!body.includes("PRIVATE KEY"), "no private key in /config_dump");
    const dump = JSON.parse(body) as { configs: { "@type": string; dynamic_active_secrets?: Raw[] }[] };
    const secrets = dump.configs.find((c) => c["@type"].endsWith("SecretsConfigDump"))!.dynamic_active_secrets!;
    assert.equal(secrets[0]!.name, "gateway-cert");
    assert.equal(secrets[0]!.version_info, "s2");
    const tlsCert = (secrets[0]!.secret as Raw).tls_certificate as Raw;
    assert.deepEqual(tlsCert.private_key, { inline_string: "[redacted]" });
  });
});
