// The xDS client's own last line: a bug in something it calls while handling a response (here an event listener
// that throws) must not stop the sidecar from applying the responses that follow. Before, a rejection in the
// chain of response handlers became an unhandled rejection and poisoned the chain: nothing was applied again.
// The chain is the client's, shared by both protocols; the fake server speaks state of the world.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../src/api/clock.ts";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { Proxy } from "../src/proxy/server.ts";
import { XdsClient } from "../src/proxy/xds-client/client.ts";
import { nodeFromIdentity } from "../src/proxy/xds-client/node.ts";
import { edsCluster, loadAssignment, rdsListener } from "../src/control/xds/testing-resources.ts";
import { FakeAds, type RecordedRequest } from "./support/fake-ads.ts";

type Raw = Record<string, unknown>;

function routes(version: string): Raw[] {
  return [
    {
      name: "outbound-http",
      virtual_hosts: [
        { name: version, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "v1" } }] },
      ],
    },
  ];
}

function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

{
  const protocol = "sotw";
  test(`${protocol}: an event listener that throws does not stop later responses from being applied`, async () => {
    const ads = await new FakeAds().start();
    ads.set(TYPE_URL.cluster, "c1", [edsCluster("v1")]);
    ads.set(TYPE_URL.clusterLoadAssignment, "e1", [loadAssignment("v1", [["127.0.0.1", 1]])]);
    ads.set(TYPE_URL.listener, "l1", [rdsListener("outbound", 0, "outbound-http")]);
    ads.set(TYPE_URL.routeConfiguration, "r1", routes("r1"));
    const node = nodeFromIdentity({ nodeId: "sidecar-1", service: "app", namespace: "shop", labels: {} });
    const bootstrap = parseBootstrap(JSON.stringify({ node: { id: node.id } }), "test");
    bootstrap.node = node;
    const proxy = new Proxy(bootstrap, { log: () => {} });
    await proxy.start();
    const logged: string[] = [];
    const client = new XdsClient({
      servers: [ads.address],
      node,
      target: proxy,
      clock: new ManualClock(),
      protocol,
      log: (line) => logged.push(line),
    });
    client.onEvent((e) => {
      if (e.kind === "ack" && e.versionInfo === "r2") throw new Error("injected: a listener's bug");
    });
    try {
      const first = ads.reply(TYPE_URL.routeConfiguration, "r1");
      client.start();
      await within(first, "r1");
      const second = ads.reply(TYPE_URL.routeConfiguration, "r2", ads.requests.length);
      ads.set(TYPE_URL.routeConfiguration, "r2", routes("r2"));
      const r2: RecordedRequest = await within(second, "r2");
      assert.equal(r2.error_detail ?? null, null);
      const third = ads.reply(TYPE_URL.routeConfiguration, "r3", ads.requests.length);
      ads.set(TYPE_URL.routeConfiguration, "r3", routes("r3"));
      const r3 = await within(third, "r3 (after the listener threw)");
      assert.equal(r3.version_info, "r3");
      assert.equal(client.version(TYPE_URL.routeConfiguration), "r3");
      assert.ok(
        logged.some((l) => /event listener failed: .*injected: a listener's bug/.test(l)),
        logged.join("\n"),
      );
    } finally {
      client.stop();
      ads.stop();
      await proxy.shutdown(0);
    }
  });
}
