// The chains under test. Each row is client sidecar (cpu0) → server sidecar (cpu1) → upstream nginx (cpu1), or
// the upstream alone for the direct rows; the load generator shares cpu0 with the client sidecar.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nginxHopConf, haproxyHopConf, trellisBootstrap, upstreamNginxConf } from "./configs.ts";
import { freePorts, waitForChildren, waitForPort, waitForSidecar } from "./processes.ts";
import type { ProcessRegistry, Started } from "./processes.ts";
import { TransparentHost } from "./transparent.ts";

export const CLIENT_CPU = 0;
export const SERVER_CPU = 1;
const READY_TIMEOUT_MS = 15_000;

export type RowKind = "http1" | "h2c";

export const ROW_NAMES = [
  "direct",
  "nginx",
  "haproxy",
  "trellis",
  "trellis-transparent",
  // With --baseline REF only: this tree's chain and the baseline's run back to back in each repetition.
  "trellis-baseline",
  "trellis-policy",
  "trellis-policy-baseline",
  "direct-h2c",
  "nginx-h2c",
  "trellis-h2c",
  "trellis-h2c-e2e",
] as const;
export type RowName = (typeof ROW_NAMES)[number];

export interface RowSpec {
  name: RowName;
  /** What the report calls it. */
  label: string;
  kind: RowKind;
  /** false for the direct rows, which have no proxy to measure. */
  proxied: boolean;
}

export const ROWS: readonly RowSpec[] = [
  { name: "direct", label: "direct (no proxy)", kind: "http1", proxied: false },
  { name: "nginx", label: "nginx", kind: "http1", proxied: true },
  { name: "haproxy", label: "HAProxy", kind: "http1", proxied: true },
  { name: "trellis", label: "Trellis", kind: "http1", proxied: true },
  {
    name: "trellis-transparent",
    label: "Trellis, trellis run --transparent: captured client → sidecar → sidecar → app",
    kind: "http1",
    proxied: true,
  },
  {
    name: "trellis-policy",
    label: "Trellis with policy (20 routes, retries, timeouts, outlier detection, circuit breakers, local rate limit)",
    kind: "http1",
    proxied: true,
  },
  { name: "direct-h2c", label: "direct h2c (no proxy)", kind: "h2c", proxied: false },
  { name: "nginx-h2c", label: "nginx, h2c in, HTTP/1.1 hops", kind: "h2c", proxied: true },
  { name: "trellis-h2c", label: "Trellis, h2c in, HTTP/1.1 hops", kind: "h2c", proxied: true },
  { name: "trellis-h2c-e2e", label: "Trellis, h2c end to end", kind: "h2c", proxied: true },
  // Only with --baseline REF: the same two chains run from a checkout of REF, interleaved with this tree's.
  { name: "trellis-baseline", label: "Trellis at the baseline", kind: "http1", proxied: true },
  {
    name: "trellis-policy-baseline",
    label: "Trellis with policy at the baseline",
    kind: "http1",
    proxied: true,
  },
];

/** The rows that run the baseline checkout, and the row of this tree each is compared with. */
export const BASELINE_OF: Partial<Record<RowName, RowName>> = {
  "trellis-baseline": "trellis",
  "trellis-policy-baseline": "trellis-policy",
};

export interface Workspace {
  registry: ProcessRegistry;
  /** The run's temporary directory; every config, pid file, log and temp path lives under it. */
  dir: string;
  repoRoot: string;
  /** With --baseline: the extracted checkout of the baseline commit, whose bin/trellis.js the baseline rows run. */
  baselineRoot?: string;
  upstreamHttp1Port: number;
  upstreamH2cPort: number;
  /** The trellis-transparent row's "host" namespace and warm control plane, made when the row first runs. */
  transparent?: TransparentHost;
}

/** One measured proxy: the PID whose CPU and memory are read (for nginx the worker, not the master). */
export interface MeasuredProxy {
  side: "client" | "server";
  pid: number;
}

export interface RunningChain {
  url: string;
  proxies: MeasuredProxy[];
  /** A command prefix that runs the load generator where the chain's clients are (a namespace), if not here. */
  inside?: string[];
  stop(): Promise<void>;
}

let instance = 0;

/** A fresh directory under the run's temporary directory for one process. */
function processDir(ws: Workspace, name: string): string {
  const dir = join(ws.dir, `${name}-${++instance}`);
  mkdirSync(join(dir, "tmp"), { recursive: true });
  return dir;
}

interface Hop {
  started: Started;
  measuredPid: number;
}

/** nginx in the foreground with its own prefix, config and error log; the worker is the measured process. */
async function startNginx(
  ws: Workspace,
  name: string,
  cpu: number,
  conf: (prefix: string) => string,
  port: number,
): Promise<Hop> {
  const dir = processDir(ws, name);
  const confFile = join(dir, "nginx.conf");
  writeFileSync(confFile, conf(dir));
  const started = ws.registry.start({
    name,
    command: "nginx",
    // -e: the error log before the config is read (else nginx first opens /var/log/nginx/error.log).
    args: ["-p", dir, "-e", join(dir, "error.log"), "-c", confFile, "-g", "daemon off;"],
    cpu,
    logFile: join(dir, "stderr.log"),
  });
  const workers = await waitForChildren(started, 1, READY_TIMEOUT_MS);
  ws.registry.adopt(started.pid, workers);
  await waitForPort(started, port, READY_TIMEOUT_MS);
  return { started, measuredPid: workers[0]! };
}

/** The upstream for the whole run: one nginx worker on cpu1, HTTP/1.1 and h2c ports. */
export async function startUpstream(ws: Omit<Workspace, "upstreamHttp1Port" | "upstreamH2cPort">): Promise<{
  http1Port: number;
  h2cPort: number;
  started: Started;
}> {
  const [http1Port, h2cPort] = (await freePorts(2)) as [number, number];
  const full: Workspace = { ...ws, upstreamHttp1Port: http1Port, upstreamH2cPort: h2cPort };
  const hop = await startNginx(
    full,
    "upstream-nginx",
    SERVER_CPU,
    (prefix) => upstreamNginxConf({ prefix }, http1Port, h2cPort),
    http1Port,
  );
  await waitForPort(hop.started, h2cPort, READY_TIMEOUT_MS);
  return { http1Port, h2cPort, started: hop.started };
}

async function startHaproxy(ws: Workspace, name: string, cpu: number, port: number, next: number): Promise<Hop> {
  const dir = processDir(ws, name);
  const confFile = join(dir, "haproxy.cfg");
  writeFileSync(confFile, haproxyHopConf(port, next));
  // -db: stay in the foreground, one process (no master-worker), so the PID is the proxy itself.
  const started = ws.registry.start({
    name,
    command: "haproxy",
    args: ["-db", "-f", confFile],
    cpu,
    logFile: join(dir, "stderr.log"),
  });
  await waitForPort(started, port, READY_TIMEOUT_MS);
  return { started, measuredPid: started.pid };
}

async function startTrellis(
  ws: Workspace,
  name: string,
  cpu: number,
  nodeId: string,
  port: number,
  next: number,
  upstreamHttp2: boolean,
  policy: boolean,
  root: string,
): Promise<Hop> {
  const dir = processDir(ws, name);
  const [adminPort] = (await freePorts(1)) as [number];
  const bootstrap = join(dir, "bootstrap.yaml");
  writeFileSync(
    bootstrap,
    trellisBootstrap({ nodeId, adminPort, listenPort: port, nextPort: next, upstreamHttp2, policy }),
  );
  const started = ws.registry.start({
    name,
    // Exactly what a user runs: the `trellis` executable (its shebang carries the Node flags a sidecar wants).
    command: join(root, "bin/trellis.js"),
    args: ["proxy", "--bootstrap", bootstrap],
    cpu,
    cwd: root,
    logFile: join(dir, "stderr.log"),
  });
  await waitForSidecar(started, adminPort, port, READY_TIMEOUT_MS);
  return { started, measuredPid: started.pid };
}

type HopStarter = (ws: Workspace, side: "client" | "server", port: number, next: number) => Promise<Hop>;

const side = (s: "client" | "server"): [string, number] =>
  s === "client" ? ["client", CLIENT_CPU] : ["server", SERVER_CPU];

const nginxHop =
  (h2cIn: boolean): HopStarter =>
  (ws, s, port, next) => {
    const [tag, cpu] = side(s);
    // Only the client hop takes h2c from the load generator; between hops nginx speaks HTTP/1.1.
    const h2c = h2cIn && s === "client";
    return startNginx(ws, `nginx-${tag}`, cpu, (prefix) => nginxHopConf({ prefix }, port, next, h2c), port);
  };

const haproxyHop: HopStarter = (ws, s, port, next) => {
  const [tag, cpu] = side(s);
  return startHaproxy(ws, `haproxy-${tag}`, cpu, port, next);
};

const trellisHop =
  (upstreamHttp2: boolean, policy = false, baseline = false): HopStarter =>
  (ws, s, port, next) => {
    const [tag, cpu] = side(s);
    const root = baseline ? ws.baselineRoot : ws.repoRoot;
    if (root === undefined) throw new Error("a baseline row needs --baseline REF");
    return startTrellis(ws, `trellis-${tag}`, cpu, `bench-${tag}`, port, next, upstreamHttp2, policy, root);
  };

/** Starts a two-hop chain (server side first, so the client side's next hop is up when it starts). */
async function startPair(ws: Workspace, hop: HopStarter, upstreamPort: number): Promise<RunningChain> {
  const [clientPort, serverPort] = (await freePorts(2)) as [number, number];
  const hops: Hop[] = [];
  const stop = async (): Promise<void> => {
    for (const h of hops.reverse()) await ws.registry.stop(h.started);
  };
  try {
    const server = await hop(ws, "server", serverPort, upstreamPort);
    hops.push(server);
    const client = await hop(ws, "client", clientPort, serverPort);
    hops.push(client);
    return {
      url: `http://127.0.0.1:${clientPort}/`,
      proxies: [
        { side: "client", pid: client.measuredPid },
        { side: "server", pid: server.measuredPid },
      ],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Starts the chain of one row; the direct rows start nothing and point at the upstream. */
export function startChain(ws: Workspace, row: RowName): Promise<RunningChain> {
  const none = async (): Promise<void> => {};
  switch (row) {
    case "direct":
      return Promise.resolve({ url: `http://127.0.0.1:${ws.upstreamHttp1Port}/`, proxies: [], stop: none });
    case "direct-h2c":
      return Promise.resolve({ url: `http://127.0.0.1:${ws.upstreamH2cPort}/`, proxies: [], stop: none });
    case "nginx":
      return startPair(ws, nginxHop(false), ws.upstreamHttp1Port);
    case "nginx-h2c":
      return startPair(ws, nginxHop(true), ws.upstreamHttp1Port);
    case "haproxy":
      return startPair(ws, haproxyHop, ws.upstreamHttp1Port);
    case "trellis":
    case "trellis-h2c":
      return startPair(ws, trellisHop(false), ws.upstreamHttp1Port);
    case "trellis-policy":
      return startPair(ws, trellisHop(false, true), ws.upstreamHttp1Port);
    case "trellis-h2c-e2e":
      return startPair(ws, trellisHop(true), ws.upstreamH2cPort);
    case "trellis-transparent":
      return startTransparent(ws);
    case "trellis-baseline":
      return startPair(ws, trellisHop(false, false, true), ws.upstreamHttp1Port);
    case "trellis-policy-baseline":
      return startPair(ws, trellisHop(false, true, true), ws.upstreamHttp1Port);
  }
}

async function startTransparent(ws: Workspace): Promise<RunningChain> {
  ws.transparent ??= await TransparentHost.create(ws.registry, ws.dir, ws.repoRoot);
  return ws.transparent.startChain();
}
