// Starting and stopping the benchmark's processes. Every process is tracked by PID in one registry so that a
// `finally` or a SIGINT can stop exactly what this run started — nothing found by name, nothing left behind.
import { spawn, execFile } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { request } from "node:http";

/** A process could not be started, did not become ready in time, or a tool it ran failed. */
export class BenchProcessError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "BenchProcessError";
    this.code = code;
  }
}

/** What to run, and on which CPU (`taskset -c CPU` execs the command, so the PID stays the command's own). */
export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  cpu?: number;
  /** stdout and stderr go to this file, so a failure can show its tail and no pipe can fill up. */
  logFile: string;
  cwd?: string;
}

export interface Started {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** Set once the process has exited (code or signal), so waits can fail fast. */
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/** Wraps a command in `taskset -c CPU` when a CPU is given. */
export function pinned(cpu: number | undefined, command: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [command, args] : ["taskset", ["-c", String(cpu), command, ...args]];
}

/** The tracked processes of one run; `stopAll` stops them in reverse start order. */
export class ProcessRegistry {
  private readonly live = new Map<number, Started>();
  /** Processes a tracked one forked (nginx workers), with their /proc comm so a reused PID is never hit. */
  private readonly extra = new Map<number, { pid: number; comm: string }[]>();
  private readonly tools = new Set<ChildProcess>();

  /** Set by `shutdown`: from then on nothing new may start (a run loop racing a SIGINT must not leak). */
  private closed = false;

  get isClosed(): boolean {
    return this.closed;
  }

  /** Refuses new processes, then stops every tracked one. */
  async shutdown(): Promise<void> {
    this.closed = true;
    await this.stopAll();
  }

  private refuseIfClosed(what: string): void {
    if (this.closed) throw new BenchProcessError("SHUT_DOWN", `${what}: the benchmark is shutting down`);
  }

  start(spec: ProcessSpec): Started {
    this.refuseIfClosed(spec.name);
    const [command, args] = pinned(spec.cpu, spec.command, spec.args);
    const fd = openSync(spec.logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(command, args, { cwd: spec.cwd, stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) {
      throw new BenchProcessError("SPAWN_FAILED", `${spec.name}: could not start ${command}`);
    }
    const started: Started = { name: spec.name, pid: child.pid, child, logFile: spec.logFile, exited: undefined };
    child.on("exit", (code, signal) => {
      started.exited = { code, signal };
    });
    child.on("error", () => {
      started.exited ??= { code: null, signal: null };
    });
    this.live.set(started.pid, started);
    return started;
  }

  /** Records processes forked by a tracked one, so that stopping it also covers them. */
  adopt(parentPid: number, pids: number[]): void {
    this.extra.set(
      parentPid,
      pids.map((pid) => ({ pid, comm: procComm(pid) ?? "" })),
    );
  }

  /**
   * SIGTERM, then SIGKILL after the grace period. nginx's master stops its workers before it exits; only when the
   * master had to be killed are its workers killed too (they would be left running, orphaned).
   */
  async stop(started: Started, graceMs = 3000): Promise<void> {
    let killed = false;
    if (started.exited === undefined) {
      signal(started.pid, "SIGTERM");
      if (!(await waitForExit(started, graceMs))) {
        signal(started.pid, "SIGKILL");
        killed = true;
        await waitForExit(started, graceMs);
      }
    }
    if (killed) for (const child of this.extra.get(started.pid) ?? []) killIfSame(child);
    this.extra.delete(started.pid);
    this.live.delete(started.pid);
  }

  async stopAll(): Promise<void> {
    for (const child of this.tools) killChild(child);
    const all = [...this.live.values()].reverse();
    for (const started of all) await this.stop(started);
  }

  /** A short-lived tool (wrk, h2load) while it runs. */
  trackTool(child: ChildProcess): void {
    this.tools.add(child);
    // Started in the instant the registry closed: stop it at once.
    if (this.closed) killChild(child);
  }

  forgetTool(child: ChildProcess): void {
    this.tools.delete(child);
  }

  /** For a signal handler that cannot wait: SIGKILL everything tracked, now. */
  killAllNow(): void {
    for (const child of this.tools) killChild(child);
    for (const started of this.live.values()) {
      if (started.exited === undefined) signal(started.pid, "SIGKILL");
      for (const child of this.extra.get(started.pid) ?? []) killIfSame(child);
    }
  }
}

/** Sends a signal to a process this run started and still tracks; ESRCH (it has just exited) is not an error. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // ESRCH: it exited between our check and the signal.
  }
}

/** SIGKILL a child that Node has not yet seen exit (so its PID cannot have been reused). */
function killChild(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

function procComm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** SIGKILL a forked child only while its PID still shows the command it had when adopted. */
function killIfSame(child: { pid: number; comm: string }): void {
  if (child.comm !== "" && procComm(child.pid) === child.comm) signal(child.pid, "SIGKILL");
}

function waitForExit(started: Started, timeoutMs: number): Promise<boolean> {
  if (started.exited !== undefined) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    started.child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** The last lines of a process's log, for error messages. */
export function logTail(file: string, lines = 8): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

const POLL_MS = 25;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The first line of a log that names an error (a stack's head), else its last line: the reason, in one line. */
export function firstErrorLine(log: string): string {
  const lines = log.split("\n").map((l) => l.trim());
  return lines.find((l) => /\b(Error|error|emerg|alert|ALERT)\b/.test(l)) ?? lines.filter((l) => l !== "").at(-1) ?? "";
}

function exitedError(started: Started): BenchProcessError {
  const how = started.exited?.signal ?? `code ${started.exited?.code}`;
  const log = logTail(started.logFile, 40);
  return new BenchProcessError(
    "EXITED",
    `${started.name} exited (${how}) before it was ready: ${firstErrorLine(log)}\n${log.split("\n").slice(-8).join("\n")}`,
  );
}

/** Resolves true when a TCP connect to 127.0.0.1:port succeeds. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Polls until the port accepts connections; fails if the process exits or the deadline passes. */
export async function waitForPort(started: Started, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (started.exited !== undefined) throw exitedError(started);
    if (await canConnect(port)) return;
    await pause(POLL_MS);
  }
  throw new BenchProcessError("NOT_READY", `${started.name}: port ${port} did not accept within ${timeoutMs} ms`);
}

/** GET http://127.0.0.1:port/path → status code, or undefined when nothing answers. */
export function httpStatus(port: number, path: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(undefined));
    req.end();
  });
}

/**
 * Waits for an Envoy-style sidecar: ready when the admin `/ready` answers 200. If the admin port answers nothing at
 * all (no admin listener), a connect to the data port is taken as ready instead.
 */
export async function waitForSidecar(
  started: Started,
  adminPort: number,
  listenPort: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastStatus: number | undefined;
  while (Date.now() < deadline) {
    if (started.exited !== undefined) throw exitedError(started);
    lastStatus = await httpStatus(adminPort, "/ready");
    if (lastStatus === 200) return;
    if (lastStatus === undefined && (await canConnect(listenPort))) return;
    await pause(POLL_MS);
  }
  throw new BenchProcessError(
    "NOT_READY",
    `${started.name}: /ready on ${adminPort} answered ${lastStatus ?? "nothing"} for ${timeoutMs} ms:\n${logTail(started.logFile)}`,
  );
}

/** The PIDs whose parent is `pid` (from /proc/PID/task/PID/children, else a scan of /proc/N/stat). */
export async function childPids(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8");
    return text.trim() === "" ? [] : text.trim().split(/\s+/).map(Number);
  } catch {
    const found: number[] = [];
    for (const entry of await readdir("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = await readFile(`/proc/${entry}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (ppid === pid) found.push(Number(entry));
      } catch {
        // The process exited while we scanned.
      }
    }
    return found;
  }
}

/** Waits until `pid` has exactly `count` children (an nginx master and its workers) and returns them. */
export async function waitForChildren(started: Started, count: number, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (started.exited !== undefined) throw exitedError(started);
    const children = await childPids(started.pid);
    if (children.length === count) return children;
    await pause(POLL_MS);
  }
  throw new BenchProcessError("NOT_READY", `${started.name}: expected ${count} worker process(es)`);
}

/** Free loopback ports, each from a listen on port 0 (all held at once so the kernel hands out distinct ones). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === "string") throw new BenchProcessError("PORT", "no port");
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export interface ToolRun {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Runs a tool to completion with a hard time limit (SIGKILL past it). When a registry is given the tool's PID is
 * tracked while it runs, so a SIGINT of the benchmark stops it too. A non-zero exit is returned, not thrown
 * (`wrk -v` exits 1); only a kill or a spawn failure throws.
 */
export function runTool(
  command: string,
  args: string[],
  timeoutMs: number,
  registry?: ProcessRegistry,
): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    if (registry?.isClosed === true) {
      reject(new BenchProcessError("SHUT_DOWN", `${command}: the benchmark is shutting down`));
      return;
    }
    const child = execFile(
      command,
      args,
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        registry?.forgetTool(child);
        if (error !== null && typeof error.code !== "number") {
          const why = !error.killed
            ? error.message
            : registry?.isClosed === true
              ? "stopped: the benchmark is shutting down"
              : `killed at its time limit of ${timeoutMs} ms`;
          reject(new BenchProcessError("TOOL_FAILED", `${command} ${args.join(" ")}: ${why}\n${stderr}`));
          return;
        }
        resolve({ stdout, stderr, code: error === null ? 0 : Number(error.code) });
      },
    );
    registry?.trackTool(child);
  });
}
