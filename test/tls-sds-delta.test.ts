// SDS over incremental (delta) xDS against Trellis's real ADS server (XdsServer) on 127.0.0.1, with a real proxy
// and real TLS clients: the listener's certificate is a secret named with sds_config {ads: {}}. The proxy asks for
// the secret by name once the listener names it (until it comes, connections are refused and counted); a new
// version reaches new handshakes while an open connection keeps working; a bad secret is NACKed naming it, never
// quoting the key, and the last good one stays; a removal is ACKed and, as Envoy's SDS, keeps the last secret for
// the listener that still names it; once no listener names it, the proxy unsubscribes.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type tls from "node:tls";
import { ManualClock } from "../src/api/clock.ts";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { SECRET_TYPE_URL } from "../src/api/xds/parse/secret.ts";
import { XdsServer } from "../src/control/xds/server.ts";
import { byName } from "../src/control/xds/testing-resources.ts";
import type { NackEvent, PushEvent, Snapshot } from "../src/control/xds/types.ts";
import { Proxy } from "../src/proxy/server.ts";
import { XdsClient, type XdsClientEvent } from "../src/proxy/xds-client/client.ts";
import { nodeFromIdentity } from "../src/proxy/xds-client/node.ts";
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
let xds: XdsServer;
let proxy: Proxy;
let client: XdsClient;
const world: { current: Snapshot } = { current: new Map() };
const pushes: PushEvent[] = [];
const nacks: NackEvent[] = [];
const events: XdsClientEvent[] = [];

/** The world: the echo cluster, the listeners (each naming its secret), and the secrets the server holds. */
function snapshot(listeners: Raw[], secrets: Raw[]): Snapshot {
  return new Map([
    [TYPE_URL.listener, byName(listeners)],
    [TYPE_URL.cluster, byName([staticCluster("echo", [echo.port])])],
    [SECRET_TYPE_URL, byName(secrets)],
  ]);
}

const acked = (typeUrl: string): number => events.filter((e) => e.kind === "ack" && e.typeUrl === typeUrl).length;

function secretStatus() {
  return xds.proxies()[0]?.types.find((t) => t.typeUrl === SECRET_TYPE_URL);
}

function port(): number {
  return proxy.listenerAddresses().https!.port;
}

function open(): Promise<tls.TLSSocket> {
  return openTls(port(), pki.ca.cert);
}

/** Changes the world and waits until the proxy answered (ACK or NACK) a new SDS version. */
async function push(next: Snapshot): Promise<void> {
  const answered = (): number => acked(SECRET_TYPE_URL) + events.filter((e) => e.kind === "nack").length;
  const before = answered();
  world.current = next;
  xds.refreshNow();
  await waitFor(() => answered() > before, 10_000);
}

before(async () => {
  pki = makePki();
  first = pki.leaf("first", ["DNS:gw.example.com"]);
  second = pki.leaf("second", ["DNS:gw.example.com", "DNS:second.example.com"]);
  echo = await startEchoServer("echo");
  world.current = snapshot([sdsTlsListener("https", "gateway-cert")], []);
  xds = new XdsServer({
    source: { snapshotFor: () => world.current },
    host: "127.0.0.1",
    port: 0,
    debounceMs: 1,
    log: () => {},
    hooks: { onPush: (e) => pushes.push(e), onNack: (e) => nacks.push(e) },
  });
  await xds.start();
  const node = nodeFromIdentity({ nodeId: "gw-delta", service: "gw", namespace: "default", labels: {} });
  const bootstrap = parseBootstrap(
    JSON.stringify({ node: { id: node.id }, admin: { address: socketAddress(0) } }),
    "t",
  );
  bootstrap.node = node;
  proxy = new Proxy(bootstrap, { log: () => {} });
  await proxy.start();
  client = new XdsClient({ servers: [`127.0.0.1:${xds.port}`], node, target: proxy, clock: new ManualClock() });
  client.onEvent((e) => events.push(e));
  client.start();
});

after(async () => {
  client?.stop();
  await xds?.stop(100);
  await proxy?.shutdown(0);
  await echo?.close();
  pki?.close();
});

describe("SDS over delta xDS (the real ADS server)", () => {
  test("the secret is subscribed by name once the listener names it; until it comes, connections are refused and counted", async () => {
    assert.equal(client.protocolName, "delta");
    await waitFor(() => (secretStatus()?.subscribed ?? []).includes("gateway-cert"), 10_000);
    assert.deepEqual(secretStatus()!.subscribed, ["gateway-cert"]);
    assert.equal(xds.proxies()[0]!.protocol, "delta");
    await waitFor(() => proxy.listenerAddresses().https !== undefined, 10_000);
    const s = net.connect({ host: "127.0.0.1", port: port() });
    s.on("error", () => {});
    s.resume();
    await new Promise((r) => s.once("close", r));
    const stats = await scrape(proxy.adminPort!);
    assert.equal(valueOf(stats, "envoy_listener_server_ssl_socket_factory_downstream_context_secrets_not_ready"), 1);
  });

  test("delivered, then rotated: one secret sent each time; new handshakes take the new one, an open connection keeps working", async () => {
    pushes.length = 0;
    await push(snapshot([sdsTlsListener("https", "gateway-cert")], [tlsSecret("gateway-cert", first)]));
    assert.deepEqual(
      pushes.filter((p) => p.typeUrl === SECRET_TYPE_URL).map((p) => [p.resources, p.removed]),
      [[1, 0]],
    );
    const kept = await open();
    assert.equal(kept.getPeerX509Certificate()?.subjectAltName, "DNS:gw.example.com");
    assert.equal(await requestOn(kept), 200);

    pushes.length = 0;
    await push(snapshot([sdsTlsListener("https", "gateway-cert")], [tlsSecret("gateway-cert", second)]));
    assert.deepEqual(
      pushes.filter((p) => p.typeUrl === SECRET_TYPE_URL).map((p) => [p.resources, p.removed]),
      [[1, 0]],
    );
    assert.equal(pushes.filter((p) => p.typeUrl !== SECRET_TYPE_URL).length, 0, "nothing else is sent");
    const fresh = await open();
    assert.equal(fresh.getPeerX509Certificate()?.subjectAltName, "DNS:gw.example.com, DNS:second.example.com");
    assert.equal(await requestOn(fresh), 200);
    fresh.destroy();
    assert.equal(await requestOn(kept), 200, "the connection opened before the rotation still serves");
    kept.destroy();
    const stats = await scrape(proxy.adminPort!);
    assert.equal(valueOf(stats, "envoy_listener_ssl_handshake"), 2);
  });

  test("a bad secret (the key of another certificate) is NACKed naming it, never quoting the key; the last good one stays", async () => {
    await push(snapshot([sdsTlsListener("https", "gateway-cert")], [tlsSecret("gateway-cert", first, second.key)]));
    await waitFor(() => nacks.some((n) => n.typeUrl === SECRET_TYPE_URL), 10_000);
    const nack = nacks.find((n) => n.typeUrl === SECRET_TYPE_URL)!;
    assert.match(nack.error, /secret gateway-cert: the private key does not match the certificate/);
    assert.doesNotMatch(nack.error, /PRIVATE KEY|BEGIN/);
    const s = await open();
    assert.equal(
      s.getPeerX509Certificate()?.subjectAltName,
      "DNS:gw.example.com, DNS:second.example.com",
      "still the rotated one",
    );
    s.destroy();
  });

  test("removed from the server: sent as a removed name and ACKed; the listener still naming it keeps the last one (as Envoy's SDS)", async () => {
    pushes.length = 0;
    await push(snapshot([sdsTlsListener("https", "gateway-cert")], []));
    assert.deepEqual(
      pushes.filter((p) => p.typeUrl === SECRET_TYPE_URL).map((p) => [p.resources, p.removed]),
      [[0, 1]],
    );
    const s = await open();
    assert.equal(s.getPeerX509Certificate()?.subjectAltName, "DNS:gw.example.com, DNS:second.example.com");
    assert.equal(await requestOn(s), 200);
    s.destroy();
  });

  test("no listener names the secret any more: the proxy unsubscribes from it", async () => {
    world.current = snapshot([], []);
    xds.refreshNow();
    await waitFor(() => proxy.listenerAddresses().https === undefined, 10_000);
    await waitFor(() => (secretStatus()?.subscribed ?? ["?"]).length === 0, 10_000);
    assert.deepEqual(secretStatus()!.subscribed, []);
  });
});
