// Protocol sniffing in capture mode, run by a real proxy: the translation of golden case capture-sniffing (ports
// with no declared protocol) with virtualOutbound handing each connection to its <VIP>_<port> listener, whose
// tls_inspector + http_inspector send plaintext HTTP to the connection manager of route "<port>" (the
// VirtualService's http routes, its fault included) and other bytes to tcp_proxy; virtualInbound does the same for
// the workload's own undeclared port. As in capture-translate-proxy.test.ts, the PROXY protocol listener filter
// stands in for original_dst (both restore the connection's original destination) and the clusters' endpoints are
// swapped for local servers; everything else is the translation as the control plane sends it. The workload's
// declared TCP port 2525 (a server-first protocol) shares virtualInbound with the sniffed 9000: its inspectors are
// disabled there (filter_disabled), so the server's greeting reaches a client that sends nothing.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type { Json } from "../src/control/translate/envoy.ts";
import { inlineRds, loadCase } from "../src/control/translate/testing.ts";
import { translate } from "../src/control/translate/translate.ts";
import { bootstrap, socketAddress } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { exchange, greeting, greetingServer, namedServer } from "./support/capture.ts";

const PROXY_PROTOCOL = {
  name: "envoy.filters.listener.proxy_protocol",
  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol" },
};
const LEGACY = "outbound|7000||legacy.internal";
const CACHE = "outbound|11211||cache.default.svc.cluster.local";
const OWN = "inbound|9000||";
const SMTP = "inbound|2525||";

const header = (address: string, port: number): string => `PROXY TCP4 10.250.0.2 ${address} 40000 ${port}\r\n`;

/** One HTTP/1.1 request (Connection: close) after `prefix`; the whole response. */
function httpExchange(port: number, prefix: string, host: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    socket.on("connect", () =>
      socket.write(`${prefix}GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
  });
}

/** On one port: an HTTP request line gets "<name> saw <path>", anything else "<name>|<bytes>" once half-closed. */
async function mixedServer(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const web = http.createServer((req, res) => res.end(`${name} saw ${req.url ?? ""}`));
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.once("data", (first: Buffer) => {
      if (/^GET \S+ HTTP\/1\.1\r\n/.test(first.toString("latin1"))) {
        s.unshift(first);
        web.emit("connection", s);
        return;
      }
      const chunks = [first];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("end", () => s.end(Buffer.concat([Buffer.from(`${name}|`), ...chunks])));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("a real proxy runs the capture-mode translation of undeclared ports", () => {
  let proxy: RunningProxy;
  const servers: Record<string, { port: number; close(): Promise<void> }> = {};
  let vips: Record<string, string>;

  before(async () => {
    servers.legacy = await mixedServer("legacy");
    servers.cache = await namedServer("cache");
    servers.own = await mixedServer("own");
    servers.smtp = await greetingServer("smtp");
    const { world, proxy: identity } = loadCase("capture-sniffing.yaml");
    const result = translate(world, identity);
    vips = Object.fromEntries(
      Object.entries((result.nameTable as { table: Record<string, { ips: string[] }> }).table).map(([h, i]) => [
        h,
        i.ips[0]!,
      ]),
    );
    const local: Record<string, number> = {
      [LEGACY]: servers.legacy.port,
      [CACHE]: servers.cache.port,
      [OWN]: servers.own.port,
      [SMTP]: servers.smtp.port,
    };
    const clusters = result.clusters.map((c): Json => {
      const port = local[String(c.name)];
      if (port === undefined && c.type !== "EDS") return c;
      const { eds_cluster_config: _eds, ...rest } = c;
      const assignment =
        port === undefined
          ? result.endpoints.find((e) => e.cluster_name === c.name)!
          : { cluster_name: c.name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(port) } }] }] };
      return { ...rest, type: "STATIC", load_assignment: assignment };
    });
    const listeners = result.listeners.map((l) => {
      const out = inlineRds(l, result.routes);
      if (l.name === "virtualOutbound" || l.name === "virtualInbound") {
        out.address = socketAddress(0);
        // PROXY protocol in place of original_dst; virtualInbound keeps its inspectors after it.
        out.listener_filters = [PROXY_PROTOCOL, ...((l.listener_filters as Json[]) ?? []).slice(1)];
      }
      return out;
    });
    proxy = await startProxy(bootstrap(listeners, clusters));
  });

  after(async () => {
    await proxy?.close();
    for (const s of Object.values(servers)) await s.close();
  });

  test("HTTP to a ServiceEntry VIP's undeclared port is routed by its VirtualService (fault and route)", async () => {
    const port = proxy.port("virtualOutbound");
    const prefix = header("192.168.7.10", 7000);
    const aborted = await httpExchange(port, prefix, "legacy.internal:7000", "/old/x");
    assert.match(aborted, /^HTTP\/1\.1 410 /, aborted);
    const routed = await httpExchange(port, prefix, "legacy.internal", "/new");
    assert.match(routed, /^HTTP\/1\.1 200 /, routed);
    assert.ok(routed.endsWith("legacy saw /new"), routed);
  });

  test("other bytes to an undeclared port's VIP are tcp_proxy'd as they are", async () => {
    const port = proxy.port("virtualOutbound");
    const vip = vips["cache.default.svc.cluster.local"]!;
    assert.equal(await exchange(port, `${header(vip, 11211)}stats\r\n\u0000\u0001`), "cache|stats\r\n\u0000\u0001");
  });

  test("virtualInbound: the workload's undeclared port takes HTTP through its connection manager and bytes as TCP", async () => {
    const port = proxy.port("virtualInbound");
    const response = await httpExchange(port, header("10.250.0.2", 9000), "web:9000", "/in");
    assert.match(response, /^HTTP\/1\.1 200 /, response);
    assert.ok(response.endsWith("own saw /in"), response);
    assert.match(response, /\r\nx-envoy-upstream-service-time: \d+\r\n/i, "through the connection manager");
    assert.equal(await exchange(port, `${header("10.250.0.2", 9000)}\u0001raw`), "own|\u0001raw");
  });

  test("virtualInbound: a declared TCP port beside the sniffed one is not inspected, its server greets at once", async () => {
    // protocolDetectionTimeout is 0s (no timeout): an inspector that waited for the client would wait forever.
    const port = proxy.port("virtualInbound");
    assert.equal(await greeting(port, header("10.250.0.2", 2525)), "220 smtp\r\n");
    // The sniffed port still sniffs: HTTP through the connection manager, bytes as TCP.
    const response = await httpExchange(port, header("10.250.0.2", 9000), "web:9000", "/still");
    assert.match(response, /\r\nx-envoy-upstream-service-time: \d+\r\n/i, response);
    assert.ok(response.endsWith("own saw /still"), response);
  });
});
