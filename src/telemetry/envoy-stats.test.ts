import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { StatsStore } from "./stats.ts";
import {
  createClusterStats,
  createHttpConnManagerStats,
  createListenerStats,
  createTcpProxyStats,
  listenerStatAddress,
  removeClusterStats,
} from "./envoy-stats.ts";
import { envoyStatName, renderEnvoyStatsJson, renderEnvoyStatsText } from "./envoy-stats-text.ts";

const line = (text: string, prefix: string) => text.split("\n").find((l) => l.startsWith(prefix + " "));

describe("createClusterStats", () => {
  test("uses Envoy's Prometheus names and tags", () => {
    const store = new StatsStore();
    const c = createClusterStats(store, "backend");
    c.upstreamRqTotal.inc();
    c.countResponse(200);
    c.countResponse(200);
    c.countResponse(503);
    c.upstreamCxActive.inc();
    c.upstreamRqTime.observe(3);
    const out = store.renderPrometheus();
    assert.match(out, /^envoy_cluster_upstream_rq_total\{envoy_cluster_name="backend"\} 1$/m);
    assert.match(out, /^envoy_cluster_upstream_rq\{envoy_response_code="200",envoy_cluster_name="backend"\} 2$/m);
    assert.match(out, /^envoy_cluster_upstream_rq\{envoy_response_code="503",envoy_cluster_name="backend"\} 1$/m);
    assert.match(
      out,
      /^envoy_cluster_upstream_rq_xx\{envoy_response_code_class="2",envoy_cluster_name="backend"\} 2$/m,
    );
    assert.match(
      out,
      /^envoy_cluster_upstream_rq_xx\{envoy_response_code_class="5",envoy_cluster_name="backend"\} 1$/m,
    );
    assert.match(out, /^# TYPE envoy_cluster_upstream_cx_active gauge$/m);
    assert.match(out, /^envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="backend",le="5"\} 1$/m);
    assert.equal(c.upstreamRq2xx.value, 2);
    assert.equal(c.upstreamRq5xx.value, 1);
    assert.equal(c.upstreamRqCompleted.value, 3);
  });

  test("a second cluster object for the same name shares the counters (config swaps keep counts)", () => {
    const store = new StatsStore();
    createClusterStats(store, "a").upstreamRqTotal.inc(7);
    assert.equal(createClusterStats(store, "a").upstreamRqTotal.value, 7);
  });

  test("codes outside 1xx..5xx are counted as completed only", () => {
    const store = new StatsStore();
    const c = createClusterStats(store, "a");
    c.countResponse(0);
    c.countResponse(600);
    assert.equal(c.upstreamRqCompleted.value, 2);
    assert.doesNotMatch(store.renderPrometheus(), /envoy_response_code="/);
  });

  test("removeClusterStats drops only that cluster", () => {
    const store = new StatsStore();
    createClusterStats(store, "a").countResponse(200);
    createClusterStats(store, "b");
    removeClusterStats(store, "a");
    const out = store.renderPrometheus();
    assert.doesNotMatch(out, /envoy_cluster_name="a"/);
    assert.match(out, /envoy_cluster_name="b"/);
  });
});

describe("connection manager, listener and TCP proxy stats", () => {
  test("http.<prefix>.*", () => {
    const store = new StatsStore();
    const h = createHttpConnManagerStats(store, "ingress_http");
    h.downstreamRqTotal.inc();
    h.countResponse(404);
    h.noRoute.inc();
    const out = store.renderPrometheus();
    assert.match(out, /^envoy_http_downstream_rq_total\{envoy_http_conn_manager_prefix="ingress_http"\} 1$/m);
    assert.match(
      out,
      /^envoy_http_downstream_rq_xx\{envoy_response_code_class="4",envoy_http_conn_manager_prefix="ingress_http"\} 1$/m,
    );
    assert.match(out, /^envoy_http_no_route\{envoy_http_conn_manager_prefix="ingress_http"\} 1$/m);
    assert.match(out, /^# TYPE envoy_http_downstream_rq_time histogram$/m);
  });

  test("listener.<address>.*", () => {
    assert.equal(listenerStatAddress({ address: "0.0.0.0", port: 15001 }), "0.0.0.0_15001");
    assert.equal(listenerStatAddress({ address: "::", port: 80 }), "[__]_80");
    assert.equal(listenerStatAddress("virtualInbound"), "virtualInbound");
    const store = new StatsStore();
    createListenerStats(store, { address: "0.0.0.0", port: 15001 }).downstreamCxTotal.inc();
    assert.match(
      store.renderPrometheus(),
      /^envoy_listener_downstream_cx_total\{envoy_listener_address="0.0.0.0_15001"\} 1$/m,
    );
  });

  test("tcp.<prefix>.*", () => {
    const store = new StatsStore();
    const t = createTcpProxyStats(store, "db");
    t.downstreamCxNoRoute.inc();
    const out = store.renderPrometheus();
    assert.match(out, /^envoy_tcp_downstream_cx_no_route\{envoy_tcp_prefix="db"\} 1$/m);
    assert.doesNotMatch(out, /upstream_flush/, "Trellis never flushes after the downstream closed: not exported");
    assert.match(out, /^envoy_tcp_idle_timeout\{envoy_tcp_prefix="db"\} 0$/m);
  });
});

describe("Envoy's /stats names", () => {
  test("reverses tag extraction", () => {
    assert.equal(
      envoyStatName("envoy_cluster_upstream_rq_total", { envoy_cluster_name: "x" }),
      "cluster.x.upstream_rq_total",
    );
    assert.equal(
      envoyStatName("envoy_cluster_upstream_rq", { envoy_response_code: "200", envoy_cluster_name: "x" }),
      "cluster.x.upstream_rq_200",
    );
    assert.equal(
      envoyStatName("envoy_cluster_upstream_rq_xx", { envoy_response_code_class: "2", envoy_cluster_name: "x" }),
      "cluster.x.upstream_rq_2xx",
    );
    assert.equal(
      envoyStatName("envoy_http_downstream_rq_xx", {
        envoy_response_code_class: "5",
        envoy_http_conn_manager_prefix: "in",
      }),
      "http.in.downstream_rq_5xx",
    );
    assert.equal(
      envoyStatName("envoy_listener_downstream_cx_total", { envoy_listener_address: "0.0.0.0_15001" }),
      "listener.0.0.0.0_15001.downstream_cx_total",
    );
    assert.equal(envoyStatName("envoy_tcp_idle_timeout", { envoy_tcp_prefix: "db" }), "tcp.db.idle_timeout");
    assert.equal(
      envoyStatName("envoy_http_fault_aborts_injected", { envoy_http_conn_manager_prefix: "in" }),
      "http.in.fault.aborts_injected",
    );
    assert.equal(
      envoyStatName("envoy_http_fault_delays_injected", {
        envoy_http_conn_manager_prefix: "in",
        envoy_fault_downstream_cluster: "productpage",
      }),
      "http.in.fault.productpage.delays_injected",
    );
    assert.equal(
      envoyStatName("envoy_cluster_health_check_attempt", { envoy_cluster_name: "x" }),
      "cluster.x.health_check.attempt",
    );
    assert.equal(envoyStatName("envoy_server_live", {}), "server.live");
    assert.equal(
      envoyStatName("istio_requests_total", { response_code: "200" }),
      'istio_requests_total{response_code="200"}',
    );
  });

  test("text body: sorted name: value lines, then histograms", () => {
    const store = new StatsStore();
    const c = createClusterStats(store, "b");
    c.countResponse(200);
    c.upstreamRqTime.observe(4);
    store.counter("envoy_cluster_upstream_rq_total", "h", { envoy_cluster_name: "a" }).inc(3);
    const text = renderEnvoyStatsText(store);
    assert.equal(line(text, "cluster.a.upstream_rq_total:"), "cluster.a.upstream_rq_total: 3");
    assert.equal(line(text, "cluster.b.upstream_rq_200:"), "cluster.b.upstream_rq_200: 1");
    assert.equal(line(text, "cluster.b.upstream_rq_2xx:"), "cluster.b.upstream_rq_2xx: 1");
    assert.equal(
      line(text, "cluster.b.upstream_cx_connect_ms:"),
      "cluster.b.upstream_cx_connect_ms: No recorded values",
    );
    assert.match(
      line(text, "cluster.b.upstream_rq_time:")!,
      /^cluster\.b\.upstream_rq_time: P0\(nan,1\) P25\(nan,2\) P50\(nan,3\) .* P100\(nan,5\)$/,
    );
    const names = text
      .trim()
      .split("\n")
      .filter((l) => !l.includes(" P0(") && !l.endsWith("No recorded values"))
      .map((l) => l.slice(0, l.indexOf(":")));
    assert.deepEqual(names, [...names].sort());
    assert.ok(text.lastIndexOf(": P0(") > text.indexOf("cluster.b.upstream_rq_total:"));
  });

  test("filter and usedonly", () => {
    const store = new StatsStore();
    createClusterStats(store, "a").upstreamRqTotal.inc();
    assert.equal(renderEnvoyStatsText(store, { usedOnly: true }), "cluster.a.upstream_rq_total: 1\n");
    assert.equal(
      renderEnvoyStatsText(store, { filter: /cx_connect_fail$/ }),
      "cluster.a.upstream_cx_connect_fail: 0\n",
    );
    assert.deepEqual(renderEnvoyStatsJson(store, { usedOnly: true }), {
      stats: [{ name: "cluster.a.upstream_rq_total", value: 1 }],
    });
  });
});
