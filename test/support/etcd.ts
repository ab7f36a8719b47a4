// Real etcd members for tests (Debian's etcd-server): each on 127.0.0.1 with free ports, its own data directory
// under a temp dir, stopped by its PID and its directory removed (each member preallocates a 64 MB WAL).
// Reusable by any test that needs etcd: `const cluster = await EtcdCluster.start(3)`.

import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const BINARY_DIRS = (process.env.PATH ?? "/usr/bin").split(path.delimiter);

function findEtcd(): string | undefined {
  for (const dir of BINARY_DIRS) {
    const candidate = path.join(dir, "etcd");
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The etcd binary, installing it (as scripts/setup.sh does) when it is missing and we are root. undefined only
 * when it is absent and cannot be installed: then `etcdSkipReason` says why and the tests skip.
 */
function locateOrInstall(): string | undefined {
  const found = findEtcd();
  if (found || process.getuid?.() !== 0) return found;
  const setup = path.resolve(import.meta.dirname, "../../scripts/setup.sh");
  spawnSync("bash", [setup, "etcd-server", "etcd-client"], { stdio: "inherit" });
  return findEtcd();
}

const etcdBinary = locateOrInstall();

/** Why the etcd tests cannot run here, or undefined when they can. */
export const etcdSkipReason: string | undefined = etcdBinary
  ? undefined
  : "the etcd binary is not installed and this user is not root (apt-get install -y etcd-server etcd-client)";

/** Processes this test file started, killed by PID if the test process exits without stopping them. */
const started = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.on("exit", () => {
  for (const child of started) if (child.pid !== undefined && child.exitCode === null) child.kill("SIGKILL");
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Ports for processes that must be told theirs up front (etcd, `trellis up`). They are drawn at random from below
 * the kernel's ephemeral range, never from a port-0 bind: a port freed after a port-0 bind can be handed to another
 * test's port-0 server before the process binds it. Each is checked free by binding it, and all are held until all
 * are found, so they are distinct.
 */
export async function freePorts(count: number): Promise<number[]> {
  const [ephemeralLow] = ephemeralRange();
  const low = 10_000;
  const high = Math.max(low + 1000, ephemeralLow - 1);
  const held: net.Server[] = [];
  try {
    for (let attempts = 0; held.length < count; attempts++) {
      if (attempts > 1000) throw new Error(`no ${count} free ports found in ${low}-${high}`);
      const port = low + Math.floor(Math.random() * (high - low + 1));
      const server = await tryListen(port);
      if (server) held.push(server);
    }
    return held.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
}

function ephemeralRange(): [number, number] {
  try {
    const [low, high] = fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    return [Number(low), Number(high)];
  } catch {
    return [32768, 60999];
  }
}

function tryListen(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(undefined));
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

export class EtcdMember {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  private child: ChildProcess | undefined;
  private log = "";
  private startArgs: [string, string] | undefined;

  constructor(name: string, clientPort: number, peerPort: number, dataDir: string) {
    this.name = name;
    this.clientPort = clientPort;
    this.peerPort = peerPort;
    this.dataDir = dataDir;
  }

  /** "127.0.0.1:port", as `etcd://` URLs and EtcdStore take it. */
  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get peerUrl(): string {
    return `http://127.0.0.1:${this.peerPort}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the member again on its data directory (after stop or a kill), as the same member of the cluster. */
  restart(): void {
    if (this.running) throw new Error(`etcd ${this.name} is running`);
    this.start(...this.startArgs!);
  }

  start(initialCluster: string, token: string): void {
    this.startArgs = [initialCluster, token];
    const child = spawn(
      etcdBinary!,
      [
        "--logger=zap",
        "--log-level=warn",
        `--name=${this.name}`,
        `--data-dir=${this.dataDir}`,
        `--listen-client-urls=http://${this.endpoint}`,
        `--advertise-client-urls=http://${this.endpoint}`,
        `--listen-peer-urls=${this.peerUrl}`,
        `--initial-advertise-peer-urls=${this.peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=${token}`,
        "--initial-cluster-state=new",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr!.on("data", (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-4000);
    });
    started.add(child);
    child.once("exit", () => started.delete(child));
    this.child = child;
  }

  /** The member's own view: its id and the leader's id (etcd's JSON gateway for Maintenance.Status). */
  async status(): Promise<{ memberId: string; leader: string }> {
    const res = await fetch(`http://${this.endpoint}/v3/maintenance/status`, { method: "POST", body: "{}" });
    const body = (await res.json()) as { header: { member_id: string }; leader: string };
    return { memberId: body.header.member_id, leader: body.leader };
  }

  async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`http://${this.endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
      return ((await res.json()) as { health?: string }).health === "true";
    } catch {
      return false;
    }
  }

  /** Sends the signal and waits for the process to exit; a member that ignores SIGTERM is killed after 3 s. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    if (signal !== "SIGKILL") {
      // A leader without quorum can take 5–8 s to exit on SIGTERM (NOTES.md): do not wait for it.
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(timer);
    } else await exited;
  }

  get recentLog(): string {
    return this.log;
  }
}

export class EtcdCluster {
  readonly members: EtcdMember[];
  private readonly root: string;

  private constructor(members: EtcdMember[], root: string) {
    this.members = members;
    this.root = root;
  }

  /** Starts `size` members as one new cluster and waits until every member reports healthy. */
  static async start(size = 1): Promise<EtcdCluster> {
    if (!etcdBinary) throw new Error(etcdSkipReason);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-etcd-"));
    tempDirs.add(root);
    const ports = await freePorts(size * 2);
    const members = Array.from(
      { length: size },
      (_, i) => new EtcdMember(`m${i + 1}`, ports[2 * i]!, ports[2 * i + 1]!, path.join(root, `m${i + 1}`)),
    );
    const cluster = new EtcdCluster(members, root);
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
    const token = `trellis-test-${path.basename(root)}`;
    for (const m of members) m.start(initialCluster, token);
    try {
      await cluster.waitHealthy(members, 30_000);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Client endpoints, "127.0.0.1:port" each. */
  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /** `etcd://…` for createStore. */
  get url(): string {
    return `etcd://${this.endpoints.join(",")}`;
  }

  async leader(): Promise<EtcdMember> {
    for (const m of this.members) {
      if (!m.running) continue;
      try {
        const { leader } = await m.status();
        for (const other of this.members) {
          if (!other.running) continue;
          if ((await other.status()).memberId === leader) return other;
        }
      } catch {
        // ask the next member
      }
    }
    throw new Error("no running member knows a leader");
  }

  async follower(): Promise<EtcdMember> {
    const leader = await this.leader();
    const follower = this.members.find((m) => m.running && m !== leader);
    if (!follower) throw new Error("no running follower");
    return follower;
  }

  async waitHealthy(members: EtcdMember[], limitMs: number): Promise<void> {
    const deadline = Date.now() + limitMs;
    for (const m of members) {
      while (!(await m.healthy())) {
        if (!m.running) throw new Error(`etcd ${m.name} exited:\n${m.recentLog}`);
        if (Date.now() > deadline) throw new Error(`etcd ${m.name} not healthy in ${limitMs} ms:\n${m.recentLog}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Stops every member (by PID) and removes the data directories. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop("SIGTERM")));
    fs.rmSync(this.root, { recursive: true, force: true });
    tempDirs.delete(this.root);
  }
}
