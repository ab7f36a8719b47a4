import { test } from "node:test";
import assert from "node:assert/strict";
import { parseBootstrap } from "../../src/api/bootstrap.ts";
import { Proxy } from "../../src/proxy/server.ts";
import { trellisBootstrap } from "./configs.ts";

test("the benchmark's Trellis bootstraps (plain, policy, h2c) are valid configurations", () => {
  for (const [policy, upstreamHttp2] of [
    [false, false],
    [true, false],
    [false, true],
  ] as const) {
    const yaml = trellisBootstrap({ nodeId: "n", adminPort: 1, listenPort: 2, nextPort: 3, upstreamHttp2, policy });
    const bootstrap = parseBootstrap(yaml, "bench.yaml");
    // Building the proxy compiles routes and filters (nothing is bound).
    new Proxy(bootstrap, { log: () => {} });
    const hcm = bootstrap.staticResources.listeners[0]!.filterChains[0]!.filters[0]!;
    assert.equal(hcm.kind, "http_connection_manager");
    if (hcm.kind !== "http_connection_manager") continue;
    const routes = hcm.config.routeConfig!.virtualHosts[0]!.routes;
    assert.equal(routes.length, policy ? 20 : 1);
    assert.equal(hcm.config.httpFilters.length, policy ? 1 : 0);
    const cluster = bootstrap.staticResources.clusters[0]!;
    assert.equal(cluster.outlierDetection !== undefined, policy);
  }
});
