// What `trellis run --transparent` creates on the host, and removes (docs/run.md, "Transparent mode"):
//
//   host       the bridge trellis0 with the gateway address, net.ipv4.ip_forward=1, and iptables rules commented
//              `trellis` (nat POSTROUTING MASQUERADE for the range, FORWARD ACCEPT in and out of the bridge):
//              created once, idempotently, removed with the last trellis namespace
//   per run    the network namespace trellis-<pid>-<n>, a veth pair (host end trh<pid base 36>n<n> on the bridge,
//              eth0 inside with the leased address, a default route through the gateway), lo up,
//              /etc/netns/<name>/resolv.conf, the nat rules of iptables.ts inside, and a state file
//              <run dir>/netns/<name>.json (the pid and its start time from /proc, what was created)
//
// The state file is written before anything is created, so a run killed at any point (SIGKILL) leaves a record; the
// next `trellis run --transparent`, or `trellis cleanup`, removes every set whose pid is dead or now another
// process's (its start time differs). Every command here is synchronous: the removal must also run in an 'exit'
// handler.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { TrellisError } from "../api/errors.ts";

export const NETNS_PREFIX = "trellis-";
export const RUN_DIR = "/run/trellis";
const VETH_PREFIX = "trh";
const BRIDGE = "trellis0";
const COMMENT = "trellis";

/** Where the state files and relay sockets are: $TRELLIS_RUN_DIR, else /run/trellis. */
export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TRELLIS_RUN_DIR ?? RUN_DIR;
}

/** A command that setting up the namespace needed failed: the command, its status and what it said. */
export class NetnsSetupError extends TrellisError {
  constructor(
    readonly command: readonly string[],
    readonly status: number | null,
    readonly stderr: string,
  ) {
    super("TRELLIS_RUN_NETNS_FAILED", `${command.join(" ")} failed (exit ${status}): ${stderr.trim()}`);
  }
}

/** `--transparent` cannot run here: what is missing. */
export class TransparentUnavailableError extends TrellisError {
  constructor(readonly missing: readonly string[]) {
    super(
      "TRELLIS_RUN_TRANSPARENT_UNAVAILABLE",
      `--transparent needs ${missing.join(", ")}: it creates a network namespace, a veth pair and iptables rules ` +
        `(root on Linux, with the packages iproute2, iptables and util-linux installed); ` +
        `without --transparent, trellis run needs none of these`,
    );
  }
}

const SEARCH_PATH = (process.env.PATH ?? "").split(path.delimiter).concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);

export function which(name: string): string | undefined {
  for (const dir of SEARCH_PATH) {
    if (dir === "") continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** What --transparent lacks on this machine (empty: it can run): Linux, root, ip, iptables, iptables-restore, setpriv. */
export function transparentPrerequisites(
  platform: string = process.platform,
  uid: number | undefined = process.getuid?.(),
  find: (name: string) => string | undefined = which,
): string[] {
  const missing: string[] = [];
  if (platform !== "linux") return [`Linux (this is ${platform})`];
  if (uid !== 0) missing.push(`root (running as uid ${uid})`);
  const tools: [string, string][] = [
    ["ip", "iproute2"],
    ["iptables", "iptables"],
    ["iptables-restore", "iptables"],
    ["setpriv", "util-linux"],
  ];
  for (const [tool, pkg] of tools) if (find(tool) === undefined) missing.push(`${tool} (package ${pkg})`);
  return missing;
}

function run(command: string, args: readonly string[], input?: string): string {
  const r = spawnSync(command, args, { encoding: "utf8", input, timeout: 30_000 });
  if (r.status !== 0)
    throw new NetnsSetupError([command, ...args], r.status, r.stderr || (r.error?.message ?? "no output"));
  return r.stdout;
}

const tryRun = (command: string, args: readonly string[]): boolean => {
  try {
    run(command, args);
    return true;
  } catch {
    return false;
  }
};

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined for a dead pid. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** What one run created (or was about to), as its state file keeps it. */
export interface NetnsSet {
  name: string;
  pid: number;
  startTime: string;
  hostInterface: string;
  address: string;
  prefixLength: number;
  gateway: string;
  bridge: string;
  /** The range MASQUERADE covers, a.b.c.d/len. */
  range: string;
  resolvDir: string;
  relaySocket: string;
  control: string;
  nodeId: string;
  instanceId?: string;
  /** The steps done, in order: "netns", "veth", "resolv.conf", "iptables", "sidecar", "command". */
  created: string[];
}

export function stateDir(dir: string): string {
  return path.join(dir, "netns");
}

export function stateFile(dir: string, name: string): string {
  return path.join(stateDir(dir), `${name}.json`);
}

export function writeState(dir: string, set: NetnsSet): void {
  fs.mkdirSync(stateDir(dir), { recursive: true, mode: 0o700 });
  const file = stateFile(dir, set.name);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(set, null, 2) + "\n");
  fs.renameSync(`${file}.tmp`, file);
}

export function readStates(dir: string): NetnsSet[] {
  let names: string[];
  try {
    names = fs.readdirSync(stateDir(dir)).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  const sets: NetnsSet[] = [];
  for (const n of names) {
    try {
      const set = JSON.parse(fs.readFileSync(path.join(stateDir(dir), n), "utf8")) as NetnsSet;
      if (typeof set.name === "string" && typeof set.pid === "number") sets.push(set);
    } catch {
      // A file cut short by a crash while written is never renamed into place; anything else is not ours.
    }
  }
  return sets;
}

/** Whether the run that made the set is alive: its pid exists and started when the state file says. */
export function setAlive(set: NetnsSet): boolean {
  return processStartTime(set.pid) === set.startTime;
}

let sequence = 0;

/** The names and paths of a new set for this process (nothing created yet). */
export function planSet(
  dir: string,
  lease: { address: string; prefixLength: number; gateway: string; bridge: string },
  control: string,
  nodeId: string,
): NetnsSet {
  const n = sequence++;
  const name = `${NETNS_PREFIX}${process.pid}-${n}`;
  const size = 2 ** (32 - lease.prefixLength);
  const network = lease.address.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
  const base = network - (network % size);
  const range = `${[24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join(".")}/${lease.prefixLength}`;
  return {
    name,
    pid: process.pid,
    startTime: processStartTime(process.pid) ?? "",
    hostInterface: `${VETH_PREFIX}${process.pid.toString(36)}n${n}`,
    address: lease.address,
    prefixLength: lease.prefixLength,
    gateway: lease.gateway,
    bridge: lease.bridge || BRIDGE,
    range,
    resolvDir: path.join("/etc/netns", name),
    relaySocket: path.join(dir, `${name}.xds.sock`),
    control,
    nodeId,
    created: [],
  };
}

/** The host's part, idempotent: the bridge with the gateway, forwarding, and the `trellis` rules. */
export function ensureHost(dir: string, set: NetnsSet): void {
  if (!tryRun("ip", ["link", "show", set.bridge])) {
    // Another run may create it at the same moment: "File exists" is as good as done.
    if (!tryRun("ip", ["link", "add", set.bridge, "type", "bridge"])) run("ip", ["link", "show", set.bridge]);
  }
  const addresses = run("ip", ["-o", "-4", "addr", "show", "dev", set.bridge]);
  if (!addresses.includes(` ${set.gateway}/${set.prefixLength} `))
    tryRun("ip", ["addr", "add", `${set.gateway}/${set.prefixLength}`, "dev", set.bridge]);
  run("ip", ["link", "set", set.bridge, "up"]);
  const hostState = path.join(dir, "host.json");
  const forward = "/proc/sys/net/ipv4/ip_forward";
  const before = fs.readFileSync(forward, "utf8").trim();
  if (before !== "1") {
    if (!fs.existsSync(hostState)) fs.writeFileSync(hostState, JSON.stringify({ ipForward: before }) + "\n");
    fs.writeFileSync(forward, "1\n");
  }
  for (const rule of hostRules(set)) if (!tryRun("iptables", rule("-C"))) run("iptables", rule("-A"));
}

/** The host's rules, as iptables arguments around the operation: [table…, op, chain, spec…]. */
function hostRules(set: { range: string; bridge: string }): ((op: string) => string[])[] {
  const comment = ["-m", "comment", "--comment", COMMENT];
  return [
    (op) => ["-t", "nat", op, "POSTROUTING", "-s", set.range, "!", "-o", set.bridge, ...comment, "-j", "MASQUERADE"],
    (op) => [op, "FORWARD", "-i", set.bridge, ...comment, "-j", "ACCEPT"],
    (op) => [op, "FORWARD", "-o", set.bridge, ...comment, "-j", "ACCEPT"],
  ];
}

/** A locally administered unicast MAC address carrying an IPv4 address: 10.250.0.7 → 02:54:0a:fa:00:07. */
export function macOf(ipv4: string): string {
  const octets = ipv4.split(".").map((o) => Number(o).toString(16).padStart(2, "0"));
  return ["02", "54", ...octets].join(":");
}

/** The namespace, its veth pair, lo, the address and route, resolv.conf and the capture rules. */
export function createSet(dir: string, set: NetnsSet, resolv: string, rules: string): void {
  const step = (name: string): void => {
    set.created.push(name);
    writeState(dir, set);
  };
  run("ip", ["netns", "add", set.name]);
  step("netns");
  run("ip", ["-n", set.name, "link", "set", "lo", "up"]);
  // The peer is created inside the namespace in the same call: no moment with both ends on the host. Its MAC address
  // is derived from its IPv4 address (as Docker does): when an address is leased again, neighbours that still cache
  // the old run's entry send to the right place instead of a vanished link until their entry goes stale.
  run("ip", [
    ...["link", "add", set.hostInterface, "type", "veth"],
    ...["peer", "name", "eth0", "address", macOf(set.address), "netns", set.name],
  ]);
  step("veth");
  run("ip", ["link", "set", set.hostInterface, "master", set.bridge, "up"]);
  run("ip", ["-n", set.name, "addr", "add", `${set.address}/${set.prefixLength}`, "dev", "eth0"]);
  run("ip", ["-n", set.name, "link", "set", "eth0", "up"]);
  run("ip", ["-n", set.name, "route", "add", "default", "via", set.gateway]);
  fs.mkdirSync(set.resolvDir, { recursive: true });
  fs.writeFileSync(path.join(set.resolvDir, "resolv.conf"), resolv);
  step("resolv.conf");
  run("ip", ["netns", "exec", set.name, "iptables-restore", "--noflush"], rules);
  step("iptables");
}

/**
 * Removes everything of a set that exists (each step on its own: a failure does not stop the others): the
 * processes still in the namespace, the namespace (its veth pair goes with it), the host end, resolv.conf, the relay
 * socket and the state file. Returns what was removed.
 */
export function removeSet(dir: string, set: NetnsSet): string[] {
  const removed: string[] = [];
  const namespaces = listNamespaces();
  if (namespaces.includes(set.name)) {
    // What is left inside (a background job of CMD) would keep the namespace, and its veth, alive.
    for (const pid of run("ip", ["netns", "pids", set.name]).split("\n").filter(Boolean))
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // gone
      }
    if (tryRun("ip", ["netns", "del", set.name])) removed.push(`namespace ${set.name}`);
  }
  if (tryRun("ip", ["link", "del", set.hostInterface])) removed.push(`link ${set.hostInterface}`);
  if (fs.existsSync(set.resolvDir)) {
    fs.rmSync(set.resolvDir, { recursive: true, force: true });
    removed.push(set.resolvDir);
  }
  fs.rmSync(set.relaySocket, { force: true });
  fs.rmSync(stateFile(dir, set.name), { force: true });
  removed.push(stateFile(dir, set.name));
  return removed;
}

/** The host's part, once no set is left (in this run directory): the rules, the bridge, forwarding as it was. */
export function removeHostIfLast(dir: string, set: { range: string; bridge: string }): string[] {
  if (readStates(dir).length > 0) return [];
  const removed: string[] = [];
  for (const rule of hostRules(set))
    while (tryRun("iptables", rule("-D"))) removed.push(`rule ${rule("-A").join(" ")}`);
  if (tryRun("ip", ["link", "del", set.bridge])) removed.push(`bridge ${set.bridge}`);
  const hostState = path.join(dir, "host.json");
  try {
    const { ipForward } = JSON.parse(fs.readFileSync(hostState, "utf8")) as { ipForward: string };
    fs.writeFileSync("/proc/sys/net/ipv4/ip_forward", `${ipForward}\n`);
    removed.push(`net.ipv4.ip_forward=${ipForward} (as before)`);
  } catch {
    // forwarding was on before the first run
  }
  fs.rmSync(hostState, { force: true });
  return removed;
}

export function listNamespaces(): string[] {
  try {
    return run("ip", ["netns", "list"])
      .split("\n")
      .map((line) => line.split(" ")[0] ?? "")
      .filter(Boolean);
  } catch {
    return [];
  }
}
