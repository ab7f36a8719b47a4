// The machine and tool versions the figures were taken on, for the report's header.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { runTool } from "./processes.ts";
import type { MachineInfo } from "./results.ts";

/** The first line of a tool's version output (stdout or stderr; some tools exit non-zero for it). */
async function version(command: string, args: string[], pattern: RegExp): Promise<string> {
  try {
    const run = await runTool(command, args, 5000);
    const text = `${run.stdout}\n${run.stderr}`;
    return pattern.exec(text)?.[1] ?? (text.trim().split("\n")[0] || "unknown");
  } catch {
    return "not installed";
  }
}

export function cpuModel(cpuinfo: string): string {
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
}

export async function machineInfo(): Promise<MachineInfo> {
  let model = "unknown";
  try {
    model = cpuModel(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    // Not Linux: the benchmark reads /proc anyway and will fail later with a clearer message.
  }
  return {
    nproc: availableParallelism(),
    cpuModel: model,
    node: process.version,
    nginx: await version("nginx", ["-v"], /nginx version: nginx\/(\S+)/),
    haproxy: await version("haproxy", ["-v"], /HAProxy version (\S+)/),
    wrk: await version("wrk", ["-v"], /wrk (\S+)/),
    h2load: await version("h2load", ["--version"], /h2load nghttp2\/(\S+)/),
  };
}
