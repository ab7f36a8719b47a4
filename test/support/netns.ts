// Network namespaces for tests of transparent capture (root, Linux): a namespace with `lo` up, a veth pair to the
// host with the addresses the test picks, commands and Node children run inside it (`ip netns exec`), and everything
// removed in `finally`. Names carry this process's pid (`trellis-t-<pid>-<n>`), so a namespace left by a run that
// was killed is recognised by its prefix and a dead pid and removed at the next start, while a live run's (another
// test file running at the same time) is left alone.
//
//   await withNetns({ host: "10.213.7.1/30", inside: "10.213.7.2/30" }, async (ns) => {
//     await ns.exec("iptables", ["-t", "nat", "-A", "OUTPUT", …]);
//     const child = ns.spawnNode(["script.ts"]);
//   });

import { execFile, spawn, spawnSync } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const NETNS_PREFIX = "trellis-t-";
/** Host ends of the veth pairs: `trv<pid base 36>n<n>`, at most 15 characters as Linux requires. */
const VETH_PREFIX = "trv";

const BINARY_DIRS = (process.env.PATH ?? "/usr/sbin:/usr/bin").split(path.delimiter).concat(["/usr/sbin", "/sbin"]);

function which(name: string): string | undefined {
  for (const dir of BINARY_DIRS) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** `ip` and `iptables`, installed (as scripts/setup.sh does) when missing and we are root. */
function locateOrInstall(): string | undefined {
  if (process.platform !== "linux") return `network namespaces are Linux's; this is ${process.platform}`;
  if (process.getuid?.() !== 0) return "network namespaces and iptables need root (run the tests as root)";
  if (which("ip") === undefined || which("iptables") === undefined) {
    const setup = path.resolve(import.meta.dirname, "../../scripts/setup.sh");
    spawnSync("bash", [setup, "iproute2", "iptables"], { stdio: "inherit" });
  }
  // Root with the tools still missing is an error of this machine, not a reason to skip: createNetns reports it.
  return undefined;
}

/** Why the namespace tests cannot run here (not root, not Linux), or undefined when they can. */
export const netnsSkipReason: string | undefined = locateOrInstall();

export class NetnsCommandError extends Error {
  readonly code = "NETNS_COMMAND_FAILED";
  constructor(
    readonly command: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command.join(" ")} failed (exit ${exitCode}): ${stderr.trim()}`);
    this.name = "NetnsCommandError";
  }
}

/** Runs a command to its end; its stdout, or a NetnsCommandError with its stderr. */
export function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) {
        const code = typeof err.code === "number" ? err.code : null;
        reject(new NetnsCommandError([command, ...args], code, stderr || err.message));
      } else resolve(stdout);
    });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the namespaces (and with them their veth pairs) and the host veth ends that a test run which has since
 * died left behind; returns their names. A run that is still alive keeps its own.
 */
export async function removeStaleNetns(): Promise<string[]> {
  const removed: string[] = [];
  const namespaces = (await run("ip", ["netns", "list"])).split("\n").map((line) => line.split(" ")[0] ?? "");
  for (const name of namespaces) {
    const m = new RegExp(`^${NETNS_PREFIX}(\\d+)-\\d+$`).exec(name);
    if (m === null || pidAlive(Number(m[1]))) continue;
    await run("ip", ["netns", "del", name]).catch(() => undefined);
    removed.push(name);
  }
  const links = await run("ip", ["-o", "link", "show"]);
  for (const m of links.matchAll(new RegExp(`^\\d+: (${VETH_PREFIX}([0-9a-z]+)n\\d+)[@:]`, "gm"))) {
    if (pidAlive(parseInt(m[2]!, 36))) continue;
    await run("ip", ["link", "del", m[1]!]).catch(() => undefined);
    removed.push(m[1]!);
  }
  return removed;
}

export interface NetnsOptions {
  /** The host end's address with its prefix length, e.g. "10.213.7.1/30". */
  host: string;
  /** The namespace end's address (its interface is `eth0`), e.g. "10.213.7.2/30". */
  inside: string;
  /** Add a default route in the namespace through the host end (default true): any address is routable inside. */
  defaultRoute?: boolean;
}

let sequence = 0;

export class Netns {
  private readonly children = new Set<ChildProcess>();
  private removed = false;

  private constructor(
    readonly name: string,
    /** The veth end on the host. */
    readonly hostInterface: string,
    readonly options: NetnsOptions,
  ) {}

  /** Creates the namespace, `lo` up, a veth pair (eth0 inside) with the addresses given; all or nothing. */
  static async create(options: NetnsOptions): Promise<Netns> {
    await removeStaleNetns();
    const n = sequence++;
    const ns = new Netns(
      `${NETNS_PREFIX}${process.pid}-${n}`,
      `${VETH_PREFIX}${process.pid.toString(36)}n${n}`,
      options,
    );
    try {
      await run("ip", ["netns", "add", ns.name]);
      await run("ip", ["-n", ns.name, "link", "set", "lo", "up"]);
      // The peer is created inside the namespace in the same call: no moment with both ends on the host.
      await run("ip", ["link", "add", ns.hostInterface, "type", "veth", "peer", "name", "eth0", "netns", ns.name]);
      await run("ip", ["addr", "add", options.host, "dev", ns.hostInterface]);
      await run("ip", ["link", "set", ns.hostInterface, "up"]);
      await run("ip", ["-n", ns.name, "addr", "add", options.inside, "dev", "eth0"]);
      await run("ip", ["-n", ns.name, "link", "set", "eth0", "up"]);
      if (options.defaultRoute !== false) {
        await run("ip", ["-n", ns.name, "route", "add", "default", "via", options.host.split("/")[0]!]);
      }
    } catch (err) {
      await ns.remove();
      throw err;
    }
    return ns;
  }

  /** Runs a command inside the namespace to its end; its stdout. */
  exec(command: string, args: readonly string[] = []): Promise<string> {
    return run("ip", ["netns", "exec", this.name, command, ...args]);
  }

  /** Starts a command inside the namespace; it is killed (by its pid) when the namespace is removed. */
  spawn(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", this.name, command, ...args], { stdio: "pipe", ...options });
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  /**
   * Starts Node (with tsx, so a .ts script runs) inside the namespace, from the repository's root; with `group`,
   * under that gid and no other groups (`setpriv`, after entering the namespace, which needs root), as a sidecar runs
   * under its own identity — the uid stays root, so the child can read a checkout only root may (a CI clone in a
   * 0700 temporary directory), and capture rules exclude it by `--gid-owner` (istio-iptables accepts a gid too).
   */
  spawnNode(args: readonly string[], options: SpawnOptions & { group?: number } = {}): ChildProcess {
    const { group, ...spawnOptions } = options;
    const root = path.resolve(import.meta.dirname, "../..");
    const node = [process.execPath, "--import", "tsx", ...args];
    const command = group === undefined ? node : ["setpriv", `--regid=${group}`, "--clear-groups", ...node];
    return this.spawn(command[0]!, command.slice(1), { cwd: root, ...spawnOptions });
  }

  /** Kills what it started, deletes the namespace (its veth pair goes with it) and any host end left. Idempotent. */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    await Promise.all(
      [...this.children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGKILL");
          }),
      ),
    );
    await run("ip", ["netns", "del", this.name]).catch(() => undefined);
    await run("ip", ["link", "del", this.hostInterface]).catch(() => undefined);
  }

  /** Whether the namespace and the host end still exist (for tests of the clean-up itself). */
  async exists(): Promise<{ namespace: boolean; hostInterface: boolean }> {
    const namespaces = (await run("ip", ["netns", "list"])).split("\n").map((line) => line.split(" ")[0]);
    const links = await run("ip", ["-o", "link", "show"]);
    return {
      namespace: namespaces.includes(this.name),
      hostInterface: new RegExp(`^\\d+: ${this.hostInterface}[@:]`, "m").test(links),
    };
  }
}

/** Creates a namespace, runs `fn` with it, and removes it whatever `fn` does. */
export async function withNetns<T>(options: NetnsOptions, fn: (ns: Netns) => Promise<T>): Promise<T> {
  const ns = await Netns.create(options);
  try {
    return await fn(ns);
  } finally {
    await ns.remove();
  }
}
