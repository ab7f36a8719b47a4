import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TrellisError } from "../api/errors.ts";
import { Counter, DEFAULT_HISTOGRAM_BUCKETS, Histogram, StatsStore } from "./stats.ts";
import { escapeHelp, escapeLabelValue, formatValue } from "./prometheus.ts";

describe("StatsStore.renderPrometheus", () => {
  test("renders a small store exactly (golden)", () => {
    const s = new StatsStore();
    const b = s.counter("envoy_cluster_upstream_rq_total", "Total requests", { envoy_cluster_name: "b" });
    b.inc();
    b.inc(2);
    s.counter("envoy_cluster_upstream_rq_total", "Total requests", { envoy_cluster_name: "a" }).inc();
    s.gauge("envoy_cluster_upstream_cx_active", "Total active connections", { envoy_cluster_name: "a" }).set(4);
    const h = s.histogram(
      "envoy_cluster_upstream_rq_time",
      "Request time milliseconds",
      { envoy_cluster_name: "a" },
      [1, 5, 10],
    );
    for (const v of [0.5, 1, 7, 100]) h.observe(v);
    s.counter("up", "Help with \\ backslash\nand newline");

    assert.equal(
      s.renderPrometheus(),
      [
        "# HELP envoy_cluster_upstream_cx_active Total active connections",
        "# TYPE envoy_cluster_upstream_cx_active gauge",
        'envoy_cluster_upstream_cx_active{envoy_cluster_name="a"} 4',
        "# HELP envoy_cluster_upstream_rq_time Request time milliseconds",
        "# TYPE envoy_cluster_upstream_rq_time histogram",
        'envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a",le="1"} 2',
        'envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a",le="5"} 2',
        'envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a",le="10"} 3',
        'envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a",le="+Inf"} 4',
        'envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="a"} 108.5',
        'envoy_cluster_upstream_rq_time_count{envoy_cluster_name="a"} 4',
        "# HELP envoy_cluster_upstream_rq_total Total requests",
        "# TYPE envoy_cluster_upstream_rq_total counter",
        'envoy_cluster_upstream_rq_total{envoy_cluster_name="a"} 1',
        'envoy_cluster_upstream_rq_total{envoy_cluster_name="b"} 3',
        "# HELP up Help with \\\\ backslash\\nand newline",
        "# TYPE up counter",
        "up 0",
        "",
      ].join("\n"),
    );
  });

  test("escapes label values: backslash, double quote, newline", () => {
    const s = new StatsStore();
    s.counter("x_total", "x", { path: 'a\\b"c\nd' }).inc();
    assert.equal(s.renderPrometheus().split("\n")[2], 'x_total{path="a\\\\b\\"c\\nd"} 1');
    assert.equal(escapeLabelValue('\\"\n'), '\\\\\\"\\n');
    assert.equal(escapeHelp('say "hi"\\\n'), 'say "hi"\\\\\\n');
  });

  test("keeps the caller's label order (Envoy's tag order) and puts le last", () => {
    const s = new StatsStore();
    s.counter("envoy_cluster_upstream_rq", "by code", { envoy_response_code: "200", envoy_cluster_name: "x" }).inc();
    assert.match(
      s.renderPrometheus(),
      /^envoy_cluster_upstream_rq\{envoy_response_code="200",envoy_cluster_name="x"\} 1$/m,
    );
  });

  test("special values are spelled as Prometheus expects", () => {
    assert.equal(formatValue(Infinity), "+Inf");
    assert.equal(formatValue(-Infinity), "-Inf");
    assert.equal(formatValue(NaN), "NaN");
    assert.equal(formatValue(1800000), "1800000");
    assert.equal(formatValue(0.25), "0.25");
  });

  test("usedOnly drops untouched series and empty families; filter selects families", () => {
    const s = new StatsStore();
    s.counter("a_total", "a").inc();
    s.counter("b_total", "b");
    s.histogram("c", "c");
    const used = s.renderPrometheus({ usedOnly: true });
    assert.match(used, /^a_total 1$/m);
    assert.doesNotMatch(used, /b_total|# TYPE c/);
    const filtered = s.renderPrometheus({ filter: /^b_/ });
    assert.equal(filtered, "# HELP b_total b\n# TYPE b_total counter\nb_total 0\n");
  });

  test("an empty store renders as an empty body", () => {
    assert.equal(new StatsStore().renderPrometheus(), "");
  });
});

describe("StatsStore registry", () => {
  test("same name and labels (in any order) give the same object", () => {
    const s = new StatsStore();
    const a = s.counter("rq_total", "h", { x: "1", y: "2" });
    const b = s.counter("rq_total", "h", { y: "2", x: "1" });
    const c = s.counter("rq_total", "h", { x: "1", y: "3" });
    assert.equal(a, b);
    assert.notEqual(a, c);
    a.inc(5);
    assert.equal(b.value, 5);
  });

  test("a name cannot change type", () => {
    const s = new StatsStore();
    s.counter("m", "h");
    assert.throws(
      () => s.gauge("m", "h"),
      (e: unknown) => e instanceof TrellisError && e.code === "TRELLIS_STATS_TYPE_CONFLICT",
    );
  });

  test("names and label names are sanitized like Envoy's exporter", () => {
    const s = new StatsStore();
    s.counter("cluster.a-b", "h", { "x-y": "v", "9z": "w" }).inc();
    assert.match(s.renderPrometheus(), /^cluster_a_b\{x_y="v",_9z="w"\} 1$/m);
  });

  test("removeWhere drops one owner's series and empty families", () => {
    const s = new StatsStore();
    s.counter("envoy_cluster_upstream_rq_total", "h", { envoy_cluster_name: "a" }).inc();
    s.counter("envoy_cluster_upstream_rq_total", "h", { envoy_cluster_name: "b" }).inc();
    s.gauge("envoy_cluster_upstream_cx_active", "h", { envoy_cluster_name: "a" }).set(1);
    s.removeWhere((_, l) => l.envoy_cluster_name === "a");
    const out = s.renderPrometheus();
    assert.doesNotMatch(out, /envoy_cluster_name="a"/);
    assert.doesNotMatch(out, /cx_active/);
    assert.match(out, /envoy_cluster_name="b"/);
    // Re-creating after removal starts from zero.
    assert.equal(s.counter("envoy_cluster_upstream_rq_total", "h", { envoy_cluster_name: "a" }).value, 0);
  });

  test("toJSON lists counters, gauges and histogram summaries", () => {
    const s = new StatsStore();
    s.counter("c_total", "h", { k: "v" }).inc(2);
    s.gauge("g", "h").set(-3);
    const h = s.histogram("h", "h", {}, [10, 20]);
    h.observe(5);
    h.observe(15);
    assert.deepEqual(s.toJSON(), [
      { name: "c_total", labels: { k: "v" }, value: 2 },
      { name: "g", labels: {}, value: -3 },
      { name: "h_count", labels: {}, value: 2 },
      { name: "h_sum", labels: {}, value: 20 },
      { name: "h_p50", labels: {}, value: 10 },
      { name: "h_p99", labels: {}, value: 19.8 },
    ]);
  });
});

describe("Counter, Gauge, Histogram", () => {
  test("counter and gauge arithmetic", () => {
    const c = new Counter();
    c.inc();
    c.inc(4);
    assert.equal(c.value, 5);
    const s = new StatsStore();
    const g = s.gauge("g", "h");
    g.inc(3);
    g.dec();
    assert.equal(g.value, 2);
    g.set(10);
    assert.equal(g.value, 10);
  });

  test("buckets are upper-inclusive and cumulative on output; NaN is ignored", () => {
    const h = new Histogram([1, 2, 3]);
    for (const v of [0, 1, 1.5, 2, 3, 3.01, NaN]) h.observe(v);
    assert.deepEqual([...h.counts], [2, 2, 1, 1]);
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => h.cumulative(i)),
      [2, 4, 5, 6],
    );
    assert.equal(h.count, 6);
    assert.equal(h.sum, 0 + 1 + 1.5 + 2 + 3 + 3.01);
  });

  test("default buckets are Envoy's, in ms", () => {
    const h = new StatsStore().histogram("t", "h");
    assert.deepEqual(h.bounds, DEFAULT_HISTOGRAM_BUCKETS);
    assert.equal(h.bounds.length, 19);
    assert.equal(h.bounds[0], 0.5);
    assert.equal(h.bounds[18], 3600000);
    h.observe(7200000);
    assert.equal(h.counts[19], 1);
  });

  test("bad bounds are refused", () => {
    for (const bounds of [[1, 1], [2, 1], [1, Infinity], [NaN]]) {
      assert.throws(
        () => new Histogram(bounds),
        (e: unknown) => e instanceof TrellisError && e.code === "TRELLIS_STATS_INVALID_BUCKETS",
      );
    }
  });

  test("quantile estimates interpolate within the bucket", () => {
    const h = new Histogram([10, 20, 30]);
    assert.ok(Number.isNaN(h.quantile(0.5)));
    for (let i = 0; i < 10; i++) h.observe(15); // all in (10, 20]
    assert.equal(h.quantile(0.5), 15);
    assert.equal(h.quantile(1), 20);
    h.observe(1000); // +Inf bucket reports the highest finite bound
    assert.equal(h.quantile(1), 30);
  });
});
