// `npm run bench`: the two-hop proxy benchmark of PERFORMANCE.md — direct, nginx, HAProxy and Trellis chains,
// repetitions interleaved — written to bench/results/proxy.md and proxy.json. Not part of `npm test`.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startUpstream } from "./chains.ts";
import type { RowName, Workspace } from "./chains.ts";
import { machineInfo } from "./machine.ts";
import { OptionsError, USAGE, parseOptions } from "./options.ts";
import { BenchProcessError, ProcessRegistry } from "./processes.ts";
import { renderMarkdown, summarizeRun, thousands, withRange } from "./report.ts";
import type { BenchRun, RowSample, RunOptions } from "./results.ts";
import { measureRow } from "./runner.ts";
import { transparentSkipReason } from "./transparent.ts";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const resultsDir = join(repoRoot, "bench/results");

function progress(sample: RowSample): string {
  const head = `rep ${sample.rep} ${sample.row.padEnd(16)}`;
  if (sample.error !== undefined) return `${head} not measured: ${sample.error.split("\n")[0]}`;
  const parts: string[] = [];
  if (sample.throughput) {
    const cpu = sample.throughput.cpuMicrosPerRequest.map((v) => v.toFixed(1)).join("/");
    parts.push(`${thousands(sample.throughput.requestsPerSecond)} req/s${cpu ? `, ${cpu} µs/req` : ""}`);
  }
  if (sample.latency) {
    const l = sample.latency;
    parts.push(`p50/p90/p99 ${l.p50Ms.toFixed(3)}/${l.p90Ms.toFixed(3)}/${l.p99Ms.toFixed(3)} ms`);
  }
  if (sample.h2c) {
    const cpu = sample.h2c.cpuMicrosPerRequest.map((v) => v.toFixed(1)).join("/");
    parts.push(`h2c ${thousands(sample.h2c.requestsPerSecond)} req/s${cpu ? `, ${cpu} µs/req` : ""}`);
  }
  if (sample.peakRssBytes.length > 0) {
    parts.push(`RSS ${sample.peakRssBytes.map((b) => (b / 1048576).toFixed(1)).join("/")} MiB`);
  }
  return `${head} ${parts.join("; ")}`;
}

/**
 * --baseline REF: the commit's tree extracted (git archive, so the repository's worktrees and index are untouched)
 * into the run's directory, sharing this checkout's node_modules. Its bin/trellis.js builds its own bundle on
 * first start. Returns the directory and the full commit hash.
 */
function extractBaseline(ref: string, dir: string): { root: string; commit: string } {
  let commit: string;
  try {
    commit = execFileSync("git", ["rev-parse", "--verify", `${ref}^{commit}`], {
      cwd: repoRoot,
      encoding: "utf8",
    }).trim();
  } catch {
    throw new BenchProcessError("BAD_BASELINE", `--baseline ${ref}: not a commit of this repository`);
  }
  const root = join(dir, `baseline-${commit.slice(0, 12)}`);
  mkdirSync(root, { recursive: true });
  execFileSync("bash", ["-c", 'git archive "$1" | tar -x -C "$2"', "archive", commit, root], { cwd: repoRoot });
  symlinkSync(join(repoRoot, "node_modules"), join(root, "node_modules"), "dir");
  return { root, commit };
}

async function run(options: RunOptions, registry: ProcessRegistry, dir: string): Promise<BenchRun> {
  const startedAt = new Date().toISOString();
  const machine = await machineInfo();
  for (const tool of ["nginx", "wrk", "h2load"] as const) {
    if (machine[tool] === "not installed") throw new BenchProcessError("MISSING_TOOL", `${tool} is not installed`);
  }
  const upstream = await startUpstream({ registry, dir, repoRoot });
  let baselineRoot: string | undefined;
  if (options.baseline !== undefined) {
    const extracted = extractBaseline(options.baseline, dir);
    baselineRoot = extracted.root;
    options = { ...options, baselineCommit: extracted.commit };
    console.log(`baseline: ${options.baseline} = ${extracted.commit}`);
  }
  const ws: Workspace = {
    registry,
    dir,
    repoRoot,
    ...(baselineRoot === undefined ? {} : { baselineRoot }),
    upstreamHttp1Port: upstream.http1Port,
    upstreamH2cPort: upstream.h2cPort,
  };
  try {
    return await measureAll(options, registry, ws, startedAt, machine);
  } finally {
    // An error or an interruption mid-run: the transparent row's namespace and control plane go too.
    if (ws.transparent !== undefined) await ws.transparent.close();
  }
}

async function measureAll(
  options: RunOptions,
  registry: ProcessRegistry,
  ws: Workspace,
  startedAt: string,
  machine: BenchRun["machine"],
): Promise<BenchRun> {
  const samples: RowSample[] = [];
  // A chain that failed to start (Trellis while it is being written) is not retried in later repetitions.
  const broken = new Map<RowName, string>();
  const cannot = transparentSkipReason(process.platform, process.getuid?.());
  if (options.rows.includes("trellis-transparent") && cannot !== undefined) broken.set("trellis-transparent", cannot);
  for (let rep = 1; rep <= options.reps; rep++) {
    for (const row of options.rows) {
      if (registry.isClosed) throw new BenchProcessError("SHUT_DOWN", "interrupted");
      let sample: RowSample;
      const known = broken.get(row);
      if (known !== undefined) {
        sample = { rep, row, peakRssBytes: [], error: `skipped: ${known}` };
      } else {
        try {
          sample = await measureRow(ws, row, rep, options);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          sample = { rep, row, peakRssBytes: [], error: message };
          if (error instanceof BenchProcessError && (error.code === "EXITED" || error.code === "NOT_READY")) {
            broken.set(row, `the chain did not start in repetition ${rep}`);
          }
        }
      }
      samples.push(sample);
      console.log(progress(sample));
    }
  }
  const result: BenchRun = { startedAt, finishedAt: "", machine, options, samples };
  if (options.rows.includes("trellis-transparent")) {
    if (ws.transparent === undefined) {
      result.startTimesSkipped = cannot ?? broken.get("trellis-transparent") ?? "the transparent chain never started";
    } else {
      try {
        result.startTimes = await ws.transparent.startTimes(Math.max(3, options.reps));
        for (const t of result.startTimes) {
          const ms = t.millis.map((v) => `${v}`).join(", ");
          console.log(
            `start time, trellis run ${t.mode}: ${ms || "none"} ms${t.errors.length ? `; ${t.errors.join("; ")}` : ""}`,
          );
        }
      } catch (error) {
        result.startTimesSkipped = error instanceof Error ? error.message : String(error);
      } finally {
        await ws.transparent.close();
        delete ws.transparent;
      }
    }
  }
  result.finishedAt = new Date().toISOString();
  return result;
}

async function main(argv: string[]): Promise<number> {
  let options: RunOptions;
  try {
    options = parseOptions(argv);
  } catch (error) {
    if (error instanceof OptionsError) {
      console.error(`${error.message}\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  const registry = new ProcessRegistry();
  const dir = mkdtempSync(join(tmpdir(), "trellis-bench-"));
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      // A second signal: stop waiting for graceful shutdowns.
      registry.killAllNow();
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    }
    interrupted = true;
    console.error(`\n${signal}: stopping the benchmark's processes`);
    void registry.shutdown().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  // Last resort for any other way out (an uncaught error): kill what is still tracked and remove the directory.
  const onExit = (): void => {
    registry.killAllNow();
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("exit", onExit);
  // Progress lines are informative only: a closed pipe (`npm run bench | head`) must not abort the cleanup.
  process.stdout.on("error", () => {});
  try {
    console.log(
      `proxy bench: ${options.reps} repetition(s) × ${options.durationSeconds} s, rows ${options.rows.join(", ")}` +
        (options.quick ? " (smoke run)" : ""),
    );
    const result = await run(options, registry, dir);
    const summary = summarizeRun(result);
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, "proxy.md"), renderMarkdown(result, summary));
    writeFileSync(join(resultsDir, "proxy.json"), `${JSON.stringify({ ...result, summary }, null, 2)}\n`);
    console.log(`wrote ${join("bench/results", "proxy.md")} and proxy.json`);
    for (const t of summary.targets) {
      console.log(`  ${t.pass === undefined ? "n/a " : t.pass ? "pass" : "FAIL"}  ${t.target}: ${t.shown}`);
    }
    if (summary.capture !== undefined) {
      const c = summary.capture;
      const verdict = c.met === undefined ? "not measured" : c.met ? "met" : "MISSED";
      console.log(
        `  capture ≤ 10 % of the bootstrap chain's throughput: ${verdict}` +
          (c.rpsRatio === undefined ? "" : ` (${withRange(c.rpsRatio, (v) => v.toFixed(2))}×)`),
      );
    }
    for (const t of summary.startTimes ?? []) {
      const verdict = t.met === undefined ? "not measured" : t.met ? "met" : "MISSED";
      console.log(`  trellis run ${t.mode} start ≤ 1 s: ${verdict} (${withRange(t.ms, (v) => `${v.toFixed(0)} ms`)})`);
    }
    return 0;
  } finally {
    await registry.shutdown();
    rmSync(dir, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("exit", onExit);
  }
}

process.exitCode = await main(process.argv.slice(2));
