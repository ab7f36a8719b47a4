// What a proxy process costs, read from /proc: CPU time as utime + stime (in clock ticks) from /proc/PID/stat,
// sampled before and after a load run; peak resident memory as VmHWM from /proc/PID/status at the end of a row.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** utime + stime in clock ticks, from the text of /proc/PID/stat. */
export function parseStatCpuTicks(statText: string): number {
  // The command name (field 2) is in parentheses and may itself contain spaces or ')': split after the last ')'.
  const close = statText.lastIndexOf(")");
  if (close < 0) throw new Error("not a /proc/PID/stat line");
  const fields = statText
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state), so utime (field 14) is fields[11] and stime (field 15) is fields[12].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error("no utime/stime in /proc/PID/stat");
  return utime + stime;
}

/** VmHWM (peak resident set size) in bytes, from the text of /proc/PID/status. */
export function parseStatusPeakRss(statusText: string): number {
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(statusText);
  if (match === null) throw new Error("no VmHWM in /proc/PID/status");
  return Number(match[1]) * 1024;
}

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, almost always 100), read once. */
export function clockTicksPerSecond(): number {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
  if (!(clockTicks > 0)) throw new Error("getconf CLK_TCK gave no positive number");
  return clockTicks;
}

/** CPU time used so far by one process, in seconds. */
export function cpuSeconds(pid: number): number {
  return parseStatCpuTicks(readFileSync(`/proc/${pid}/stat`, "utf8")) / clockTicksPerSecond();
}

/** Peak RSS of a live process, in bytes. */
export function peakRssBytes(pid: number): number {
  return parseStatusPeakRss(readFileSync(`/proc/${pid}/status`, "utf8"));
}

/** CPU seconds each of a set of processes spent between `start` and `stop`, with the wall time between them. */
export class CpuWindow {
  private readonly before: number[];
  private readonly startedAt = process.hrtime.bigint();

  private constructor(private readonly pids: readonly number[]) {
    this.before = pids.map(cpuSeconds);
  }

  static start(pids: readonly number[]): CpuWindow {
    return new CpuWindow(pids);
  }

  stop(): { cpuSeconds: number[]; wallSeconds: number } {
    const wallSeconds = Number(process.hrtime.bigint() - this.startedAt) / 1e9;
    return { cpuSeconds: this.pids.map((pid, i) => cpuSeconds(pid) - this.before[i]!), wallSeconds };
  }
}

/** CPU µs per request: the process's CPU time over the requests completed in the same window. */
export function cpuMicrosPerRequest(cpuSecondsUsed: number, requests: number): number {
  return requests > 0 ? (cpuSecondsUsed * 1e6) / requests : Number.NaN;
}

/** vCPU per 1000 req/s: the CPU share the process used, scaled to what it would be at exactly 1000 req/s. */
export function vcpuPer1000Rps(cpuSecondsUsed: number, wallSeconds: number, achievedRps: number): number {
  return wallSeconds > 0 && achievedRps > 0 ? (cpuSecondsUsed / wallSeconds) * (1000 / achievedRps) : Number.NaN;
}
