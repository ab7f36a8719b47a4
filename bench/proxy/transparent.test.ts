import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { parseOptions } from "./options.ts";
import { renderMarkdown, summarizeRun } from "./report.ts";
import type { BenchRun, RowSample } from "./results.ts";
import type { RowName } from "./chains.ts";
import { nameservers, transparentSkipReason } from "./transparent.ts";
import { within } from "./load.ts";
import { pinned } from "./processes.ts";

function http1(rep: number, row: RowName, rps: number, p50: number, p99: number): RowSample {
  return {
    rep,
    row,
    throughput: { requestsPerSecond: rps, requests: rps * 10, errors: 0, cpuMicrosPerRequest: [20, 18] },
    latency: {
      p50Ms: p50,
      p90Ms: p50 + 0.05,
      p99Ms: p99,
      requests: 10_000,
      achievedRps: 1000,
      errors: 0,
      vcpuPer1000Rps: [0.05, 0.07],
    },
    peakRssBytes: [40e6, 42e6],
  };
}

/** Three repetitions: the transparent chain at 0.95×, 0.8× and 0.92× the bootstrap chain (median 0.92×). */
function run(transparentRps = [9_500, 8_000, 9_200]): BenchRun {
  const samples: RowSample[] = [];
  for (let rep = 1; rep <= 3; rep++) {
    samples.push(http1(rep, "direct", 50_000, 0.1, 0.2));
    samples.push(http1(rep, "trellis", 10_000, 0.4, 0.9));
    samples.push(http1(rep, "trellis-transparent", transparentRps[rep - 1]!, 0.45 + rep * 0.01, 1.2));
  }
  return {
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:05:00.000Z",
    machine: { nproc: 2, cpuModel: "Test", node: "v20", nginx: "1", haproxy: "2", wrk: "4", h2load: "1" },
    options: {
      reps: 3,
      durationSeconds: 10,
      warmupSeconds: 1,
      latencyRate: 1000,
      quick: false,
      rows: ["direct", "trellis", "trellis-transparent"],
    },
    samples,
    startTimes: [
      { mode: "explicit", millis: [700, 650, 900], errors: [] },
      { mode: "transparent", millis: [1500, 1400], errors: ["repetition 2: the app saw no request within 30000 ms"] },
    ],
  };
}

describe("options: the trellis-transparent row", () => {
  test("is in a default run, after the bootstrap chain", () => {
    const rows = parseOptions([]).rows;
    assert.ok(rows.includes("trellis-transparent"));
    assert.equal(rows.indexOf("trellis-transparent"), rows.indexOf("trellis") + 1);
  });

  test("--only trellis-transparent brings the bootstrap chain it is compared with, and direct", () => {
    assert.deepEqual(parseOptions(["--only", "trellis-transparent"]).rows, [
      "direct",
      "trellis",
      "trellis-transparent",
    ]);
  });
});

describe("report: capture against the bootstrap chain", () => {
  test("throughput ratio and added p50/p99 are paired with the trellis row of the same repetition", () => {
    const c = summarizeRun(run()).capture!;
    assert.equal(c.rpsRatio!.median, 0.92);
    assert.equal(c.rpsRatio!.min, 0.8);
    assert.ok(Math.abs(c.addedP50Ms!.median - 0.07) < 1e-9);
    assert.ok(Math.abs(c.addedP99Ms!.median - 0.3) < 1e-9);
    assert.equal(c.met, true);
  });

  test("the ≤ 10 % target is met at a median of 0.9× and missed below", () => {
    assert.equal(summarizeRun(run([9_000, 9_000, 9_000])).capture!.met, true);
    assert.equal(summarizeRun(run([8_900, 9_500, 8_000])).capture!.met, false);
    const target = summarizeRun(run([8_900, 9_500, 8_000])).targets.find((t) => /transparent/.test(t.target))!;
    assert.equal(target.pass, false);
    assert.equal(target.shown, "0.89× (0.80×–0.95×)");
  });

  test("the markdown has the comparison table with met / missed", () => {
    const md = renderMarkdown(run());
    assert.match(md, /## trellis run --transparent against the bootstrap chain \(issue 11\)/);
    assert.match(
      md,
      /\| 0\.92 \(0\.80–0\.95\) \| \+0\.070 \(\+0\.060–\+0\.080\) \| \+0\.300 \(\+0\.300–\+0\.300\) \| met \|/,
    );
    assert.match(renderMarkdown(run([8_000, 8_000, 8_000])), /\| \*\*missed\*\* \|/);
    assert.match(md, /\| Trellis, trellis run --transparent: captured client → sidecar → sidecar → app \| 9,200/);
  });

  test("a row that could not run is not measured, with the reason in the notes", () => {
    const r = run();
    r.samples = r.samples.map((s) =>
      s.row === "trellis-transparent"
        ? {
            rep: s.rep,
            row: s.row,
            peakRssBytes: [],
            error: "skipped: trellis run --transparent needs root (running as uid 1000)",
          }
        : s,
    );
    delete r.startTimes;
    r.startTimesSkipped = "trellis run --transparent needs root (running as uid 1000)";
    const md = renderMarkdown(r);
    assert.match(md, /\| – \| – \| – \| not measured \|/);
    assert.match(
      md,
      /- Trellis, trellis run --transparent: .*, repetition 1: not measured: skipped: .*needs root \(running as uid 1000\)/,
    );
    assert.match(
      md,
      /## trellis run's start time \(issue 11\)[\s\S]*Not measured: trellis run --transparent needs root/,
    );
  });
});

describe("report: trellis run's start time", () => {
  test("median and range per mode, the 1 s goal, failures counted with why", () => {
    const [explicit, transparent] = summarizeRun(run()).startTimes!;
    assert.deepEqual(
      [explicit!.ms!.median, explicit!.ms!.min, explicit!.ms!.max, explicit!.met],
      [700, 650, 900, true],
    );
    assert.deepEqual([transparent!.ms!.median, transparent!.failed, transparent!.met], [1450, 1, false]);
    const md = renderMarkdown(run());
    assert.match(md, /\| explicit \| 3 \| 700 \(650–900\) \| met \| 0 \|/);
    assert.match(
      md,
      /\| transparent \| 3 \| 1450 \(1400–1500\) \| \*\*missed\*\* \| 1: repetition 2: the app saw no request within 30000 ms \|/,
    );
  });

  test("no start-time section without the transparent row", () => {
    const r = run();
    r.options.rows = ["direct", "trellis"];
    r.samples = r.samples.filter((s) => s.row !== "trellis-transparent");
    assert.doesNotMatch(renderMarkdown(r), /start time|--transparent against/);
  });
});

describe("where the row can run", () => {
  test("root on Linux only, else why", () => {
    assert.equal(transparentSkipReason("linux", 0), undefined);
    assert.equal(transparentSkipReason("linux", 1000), "trellis run --transparent needs root (running as uid 1000)");
    assert.match(transparentSkipReason("darwin", 0)!, /needs Linux \(network namespaces\); this is darwin/);
  });

  test("the resolvers refused in the namespace playing the host: IPv4, not loopback, once each", () => {
    const conf =
      "# generated\nsearch example.org\nnameserver 10.255.255.53\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 10.255.255.53\n nameserver 192.0.2.1 \n";
    assert.deepEqual(nameservers(conf), ["10.255.255.53", "192.0.2.1"]);
  });
});

describe("the load generator inside the client's namespace", () => {
  test("wrk runs through the prefix, pinned to cpu0 (taskset execs ip, which execs wrk)", () => {
    const inside = ["ip", "netns", "exec", "trellis-42-0"];
    assert.deepEqual(pinned(0, ...within(inside, "wrk", ["-t1", "http://web:8080/"])), [
      "taskset",
      ["-c", "0", "ip", "netns", "exec", "trellis-42-0", "wrk", "-t1", "http://web:8080/"],
    ]);
    assert.deepEqual(within([], "wrk", ["-t1"]), ["wrk", ["-t1"]]);
  });
});
