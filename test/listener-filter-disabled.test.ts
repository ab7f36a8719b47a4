// A listener filter's filter_disabled on a real proxy: a tls_inspector disabled for destination port 2525 (a
// server-first protocol, as SMTP) and left on for the others. The PROXY protocol filter before it gives each
// connection the destination port the client meant; listener_filters_timeout is 0s (none, Istio's
// protocolDetectionTimeout default), so an inspector that waited would wait forever.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, socketAddress, staticCluster } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { exchange, greeting, greetingServer, namedServer, tcpChain } from "./support/capture.ts";
import { clientHello } from "./support/client-hello.ts";

const header = (port: number): string => `PROXY TCP4 10.0.0.1 10.0.0.2 40000 ${port}\r\n`;

describe("filter_disabled turns a listener filter off per destination port", () => {
  let proxy: RunningProxy;
  const servers: Record<string, { port: number; close(): Promise<void> }> = {};

  before(async () => {
    servers.smtp = await greetingServer("smtp");
    servers.a = await namedServer("a");
    servers.other = await namedServer("other");
    const listener = {
      name: "shared",
      address: socketAddress(0),
      listener_filters: [
        {
          name: "envoy.filters.listener.proxy_protocol",
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol",
          },
        },
        {
          name: "envoy.filters.listener.tls_inspector",
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
          },
          // Istio's shape for "only the ports that need it": off for 2525 and for [3000, 3001).
          filter_disabled: {
            or_match: {
              rules: [
                { destination_port_range: { start: 2525, end: 2526 } },
                { destination_port_range: { start: 3000, end: 3001 } },
              ],
            },
          },
        },
      ],
      listener_filters_timeout: "0s",
      filter_chains: [
        tcpChain("smtp", { destination_port: 2525 }),
        tcpChain("a", { destination_port: 443, server_names: ["a.example"] }),
        tcpChain("other", { destination_port: 443 }),
      ],
    };
    proxy = await startProxy(
      bootstrap(
        [listener],
        [
          staticCluster("smtp", [servers.smtp.port]),
          staticCluster("a", [servers.a.port]),
          staticCluster("other", [servers.other.port]),
        ],
      ),
    );
  });

  after(async () => {
    await proxy?.close();
    for (const s of Object.values(servers)) await s.close();
  });

  test("on the disabled port the server-first upstream greets a client that sends nothing", async () => {
    assert.equal(await greeting(proxy.port("shared"), header(2525)), "220 smtp\r\n");
  });

  test("on another port the tls_inspector still runs: SNI picks the chain", async () => {
    const port = proxy.port("shared");
    const hello = clientHello({ sni: "a.example" });
    const toA = await exchange(port, Buffer.concat([Buffer.from(header(443)), hello]));
    assert.equal(toA, `a|${hello.toString("latin1")}`);
    const other = clientHello({ sni: "b.example" });
    const toOther = await exchange(port, Buffer.concat([Buffer.from(header(443)), other]));
    assert.equal(toOther, `other|${other.toString("latin1")}`);
  });
});
