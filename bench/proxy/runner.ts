// Measuring one row in one repetition: start its chain, warm it up, run the loads with the proxies' CPU sampled
// around each, read peak RSS, stop the chain.
import { join } from "node:path";
import { ROWS, startChain } from "./chains.ts";
import type { RowName, Workspace } from "./chains.ts";
import { runConstantRate, runH2c, runWrk } from "./load.ts";
import { CpuWindow, cpuMicrosPerRequest, peakRssBytes, vcpuPer1000Rps } from "./measure.ts";
import { percentile, sortedNumbers } from "./stats.ts";
import type { LatencySample, RowSample, RunOptions } from "./results.ts";

export async function measureRow(ws: Workspace, row: RowName, rep: number, options: RunOptions): Promise<RowSample> {
  const spec = ROWS.find((r) => r.name === row)!;
  const chain = await startChain(ws, row);
  try {
    const pids = chain.proxies.map((p) => p.pid);
    const sample: RowSample = { rep, row, peakRssBytes: [] };
    if (spec.kind === "http1") {
      // Warm-up, not measured: lets V8 compile the hot path and fills the keep-alive pools.
      await runWrk(ws.registry, chain.url, options.warmupSeconds, 32, chain.inside);

      let window = CpuWindow.start(pids);
      const wrk = await runWrk(ws.registry, chain.url, options.durationSeconds, 32, chain.inside);
      const tput = window.stop();
      sample.throughput = {
        requestsPerSecond: wrk.requestsPerSecond,
        requests: wrk.requests,
        errors: wrk.errors,
        cpuMicrosPerRequest: tput.cpuSeconds.map((cpu) => cpuMicrosPerRequest(cpu, wrk.requests)),
      };

      window = CpuWindow.start(pids);
      const logFile = join(ws.dir, `latency-${row}-${rep}.log`);
      const rate = await runConstantRate(
        ws.registry,
        chain.url,
        options.latencyRate,
        options.durationSeconds,
        logFile,
        chain.inside,
      );
      const lat = window.stop();
      sample.latency = latencySample(
        rate.log.map((l) => l.durationMicros),
        rate.summary.requestsPerSecond,
        rate.summary.errors,
        lat.cpuSeconds.map((cpu) => vcpuPer1000Rps(cpu, lat.wallSeconds, rate.summary.requestsPerSecond)),
      );
    } else {
      await runH2c(ws.registry, chain.url, options.warmupSeconds);
      const window = CpuWindow.start(pids);
      const h2 = await runH2c(ws.registry, chain.url, options.durationSeconds);
      const used = window.stop();
      sample.h2c = {
        requestsPerSecond: h2.requestsPerSecond,
        requests: h2.succeeded,
        errors: h2.errors,
        cpuMicrosPerRequest: used.cpuSeconds.map((cpu) => cpuMicrosPerRequest(cpu, h2.succeeded)),
      };
    }
    sample.peakRssBytes = pids.map(peakRssBytes);
    return sample;
  } finally {
    await chain.stop();
  }
}

/** Percentiles of one constant-rate run, from its per-request durations in µs. */
export function latencySample(
  durationsMicros: readonly number[],
  achievedRps: number,
  errors: number,
  vcpu: number[],
): LatencySample {
  const sorted = sortedNumbers(durationsMicros);
  return {
    p50Ms: percentile(sorted, 50) / 1000,
    p90Ms: percentile(sorted, 90) / 1000,
    p99Ms: percentile(sorted, 99) / 1000,
    requests: sorted.length,
    achievedRps,
    errors,
    vcpuPer1000Rps: vcpu,
  };
}
