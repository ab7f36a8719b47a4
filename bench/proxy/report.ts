// From raw samples to the figures of bench/results/proxy.md (and the summary in proxy.json): medians across
// repetitions with their range, ratios and added latency paired within each repetition, and the targets.
import { BASELINE_OF, ROWS } from "./chains.ts";
import type { RowKind, RowName } from "./chains.ts";
import { summarize } from "./stats.ts";
import type { Summary } from "./stats.ts";
import type { BenchRun, RowSample } from "./results.ts";
import type { StartMode, StartTimeSample } from "./transparent.ts";

export interface RowReport {
  row: RowName;
  label: string;
  kind: RowKind;
  /** Repetitions in which the row was measured. */
  measured: number;
  throughput?: {
    rps: Summary;
    /** × the nginx chain, paired per repetition. */
    vsNginx?: Summary;
    cpuMicrosPerRequest: (Summary | undefined)[];
  };
  latency?: {
    /** Absolute percentiles, ms. */
    p50: Summary;
    p90: Summary;
    p99: Summary;
    /** Over the direct row in the same repetition, ms. */
    addedP50?: Summary;
    addedP90?: Summary;
    addedP99?: Summary;
    vcpuPer1000Rps: (Summary | undefined)[];
  };
  h2c?: {
    rps: Summary;
    vsNginxH2c?: Summary;
    cpuMicrosPerRequest: (Summary | undefined)[];
  };
  peakRssBytes: (Summary | undefined)[];
  /** Failures and error counts worth a reader's attention. */
  notes: string[];
}

export interface TargetCheck {
  target: string;
  measured?: Summary;
  /** How the measured figure is shown (unit included). */
  shown: string;
  pass?: boolean;
}

/** --baseline: one of this tree's rows against the same chain run from the baseline commit, paired per repetition. */
export interface BaselineComparison {
  row: RowName;
  baselineRow: RowName;
  /** This tree's req/s ÷ the baseline's. */
  rpsRatio?: Summary;
  /** This tree's CPU µs per request minus the baseline's, per proxy side (client, server). */
  cpuMicrosDelta: (Summary | undefined)[];
  /** This tree's latency percentiles minus the baseline's at the constant rate, ms. */
  p50DeltaMs?: Summary;
  p99DeltaMs?: Summary;
}

/** The trellis-transparent row against the bootstrap chain (the trellis row) of the same repetitions. */
export interface CaptureComparison {
  /** trellis-transparent req/s ÷ trellis req/s, paired per repetition. */
  rpsRatio?: Summary;
  /** trellis-transparent's latency percentiles minus trellis's at the constant rate, ms. */
  addedP50Ms?: Summary;
  addedP99Ms?: Summary;
  /** Capture costs ≤ 10 % of the chain's throughput (median ratio ≥ 0.9); undefined when not measured. */
  met?: boolean;
}

/** `trellis run`'s start time in one mode across repetitions. */
export interface StartTimeReport {
  mode: StartMode;
  ms?: Summary;
  failed: number;
  errors: string[];
  /** The median within the goal (≤ 1 s with a warm control plane); undefined when nothing was measured. */
  met?: boolean;
}

export interface RunSummary {
  rows: RowReport[];
  targets: TargetCheck[];
  beforeAfter: BaselineComparison[];
  capture?: CaptureComparison;
  startTimes?: StartTimeReport[];
  /** Why the start times were not measured. */
  startTimesSkipped?: string;
}

/** The targets. "MB" is taken as 10^6 bytes, the stricter reading. */
export const TARGETS = {
  throughputVsNginx: 0.8,
  addedP50Ms: 0.2,
  addedP99Ms: 0.4,
  vcpuPer1000Rps: 0.06,
  rssBytes: 50e6,
  h2cVsNginx: 0.8,
  policyVsPlain: 0.9,
  /** Issue 11: capture (trellis run --transparent) costs ≤ 10 % of the bootstrap chain's throughput. */
  transparentVsBootstrap: 0.9,
  /** Issue 11: trellis run, spawn to the app's first request, with a warm control plane. */
  startMs: 1000,
} as const;

function byRep(samples: readonly RowSample[]): Map<number, Map<RowName, RowSample>> {
  const reps = new Map<number, Map<RowName, RowSample>>();
  for (const s of samples) {
    if (s.error !== undefined) continue;
    let rows = reps.get(s.rep);
    if (rows === undefined) reps.set(s.rep, (rows = new Map()));
    rows.set(s.row, s);
  }
  return reps;
}

/** Per proxy side: the summary of one per-side figure across repetitions. */
function perSide(samples: readonly RowSample[], get: (s: RowSample) => number[] | undefined): (Summary | undefined)[] {
  const width = Math.max(0, ...samples.map((s) => get(s)?.length ?? 0));
  return Array.from({ length: width }, (_, i) => summarize(samples.map((s) => get(s)?.[i] ?? Number.NaN)));
}

/** A figure of this row paired with a figure of another row in the same repetition. */
function paired(
  reps: Map<number, Map<RowName, RowSample>>,
  row: RowName,
  other: RowName,
  combine: (mine: RowSample, theirs: RowSample) => number | undefined,
): Summary | undefined {
  const values: number[] = [];
  for (const rows of reps.values()) {
    const mine = rows.get(row);
    const theirs = rows.get(other);
    if (mine === undefined || theirs === undefined) continue;
    const v = combine(mine, theirs);
    if (v !== undefined) values.push(v);
  }
  return summarize(values);
}

export function summarizeRun(run: BenchRun): RunSummary {
  const reps = byRep(run.samples);
  const rows: RowReport[] = [];
  for (const spec of ROWS) {
    if (!run.options.rows.includes(spec.name)) continue;
    const all = run.samples.filter((s) => s.row === spec.name);
    const ok = all.filter((s) => s.error === undefined);
    const report: RowReport = {
      row: spec.name,
      label: spec.label,
      kind: spec.kind,
      measured: ok.length,
      peakRssBytes: perSide(ok, (s) => s.peakRssBytes),
      notes: [],
    };
    for (const failed of all.filter((s) => s.error !== undefined)) {
      report.notes.push(`repetition ${failed.rep}: not measured: ${oneLine(failed.error ?? "")}`);
    }
    for (const s of ok) {
      const errors = (s.throughput?.errors ?? 0) + (s.latency?.errors ?? 0) + (s.h2c?.errors ?? 0);
      if (errors > 0) report.notes.push(`repetition ${s.rep}: ${errors} failed or non-2xx responses`);
    }
    const tput = summarize(ok.map((s) => s.throughput?.requestsPerSecond ?? Number.NaN));
    if (tput !== undefined) {
      report.throughput = {
        rps: tput,
        vsNginx: paired(reps, spec.name, "nginx", (a, b) =>
          a.throughput && b.throughput ? a.throughput.requestsPerSecond / b.throughput.requestsPerSecond : undefined,
        ),
        cpuMicrosPerRequest: perSide(ok, (s) => s.throughput?.cpuMicrosPerRequest),
      };
    }
    const p = (key: "p50Ms" | "p90Ms" | "p99Ms"): Summary | undefined =>
      summarize(ok.map((s) => s.latency?.[key] ?? Number.NaN));
    const added = (key: "p50Ms" | "p90Ms" | "p99Ms"): Summary | undefined =>
      spec.name === "direct"
        ? undefined
        : paired(reps, spec.name, "direct", (a, b) =>
            a.latency && b.latency ? a.latency[key] - b.latency[key] : undefined,
          );
    const [p50, p90, p99] = [p("p50Ms"), p("p90Ms"), p("p99Ms")];
    if (p50 !== undefined && p90 !== undefined && p99 !== undefined) {
      report.latency = {
        p50,
        p90,
        p99,
        addedP50: added("p50Ms"),
        addedP90: added("p90Ms"),
        addedP99: added("p99Ms"),
        vcpuPer1000Rps: perSide(ok, (s) => s.latency?.vcpuPer1000Rps),
      };
    }
    const h2c = summarize(ok.map((s) => s.h2c?.requestsPerSecond ?? Number.NaN));
    if (h2c !== undefined) {
      report.h2c = {
        rps: h2c,
        vsNginxH2c: paired(reps, spec.name, "nginx-h2c", (a, b) =>
          a.h2c && b.h2c ? a.h2c.requestsPerSecond / b.h2c.requestsPerSecond : undefined,
        ),
        cpuMicrosPerRequest: perSide(ok, (s) => s.h2c?.cpuMicrosPerRequest),
      };
    }
    rows.push(report);
  }
  const summary: RunSummary = { rows, targets: checkTargets(run), beforeAfter: compareWithBaseline(run, reps) };
  if (run.options.rows.includes("trellis-transparent")) {
    summary.capture = compareCapture(reps);
    if (run.startTimes !== undefined) summary.startTimes = run.startTimes.map(startTimeReport);
    if (run.startTimesSkipped !== undefined) summary.startTimesSkipped = run.startTimesSkipped;
  }
  return summary;
}

export function compareCapture(reps: Map<number, Map<RowName, RowSample>>): CaptureComparison {
  const latency = (key: "p50Ms" | "p99Ms"): Summary | undefined =>
    paired(reps, "trellis-transparent", "trellis", (a, b) =>
      a.latency && b.latency ? a.latency[key] - b.latency[key] : undefined,
    );
  const rpsRatio = paired(reps, "trellis-transparent", "trellis", (a, b) =>
    a.throughput && b.throughput ? a.throughput.requestsPerSecond / b.throughput.requestsPerSecond : undefined,
  );
  const out: CaptureComparison = {};
  if (rpsRatio !== undefined) {
    out.rpsRatio = rpsRatio;
    out.met = rpsRatio.median >= TARGETS.transparentVsBootstrap;
  }
  const [p50, p99] = [latency("p50Ms"), latency("p99Ms")];
  if (p50 !== undefined) out.addedP50Ms = p50;
  if (p99 !== undefined) out.addedP99Ms = p99;
  return out;
}

export function startTimeReport(sample: StartTimeSample): StartTimeReport {
  const ms = summarize(sample.millis);
  const out: StartTimeReport = { mode: sample.mode, failed: sample.errors.length, errors: sample.errors };
  if (ms !== undefined) {
    out.ms = ms;
    out.met = ms.median <= TARGETS.startMs;
  }
  return out;
}

function compareWithBaseline(run: BenchRun, reps: Map<number, Map<RowName, RowSample>>): BaselineComparison[] {
  const out: BaselineComparison[] = [];
  for (const [baselineRow, row] of Object.entries(BASELINE_OF) as [RowName, RowName][]) {
    if (!run.options.rows.includes(baselineRow) || !run.options.rows.includes(row)) continue;
    const sides = Math.max(0, ...run.samples.map((s) => s.throughput?.cpuMicrosPerRequest.length ?? 0));
    const latency = (key: "p50Ms" | "p99Ms"): Summary | undefined =>
      paired(reps, row, baselineRow, (a, b) => (a.latency && b.latency ? a.latency[key] - b.latency[key] : undefined));
    out.push({
      row,
      baselineRow,
      rpsRatio: paired(reps, row, baselineRow, (a, b) =>
        a.throughput && b.throughput ? a.throughput.requestsPerSecond / b.throughput.requestsPerSecond : undefined,
      ),
      cpuMicrosDelta: Array.from({ length: sides }, (_, i) =>
        paired(reps, row, baselineRow, (a, b) => {
          const x = a.throughput?.cpuMicrosPerRequest[i];
          const y = b.throughput?.cpuMicrosPerRequest[i];
          return x !== undefined && y !== undefined ? x - y : undefined;
        }),
      ),
      p50DeltaMs: latency("p50Ms"),
      p99DeltaMs: latency("p99Ms"),
    });
  }
  return out;
}

/** The worst proxy per repetition (max over the proxies of the named rows), summarized across repetitions. */
function worstPerRep(run: BenchRun, rows: RowName[], get: (s: RowSample) => number[] | undefined): Summary | undefined {
  const values: number[] = [];
  for (const repRows of byRep(run.samples).values()) {
    const figures = rows.flatMap((r) => {
      const s = repRows.get(r);
      return s === undefined ? [] : (get(s) ?? []);
    });
    if (figures.length > 0) values.push(Math.max(...figures));
  }
  return summarize(values);
}

function check(
  target: string,
  measured: Summary | undefined,
  limit: number,
  atMost: boolean,
  show: (v: number) => string,
): TargetCheck {
  if (measured === undefined) return { target, shown: "not measured" };
  const pass = atMost ? measured.median <= limit : measured.median >= limit;
  return { target, measured, shown: withRange(measured, show), pass };
}

export function checkTargets(run: BenchRun): TargetCheck[] {
  const reps = byRep(run.samples);
  const ratio = (row: RowName, other: RowName, key: "throughput" | "h2c"): Summary | undefined =>
    paired(reps, row, other, (a, b) => {
      const x = a[key]?.requestsPerSecond;
      const y = b[key]?.requestsPerSecond;
      return x !== undefined && y !== undefined ? x / y : undefined;
    });
  const added = (key: "p50Ms" | "p99Ms"): Summary | undefined =>
    paired(reps, "trellis", "direct", (a, b) => (a.latency && b.latency ? a.latency[key] - b.latency[key] : undefined));
  const times = (v: number): string => `${v.toFixed(2)}×`;
  const ms = (v: number): string => `${signed(v, 2)} ms`;
  const trellisRows: RowName[] = ["trellis", "trellis-policy", "trellis-h2c", "trellis-h2c-e2e"];
  return [
    check(
      "HTTP/1.1 throughput ≥ 0.8× the nginx chain",
      ratio("trellis", "nginx", "throughput"),
      TARGETS.throughputVsNginx,
      false,
      times,
    ),
    check(
      "with policy (issue 3) ≥ 0.9× the plain Trellis chain",
      ratio("trellis-policy", "trellis", "throughput"),
      TARGETS.policyVsPlain,
      false,
      times,
    ),
    check(
      "trellis run --transparent ≥ 0.9× the bootstrap chain (capture costs ≤ 10 %)",
      ratio("trellis-transparent", "trellis", "throughput"),
      TARGETS.transparentVsBootstrap,
      false,
      times,
    ),
    check("added latency p50 ≤ +0.2 ms", added("p50Ms"), TARGETS.addedP50Ms, true, ms),
    check("added latency p99 ≤ +0.4 ms", added("p99Ms"), TARGETS.addedP99Ms, true, ms),
    check(
      "≤ 0.06 vCPU per proxy per 1000 req/s (worse proxy)",
      worstPerRep(run, ["trellis"], (s) => s.latency?.vcpuPer1000Rps),
      TARGETS.vcpuPer1000Rps,
      true,
      (v) => v.toFixed(3),
    ),
    check(
      "≤ 50 MB peak RSS per proxy (largest Trellis proxy, any row)",
      worstPerRep(run, trellisRows, (s) => s.peakRssBytes),
      TARGETS.rssBytes,
      true,
      (v) => `${(v / 1e6).toFixed(1)} MB`,
    ),
    check(
      "h2c ≥ 0.8× the nginx h2c chain (h2c in, HTTP/1.1 hops: like for like)",
      ratio("trellis-h2c", "nginx-h2c", "h2c"),
      TARGETS.h2cVsNginx,
      false,
      times,
    ),
    check(
      "h2c ≥ 0.8× the nginx h2c chain (Trellis h2c end to end)",
      ratio("trellis-h2c-e2e", "nginx-h2c", "h2c"),
      TARGETS.h2cVsNginx,
      false,
      times,
    ),
  ];
}

// ---- formatting

function labelOf(row: RowName): string {
  return ROWS.find((r) => r.name === row)?.label ?? row;
}

/** A multi-line error (a process's log tail) as one list item: lines joined, long text cut. */
export function oneLine(text: string, max = 400): string {
  const joined = text.trim().replace(/\s*\n\s*/g, " ⏎ ");
  return joined.length > max ? `${joined.slice(0, max - 1)}…` : joined;
}

function signed(v: number, digits: number): string {
  const text = v.toFixed(digits);
  return v >= 0 ? `+${text}` : text;
}

export function thousands(v: number): string {
  return Math.round(v).toLocaleString("en-US");
}

/** "median (min–max)", or just the median for a single repetition. */
export function withRange(s: Summary | undefined, show: (v: number) => string): string {
  if (s === undefined) return "–";
  return s.count > 1 ? `${show(s.median)} (${show(s.min)}–${show(s.max)})` : show(s.median);
}

function sides(list: (Summary | undefined)[], show: (v: number) => string): string {
  return list.length === 0 ? "–" : list.map((s) => withRange(s, show)).join(" / ");
}

const mib = (v: number): string => (v / 1048576).toFixed(1);
const one = (v: number): string => v.toFixed(1);
const three = (v: number): string => v.toFixed(3);
const ratioText = (v: number): string => v.toFixed(2);

function table(header: string[], body: string[][]): string[] {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...body.map((r) => `| ${r.join(" | ")} |`),
  ];
}

export function renderMarkdown(run: BenchRun, summary: RunSummary = summarizeRun(run)): string {
  const { machine: m, options: o } = run;
  const out: string[] = ["# Proxy benchmark: two-hop sidecar chains", ""];
  if (o.quick) {
    out.push(
      "> **Smoke run (`--quick`)**: one short repetition to check the harness. These figures are not",
      "> comparable with a full run and must not be quoted.",
      "",
    );
  }
  out.push(
    `Run ${run.startedAt} → ${run.finishedAt} (UTC): ${o.reps} repetition(s) × ${o.durationSeconds} s per load run; rows: ${o.rows.join(", ")}.`,
    "",
    "## Machine",
    "",
    `${m.nproc} vCPU, ${m.cpuModel}. Node ${m.node}, nginx ${m.nginx}, HAProxy ${m.haproxy}, wrk ${m.wrk}, h2load (nghttp2) ${m.h2load}.`,
    "",
    "## Method",
    "",
    "1. Chain: load generator → client sidecar → server sidecar → upstream nginx (one worker, `return 200`, 1 KiB body); keep-alive on every hop, all on 127.0.0.1. Direct: load generator → upstream. Configs as in PERFORMANCE.md (one nginx worker, one HAProxy thread, one Node process per proxy).",
    "2. Pinning: load generator and client sidecar on cpu0, server sidecar and upstream on cpu1 (`taskset -c`).",
    `3. Throughput: \`wrk -t1 -c32 -d${o.durationSeconds}s\` after a ${o.warmupSeconds} s warm-up; CPU per proxy = utime+stime delta from /proc/PID/stat (the nginx worker, not the master) ÷ requests; peak RSS = VmHWM at the end of the row.`,
    `4. Latency: \`h2load --h1 -c16 -r1 --rate-period 1ms --rps ${o.latencyRate / 16} -n ${o.latencyRate * o.durationSeconds}\` (${o.latencyRate} req/s, starts staggered), nearest-rank percentiles of the per-request log minus the direct row's in the same repetition; vCPU = CPU s ÷ wall s × 1000 ÷ achieved req/s. h2c: \`h2load -c4 -m8 -D${o.durationSeconds}\`.`,
    `5. Repetitions interleaved (each runs every row once, in a fixed order); each figure is the median, (min–max) across repetitions; ratios and added latency are paired within a repetition.`,
    "",
  );
  const s = summary;
  const tputRows = s.rows.filter((r) => r.kind === "http1");
  if (tputRows.length > 0) {
    out.push("## Max throughput, HTTP/1.1, 2 hops", "");
    out.push(
      ...table(
        [
          "chain",
          "req/s",
          "× nginx chain",
          "CPU µs per request, client / server proxy",
          "peak RSS MiB, client / server proxy",
        ],
        tputRows.map((r) => [
          r.label,
          withRange(r.throughput?.rps, thousands),
          withRange(r.throughput?.vsNginx, ratioText),
          sides(r.throughput?.cpuMicrosPerRequest ?? [], one),
          sides(r.peakRssBytes, mib),
        ]),
      ),
      "",
    );
    out.push(`## Latency at a constant ${o.latencyRate} req/s, added over direct`, "");
    out.push(
      ...table(
        ["chain", "+p50 ms", "+p90 ms", "+p99 ms", `vCPU per proxy per 1000 req/s, client / server`],
        tputRows.map((r) =>
          r.row === "direct"
            ? [
                `${r.label}: absolute`,
                withRange(r.latency?.p50, three),
                withRange(r.latency?.p90, three),
                withRange(r.latency?.p99, three),
                "–",
              ]
            : [
                r.label,
                withRange(r.latency?.addedP50, (v) => signed(v, 3)),
                withRange(r.latency?.addedP90, (v) => signed(v, 3)),
                withRange(r.latency?.addedP99, (v) => signed(v, 3)),
                sides(r.latency?.vcpuPer1000Rps ?? [], three),
              ],
        ),
      ),
      "",
    );
  }
  const h2cRows = s.rows.filter((r) => r.kind === "h2c");
  if (h2cRows.length > 0) {
    out.push(`## h2c (prior knowledge), \`h2load -c4 -m8\``, "");
    out.push(
      ...table(
        [
          "chain",
          "req/s",
          "× nginx h2c chain",
          "CPU µs per request, client / server proxy",
          "peak RSS MiB, client / server proxy",
        ],
        h2cRows.map((r) => [
          r.label,
          withRange(r.h2c?.rps, thousands),
          withRange(r.h2c?.vsNginxH2c, ratioText),
          sides(r.h2c?.cpuMicrosPerRequest ?? [], one),
          sides(r.peakRssBytes, mib),
        ]),
      ),
      "",
    );
  }
  if (s.beforeAfter.length > 0) {
    const commit = o.baselineCommit === undefined ? "" : ` = ${o.baselineCommit.slice(0, 12)}`;
    out.push(`## Before and after: this tree against the baseline (\`--baseline ${o.baseline ?? "?"}\`${commit})`, "");
    out.push(
      "Both chains ran in every repetition, one right after the other; each figure is paired within a repetition.",
      "",
    );
    out.push(
      ...table(
        [
          "chain",
          "req/s × baseline",
          "CPU µs per request vs baseline, client / server",
          "p50 vs baseline, ms",
          "p99 vs baseline, ms",
        ],
        s.beforeAfter.map((c) => [
          labelOf(c.row),
          withRange(c.rpsRatio, ratioText),
          sides(c.cpuMicrosDelta, (v) => signed(v, 1)),
          withRange(c.p50DeltaMs, (v) => signed(v, 3)),
          withRange(c.p99DeltaMs, (v) => signed(v, 3)),
        ]),
      ),
      "",
    );
  }
  out.push(...renderTransparent(s));
  out.push("## The issue's targets (Trellis chain)", "");
  out.push(
    ...table(
      ["target", "measured (median, range)", "result"],
      s.targets.map((t) => [t.target, t.shown, t.pass === undefined ? "not measured" : t.pass ? "pass" : "**FAIL**"]),
    ),
    "",
  );
  const notes = s.rows.flatMap((r) => r.notes.map((n) => `- ${r.label}, ${n}`));
  if (notes.length > 0) out.push("## Notes", "", ...notes, "");
  return out.join("\n");
}

const metText = (met: boolean | undefined): string => (met === undefined ? "not measured" : met ? "met" : "**missed**");

/** The sections of issue 11's benchmark: capture against the bootstrap chain, and trellis run's start time. */
export function renderTransparent(s: RunSummary): string[] {
  const out: string[] = [];
  const c = s.capture;
  if (c !== undefined) {
    out.push("## trellis run --transparent against the bootstrap chain (issue 11)", "");
    out.push(
      "Load generator in a `trellis run --transparent --service loadgen` namespace, its connections to `http://web:8080/` (by name, through the DNS proxy) captured to the client sidecar; the server side is `trellis run --transparent --service web --port 8080:8080 -- nginx` (inbound capture). All in a network namespace the bench creates to play the host, with `trellis up` warm in it. Paired with the Trellis (bootstrap) chain of the same repetition.",
      "",
    );
    out.push(
      ...table(
        [
          "req/s × bootstrap chain",
          "+p50 ms over bootstrap chain",
          "+p99 ms over bootstrap chain",
          "capture ≤ 10 % of throughput",
        ],
        [
          [
            withRange(c.rpsRatio, ratioText),
            withRange(c.addedP50Ms, (v) => signed(v, 3)),
            withRange(c.addedP99Ms, (v) => signed(v, 3)),
            metText(c.met),
          ],
        ],
      ),
      "",
    );
  }
  if (s.startTimes !== undefined || s.startTimesSkipped !== undefined) {
    out.push("## trellis run's start time (issue 11)", "");
    out.push(
      "From spawning `trellis run` to its app's first request through the mesh, the control plane warm: a caller already in the mesh (explicit: through `HTTP_PROXY`; transparent: by name, captured) asks a new service every 10 ms, and the app records the first request it sees. Each repetition starts a new service. Goal: ≤ 1 s (median).",
      "",
    );
    if (s.startTimesSkipped !== undefined) out.push(`Not measured: ${oneLine(s.startTimesSkipped)}`, "");
    if (s.startTimes !== undefined) {
      out.push(
        ...table(
          ["mode", "repetitions", "ms, median (min–max)", "≤ 1 s", "failed"],
          s.startTimes.map((t) => [
            t.mode,
            String((t.ms?.count ?? 0) + t.failed),
            withRange(t.ms, (v) => v.toFixed(0)),
            metText(t.met),
            t.failed === 0 ? "0" : `${t.failed}: ${oneLine(t.errors.join("; "), 300)}`,
          ]),
        ),
        "",
      );
    }
  }
  return out;
}
