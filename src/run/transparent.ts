// `trellis run --transparent`: CMD and its sidecar in a network namespace of their own, as the containers of one pod
// share theirs, the CMD's traffic captured by iptables (docs/run.md, "Transparent mode").
//
//   1. stale sets of runs that died are removed (netns.ts)
//   2. an address is leased from the control plane (POST /api/v1/addresses)
//   3. the state file, then the host's part (bridge, forwarding, MASQUERADE), the namespace, its veth pair,
//      resolv.conf and the capture rules (iptables.ts)
//   4. the xDS relay (a Unix socket to the control plane's ADS address), the registration at the leased address
//      (each port: number = where the app listens, servicePort = P, no sidecarPort: inbound capture takes it)
//   5. the sidecar, `trellis proxy --xds unix:<relay> --interception-mode REDIRECT --instance-ips <address>`, inside
//      the namespace under gid 1337 with PR_SET_PDEATHSIG (setpriv): CMD starts once it says "configured"
//   6. CMD inside the namespace (`ip netns exec`, setpriv --pdeathsig KILL), its own process group and session, the
//      signals passed on as in explicit mode; its exit status is trellis run's
//   7. CMD exits (or the sidecar dies: CMD is then stopped): deregistered, the sidecar drains, everything of step 3
//      is removed, the address released. Any other exit of this process removes the set in its 'exit' handler; a
//      SIGKILL leaves the state file, and the next run (or `trellis cleanup`) removes the set.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import { TrellisError } from "../api/errors.ts";
import { callControl, ControlUnreachableError } from "../cli/control-client.ts";
import {
  DNS_CAPTURE_PORT,
  captureRules,
  reachableNameservers,
  resolvConf,
  ADMIN_PORT,
  OUTBOUND_CAPTURE_PORT,
  SIDECAR_GID,
} from "./iptables.ts";
import { CommandStartError, FORWARDED_SIGNALS, type RunOptions } from "./lifecycle.ts";
import {
  createSet,
  ensureHost,
  planSet,
  readStates,
  removeHostIfLast,
  removeSet,
  runDir,
  setAlive,
  writeState,
  type NetnsSet,
} from "./netns.ts";
import { portVariable } from "./ports.ts";
import { Registration, type RegistrationBody } from "./registration.ts";
import { startRelay, type Relay } from "./relay.ts";

export interface TransparentOptions extends RunOptions {
  /** State files and relay sockets (default $TRELLIS_RUN_DIR, else /run/trellis). */
  runDir?: string;
}

/** The sidecar ended before it was configured (status 1), with what it last said. */
export class SidecarFailedError extends TrellisError {
  constructor(how: string, lastLines: readonly string[]) {
    super(
      "TRELLIS_RUN_SIDECAR_FAILED",
      `the sidecar ${how} before it was configured` + (lastLines.length > 0 ? `: ${lastLines.join(" | ")}` : ""),
    );
  }
}

/** The control plane refused an address (the range is full, or a bad request). */
export class AddressLeaseError extends TrellisError {
  constructor(errors: readonly string[]) {
    super("TRELLIS_RUN_ADDRESS_REFUSED", `the control plane gave no address: ${errors.join("; ")}`);
  }
}

/** bin/trellis.js of this checkout, found upwards from this module (it runs from src/ or from the bundle). */
export function trellisBin(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "bin", "trellis.js"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find bin/trellis.js above " + fileURLToPath(import.meta.url));
    dir = up;
  }
  return join(dir, "bin", "trellis.js");
}

interface Lease {
  address: string;
  prefixLength: number;
  gateway: string;
  bridge: string;
  lease?: { renewEverySeconds?: number };
}

const errorsOf = (json: Record<string, unknown>, status: number): string[] =>
  Array.isArray(json.errors) ? json.errors.map(String) : [`HTTP ${status}`];

/**
 * Removes every set whose run is gone, and what the control plane still holds for it: the instance and the
 * address. Returns the names removed. (`trellis cleanup`, and the start of every `trellis run --transparent`.)
 */
export async function cleanUpStale(dir: string, log: (line: string) => void): Promise<string[]> {
  const stale = readStates(dir).filter((s) => !setAlive(s));
  for (const set of stale) {
    const removed = removeSet(dir, set);
    log(`removed ${set.name}, left by pid ${set.pid} (${removed.join(", ")})`);
    await forgetInControl(set, log);
  }
  if (stale.length > 0) {
    const host = removeHostIfLast(dir, stale[0]!);
    if (host.length > 0) log(`no trellis namespace left: removed ${host.join(", ")}`);
  }
  return stale.map((s) => s.name);
}

/** Deregisters the set's instance and releases its address; an unreachable control plane is said, not fatal. */
async function forgetInControl(set: NetnsSet, log: (line: string) => void): Promise<void> {
  const calls: [string, string][] = [[`DELETE`, `/api/v1/addresses/${set.address}`]];
  if (set.instanceId !== undefined)
    calls.unshift(["DELETE", `/api/v1/registry/instances/${encodeURIComponent(set.instanceId)}`]);
  for (const [method, path] of calls)
    try {
      const reply = await callControl(method, path, undefined, set.control);
      if (reply.status !== 200 && reply.status !== 404)
        log(`${method} ${path}: ${errorsOf(reply.json, reply.status).join("; ")}`);
    } catch (err) {
      log(`${method} ${path}: ${(err as Error).message} (its lease runs out by itself)`);
    }
}

function signalGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (child?.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: nothing left in the group.
  }
}

const running = (child: ChildProcess | undefined): boolean =>
  child !== undefined && child.exitCode === null && child.signalCode === null;

export async function runTransparent(options: TransparentOptions): Promise<number> {
  const { log } = options;
  const dir = options.runDir ?? runDir();
  await cleanUpStale(dir, log);
  const nodeId = `${options.service}-${randomBytes(4).toString("hex")}.${options.namespace}`;

  let set: NetnsSet | undefined;
  let relay: Relay | undefined;
  let registration: Registration | undefined;
  let sidecar: ChildProcess | undefined;
  let child: ChildProcess | undefined;
  let renewTimer: NodeJS.Timeout | undefined;
  let interrupted: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  let removed = false;
  let upstreams: string[] = [];

  const onSignal = (signal: NodeJS.Signals): void => {
    if (running(child)) return signalGroup(child, signal);
    if (interrupted === undefined) log(`${signal}: stopping before ${options.command[0]} started`);
    interrupted ??= signal;
    wake?.();
  };
  const handlers = FORWARDED_SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  // Any exit but SIGKILL: the children go (they would by PR_SET_PDEATHSIG too) and the set is removed, synchronously.
  const removeNow = (): void => {
    if (removed || set === undefined) return;
    removed = true;
    if (running(child)) signalGroup(child, "SIGKILL");
    if (running(sidecar)) sidecar!.kill("SIGKILL");
    removeSet(dir, set);
    removeHostIfLast(dir, set);
  };
  process.on("exit", removeNow);

  const cleanUp = async (): Promise<void> => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    clearInterval(renewTimer);
    await registration?.deregister();
    if (running(sidecar)) {
      const exited = new Promise<void>((resolve) => sidecar!.once("exit", () => resolve()));
      sidecar!.kill("SIGTERM");
      const timer = setTimeout(() => sidecar!.kill("SIGKILL"), options.drainTimeoutMs + 2000);
      await exited;
      clearTimeout(timer);
    }
    await relay?.close();
    if (set !== undefined && !removed) {
      removed = true;
      removeSet(dir, set);
      removeHostIfLast(dir, set);
      try {
        await callControl("DELETE", `/api/v1/addresses/${set.address}`, undefined, options.control);
      } catch {
        // its lease runs out by itself
      }
    }
    process.off("exit", removeNow);
  };

  try {
    const lease = await leaseAddress(
      options.control,
      nodeId,
      log,
      () => interrupted !== undefined,
      (w) => (wake = w),
    );
    if (lease !== undefined && interrupted === undefined) {
      set = planSet(dir, lease, options.control, nodeId);
      writeState(dir, set);
      ensureHost(dir, set);
      let hostResolv = "";
      try {
        hostResolv = readFileSync("/etc/resolv.conf", "utf8");
      } catch {
        // no resolver on the host
      }
      // The namespace's resolver is the sidecar's DNS proxy; it forwards what is not the mesh's to the host's servers.
      upstreams = reachableNameservers(hostResolv);
      createSet(dir, set, resolvConf(options.namespace, ["127.0.0.1"]), captureRules({ dns: true }));
      log(`namespace ${set.name}: ${set.address}/${set.prefixLength} via ${set.gateway} (${set.bridge})`);
      relay = await startRelay(set.relaySocket, options.xds[0]!, log);
      const every = (lease.lease?.renewEverySeconds ?? 30) * 1000;
      renewTimer = setInterval(() => {
        void callControl("POST", "/api/v1/addresses", { nodeId }, options.control).catch(() => undefined);
      }, every);
      renewTimer.unref();
    }
    const labels = {
      app: options.service,
      ...(options.version !== undefined ? { version: options.version } : {}),
      ...options.labels,
    };
    if (set !== undefined && interrupted === undefined && options.ports.length > 0) {
      const body: RegistrationBody = {
        service: options.service,
        namespace: options.namespace,
        labels,
        address: set.address,
        ...(options.serviceAccount !== undefined ? { serviceAccount: options.serviceAccount } : {}),
        nodeId,
        ports: options.ports.map((p) => ({
          name: p.name,
          number: p.appPort ?? p.servicePort,
          servicePort: p.servicePort,
          protocol: p.protocol,
        })),
      };
      registration = new Registration({ control: options.control, body, log });
      const id = await registration.register();
      if (id !== undefined) {
        set.instanceId = id;
        writeState(dir, set);
        log(`registered ${id}`);
      }
    }
    if (set !== undefined && interrupted === undefined) {
      const args = [
        "netns",
        "exec",
        set.name,
        "setpriv",
        `--regid=${SIDECAR_GID}`,
        "--clear-groups",
        "--pdeathsig",
        "KILL",
        "--",
        process.execPath,
        trellisBin(),
        "proxy",
        ...["--xds", `unix:${set.relaySocket}`, "--node-id", nodeId, "--namespace", options.namespace],
        ...(options.ports.length > 0 ? ["--service", options.service] : []),
        ...[
          "--labels",
          Object.entries(labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(","),
        ],
        ...["--admin-port", String(ADMIN_PORT), "--outbound-port", String(OUTBOUND_CAPTURE_PORT)],
        ...["--interception-mode", "REDIRECT", "--instance-ips", set.address],
        ...["--drain-timeout", String(options.drainTimeoutMs)],
        ...["--dns", `127.0.0.1:${DNS_CAPTURE_PORT}`],
        ...(upstreams.length > 0 ? ["--dns-upstream", upstreams.join(",")] : []),
      ];
      sidecar = spawn("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
      set.created.push("sidecar");
      writeState(dir, set);
      const last: string[] = [];
      const configured = new Promise<void>((resolve, reject) => {
        wake = resolve;
        let buffered = "";
        sidecar!.stderr!.setEncoding("utf8");
        sidecar!.stderr!.on("data", (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl).replace(/^trellis proxy: /, "");
            buffered = buffered.slice(nl + 1);
            last.push(line);
            if (last.length > 5) last.shift();
            if (line.startsWith("configured (")) resolve();
            if (!line.startsWith("xds: applied ")) log(`sidecar: ${line}`);
          }
        });
        sidecar!.once("exit", (code, signal) =>
          reject(
            new SidecarFailedError(signal !== null ? `was killed (${signal})` : `exited with status ${code}`, last),
          ),
        );
      });
      if (options.noWait !== true) await configured;
      else configured.catch(() => undefined);
      wake = undefined;
    }
    if (interrupted !== undefined || set === undefined) {
      await cleanUp();
      return 128 + (interrupted === undefined ? 0 : (constants.signals[interrupted] ?? 0));
    }
    await registration?.heartbeat();
    log(
      `sidecar ${options.noWait === true ? "not waited for (--no-wait)" : "ready"} (${set.address}` +
        options.ports.map((p) => `, ${p.name} ${p.servicePort}→${p.appPort ?? p.servicePort}`).join("") +
        `): starting ${options.command.join(" ")}`,
    );
  } catch (err) {
    await cleanUp();
    throw err;
  }

  const activeSet = set;
  const status = await new Promise<number>((resolve) => {
    const env: NodeJS.ProcessEnv = {
      ...(options.env ?? process.env),
      TRELLIS_NODE_ID: nodeId,
      TRELLIS_ADDRESS: activeSet.address,
    };
    delete env.PORT;
    if (options.ports.length > 0) env.PORT = String(options.ports[0]!.appPort ?? options.ports[0]!.servicePort);
    for (const p of options.ports) env[portVariable(p.name)] = String(p.appPort ?? p.servicePort);
    // Inside the namespace, and killed by the kernel when trellis run dies, even by SIGKILL (PR_SET_PDEATHSIG).
    child = spawn("ip", ["netns", "exec", activeSet.name, "setpriv", "--pdeathsig", "KILL", "--", ...options.command], {
      stdio: "inherit",
      env,
      detached: true,
    });
    activeSet.created.push("command");
    writeState(dir, activeSet);
    child.once("error", (err) => {
      log(new CommandStartError(options.command[0]!, err).message);
      resolve(127);
    });
    child.once("exit", (code, signal) => {
      resolve(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
    // A sidecar that dies leaves CMD without the mesh (its traffic captured to nothing): CMD is stopped.
    sidecar?.once("exit", (code, signal) => {
      if (!running(child)) return;
      log(
        `the sidecar ${signal !== null ? `was killed (${signal})` : `exited (${code})`}: stopping ${options.command[0]}`,
      );
      signalGroup(child, "SIGTERM");
    });
  });
  signalGroup(child, "SIGTERM");
  log(
    `${options.command[0]} exited with status ${status}: deregistering, draining the sidecar, removing ${activeSet.name}`,
  );
  await cleanUp();
  return status;
}

/** POST /api/v1/addresses, retried with backoff while the control plane is unreachable, until interrupted. */
async function leaseAddress(
  control: string,
  nodeId: string,
  log: (line: string) => void,
  interrupted: () => boolean,
  onWait: (wake: () => void) => void,
): Promise<Lease | undefined> {
  let delay = 250;
  for (;;) {
    if (interrupted()) return undefined;
    try {
      const reply = await callControl("POST", "/api/v1/addresses", { nodeId }, control);
      if (reply.status !== 200) throw new AddressLeaseError(errorsOf(reply.json, reply.status));
      return reply.json as unknown as Lease;
    } catch (err) {
      if (!(err instanceof ControlUnreachableError)) throw err;
      log(`${err.message}; retrying in ${delay} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        onWait(() => {
          clearTimeout(t);
          resolve();
        });
      });
      delay = Math.min(delay * 2, 5000);
    }
  }
}
