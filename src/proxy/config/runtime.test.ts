// Proxy.applyResources without a control plane: what changes, what is kept, and that a refused update changes
// nothing. Real sockets on 127.0.0.1.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { parseBootstrap } from "../../api/bootstrap.ts";
import { TYPE_URL } from "../../api/xds/wire/codec.ts";
import { Proxy } from "../server.ts";
import { request } from "../../../test/support/clients.ts";
import { httpListener, staticCluster, bootstrap } from "../../../test/support/envoy-config.ts";
import { XdsUpdateRejected } from "./errors.ts";

type Raw = Record<string, unknown>;

function directListener(name: string, body: string): Raw {
  const routes = {
    name: "local",
    virtual_hosts: [
      {
        name: "all",
        domains: ["*"],
        routes: [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: body } } }],
      },
    ],
  };
  return httpListener(name, routes);
}

async function proxyWithStatic(): Promise<Proxy> {
  const raw = bootstrap([], [staticCluster("static", [1])]);
  const proxy = new Proxy(parseBootstrap(JSON.stringify(raw), "test"), { log: () => {} });
  await proxy.start();
  return proxy;
}

describe("dynamic configuration", () => {
  const proxies: Proxy[] = [];
  after(async () => {
    for (const p of proxies) await p.shutdown(0);
  });
  const start = async (): Promise<Proxy> => {
    const p = await proxyWithStatic();
    proxies.push(p);
    return p;
  };

  test("a changed listener at the same address keeps its socket; new connections get the new configuration", async () => {
    const proxy = await start();
    await proxy.applyResources(TYPE_URL.listener, "1", [directListener("l", "A")]);
    const port = proxy.listenerAddresses().l!.port;
    assert.equal((await request(port)).body, "A");
    await proxy.applyResources(TYPE_URL.listener, "2", [directListener("l", "B")]);
    assert.equal(proxy.listenerAddresses().l!.port, port);
    assert.equal((await request(port)).body, "B");
  });

  test("unchanged clusters are kept whole, changed ones replaced, missing ones removed; static names refused", async () => {
    const proxy = await start();
    const a = staticCluster("a", [1]);
    const b = staticCluster("b", [2]);
    await proxy.applyResources(TYPE_URL.cluster, "1", [a, b]);
    const [ca, cb] = [proxy.cluster("a"), proxy.cluster("b")];
    await proxy.applyResources(TYPE_URL.cluster, "2", [a, staticCluster("b", [3])]);
    assert.equal(proxy.cluster("a"), ca, "unchanged: the same object (pools, health, counters)");
    assert.notEqual(proxy.cluster("b"), cb);
    assert.equal(proxy.cluster("b")!.membership.endpoints[0]!.port, 3);
    await proxy.applyResources(TYPE_URL.cluster, "3", [a]);
    assert.equal(proxy.cluster("b"), undefined);
    await assert.rejects(
      proxy.applyResources(TYPE_URL.cluster, "4", [staticCluster("static", [9])]),
      /cluster static: a static cluster has this name/,
    );
    assert.equal(proxy.cluster("static")!.membership.endpoints[0]!.port, 1);
  });

  test("all or nothing: one bad listener refuses the update; every problem is named", async () => {
    const proxy = await start();
    const bad = directListener("bad", "x");
    (bad as { filter_chains: Raw[] }).filter_chains[0]!.bogus = 1;
    const err = await proxy
      .applyResources(TYPE_URL.listener, "1", [directListener("good", "G"), bad, { name: "" }])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof XdsUpdateRejected);
    assert.equal(err.code, "TRELLIS_XDS_REJECTED");
    assert.match(err.message, /listener bad: invalid configuration:\n {2}- filter_chains\[0\]\.bogus: /);
    assert.match(err.message, /address: required/);
    assert.deepEqual(proxy.listenerAddresses(), {});
  });

  test("an RDS connection manager answers 404 NR until its route configuration arrives, then routes", async () => {
    const proxy = await start();
    const l = httpListener("rds", {});
    const tc = (l as { filter_chains: { filters: { typed_config: Raw }[] }[] }).filter_chains[0]!.filters[0]!
      .typed_config;
    delete tc.route_config;
    tc.rds = { route_config_name: "r", config_source: { ads: {} } };
    await proxy.applyResources(TYPE_URL.listener, "1", [l]);
    assert.deepEqual(proxy.routeConfigNames(), ["r"]);
    const port = proxy.listenerAddresses().rds!.port;
    const before = await request(port);
    assert.equal(before.status, 404);
    assert.equal(before.headers["x-trellis-response-flags"], "NR");
    assert.match(String(before.headers["x-trellis-details"]), /route_config_not_yet_received:r/);
    const routes = (directListener("x", "routed") as { filter_chains: { filters: { typed_config: Raw }[] }[] })
      .filter_chains[0]!.filters[0]!.typed_config.route_config as Raw;
    await proxy.applyResources(TYPE_URL.routeConfiguration, "1", [{ ...routes, name: "r" }]);
    assert.equal((await request(port)).body, "routed");
  });
});
