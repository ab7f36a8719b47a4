// Locality-weighted load balancing end to end: a sidecar from a static bootstrap whose cluster has two localities
// weighted 80/20 (common_lb_config.locality_weighted_lb_config) sends real requests to real upstreams in that
// proportion, whatever the localities' host counts; the admin endpoints show the cluster as configured.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mulberry32 } from "../src/api/random.ts";
import { binomialBounds } from "./support/binomial.ts";
import { request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, socketAddress, type Raw } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, type EchoRecord, type Upstream } from "./support/upstreams.ts";

function localityGroup(zone: string, weight: number, ports: number[]): Raw {
  return {
    locality: { region: "r1", zone },
    load_balancing_weight: weight,
    lb_endpoints: ports.map((port) => ({ endpoint: { address: socketAddress(port) } })),
  };
}

describe("locality-weighted load balancing (real sockets)", () => {
  const upstreams: Upstream[] = [];
  let proxy: RunningProxy;

  before(async () => {
    // Zone a has one host, zone b two: by host count b would take 2/3; by locality weight it takes 20 %.
    for (const name of ["a1", "b1", "b2"]) upstreams.push(await startEchoServer(name));
    const [a1, b1, b2] = upstreams;
    const cluster: Raw = {
      name: "zoned",
      type: "STATIC",
      connect_timeout: "1s",
      lb_policy: "ROUND_ROBIN",
      common_lb_config: { locality_weighted_lb_config: {} },
      load_assignment: {
        cluster_name: "zoned",
        endpoints: [localityGroup("a", 80, [a1!.port]), localityGroup("b", 20, [b1!.port, b2!.port])],
      },
    };
    const routes = [{ match: { prefix: "/" }, route: { cluster: "zoned" } }];
    proxy = await startProxy(
      bootstrap([httpListener("http", allDomains(routes))], [cluster]),
      undefined,
      mulberry32(11),
    );
  });

  after(async () => {
    await proxy.close();
    for (const u of upstreams) await u.close();
  });

  test("two localities weighted 80/20 take 80 % and 20 % of the requests", async () => {
    const n = 1000;
    const byName = new Map<string, number>();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    try {
      const batch = 50;
      for (let i = 0; i < n; i += batch) {
        const replies = await Promise.all(Array.from({ length: batch }, () => request(proxy.port(), { agent })));
        for (const r of replies) {
          assert.equal(r.status, 200);
          const name = r.json<EchoRecord>().name;
          byName.set(name, (byName.get(name) ?? 0) + 1);
        }
      }
    } finally {
      agent.destroy();
    }
    const zoneB = (byName.get("b1") ?? 0) + (byName.get("b2") ?? 0);
    const [lo, hi] = binomialBounds(n, 0.2);
    assert.ok(
      zoneB >= lo && zoneB <= hi,
      `zone b got ${zoneB} of ${n}, expected within [${lo.toFixed(0)}, ${hi.toFixed(0)}]`,
    );
    // Round robin inside zone b spreads its share over both of its hosts.
    assert.ok((byName.get("b1") ?? 0) > 0 && (byName.get("b2") ?? 0) > 0, JSON.stringify([...byName]));
  });

  test("/config_dump shows the setting and /clusters every host with its locality", async () => {
    const admin = (path: string) => fetch(`http://127.0.0.1:${proxy.adminPort}${path}`);
    const dump = (await (await admin("/config_dump")).json()) as {
      configs: { static_clusters?: { cluster: { name: string; localityWeightedLb?: boolean } }[] }[];
    };
    const clusters = dump.configs.flatMap((c) => c.static_clusters ?? []).map((c) => c.cluster);
    assert.equal(clusters.find((c) => c.name === "zoned")?.localityWeightedLb, true);
    const text = await (await admin("/clusters")).text();
    const [a1, b1] = upstreams;
    assert.match(text, new RegExp(`^zoned::127\\.0\\.0\\.1:${a1!.port}::zone::a$`, "m"));
    assert.match(text, new RegExp(`^zoned::127\\.0\\.0\\.1:${b1!.port}::zone::b$`, "m"));
  });
});
