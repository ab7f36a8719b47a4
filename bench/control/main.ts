// `npm run bench:control`: N simulated sidecars (ADS SotW streams, in 2 child processes, 100 streams per gRPC
// channel) against one real control plane (ControlPlane: embedded store, registry, translation, ADS server, HTTP API)
// holding S services, sidecar j registered as an instance of service j mod S. After every proxy has ACKed its
// initial configuration, one VirtualService is applied through the HTTP API (`trellis apply`'s path); the benchmark
// times, from the apply request, until each proxy ACKs the new RDS version (store write, watch, world rebuild,
// translation and the 100 ms debounce included), and samples this process's RSS and CPU (it hosts only the control
// plane and the bookkeeping; the simulated sidecars run in child processes).
// Options: --clients 100,1000,2000  --services 1000  --per-channel 100  --procs 2
// Writes bench/results/control-plane.md and control-plane.json.

import { fork, type ChildProcess } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { TYPE_URL } from "../../src/api/xds/wire/codec.ts";
import { ControlPlane } from "../../src/control/control-plane.ts";
import { createStore } from "../../src/control/store/create.ts";
import type { AckEvent } from "../../src/control/xds/types.ts";
import { registrations, sidecarYaml, virtualServiceYaml } from "./mesh.ts";

const here = dirname(fileURLToPath(import.meta.url));

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const CLIENTS = option("clients", "100,1000,2000").split(",").map(Number);
const SERVICES = Number(option("services", "1000"));
const PER_CHANNEL = Number(option("per-channel", "100"));
const PROCS = Number(option("procs", "2"));
/** Extra rows with a Sidecar limiting each proxy's egress to this many services ("" for none). */
const SCOPED = option("scoped", "2000:100")
  .split(",")
  .filter((x) => x !== "")
  .map((x) => x.split(":").map(Number) as [number, number]);
const DEBOUNCE_MS = 100;

interface Row {
  clients: number;
  /** Services each proxy reaches (all, unless a Sidecar scopes egress). */
  visible: number;
  services: number;
  initialSyncMs: number;
  convergence: { p50: number; p99: number; max: number };
  pushStartMs: number;
  rssMb: { afterSync: number; peak: number };
  /** The control plane's CPU for the initial sync and for the change; the simulated sidecars' for the change. */
  cpuMs: { initialSync: number; change: number; clientsChange: number };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function apply(apiPort: number, yaml: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/apply`, {
    method: "POST",
    body: JSON.stringify({ files: [{ name: "bench-vs.yaml", content: yaml }] }),
  });
  if (res.status !== 200) throw new Error(`apply: ${res.status} ${await res.text()}`);
}

/** The client processes' CPU time so far, summed (µs). */
async function clientsCpuUs(children: ChildProcess[]): Promise<number> {
  const each = await Promise.all(
    children.map(
      (c) =>
        new Promise<number>((resolve) => {
          const onMessage = (m: { cpuUs?: number }) => {
            if (m.cpuUs === undefined) return;
            c.off("message", onMessage);
            resolve(m.cpuUs);
          };
          c.on("message", onMessage);
          c.send({ cpu: true });
        }),
    ),
  );
  return each.reduce((a, b) => a + b, 0);
}

/** One run: n proxies; with `visible`, a Sidecar limits each proxy's egress to that many services. */
async function runOnce(n: number, visible = SERVICES): Promise<Row> {
  let ackHook: (e: AckEvent) => void = () => {};
  let pushStart = 0;
  const store = await createStore(undefined, undefined);
  const cp = new ControlPlane({
    store,
    xdsPort: 0,
    apiPort: 0,
    debounceMs: DEBOUNCE_MS,
    log: (m) => process.stderr.write(m + "\n"),
    xdsHooks: {
      onAck: (e) => ackHook(e),
      onPush: () => {
        if (pushStart === 0) pushStart = performance.now();
      },
    },
  });
  await cp.start();
  for (const r of registrations(SERVICES, n)) cp.registry.register(r);
  await apply(cp.apiPort, virtualServiceYaml(2));
  if (visible < SERVICES) await apply(cp.apiPort, sidecarYaml(visible));
  const port = cp.xdsPort;
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
    const args = { port, count, offset, perChannel: PER_CHANNEL, services: SERVICES, visible };
    children.push(fork(join(here, "clients.ts"), [JSON.stringify(args)], { execArgv: ["--import", "tsx"] }));
  }
  await synced;
  const initialSyncMs = performance.now() - t0;
  const syncCpuUsed = process.cpuUsage(syncCpu);
  const rssAfterSync = process.memoryUsage().rss;

  // The change: a VirtualService every proxy sees (svc-0's retries), applied as `trellis apply` does.
  const before = new Map<string, string>();
  for (const p of cp.proxies())
    before.set(p.nodeId, p.types.find((t) => t.typeUrl === TYPE_URL.routeConfiguration)!.sentVersion);
  const times: number[] = [];
  const changeCpu = process.cpuUsage();
  pushStart = 0;
  const converged = new Promise<void>((resolve) => {
    const done = new Set<string>();
    ackHook = (e) => {
      if (e.typeUrl !== TYPE_URL.routeConfiguration || e.version === before.get(e.nodeId) || done.has(e.nodeId)) return;
      done.add(e.nodeId);
      times.push(performance.now() - t1);
      if (times.length === n) resolve();
    };
  });
  const clientCpuBefore = await clientsCpuUs(children);
  const t1 = performance.now();
  await apply(cp.apiPort, virtualServiceYaml(3));
  await converged;
  const clientCpuChange = (await clientsCpuUs(children)) - clientCpuBefore;
  const changeCpuUsed = process.cpuUsage(changeCpu);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);

  for (const c of children) c.send({ exit: true });
  await Promise.all(children.map((c) => new Promise((r) => c.once("exit", r))));
  await cp.stop();
  await store.close();

  times.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    clients: n,
    visible,
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
      clientsChange: Math.round(clientCpuChange / 1000),
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
    `One real control plane (embedded store, registry, translation, ADS server, HTTP API) with ${SERVICES} HTTP ` +
      "services registered in its registry; sidecar j registers as an instance of service j mod " +
      `${SERVICES} (services without a sidecar get one instance without). N simulated sidecars, each an ADS SotW ` +
      "stream that introduces itself as its workload (namespace, service, labels, address) and subscribes to LDS, CDS, " +
      `RDS and EDS (all ${SERVICES} clusters), ACKing at once and reading only each response's envelope (version, ` +
      `type, nonce); ${PROCS} client processes, ${PER_CHANNEL} streams per gRPC channel. Each proxy gets ` +
      `${SERVICES} outbound clusters, their endpoints, a ${SERVICES}-host route table and its own inbound listener ` +
      "and cluster. The control plane runs alone in the benchmark's main process.",
    "",
    "The change: a VirtualService (svc-0's retries) applied through the HTTP API, as `trellis apply` does; times " +
      "run from the apply request until each proxy's ACK of the new RDS version reaches the control plane (store " +
      `write, watch, world rebuild, translation and the ${DEBOUNCE_MS} ms debounce included; "push start" is when ` +
      "the first response was written). CPU is the control-plane process's user + system time.",
    "",
    "| proxies | services each proxy reaches | initial sync | push start | p50 | p99 | max | RSS after sync | peak RSS | CPU sync | CPU change | sidecars' CPU change |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (r) =>
        `| ${r.clients} | ${r.visible === r.services ? `all ${r.services}` : `${r.visible} (Sidecar egress)`} | ${r.initialSyncMs} ms | ${r.pushStartMs} ms | ${r.convergence.p50} ms | ${r.convergence.p99} ms | ` +
        `${r.convergence.max} ms | ${r.rssMb.afterSync} MB | ${r.rssMb.peak} MB | ${r.cpuMs.initialSync} ms | ${r.cpuMs.change} ms | ${r.cpuMs.clientsChange} ms |`,
    ),
    "",
    "Rows marked Sidecar egress add a namespace-wide Sidecar whose egress lists that many services (Istio's advice " +
      "for large meshes: a proxy gets only what it calls); the control plane still holds all the services and the " +
      "change still reaches every proxy (svc-0 is among those listed).",
    "",
    "Target (issue 4): 2000 proxies, 1000 services, convergence ≤ 1 s, ≤ 1 GB RSS.",
    "",
  ];
  return lines.join("\n");
}

const rows: Row[] = [];
const runs: [number, number][] = [...CLIENTS.map((n): [number, number] => [n, SERVICES]), ...SCOPED];
for (const [n, visible] of runs) {
  process.stderr.write(`bench:control: ${n} proxies, ${SERVICES} services, ${visible} visible to each…\n`);
  const row = await runOnce(n, visible);
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
