// The `trellis-transparent` row and `trellis run`'s start time (issue 11): the chain as a user builds it with
// `trellis run --transparent`. A network namespace the bench creates plays "the host" (the bridge trellis0,
// ip_forward and the NAT rules that `trellis run` adds go there, never into the real host namespace); inside it a
// warm control plane (`trellis up`, temporary data directory), the server app — nginx as the upstream of the other
// rows — started by `trellis run --transparent --service web --port 8080:8080` on cpu1, and a client namespace
// `trellis run --transparent --service loadgen -- sleep infinity` on cpu0, in which wrk and h2load run
// (`ip netns exec`, so the namespace's resolv.conf applies; as root, gid 0, so their connections are captured) and
// call http://web:8080/ by name through the DNS proxy:
//
//   load generator → (captured outbound, 15001) client sidecar → server sidecar (captured inbound, 15006) → nginx
import { readFileSync, readdirSync, writeFileSync, existsSync, rmSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { upstreamNginxConf } from "./configs.ts";
import { BenchProcessError, firstErrorLine, logTail, runTool } from "./processes.ts";
import type { ProcessRegistry, Started } from "./processes.ts";
import { Netns } from "../../test/support/netns.ts";

const CLIENT_CPU = 0;
const SERVER_CPU = 1;
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;
/** Where the start-time app must have seen its first request by. */
const START_TIMEOUT_MS = 30_000;
/** The service port (and, fixed, nginx's port inside its own namespace). */
export const WEB_PORT = 8080;
/** The runs' address range, inside the bench's own "host" namespace (so it meets nothing of the real host's). */
const ADDRESS_RANGE = "10.252.0.0/24";

/** Why this machine cannot run the transparent row (it needs namespaces and iptables), or undefined when it can. */
export function transparentSkipReason(platform: string, uid: number | undefined): string | undefined {
  if (platform !== "linux") return `trellis run --transparent needs Linux (network namespaces); this is ${platform}`;
  if (uid !== 0) return `trellis run --transparent needs root (running as uid ${uid ?? "unknown"})`;
  return undefined;
}

/** One measured proxy of the chain (same shape as chains.ts's, kept here to avoid an import cycle). */
interface Proxy {
  side: "client" | "server";
  pid: number;
}

export interface TransparentChain {
  url: string;
  proxies: Proxy[];
  /** Prefix that runs a load tool inside the client's namespace. */
  inside: string[];
  stop(): Promise<void>;
}

interface StateFile {
  name: string;
  pid: number;
  address: string;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The app of the start-time measure: records when it first sees GET /first-request (ms since the epoch). */
const START_APP = `const http = require("node:http"), fs = require("node:fs");
let seen = false;
http.createServer((req, res) => {
  if (!seen && req.url === "/first-request") { seen = true; fs.writeFileSync(process.argv[2], String(Date.now())); }
  res.end("ok");
}).listen(Number(process.env.PORT), "0.0.0.0");
`;

/**
 * The caller of the start-time measure, a mesh client already running: every 10 ms it reads HOST:PORT from a file
 * and sends GET /first-request there — through HTTP_PROXY (explicit mode) or by name, captured (transparent).
 */
const POLLER = `const http = require("node:http"), fs = require("node:fs"), { Resolver } = require("node:dns").promises;
const [mode, file, namespace] = process.argv.slice(2);
const proxy = process.env.HTTP_PROXY ? new URL(process.env.HTTP_PROXY) : undefined;
// c-ares, reading the namespace's resolv.conf (the DNS proxy), with a short timeout: getaddrinfo would wait out the
// host's resolvers for a name not yet known, and block the thread pool for the next tries.
const resolver = new Resolver({ timeout: 200, tries: 1 });
const again = () => setTimeout(once, 10);
// What each try met, logged when it changes (in trellis run's log): why a repetition waited.
let said = "";
const say = (what) => { if (what !== said) { said = what; console.log(new Date().toISOString(), what); } };
async function once() {
  let target = "";
  try { target = fs.readFileSync(file, "utf8").trim(); } catch {}
  if (target === "") return again();
  const [name, port] = target.split(":");
  let where;
  if (mode === "explicit") {
    where = { host: proxy.hostname, port: Number(proxy.port), path: "http://" + target + "/first-request", headers: { host: target } };
  } else {
    let address;
    try { [address] = await resolver.resolve4(name + "." + namespace + ".svc.cluster.local"); } catch (e) { say(target + ": dns " + e.code); return again(); }
    where = { host: address, port: Number(port), path: "/first-request", headers: { host: target } };
  }
  let done = false;
  const next = () => { if (!done) { done = true; again(); } };
  const req = http.request({ ...where, agent: false, timeout: 500 }, (res) => { say(target + ": " + res.statusCode + " " + (res.headers["x-trellis-details"] || "")); res.resume(); res.on("end", next); res.on("error", next); });
  req.on("timeout", () => req.destroy());
  req.on("error", (e) => { say(target + ": " + e.code); next(); });
  req.end();
}
once();
`;

export type StartMode = "explicit" | "transparent";

/** Start times of one mode: ms from spawning `trellis run` to the app's first request through the mesh. */
export interface StartTimeSample {
  mode: StartMode;
  millis: number[];
  /** Repetitions that did not reach the app, with why. */
  errors: string[];
}

/** The bench's "host": its namespace, the control plane in it, and the `trellis run`s it started. */
export class TransparentHost {
  private pollers: Partial<Record<StartMode, Started>> = {};
  private sequence = 0;

  private constructor(
    private readonly registry: ProcessRegistry,
    private readonly dir: string,
    private readonly repoRoot: string,
    private readonly ns: Netns,
    private readonly up: Started,
    private readonly address: string,
  ) {}

  get runDir(): string {
    return join(this.dir, "run");
  }

  static async create(registry: ProcessRegistry, parent: string, repoRoot: string): Promise<TransparentHost> {
    const dir = join(parent, "transparent");
    mkdirSync(dir, { recursive: true });
    const octet = (process.pid % 250) + 1;
    const ns = await Netns.create({ host: `10.219.${octet}.1/30`, inside: `10.219.${octet}.2/30` });
    const address = `10.219.${octet}.2`;
    let up: Started | undefined;
    try {
      // This "host" reaches none of the machine's DNS resolvers (its default route ends at the real host, which does
      // not forward for it): a query the sidecars' DNS proxies pass on would wait out its 5 s timeout, where a real
      // resolver answers an unknown name at once. A prohibit route refuses them at once instead (ICMP, in this
      // namespace only), so a name not yet in the mesh fails fast, as on a real host.
      for (const server of nameservers(readResolvConf())) {
        await runTool("ip", ["-n", ns.name, "route", "add", "prohibit", `${server}/32`], 5000);
      }
      const logFile = join(dir, "trellis-up.log");
      up = registry.start({
        name: "trellis up",
        command: "nsenter",
        args: [
          `--net=/run/netns/${ns.name}`,
          "--",
          process.execPath,
          join(repoRoot, "bin/trellis.js"),
          "up",
          ...["--address", address, "--data-dir", join(dir, "data"), "--address-range", ADDRESS_RANGE],
        ],
        cpu: SERVER_CPU,
        cwd: repoRoot,
        logFile,
      });
      await waitForLog(up, "trellis up: live", READY_TIMEOUT_MS);
      return new TransparentHost(registry, dir, repoRoot, ns, up, address);
    } catch (error) {
      if (up !== undefined) await registry.stop(up, STOP_GRACE_MS);
      await ns.remove();
      throw error;
    }
  }

  /** `trellis run [--transparent] ARGS… -- CMD…` in the "host" namespace, pinned to a CPU (its children too). */
  private trellisRun(name: string, cpu: number, transparent: boolean, args: string[], command: string[]): Started {
    const logDir = join(this.dir, `${name}-${++this.sequence}`);
    mkdirSync(join(logDir, "tmp"), { recursive: true });
    return this.registry.start({
      name,
      command: "nsenter",
      args: [
        `--net=/run/netns/${this.ns.name}`,
        "--",
        "env",
        `TRELLIS_RUN_DIR=${this.runDir}`,
        `TRELLIS_CONTROL=http://${this.address}:15014`,
        process.execPath,
        join(this.repoRoot, "bin/trellis.js"),
        "run",
        ...(transparent ? ["--transparent"] : []),
        ...["--xds", `${this.address}:15010`],
        ...args,
        "--",
        ...command,
      ],
      cpu,
      cwd: this.repoRoot,
      logFile: join(logDir, "trellis-run.log"),
    });
  }

  /** The namespace `trellis run` (by its pid) made, once its state file names it and `ip netns` lists it. */
  private async namespaceOf(run: Started): Promise<string> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (run.exited !== undefined) throw exited(run);
      const state = states(this.runDir).find((s) => s.pid === run.pid && s.address);
      if (state !== undefined) {
        const list = await runTool("ip", ["netns", "list"], 5000);
        if (list.stdout.split("\n").some((l) => l.split(" ")[0] === state.name)) return state.name;
      }
      await pause(25);
    }
    throw new BenchProcessError("NOT_READY", `${run.name}: no namespace within ${READY_TIMEOUT_MS} ms`);
  }

  /** The sidecar of a namespace: its process running under gid 1337. */
  private async sidecarOf(namespace: string): Promise<number> {
    const pids = (await runTool("ip", ["netns", "pids", namespace], 5000)).stdout.split("\n").filter(Boolean);
    for (const pid of pids) {
      try {
        if (/^Gid:\s+1337\s/m.test(readFileSync(`/proc/${pid}/status`, "utf8"))) return Number(pid);
      } catch {
        // exited meanwhile
      }
    }
    throw new BenchProcessError("NOT_READY", `${namespace}: no sidecar (gid 1337) among ${pids.join(" ")}`);
  }

  /** Web (nginx) and loadgen, each in its `trellis run --transparent`; ready when loadgen gets 200 from web. */
  async startChain(): Promise<TransparentChain> {
    const started: Started[] = [];
    const stop = async (): Promise<void> => {
      for (const s of started.reverse()) await this.registry.stop(s, STOP_GRACE_MS);
    };
    try {
      const nginxDir = join(this.dir, `nginx-${++this.sequence}`);
      mkdirSync(join(nginxDir, "tmp"), { recursive: true });
      const conf = join(nginxDir, "nginx.conf");
      // The upstream of the other rows, listening on every address of its namespace (inbound comes to eth0's).
      writeFileSync(
        conf,
        upstreamNginxConf({ prefix: nginxDir }, WEB_PORT, WEB_PORT + 1).replaceAll("listen 127.0.0.1:", "listen "),
      );
      const web = this.trellisRun(
        "trellis run web",
        SERVER_CPU,
        true,
        ["--service", "web", "--port", `${WEB_PORT}:${WEB_PORT}`],
        ["nginx", "-p", nginxDir, "-e", join(nginxDir, "error.log"), "-c", conf, "-g", "daemon off;"],
      );
      started.push(web);
      const loadgen = this.trellisRun(
        "trellis run loadgen",
        CLIENT_CPU,
        true,
        ["--service", "loadgen"],
        ["sleep", "infinity"],
      );
      started.push(loadgen);
      const [webNs, loadgenNs] = await Promise.all([this.namespaceOf(web), this.namespaceOf(loadgen)]);
      const inside = ["ip", "netns", "exec", loadgenNs];
      const url = `http://web:${WEB_PORT}/`;
      await this.waitForOk(inside, url, [web, loadgen]);
      return {
        url,
        inside,
        proxies: [
          { side: "client", pid: await this.sidecarOf(loadgenNs) },
          { side: "server", pid: await this.sidecarOf(webNs) },
        ],
        stop,
      };
    } catch (error) {
      await stop();
      throw error;
    }
  }

  /** curl from inside the client namespace until the chain answers 200. */
  private async waitForOk(inside: string[], url: string, runs: Started[]): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last = "";
    while (Date.now() < deadline) {
      for (const r of runs) if (r.exited !== undefined) throw exited(r);
      const curl = await runTool(
        inside[0]!,
        [...inside.slice(1), "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", url],
        10_000,
      );
      last = curl.stdout.trim() || curl.stderr.trim();
      if (last === "200") return;
      await pause(50);
    }
    throw new BenchProcessError("NOT_READY", `${url} from the client namespace: last answer ${last || "none"}`);
  }

  /** The caller of one mode, started once and kept (a warm mesh client). */
  private async poller(mode: StartMode): Promise<string> {
    const target = join(this.dir, `target-${mode}`);
    if (this.pollers[mode] === undefined) {
      rmSync(target, { force: true });
      const script = join(this.dir, "poller.cjs");
      writeFileSync(script, POLLER);
      this.pollers[mode] = this.trellisRun(
        `trellis run probe-${mode}`,
        CLIENT_CPU,
        mode === "transparent",
        ["--service", `probe-${mode}`],
        [process.execPath, script, mode, target, "default"],
      );
    }
    return target;
  }

  /**
   * `trellis run` from spawn to its app's first request through the mesh, `reps` times per mode, with the control
   * plane and the caller warm (after one unrecorded warm-up start). Each repetition is a new service (start-MODE-N), so the time includes the new
   * service's configuration reaching the caller's sidecar.
   */
  async startTimes(reps: number): Promise<StartTimeSample[]> {
    const app = join(this.dir, "start-app.cjs");
    writeFileSync(app, START_APP);
    const out: StartTimeSample[] = [];
    const running: Started[] = [];
    for (const mode of ["explicit", "transparent"] as const) {
      const sample: StartTimeSample = { mode, millis: [], errors: [] };
      out.push(sample);
      const target = await this.poller(mode);
      // Repetition 0 is a warm-up, not recorded: the caller's own start and its first configuration, the app's
      // first compile, are not the start time of a service joining a running mesh.
      for (let i = 0; i <= reps; i++) {
        const service = `start-${mode}-${i}`;
        const seen = join(this.dir, `${service}.first`);
        writeFileSync(target, `${service}:${WEB_PORT}`);
        const t0 = Date.now();
        const run = this.trellisRun(
          `trellis run ${service}`,
          SERVER_CPU,
          mode === "transparent",
          ["--service", service, "--port", String(WEB_PORT)],
          [process.execPath, app, seen],
        );
        try {
          const at = await waitForFile(run, seen, i === 0 ? READY_TIMEOUT_MS : START_TIMEOUT_MS);
          if (i > 0) sample.millis.push(at - t0);
        } catch (error) {
          const why = error instanceof Error ? error.message : String(error);
          sample.errors.push(`${i === 0 ? "warm-up" : `repetition ${i}`}: ${why}`);
        } finally {
          writeFileSync(target, "");
          running.push(run);
        }
      }
      // Stopped only now: each repetition's service gets an address of its own. (A run started right after another
      // stopped is leased the same address, and the caller's sidecar then meets connection resets to it for many
      // seconds: see bench/ANALYSIS.md.)
      for (const run of running.splice(0)) await this.registry.stop(run, STOP_GRACE_MS);
    }
    return out;
  }

  /** Stops the pollers and the control plane, removes what a run left (`trellis cleanup`), then the namespace. */
  async close(): Promise<void> {
    for (const p of Object.values(this.pollers)) if (p !== undefined) await this.registry.stop(p, STOP_GRACE_MS);
    if (states(this.runDir).length > 0) {
      await runTool(
        "nsenter",
        [
          `--net=/run/netns/${this.ns.name}`,
          "--",
          "env",
          `TRELLIS_RUN_DIR=${this.runDir}`,
          process.execPath,
          join(this.repoRoot, "bin/trellis.js"),
          "cleanup",
        ],
        30_000,
      ).catch(() => undefined);
    }
    await this.registry.stop(this.up, STOP_GRACE_MS);
    await this.ns.remove();
  }
}

function states(runDir: string): StateFile[] {
  try {
    return readdirSync(join(runDir, "netns"))
      .filter((n) => n.endsWith(".json"))
      .flatMap((n) => {
        try {
          return [JSON.parse(readFileSync(join(runDir, "netns", n), "utf8")) as StateFile];
        } catch {
          return []; // being written
        }
      });
  } catch {
    return [];
  }
}

function exited(started: Started): BenchProcessError {
  const how = started.exited?.signal ?? `code ${started.exited?.code}`;
  const log = logTail(started.logFile, 40);
  return new BenchProcessError("EXITED", `${started.name} exited (${how}): ${firstErrorLine(log)}`);
}

async function waitForLog(started: Started, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (started.exited !== undefined) throw exited(started);
    if (logTail(started.logFile, 200).includes(text)) return;
    await pause(25);
  }
  throw new BenchProcessError("NOT_READY", `${started.name}: "${text}" not logged within ${timeoutMs} ms`);
}

/** The number an app wrote into FILE (its first request's time), once it is there. */
async function waitForFile(run: Started, file: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(file)) {
      const at = Number(readFileSync(file, "utf8").trim());
      if (Number.isFinite(at) && at > 0) return at;
    }
    if (run.exited !== undefined) throw exited(run);
    await pause(5);
  }
  throw new BenchProcessError("NOT_READY", `${run.name}: the app saw no request within ${timeoutMs} ms`);
}

function readResolvConf(): string {
  try {
    return readFileSync("/etc/resolv.conf", "utf8");
  } catch {
    return "";
  }
}

/** The IPv4 nameservers of a resolv.conf (a loopback one excepted: it is this namespace's own). */
export function nameservers(resolvConf: string): string[] {
  const out: string[] = [];
  for (const m of resolvConf.matchAll(/^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/gm)) {
    if (!m[1]!.startsWith("127.") && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}
