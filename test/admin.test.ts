// The admin server of a real sidecar: readiness, config dump, clusters, Prometheus stats after traffic, drain.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { startProxy } from "./support/proxies.ts";
import { startEchoServer } from "./support/upstreams.ts";
import { request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster } from "./support/envoy-config.ts";

describe("admin endpoints of a running sidecar", () => {
  test("ready, config_dump, clusters, stats/prometheus and drain_listeners", async () => {
    const upstream = await startEchoServer("app");
    const proxy = await startProxy(
      bootstrap(
        [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))],
        [staticCluster("app", [upstream.port])],
      ),
    );
    const admin = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${proxy.adminPort}${path}`, init);
    try {
      assert.equal((await admin("/ready")).status, 200);
      for (let i = 0; i < 5; i++) assert.equal((await request(proxy.port())).status, 200);
      assert.equal((await request(proxy.port(), { headers: { host: "x" }, path: "/" })).status, 200);

      const dump = (await (await admin("/config_dump")).json()) as { configs: { "@type": string }[] };
      assert.deepEqual(
        dump.configs.map((c) => c["@type"].split(".").pop()),
        ["BootstrapConfigDump", "ListenersConfigDump", "ClustersConfigDump", "RoutesConfigDump"],
      );

      const clusters = await (await admin("/clusters")).text();
      assert.match(clusters, new RegExp(`app::127\\.0\\.0\\.1:${upstream.port}::health_flags::healthy`));
      assert.match(clusters, new RegExp(`app::127\\.0\\.0\\.1:${upstream.port}::rq_total::6`));
      assert.match(clusters, new RegExp(`app::127\\.0\\.0\\.1:${upstream.port}::rq_success::6`));
      assert.match(clusters, new RegExp(`app::127\\.0\\.0\\.1:${upstream.port}::rq_error::0`));

      const prom = await (await admin("/stats/prometheus")).text();
      assert.match(prom, /envoy_cluster_upstream_rq_total\{envoy_cluster_name="app"\} 6/);
      assert.match(
        prom,
        /envoy_cluster_upstream_rq\{envoy_response_code="200",envoy_cluster_name="app"\} 6|envoy_cluster_upstream_rq\{envoy_cluster_name="app",envoy_response_code="200"\} 6/,
      );
      assert.match(prom, /envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="app",le="\+Inf"\} 6/);
      assert.match(prom, /envoy_http_downstream_rq_total\{envoy_http_conn_manager_prefix="http"\} 6/);

      assert.equal((await admin("/drain_listeners", { method: "POST" })).status, 200);
      assert.equal((await admin("/ready")).status, 503);
      await assert.rejects(request(proxy.port()));
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});
