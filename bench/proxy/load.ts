// The load generators and what we read from their output: wrk for maximum HTTP/1.1 throughput, h2load for a
// constant request rate (per-request log → percentiles) and for h2c throughput. Each runs on cpu0, bounded in time.
import { readFile } from "node:fs/promises";
import { pinned, runTool, BenchProcessError } from "./processes.ts";
import type { ProcessRegistry } from "./processes.ts";

/** Seconds a tool may overrun its own duration (connection set-up, draining) before it is killed. */
const GRACE_MS = 30_000;

export interface WrkResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  /** Responses outside 2xx/3xx, plus socket errors of any kind: a clean run has 0. */
  errors: number;
}

/** Reads wrk's summary: "N requests in Xs", "Requests/sec: R", and the error lines when present. */
export function parseWrk(output: string): WrkResult {
  const done = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)\b/m.exec(output);
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  if (done === null || rate === null) throw new Error(`not wrk output:\n${output}`);
  const unit = { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[done[3] as "us" | "ms" | "s" | "m"];
  const non2xx = /^\s*Non-2xx or 3xx responses:\s+(\d+)/m.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket === null ? 0 : socket.slice(1, 5).reduce((sum, n) => sum + Number(n), 0);
  return {
    requests: Number(done[1]),
    seconds: Number(done[2]) * unit,
    requestsPerSecond: Number(rate[1]),
    errors: (non2xx === null ? 0 : Number(non2xx[1])) + socketErrors,
  };
}

export interface H2loadResult {
  seconds: number;
  requestsPerSecond: number;
  succeeded: number;
  /** failed + errored + timeout, plus non-2xx statuses. */
  errors: number;
}

/** Reads h2load's summary: "finished in Xs, R req/s", the requests line and the status codes line. */
export function parseH2load(output: string): H2loadResult {
  const finished = /^finished in ([\d.]+)(us|ms|s|m), ([\d.]+) req\/s/m.exec(output);
  const requests =
    /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m.exec(
      output,
    );
  const status = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m.exec(output);
  if (finished === null || requests === null || status === null) throw new Error(`not h2load output:\n${output}`);
  const unit = { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[finished[2] as "us" | "ms" | "s" | "m"];
  return {
    seconds: Number(finished[1]) * unit,
    requestsPerSecond: Number(finished[3]),
    succeeded: Number(requests[4]),
    errors: Number(requests[5]) + Number(requests[6]) + Number(requests[7]) + Number(status[3]) + Number(status[4]),
  };
}

/** One line of h2load's --log-file: start (µs since the epoch), HTTP status, µs until the end of the response. */
export interface RequestLogLine {
  startMicros: number;
  status: number;
  durationMicros: number;
}

/** Parses h2load's per-request log (tab-separated; later versions may add columns, which are ignored). */
export function parseH2loadLog(text: string): RequestLogLine[] {
  const lines: RequestLogLine[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const [start, status, duration] = line.split("\t");
    const parsed = { startMicros: Number(start), status: Number(status), durationMicros: Number(duration) };
    if (!Number.isFinite(parsed.startMicros) || !Number.isFinite(parsed.durationMicros)) {
      throw new Error(`not an h2load log line: ${JSON.stringify(line)}`);
    }
    lines.push(parsed);
  }
  return lines;
}

/** A command run through a prefix (`ip netns exec NS`), or as it is when the prefix is empty. */
export function within(inside: readonly string[], command: string, args: string[]): [string, string[]] {
  return inside.length === 0 ? [command, args] : [inside[0]!, [...inside.slice(1), command, ...args]];
}

/** `wrk -t1 -c<connections> -d<seconds>s URL` on cpu0. */
export async function runWrk(
  registry: ProcessRegistry,
  url: string,
  seconds: number,
  connections = 32,
  inside: string[] = [],
): Promise<WrkResult> {
  const [command, args] = pinned(0, ...within(inside, "wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, url]));
  const run = await runTool(command, args, seconds * 1000 + GRACE_MS, registry);
  if (run.code !== 0) throw new BenchProcessError("TOOL_FAILED", `wrk exited ${run.code}: ${run.stderr}`);
  return parseWrk(run.stdout);
}

/**
 * A constant rate over HTTP/1.1, as PERFORMANCE.md gives it: `h2load --h1 -c16 -r1 --rate-period 1ms
 * --rps R/16 -n R*seconds --log-file=F URL` — 16 connections opened 1 ms apart (staggered), each at R/16 req/s.
 */
export async function runConstantRate(
  registry: ProcessRegistry,
  url: string,
  rate: number,
  seconds: number,
  logFile: string,
  inside: string[] = [],
): Promise<{ summary: H2loadResult; log: RequestLogLine[] }> {
  const clients = 16;
  const [command, args] = pinned(
    0,
    ...within(inside, "h2load", [
      "--h1",
      `-c${clients}`,
      "-r1",
      "--rate-period",
      "1ms",
      "--rps",
      String(rate / clients),
      "-n",
      String(Math.round(rate * seconds)),
      `--log-file=${logFile}`,
      url,
    ]),
  );
  const run = await runTool(command, args, seconds * 1000 + GRACE_MS, registry);
  if (run.code !== 0) throw new BenchProcessError("TOOL_FAILED", `h2load exited ${run.code}: ${run.stderr}`);
  return { summary: parseH2load(run.stdout), log: parseH2loadLog(await readFile(logFile, "utf8")) };
}

/** h2c throughput, prior knowledge: `h2load -c4 -m8 -D<seconds> URL` on cpu0. */
export async function runH2c(registry: ProcessRegistry, url: string, seconds: number): Promise<H2loadResult> {
  const [command, args] = pinned(0, "h2load", ["-c4", "-m8", `-D${seconds}`, url]);
  const run = await runTool(command, args, seconds * 1000 + GRACE_MS, registry);
  if (run.code !== 0) throw new BenchProcessError("TOOL_FAILED", `h2load exited ${run.code}: ${run.stderr}`);
  return parseH2load(run.stdout);
}
