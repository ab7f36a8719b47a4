// `npm run bench:control`: N simulated sidecars (ADS SotW streams, in 2 child processes, 100 streams per gRPC
// channel) against one XdsServer holding snapshots for S services. After every proxy has ACKed its initial
// configuration, one VirtualService-like change (the shared route configuration) is made and refresh() called; the
// benchmark times, from that call, until each proxy ACKs the new RDS version (the 100 ms debounce included), and
// samples the server's RSS and CPU (this process hosts only the server and the bookkeeping).
// Options: --clients 100,1000,2000  --services 1000  --per-channel 100  --procs 2
// Writes bench/results/control-plane.md and control-plane.json.

import { fork, type ChildProcess } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { TYPE_URL } from "../../src/api/xds/wire/codec.ts";
import { XdsServer } from "../../src/control/xds/server.ts";
import type { AckEvent } from "../../src/control/xds/types.ts";
import { BenchWorld } from "./world.ts";

const here = dirname(fileURLToPath(import.meta.url));

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const CLIENTS = option("clients", "100,1000,2000").split(",").map(Number);
const SERVICES = Number(option("services", "1000"));
const PER_CHANNEL = Number(option("per-channel", "100"));
const PROCS = Number(option("procs", "2"));
const DEBOUNCE_MS = 100;

interface Row {
  clients: number;
  services: number;
  initialSyncMs: number;
  convergence: { p50: number; p99: number; max: number };
  pushStartMs: number;
  rssMb: { afterSync: number; peak: number };
  cpuMs: { initialSync: number; change: number };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function runOnce(n: number): Promise<Row> {
  const world = new BenchWorld(SERVICES);
  let ackHook: (e: AckEvent) => void = () => {};
  let pushStart = 0;
  const server = new XdsServer({
    source: { snapshotFor: () => world.current() },
    host: "127.0.0.1",
    port: 0,
    debounceMs: DEBOUNCE_MS,
    log: (m) => process.stderr.write(m + "\n"),
    hooks: {
      onAck: (e) => ackHook(e),
      onPush: () => {
        if (pushStart === 0) pushStart = performance.now();
      },
    },
  });
  const port = await server.start();
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);

  // Initial sync: every proxy ACKs all four types.
  const syncCpu = process.cpuUsage();
  const t0 = performance.now();
  const fullyAcked = new Map<string, Set<string>>();
  const synced = new Promise<void>((resolve) => {
    let done = 0;
    ackHook = (e) => {
      const s = fullyAcked.get(e.nodeId) ?? new Set();
      fullyAcked.set(e.nodeId, s);
      if (s.has(e.typeUrl)) return;
      s.add(e.typeUrl);
      if (s.size === 4 && ++done === n) resolve();
    };
  });
  const children: ChildProcess[] = [];
  const per = Math.ceil(n / PROCS);
  for (let offset = 0; offset < n; offset += per) {
    const count = Math.min(per, n - offset);
    const args = { port, count, offset, perChannel: PER_CHANNEL, clusters: world.clusterNames() };
    children.push(fork(join(here, "clients.ts"), [JSON.stringify(args)], { execArgv: ["--import", "tsx"] }));
  }
  await synced;
  const initialSyncMs = performance.now() - t0;
  const syncCpuUsed = process.cpuUsage(syncCpu);
  const rssAfterSync = process.memoryUsage().rss;

  // The change: every proxy's route configuration.
  const before = server.proxies()[0].types.find((t) => t.typeUrl === TYPE_URL.routeConfiguration)!.sentVersion;
  const times: number[] = [];
  const changeCpu = process.cpuUsage();
  pushStart = 0;
  const converged = new Promise<void>((resolve) => {
    ackHook = (e) => {
      if (e.typeUrl !== TYPE_URL.routeConfiguration || e.version === before) return;
      times.push(performance.now() - t1);
      if (times.length === n) resolve();
    };
  });
  world.change();
  const t1 = performance.now();
  server.refresh();
  await converged;
  const changeCpuUsed = process.cpuUsage(changeCpu);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);

  for (const c of children) c.send({ exit: true });
  await Promise.all(children.map((c) => new Promise((r) => c.once("exit", r))));
  await server.stop(200);

  times.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    clients: n,
    services: SERVICES,
    initialSyncMs: round(initialSyncMs),
    convergence: {
      p50: round(percentile(times, 50)),
      p99: round(percentile(times, 99)),
      max: round(times[times.length - 1]),
    },
    pushStartMs: round(pushStart - t1),
    rssMb: { afterSync: Math.round(rssAfterSync / 2 ** 20), peak: Math.round(peakRss / 2 ** 20) },
    cpuMs: {
      initialSync: Math.round((syncCpuUsed.user + syncCpuUsed.system) / 1000),
      change: Math.round((changeCpuUsed.user + changeCpuUsed.system) / 1000),
    },
  };
}

function markdown(rows: Row[]): string {
  const lines = [
    "# Control plane: ADS convergence",
    "",
    `Written by \`npm run bench:control\` on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores ` +
      `(${cpus()[0]?.model ?? "unknown"}), Node ${process.version}.`,
    "",
    `${SERVICES} services (per service an EDS cluster, its ClusterLoadAssignment and a virtual host in the shared ` +
      "`outbound-http` route), one listener. N simulated sidecars, each an ADS SotW stream subscribing to LDS, CDS, " +
      `RDS and EDS (all ${SERVICES} clusters) and ACKing at once, reading only each response's envelope (version, type, nonce); ${PROCS} client processes, ` +
      `${PER_CHANNEL} streams per gRPC channel. The server runs alone in the benchmark's main process.`,
    "",
    `The change: one route of one service (a VirtualService edit every proxy sees); times run from \`refresh()\` ` +
      `until each proxy's ACK of the new RDS version reaches the server, the ${DEBOUNCE_MS} ms debounce included ` +
      '("push start" is when the first response was written). CPU is the server process\'s user + system time.',
    "",
    "| proxies | initial sync | push start | p50 | p99 | max | RSS after sync | peak RSS | CPU sync | CPU change |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (r) =>
        `| ${r.clients} | ${r.initialSyncMs} ms | ${r.pushStartMs} ms | ${r.convergence.p50} ms | ${r.convergence.p99} ms | ` +
        `${r.convergence.max} ms | ${r.rssMb.afterSync} MB | ${r.rssMb.peak} MB | ${r.cpuMs.initialSync} ms | ${r.cpuMs.change} ms |`,
    ),
    "",
    "Target (issue 4): 2000 proxies, 1000 services, convergence ≤ 1 s, ≤ 1 GB RSS.",
    "",
  ];
  return lines.join("\n");
}

const rows: Row[] = [];
for (const n of CLIENTS) {
  process.stderr.write(`bench:control: ${n} proxies, ${SERVICES} services…\n`);
  const row = await runOnce(n);
  process.stderr.write(JSON.stringify(row) + "\n");
  rows.push(row);
}
const out = join(here, "..", "results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "control-plane.json"),
  JSON.stringify({ date: new Date().toISOString(), rows }, null, 2) + "\n",
);
writeFileSync(join(out, "control-plane.md"), markdown(rows));
process.exit(0);
