// The raw measurements of a run, as written to bench/results/proxy.json. Figures per proxy are in the order
// [client sidecar, server sidecar]; the direct rows have none.
import type { RowName } from "./chains.ts";
import type { StartTimeSample } from "./transparent.ts";

export interface ThroughputSample {
  requestsPerSecond: number;
  requests: number;
  errors: number;
  cpuMicrosPerRequest: number[];
}

export interface LatencySample {
  /** Percentiles of the per-request durations, in milliseconds. */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  requests: number;
  achievedRps: number;
  errors: number;
  vcpuPer1000Rps: number[];
}

export interface H2cSample {
  requestsPerSecond: number;
  requests: number;
  errors: number;
  cpuMicrosPerRequest: number[];
}

/** One row in one repetition. */
export interface RowSample {
  rep: number;
  row: RowName;
  throughput?: ThroughputSample;
  latency?: LatencySample;
  h2c?: H2cSample;
  /** VmHWM per proxy at the end of the row, in bytes. */
  peakRssBytes: number[];
  /** Set when the row could not be measured in this repetition. */
  error?: string;
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  node: string;
  nginx: string;
  haproxy: string;
  wrk: string;
  h2load: string;
}

export interface RunOptions {
  reps: number;
  durationSeconds: number;
  warmupSeconds: number;
  latencyRate: number;
  quick: boolean;
  rows: RowName[];
  /** --baseline: the git commit the baseline rows ran (as given, and resolved to a hash by the run). */
  baseline?: string;
  baselineCommit?: string;
}

export interface BenchRun {
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  options: RunOptions;
  samples: RowSample[];
  /** With the trellis-transparent row: `trellis run`'s start times, per mode (or why they were not measured). */
  startTimes?: StartTimeSample[];
  startTimesSkipped?: string;
}
