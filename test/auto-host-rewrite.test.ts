// auto_host_rewrite on the wire: the upstream sees Host set to the chosen endpoint's host name for a DNS cluster
// (resolved by an injected resolver), and the client's Host for a STATIC cluster (no effect there, as in Envoy).
// It cannot be combined with host_rewrite_literal.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../src/api/clock.ts";
import { assertIssues } from "../src/api/xds/parse/testing.ts";
import { loadBootstrap } from "../src/proxy/config/load-bootstrap.ts";
import { Proxy } from "../src/proxy/server.ts";
import { request } from "./support/clients.ts";
import { bootstrap, httpListener, staticCluster, type Raw } from "./support/envoy-config.ts";
import { startEchoServer } from "./support/upstreams.ts";

function routes(extra: Raw): Raw {
  return {
    virtual_hosts: [
      {
        name: "all",
        domains: ["*"],
        routes: [
          { match: { prefix: "/dns" }, route: { cluster: "dns", auto_host_rewrite: true, ...extra } },
          { match: { prefix: "/static" }, route: { cluster: "static", auto_host_rewrite: true } },
        ],
      },
    ],
  };
}

describe("auto_host_rewrite", () => {
  test("Host becomes the DNS endpoint's name; a STATIC cluster keeps the client's", async () => {
    const upstream = await startEchoServer("app");
    const dns = {
      name: "dns",
      type: "STRICT_DNS",
      connect_timeout: "1s",
      load_assignment: {
        cluster_name: "dns",
        endpoints: [
          {
            lb_endpoints: [
              { endpoint: { address: { socket_address: { address: "backend.internal", port_value: upstream.port } } } },
            ],
          },
        ],
      },
    };
    const raw = bootstrap([httpListener("in", routes({}))], [dns, staticCluster("static", [upstream.port])]);
    const proxy = new Proxy(loadBootstrap(JSON.stringify(raw), "b.json"), {
      clock: new ManualClock(),
      log: () => {},
      dnsLookup: async () => ["127.0.0.1"],
    });
    await proxy.start();
    try {
      const port = Object.values(proxy.listenerAddresses())[0]!.port;
      await request(port, { path: "/dns", headers: { host: "front.example" } });
      await request(port, { path: "/static", headers: { host: "front.example" } });
      assert.deepEqual(
        upstream.received.map((r) => `${r.url} ${r.headers.host}`),
        ["/dns backend.internal", "/static front.example"],
      );
    } finally {
      await proxy.shutdown(0);
      await upstream.close();
    }
  });

  test("with host_rewrite_literal: refused, at the route", () => {
    const raw = bootstrap(
      [httpListener("in", routes({ host_rewrite_literal: "x.example" }))],
      [staticCluster("dns", [80]), staticCluster("static", [80])],
    );
    assertIssues(
      () => loadBootstrap(JSON.stringify(raw), "b.json"),
      [
        [
          "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route",
          "only one of host_rewrite_literal, auto_host_rewrite may be set, got host_rewrite_literal and auto_host_rewrite",
        ],
      ],
    );
  });
});
