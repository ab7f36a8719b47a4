// The ORIGINAL_DST cluster on a real proxy on 127.0.0.1: the original destination is restored by the PROXY protocol
// listener filter (Envoy's localAddressRestored, as original_dst after an iptables REDIRECT; capture-netns.test.ts
// does it with real redirects). TCP and HTTP reach the address the header names, byte for byte; use_http_header and
// upstream_port_override; no restored address → no healthy upstream; the loop guard; hosts made on demand and
// cleaned after cleanup_interval idle (on a manual clock); the cluster's circuit breakers apply.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../src/api/clock.ts";
import { bootstrap, socketAddress, type Raw } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { exchange, namedServer, tcpChain, until } from "./support/capture.ts";

const PROXY_PROTOCOL = "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol";
const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

const ppFilter = (allowWithout = false): Raw => ({
  name: "envoy.filters.listener.proxy_protocol",
  typed_config: { "@type": PROXY_PROTOCOL, allow_requests_without_proxy_protocol: allowWithout },
});

const header = (address: string, port: number): string => `PROXY TCP4 10.250.0.2 ${address} 40000 ${port}\r\n`;

function passthrough(name: string, extra: Raw = {}): Raw {
  return { name, type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED", connect_timeout: "1s", ...extra };
}

const logDir = mkdtempSync(join(tmpdir(), "trellis-capture-"));
const logPath = join(logDir, "access.log");

function httpChain(cluster: string): Raw {
  return {
    filters: [
      {
        name: "envoy.filters.network.http_connection_manager",
        typed_config: {
          "@type": HCM,
          stat_prefix: "http",
          access_log: [
            {
              name: "envoy.access_loggers.file",
              typed_config: {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                path: logPath,
                log_format: {
                  text_format_source: { inline_string: "%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_HOST%\n" },
                },
              },
            },
          ],
          route_config: {
            name: "local",
            virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster } }] }],
          },
          http_filters: [
            {
              name: "envoy.filters.http.router",
              typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
            },
          ],
        },
      },
    ],
  };
}

function stat(p: RunningProxy, name: string, labels: Record<string, string> = {}): number {
  return p.proxy.stats
    .toJSON()
    .filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
    .reduce((sum, x) => sum + x.value, 0);
}

/** An HTTP server answering "<name> <method> <path> host=<host>" with the request body appended. */
async function httpServer(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => res.end(`${name} ${req.method} ${req.url} host=${req.headers.host} ${Buffer.concat(chunks)}`));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const body = (response: string): string => response.slice(response.indexOf("\r\n\r\n") + 4);
const status = (response: string): number => Number(response.split(" ")[1]);

describe("ORIGINAL_DST cluster", () => {
  const clock = new ManualClock();
  let tcpA: Awaited<ReturnType<typeof namedServer>>;
  let tcpB: Awaited<ReturnType<typeof namedServer>>;
  let web: Awaited<ReturnType<typeof httpServer>>;
  let proxy: RunningProxy;

  before(async () => {
    [tcpA, tcpB, web] = await Promise.all([namedServer("a"), namedServer("b"), httpServer("web")]);
    const listeners: Raw[] = [
      {
        name: "tcp",
        address: socketAddress(0),
        listener_filters: [ppFilter()],
        filter_chains: [tcpChain("Passthrough")],
      },
      { name: "plain", address: socketAddress(0), filter_chains: [tcpChain("Passthrough")] },
      {
        name: "override",
        address: socketAddress(0),
        listener_filters: [ppFilter()],
        filter_chains: [tcpChain("ToB")],
      },
      {
        name: "http",
        address: socketAddress(0),
        listener_filters: [ppFilter(true)],
        filter_chains: [httpChain("HttpPassthrough")],
      },
      {
        name: "limited",
        address: socketAddress(0),
        listener_filters: [ppFilter()],
        filter_chains: [tcpChain("Limited")],
      },
    ];
    const clusters: Raw[] = [
      passthrough("Passthrough", { cleanup_interval: "2s" }),
      passthrough("ToB", { original_dst_lb_config: { upstream_port_override: tcpB.port } }),
      passthrough("HttpPassthrough", { original_dst_lb_config: { use_http_header: true } }),
      passthrough("Limited", { circuit_breakers: { thresholds: [{ max_connections: 1 }] } }),
    ];
    proxy = await startProxy(bootstrap(listeners, clusters), clock);
  });

  after(async () => {
    await proxy?.close();
    await Promise.all([tcpA, tcpB, web].map((s) => s?.close()));
    rmSync(logDir, { recursive: true, force: true });
  });

  test("TCP: the upstream is the restored original destination, byte for byte; a host per address", async () => {
    const payload = Buffer.from([0, 1, 2, 255, 13, 10, 0x50, 0x52]);
    const got = await exchange(
      proxy.port("tcp"),
      Buffer.concat([Buffer.from(header("127.0.0.1", tcpA.port)), payload]),
    );
    assert.equal(got, `a|${payload.toString("latin1")}`);
    assert.equal(await exchange(proxy.port("tcp"), header("127.0.0.1", tcpB.port) + "to b"), "b|to b");
    assert.equal(stat(proxy, "envoy_cluster_membership_total", { envoy_cluster_name: "Passthrough" }), 2);
  });

  test("upstream_port_override replaces the original port", async () => {
    assert.equal(await exchange(proxy.port("override"), header("127.0.0.1", tcpA.port) + "x"), "b|x");
  });

  test("no restored destination: no healthy upstream, TCP closed and counted", async () => {
    const before = stat(proxy, "envoy_cluster_upstream_cx_none_healthy", { envoy_cluster_name: "Passthrough" });
    assert.equal(await exchange(proxy.port("plain"), "nothing"), "");
    assert.equal(
      stat(proxy, "envoy_cluster_upstream_cx_none_healthy", { envoy_cluster_name: "Passthrough" }),
      before + 1,
    );
  });

  test("loop guard: an original destination that is the listener itself is refused, never forwarded", async () => {
    const port = proxy.port("tcp");
    const before = stat(proxy, "trellis_original_dst_loop_refused", { envoy_cluster_name: "Passthrough" });
    const all = stat(proxy, "trellis_original_dst_loop_refused");
    const sessions = stat(proxy, "envoy_listener_downstream_cx_total", { envoy_listener_address: "127.0.0.1_0" });
    assert.equal(await exchange(port, header("127.0.0.1", port) + "loop"), "");
    assert.equal(stat(proxy, "trellis_original_dst_loop_refused", { envoy_cluster_name: "Passthrough" }), before + 1);
    // Another listener of the same proxy is its own too; so is a header naming one.
    assert.equal(await exchange(port, header("127.0.0.1", proxy.port("override")) + "loop"), "");
    const http = proxy.port("http");
    const viaHeader = await exchange(
      http,
      `GET / HTTP/1.1\r\nhost: x\r\nx-envoy-original-dst-host: 127.0.0.1:${http}\r\nconnection: close\r\n\r\n`,
    );
    assert.equal(status(viaHeader), 503);
    assert.equal(stat(proxy, "trellis_original_dst_loop_refused"), all + 3);
    // One connection, not a chain of them through the proxy to itself.
    assert.equal(
      stat(proxy, "envoy_listener_downstream_cx_total", { envoy_listener_address: "127.0.0.1_0" }),
      sessions + 3,
    );
  });

  test("HTTP: the original destination, or x-envoy-original-dst-host with use_http_header; neither → 503 UH", async () => {
    const port = proxy.port("http");
    const get = (extra = ""): string =>
      `GET /p?q=1 HTTP/1.1\r\nhost: meeting:8080\r\n${extra}connection: close\r\n\r\n`;
    const restored = await exchange(port, header("127.0.0.1", web.port) + get());
    assert.equal(status(restored), 200);
    assert.equal(body(restored), "web GET /p?q=1 host=meeting:8080 ");
    const byHeader = await exchange(port, get(`x-envoy-original-dst-host: 127.0.0.1:${web.port}\r\n`));
    assert.equal(body(byHeader), "web GET /p?q=1 host=meeting:8080 ");
    const none = await exchange(port, get());
    assert.equal(status(none), 503);
    assert.equal(body(none), "no healthy upstream");
    // The access log says which: the host connected to, or UH (Envoy's no healthy upstream) with none.
    clock.advance(1000); // the access log flush interval, on the proxy's (manual) clock
    const logged = () =>
      readFileSync(logPath, "utf8")
        .split("\n")
        .filter((l) => l !== "");
    await until(() => logged().length >= 3, "three access log lines");
    assert.deepEqual(logged().slice(0, 3).sort(), [
      `200 - 127.0.0.1:${web.port}`,
      `200 - 127.0.0.1:${web.port}`,
      "503 UH -",
    ]);
    // A header that is no IP:port literal is ignored (Envoy), so the restored address is used.
    const bad = await exchange(port, header("127.0.0.1", web.port) + get("x-envoy-original-dst-host: meeting:80\r\n"));
    assert.equal(status(bad), 200);
  });

  test("hosts are kept while used and removed after cleanup_interval idle", async () => {
    const members = () => stat(proxy, "envoy_cluster_membership_total", { envoy_cluster_name: "Passthrough" });
    const opened = () => stat(proxy, "envoy_cluster_upstream_cx_total", { envoy_cluster_name: "Passthrough" });
    const openedBefore = opened();
    assert.equal(await exchange(proxy.port("tcp"), header("127.0.0.1", tcpA.port) + "1"), "a|1");
    const held = net.connect({ port: proxy.port("tcp"), allowHalfOpen: true });
    await new Promise((resolve) => held.once("connect", resolve));
    held.write(header("127.0.0.1", tcpB.port) + "held");
    const active = () => stat(proxy, "envoy_cluster_upstream_cx_active", { envoy_cluster_name: "Passthrough" });
    // Both connections opened and one left active: a's is closed, so the active one is b's (under load a's close
    // can come after b's connect starts, and "one active" alone could be a's).
    await until(() => opened() === openedBefore + 2 && active() === 1, "the session to b");
    // Earlier tests on this proxy may have left a sweep scheduled at any offset: three intervals hold at least two
    // full sweeps after both were used (the first clears their "used" mark, the next removes what is idle).
    for (let i = 0; i < 3; i++) clock.advance(2000);
    assert.equal(members(), 1, "a removed (idle), b kept (a session open on it)");
    const chunks: Buffer[] = [];
    held.on("data", (c: Buffer) => chunks.push(c));
    const closed = new Promise((resolve) => held.once("close", resolve));
    held.end();
    await closed;
    assert.equal(Buffer.concat(chunks).toString(), "b|held");
    for (let i = 0; i < 3; i++) clock.advance(2000);
    assert.equal(members(), 0);
  });

  test("the cluster's circuit breakers apply to the hosts it makes (max_connections)", async () => {
    const port = proxy.port("limited");
    const first = net.connect({ port, allowHalfOpen: true });
    await new Promise((resolve) => first.once("connect", resolve));
    first.write(header("127.0.0.1", tcpA.port) + "first");
    const overflow = () => stat(proxy, "envoy_cluster_upstream_cx_overflow", { envoy_cluster_name: "Limited" });
    // Wait until the first session holds its upstream connection.
    for (
      let i = 0;
      i < 200 && stat(proxy, "envoy_cluster_upstream_cx_active", { envoy_cluster_name: "Limited" }) < 1;
      i++
    )
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(await exchange(port, header("127.0.0.1", tcpB.port) + "second"), "");
    assert.equal(overflow(), 1);
    const chunks: Buffer[] = [];
    first.on("data", (c: Buffer) => chunks.push(c));
    const closed = new Promise((resolve) => first.once("close", resolve));
    first.end();
    await closed;
    assert.equal(Buffer.concat(chunks).toString(), "a|first");
  });
});
