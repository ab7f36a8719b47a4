// The control plane's capture-mode output (translate() for a node with INTERCEPTION_MODE REDIRECT) run by a real
// proxy: virtualOutbound hands each connection to the listener of its original destination, and the HTTP listener
// routes by Host and by VIP. Without a network namespace: the PROXY protocol listener filter stands in for
// original_dst (both restore the connection's local address, as capture-handoff.test.ts explains), and the EDS
// clusters' endpoints (10.250.0.x, addresses of namespaces this test does not make) are swapped for local servers
// — everything else is the translation as the control plane sends it.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type { Json } from "../src/control/translate/envoy.ts";
import { inlineRds, loadCase } from "../src/control/translate/testing.ts";
import { translate } from "../src/control/translate/translate.ts";
import { bootstrap, socketAddress } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { exchange, namedServer } from "./support/capture.ts";

const PROXY_PROTOCOL = {
  name: "envoy.filters.listener.proxy_protocol",
  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol" },
};
const MEETING = "outbound|8080||meeting.default.svc.cluster.local";
const REDIS = "outbound|6379||redis.data.svc.cluster.local";

const header = (address: string, port: number): string => `PROXY TCP4 10.250.0.2 ${address} 40000 ${port}\r\n`;

/** Sends one HTTP/1.1 request (Connection: close) after `prefix` and resolves with the whole response. */
function httpExchange(port: number, prefix: string, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    socket.on("connect", () =>
      socket.write(`${prefix}GET /who HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
  });
}

describe("a real proxy runs the capture-mode translation", () => {
  let proxy: RunningProxy;
  let meeting: http.Server;
  let meetingPort: number;
  const tcp: Record<string, { port: number; close(): Promise<void> }> = {};
  let vips: Record<string, string>;

  before(async () => {
    meeting = http.createServer((req, res) => res.end(`meeting saw ${req.headers.host ?? ""} ${req.url ?? ""}`));
    await new Promise<void>((resolve) => meeting.listen(0, "127.0.0.1", resolve));
    meetingPort = (meeting.address() as net.AddressInfo).port;
    for (const name of ["redis", "outside"]) tcp[name] = await namedServer(name);

    const { world, proxy: identity } = loadCase("capture-basic.yaml");
    const result = translate(world, identity);
    vips = Object.fromEntries(
      Object.entries((result.nameTable as { table: Record<string, { ips: string[] }> }).table).map(([h, i]) => [
        h,
        i.ips[0]!,
      ]),
    );
    const local: Record<string, number> = { [MEETING]: meetingPort, [REDIS]: tcp.redis!.port };
    // EDS clusters become STATIC with their assignment (a static bootstrap has no EDS), meeting's and redis's
    // endpoints swapped for the local servers.
    const clusters = result.clusters.map((c): Json => {
      if (c.name === "inbound|8080||") {
        // The application on 127.0.0.1:8080 inside its namespace: here, meeting's server.
        return {
          ...c,
          load_assignment: {
            cluster_name: c.name,
            endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(meetingPort) } }] }],
          },
        };
      }
      if (c.type !== "EDS") return c;
      const { eds_cluster_config: _eds, ...rest } = c;
      const port = local[String(c.name)];
      const assignment =
        port === undefined
          ? result.endpoints.find((e) => e.cluster_name === c.name)!
          : {
              cluster_name: c.name,
              endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(port) } }] }],
            };
      return { ...rest, type: "STATIC", load_assignment: assignment };
    });
    const listeners = result.listeners.map((l) => {
      const out = inlineRds(l, result.routes);
      if (l.name === "virtualOutbound" || l.name === "virtualInbound") {
        out.address = socketAddress(0);
        out.listener_filters = [PROXY_PROTOCOL];
      }
      return out;
    });
    proxy = await startProxy(bootstrap(listeners, clusters));
  });

  after(async () => {
    await proxy?.close();
    await new Promise<void>((resolve) => meeting?.close(() => resolve()));
    for (const s of Object.values(tcp)) await s.close();
  });

  test("HTTP to meeting's VIP:8080 routes by Host (name, FQDN) and by the VIP itself", async () => {
    const port = proxy.port("virtualOutbound");
    const vip = vips["meeting.default.svc.cluster.local"]!;
    for (const host of ["meeting:8080", "meeting", "meeting.default.svc.cluster.local:8080", `${vip}:8080`]) {
      const response = await httpExchange(port, header(vip, 8080), host);
      assert.match(response, /^HTTP\/1\.1 200 /, host);
      assert.ok(response.endsWith(`meeting saw ${host} /who`), `${host}: ${response}`);
    }
  });

  test("TCP to redis's VIP:6379 reaches redis; a connection no listener takes passes through to where it was sent", async () => {
    const port = proxy.port("virtualOutbound");
    assert.equal(
      await exchange(port, header(vips["redis.data.svc.cluster.local"]!, 6379) + "PING\r\n"),
      "redis|PING\r\n",
    );
    // ALLOW_ANY: PassthroughCluster is ORIGINAL_DST, so the original destination is the upstream.
    assert.equal(await exchange(port, header("127.0.0.1", tcp.outside!.port) + "hello"), "outside|hello");
  });

  test("virtualInbound: a declared port reaches the application through its chain; another passes through", async () => {
    const port = proxy.port("virtualInbound");
    const response = await httpExchange(port, header("10.250.0.2", 8080), "web:8080");
    assert.match(response, /^HTTP\/1\.1 200 /);
    assert.ok(response.endsWith("meeting saw web:8080 /who"), response);
    assert.equal(await exchange(port, header("127.0.0.1", tcp.outside!.port) + "in"), "outside|in");
  });
});
