import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { oneLine, renderMarkdown, summarizeRun, withRange } from "./report.ts";
import type { BenchRun, RowSample } from "./results.ts";
import type { RowName } from "./chains.ts";

function http1(rep: number, row: RowName, rps: number, p50: number, p99: number, rss: number[]): RowSample {
  const proxied = rss.length > 0;
  return {
    rep,
    row,
    throughput: { requestsPerSecond: rps, requests: rps * 10, errors: 0, cpuMicrosPerRequest: proxied ? [20, 18] : [] },
    latency: {
      p50Ms: p50,
      p90Ms: p50 + 0.05,
      p99Ms: p99,
      requests: 10_000,
      achievedRps: 1000,
      errors: 0,
      vcpuPer1000Rps: proxied ? [0.05, 0.07] : [],
    },
    peakRssBytes: rss,
  };
}

function h2c(rep: number, row: RowName, rps: number): RowSample {
  return {
    rep,
    row,
    h2c: { requestsPerSecond: rps, requests: rps * 10, errors: 0, cpuMicrosPerRequest: [19, 17] },
    peakRssBytes: [8e6, 8e6],
  };
}

const MiB = 1048576;

/** Three repetitions; Trellis is 0.9×, 0.7× and 0.85× nginx in them (median 0.85×). */
function fixture(): BenchRun {
  const samples: RowSample[] = [];
  const nginx = [40_000, 40_000, 40_000];
  const trellis = [36_000, 28_000, 34_000];
  for (let rep = 1; rep <= 3; rep++) {
    samples.push(http1(rep, "direct", 110_000, 0.1, 0.2, []));
    samples.push(http1(rep, "nginx", nginx[rep - 1]!, 0.23, 0.41, [8 * MiB, 8 * MiB]));
    samples.push(http1(rep, "trellis", trellis[rep - 1]!, 0.25 + rep * 0.01, 0.6, [40e6, 45e6 + rep * 1e6]));
    samples.push(h2c(rep, "nginx-h2c", 26_000));
    samples.push(h2c(rep, "trellis-h2c", 13_000));
  }
  samples.push({
    rep: 3,
    row: "trellis-h2c-e2e",
    peakRssBytes: [],
    error: "trellis-client exited (code 1) before it was ready:\nError: unfinished\n    at main",
  });
  return {
    startedAt: "2025-01-01T00:00:00.000Z",
    finishedAt: "2025-01-01T00:10:00.000Z",
    machine: {
      nproc: 2,
      cpuModel: "Test CPU",
      node: "v20.0.0",
      nginx: "1.22.1",
      haproxy: "2.6.12",
      wrk: "4.1.0",
      h2load: "1.52.0",
    },
    options: {
      reps: 3,
      durationSeconds: 10,
      warmupSeconds: 1,
      latencyRate: 1000,
      quick: false,
      rows: ["direct", "nginx", "trellis", "nginx-h2c", "trellis-h2c", "trellis-h2c-e2e"],
    },
    samples,
  };
}

describe("summarizeRun", () => {
  const summary = summarizeRun(fixture());
  const row = (name: RowName) => summary.rows.find((r) => r.row === name)!;

  test("throughput ratio is paired per repetition, then the median taken", () => {
    const vs = row("trellis").throughput!.vsNginx!;
    assert.equal(vs.median, 0.85);
    assert.equal(vs.min, 0.7);
    assert.equal(vs.max, 0.9);
    assert.equal(row("nginx").throughput!.vsNginx!.median, 1);
  });

  test("added latency is the row's percentile minus direct's in the same repetition", () => {
    const lat = row("trellis").latency!;
    assert.ok(Math.abs(lat.addedP50!.median - 0.17) < 1e-9);
    assert.ok(Math.abs(lat.addedP99!.median - 0.4) < 1e-9);
    assert.equal(row("direct").latency!.addedP50, undefined);
    assert.equal(row("direct").latency!.p50.median, 0.1);
  });

  test("per-proxy figures keep client and server apart", () => {
    const cpu = row("nginx").throughput!.cpuMicrosPerRequest;
    assert.deepEqual(
      cpu.map((s) => s?.median),
      [20, 18],
    );
    assert.deepEqual(
      row("trellis").peakRssBytes.map((s) => s?.median),
      [40e6, 47e6],
    );
  });

  test("a row that failed everywhere has notes and no figures", () => {
    const e2e = row("trellis-h2c-e2e");
    assert.equal(e2e.measured, 0);
    assert.equal(e2e.h2c, undefined);
    assert.match(
      e2e.notes[0]!,
      /^repetition 3: not measured: trellis-client exited \(code 1\).* ⏎ Error: unfinished ⏎ at main$/,
    );
  });

  test("targets: pass and fail on the medians, not measured when the row is missing", () => {
    const t = new Map(summary.targets.map((x) => [x.target, x]));
    const byPrefix = (p: string) => [...t.values()].find((x) => x.target.startsWith(p))!;
    assert.equal(byPrefix("HTTP/1.1 throughput").pass, true); // 0.85 ≥ 0.8
    assert.equal(byPrefix("added latency p50").pass, true); // +0.17 ≤ 0.2
    assert.equal(byPrefix("added latency p99").pass, true); // +0.40 ≤ 0.4
    assert.equal(byPrefix("≤ 0.06 vCPU").pass, false); // worse proxy 0.07
    assert.equal(byPrefix("≤ 50 MB").pass, true); // worst 47 MB median
    assert.equal(byPrefix("h2c ≥ 0.8× the nginx h2c chain (h2c in").pass, false); // 0.5
    const e2e = byPrefix("h2c ≥ 0.8× the nginx h2c chain (Trellis h2c end to end)");
    assert.equal(e2e.pass, undefined);
    assert.equal(e2e.shown, "not measured");
  });
});

describe("renderMarkdown", () => {
  const md = renderMarkdown(fixture());

  test("has the header, machine, method and every table", () => {
    assert.match(md, /^# Proxy benchmark: two-hop sidecar chains/);
    assert.match(md, /2 vCPU, Test CPU\. Node v20\.0\.0, nginx 1\.22\.1, HAProxy 2\.6\.12, wrk 4\.1\.0/);
    assert.match(md, /## Method\n\n1\. .*\n2\. .*\n3\. .*\n4\. .*\n5\. /);
    assert.match(md, /## Max throughput, HTTP\/1\.1, 2 hops/);
    assert.match(md, /## Latency at a constant 1000 req\/s, added over direct/);
    assert.match(md, /## h2c \(prior knowledge\)/);
    assert.doesNotMatch(md, /Smoke run/);
  });

  test("rows show median (min–max) and client / server figures", () => {
    assert.match(
      md,
      /\| Trellis \| 34,000 \(28,000–36,000\) \| 0\.85 \(0\.70–0\.90\) \| 20\.0 \(20\.0–20\.0\) \/ 18\.0 \(18\.0–18\.0\) \|/,
    );
    assert.match(md, /\| direct \(no proxy\): absolute \| 0\.100 \(0\.100–0\.100\) \|/);
    assert.match(md, /\| nginx, h2c in, HTTP\/1\.1 hops \| 26,000 \(26,000–26,000\) \| 1\.00 \(1\.00–1\.00\) \|/);
  });

  test("targets table says pass, FAIL and not measured", () => {
    assert.match(md, /\| HTTP\/1\.1 throughput ≥ 0\.8× the nginx chain \| 0\.85× \(0\.70×–0\.90×\) \| pass \|/);
    assert.match(md, /\| ≤ 0\.06 vCPU per proxy per 1000 req\/s \(worse proxy\) \| 0\.070 .*\| \*\*FAIL\*\* \|/);
    assert.match(md, /\(Trellis h2c end to end\) \| not measured \| not measured \|/);
    assert.match(md, /## Notes\n\n- Trellis, h2c end to end, repetition 3: not measured/);
  });

  test("a quick run is marked as a smoke run", () => {
    const run = fixture();
    run.options.quick = true;
    assert.match(renderMarkdown(run), /\*\*Smoke run \(`--quick`\)\*\*/);
  });
});

describe("--baseline: this tree against the baseline commit", () => {
  function withBaseline(): BenchRun {
    const run = fixture();
    run.options.rows = ["direct", "nginx", "trellis", "trellis-baseline"];
    run.options.baseline = "main";
    run.options.baselineCommit = "0123456789abcdef0123456789abcdef01234567";
    const base = [40_000, 28_000, 30_000]; // this tree: 36k, 28k, 34k → 0.9, 1.0, 1.133
    for (let rep = 1; rep <= 3; rep++) {
      const s = http1(rep, "trellis-baseline", base[rep - 1]!, 0.2, 0.7, [40e6, 45e6]);
      s.throughput!.cpuMicrosPerRequest = [25, 19];
      run.samples.push(s);
    }
    return run;
  }

  test("ratios and differences are paired per repetition", () => {
    const [c] = summarizeRun(withBaseline()).beforeAfter;
    assert.equal(c!.row, "trellis");
    assert.equal(c!.baselineRow, "trellis-baseline");
    assert.equal(c!.rpsRatio!.median, 1);
    assert.ok(Math.abs(c!.rpsRatio!.min - 0.9) < 1e-9);
    assert.deepEqual(
      c!.cpuMicrosDelta.map((d) => d?.median),
      [-5, -1],
    );
    assert.ok(Math.abs(c!.p50DeltaMs!.median - 0.07) < 1e-9); // 0.27 − 0.2
    assert.ok(Math.abs(c!.p99DeltaMs!.median + 0.1) < 1e-9); // 0.6 − 0.7
  });

  test("the report names the commit and has the before/after table", () => {
    const md = renderMarkdown(withBaseline());
    assert.match(md, /## Before and after: this tree against the baseline \(`--baseline main` = 0123456789ab\)/);
    assert.match(md, /\| Trellis \| 1\.00 \(0\.90–1\.13\) \| -5\.0 \(-5\.0–-5\.0\) \/ -1\.0 \(-1\.0–-1\.0\) \|/);
  });

  test("without --baseline there is no comparison", () => {
    assert.deepEqual(summarizeRun(fixture()).beforeAfter, []);
    assert.doesNotMatch(renderMarkdown(fixture()), /Before and after/);
  });
});

describe("formatting helpers", () => {
  test("withRange shows the range only for more than one repetition", () => {
    const show = (v: number) => v.toFixed(1);
    assert.equal(withRange({ median: 2, min: 1, max: 3, relativeRange: 1, count: 3 }, show), "2.0 (1.0–3.0)");
    assert.equal(withRange({ median: 2, min: 2, max: 2, relativeRange: 0, count: 1 }, show), "2.0");
    assert.equal(withRange(undefined, show), "–");
  });

  test("oneLine joins lines and cuts long text", () => {
    assert.equal(oneLine("a\n  b\n"), "a ⏎ b");
    assert.equal(oneLine("x".repeat(10), 5), "xxxx…");
  });
});
