// LOGICAL_DNS clusters on the wire: one endpoint, at the first address of the latest DNS answer, re-resolved every
// dns_refresh_rate (Envoy's LogicalDnsCluster). The resolver is injected; the upstreams are real sockets on two
// loopback addresses sharing one port.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ManualClock } from "../src/api/clock.ts";
import { loadBootstrap } from "../src/proxy/config/load-bootstrap.ts";
import { Proxy } from "../src/proxy/server.ts";
import type { DnsLookupFamily } from "../src/proxy/upstream/dns.ts";
import { request } from "./support/clients.ts";
import { waitFor } from "./support/wait.ts";

function named(name: string, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((_req, res) => res.end(name));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

const close = (s: http.Server): Promise<void> =>
  new Promise((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  });

function bootstrapYaml(port: number): string {
  return `
static_resources:
  listeners:
    - address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http
                route_config:
                  virtual_hosts:
                    - name: backend
                      domains: ["*"]
                      routes: [{ match: { prefix: / }, route: { cluster: backend } }]
                http_filters: [{ name: envoy.filters.http.router, typed_config: {} }]
  clusters:
    - name: backend
      type: logical_dns
      dns_lookup_family: v4_only
      dns_refresh_rate: 2s
      load_assignment:
        cluster_name: backend
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: backend.example, port_value: ${port} } } } }] }]
`;
}

describe("LOGICAL_DNS cluster", () => {
  test("connects to the first address of the answer; follows the answer on the refresh rate", async () => {
    const a = await named("a", "127.0.0.1", 0);
    const port = (a.address() as AddressInfo).port;
    const b = await named("b", "127.0.0.2", port);
    let answer = ["127.0.0.1", "127.0.0.2"];
    const lookups: [string, DnsLookupFamily][] = [];
    const clock = new ManualClock();
    const proxy = new Proxy(loadBootstrap(bootstrapYaml(port), "logical.yaml"), {
      clock,
      log: () => {},
      dnsLookup: async (host, family) => {
        lookups.push([host, family]);
        return answer;
      },
    });
    try {
      await proxy.start();
      const listenerPort = Object.values(proxy.listenerAddresses())[0]!.port;
      assert.deepEqual(lookups, [["backend.example", "V4_ONLY"]]);
      // One endpoint only, whatever the answer's length: a STRICT_DNS cluster would balance over both.
      assert.deepEqual(
        proxy.cluster("backend")!.membership.endpoints.map((e) => e.key),
        [`127.0.0.1:${port}`],
      );
      for (let i = 0; i < 4; i++) assert.equal((await request(listenerPort)).body, "a");

      answer = ["127.0.0.2", "127.0.0.1"];
      clock.advance(1_999);
      await new Promise((r) => setImmediate(r));
      assert.equal(lookups.length, 1, "not before the refresh rate");
      clock.advance(1);
      await waitFor(() => lookups.length === 2);
      const endpoints = (): string[] => proxy.cluster("backend")!.membership.endpoints.map((e) => e.key);
      await waitFor(() => endpoints()[0] === `127.0.0.2:${port}`);
      assert.deepEqual(endpoints(), [`127.0.0.2:${port}`]);
      for (let i = 0; i < 4; i++) assert.equal((await request(listenerPort)).body, "b");
    } finally {
      await proxy.shutdown(0);
      await close(a);
      await close(b);
    }
  });

  test("a LOGICAL_DNS cluster takes exactly one endpoint", () => {
    const text = bootstrapYaml(80).replace(
      "endpoints: [{ lb_endpoints: [{",
      "endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: other.example, port_value: 80 } } } }, {",
    );
    assert.throws(
      () => loadBootstrap(text, "logical.yaml"),
      /static_resources\.clusters\[0\]\.load_assignment\.endpoints: a LOGICAL_DNS cluster takes exactly one endpoint/,
    );
  });
});
