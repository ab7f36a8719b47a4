// `trellis run` in explicit mode: CMD with a sidecar beside it, in the mesh for as long as it lives.
//
//   1. free ports: the sidecar's outbound listener, one inbound port per --port, the application's ports not fixed
//   2. the sidecar (Proxy, in this process) starts empty; the instance is registered (127.0.0.1, each port with its
//      sidecarPort and servicePort); the xDS client feeds the sidecar
//   3. CMD starts only once the sidecar holds its first configuration: its outbound listener and each inbound
//      listener bound, its routes applied
//   4. CMD gets PORT, TRELLIS_PORT_<NAME>, HTTP_PROXY/http_proxy (the outbound listener) and NO_PROXY; it runs in
//      its own process group, to which SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed
//   5. CMD exits: the instance is deregistered, the sidecar drains and stops, and the status is CMD's (a signal n
//      gives 128+n, as shells report it)

import { spawn } from "node:child_process";
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { constants } from "node:os";
import { systemClock } from "../api/clock.ts";
import { TrellisError } from "../api/errors.ts";
import { TYPE_URL } from "../api/xds/wire/codec.ts";
import { Proxy } from "../proxy/server.ts";
import { XdsClient } from "../proxy/xds-client/client.ts";
import { nodeFromIdentity } from "../proxy/xds-client/node.ts";
import { outboundVariable, portVariable, type RunOutbound, type RunPort } from "./ports.ts";
import { Registration, type RegistrationBody } from "./registration.ts";
import { assertAppPortsFree } from "./port-check.ts";

export interface RunOptions {
  service: string;
  namespace: string;
  version: string | undefined;
  labels: Record<string, string>;
  ports: readonly RunPort[];
  /** --outbound: declared TCP destinations, each given a local port on the sidecar. */
  outbounds?: readonly RunOutbound[];
  /** Registered with the instance (default "default"). */
  serviceAccount?: string;
  /** --no-wait: CMD starts at once, before the sidecar holds its configuration. */
  noWait?: boolean;
  command: readonly string[];
  /** The control plane's HTTP API (registry). */
  control: string;
  /** Its ADS servers, HOST:PORT. */
  xds: readonly string[];
  drainTimeoutMs: number;
  log: (line: string) => void;
  /** The environment CMD inherits (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** CMD could not be started (not found, not executable): exit status 127, as a shell says it. */
export class CommandStartError extends TrellisError {
  constructor(command: string, cause: Error) {
    super("TRELLIS_RUN_COMMAND_FAILED", `cannot start ${command}: ${cause.message}`, { cause });
  }
}

/** An --outbound destination no cluster of the mesh serves: the run stops before CMD starts (status 1). */
export class UnknownOutboundError extends TrellisError {
  constructor(
    readonly outbound: RunOutbound,
    readonly cluster: string,
    known: readonly string[],
  ) {
    super(
      "TRELLIS_RUN_UNKNOWN_OUTBOUND",
      `--outbound "${outbound.spec}": no service ${cluster.split("|")[3]} with port ${outbound.port} in the mesh ` +
        `(expected cluster ${cluster})` +
        (known.length > 0 ? `; that host has ports ${known.join(", ")}` : ""),
    );
  }
}

export const CLUSTER_DOMAIN = "svc.cluster.local";

/**
 * The service an --outbound host names, as a mesh workload's DNS search path reads it: `redis` in the run's
 * namespace, `redis.default` and `redis.default.svc` under svc.cluster.local; a name of three labels or more (a
 * ServiceEntry's host, an FQDN) as written.
 */
export function outboundFqdn(host: string, namespace: string): string {
  const labels = host.split(".");
  if (labels.length === 1) return `${host}.${namespace}.${CLUSTER_DOMAIN}`;
  if (labels.length === 2) return `${host}.${CLUSTER_DOMAIN}`;
  if (labels.length === 3 && labels[2] === "svc") return `${host}.cluster.local`;
  return host;
}

/** The translation's outbound cluster of a service port. */
export const outboundCluster = (fqdn: string, port: number): string => `outbound|${port}||${fqdn}`;

/** `count` distinct free ports on 127.0.0.1, held together while they are chosen. */
export async function freeLocalPorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
      });
      servers.push(server);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/** What the run set up, for the environment and for tests. */
export interface RunLayout {
  nodeId: string;
  outboundPort: number;
  ports: { port: RunPort; appPort: number; sidecarPort: number }[];
  outbounds: { outbound: RunOutbound; cluster: string; localPort: number }[];
}

export function commandEnv(base: NodeJS.ProcessEnv, layout: RunLayout): NodeJS.ProcessEnv {
  const proxy = `http://127.0.0.1:${layout.outboundPort}`;
  const env: NodeJS.ProcessEnv = {
    ...base,
    HTTP_PROXY: proxy,
    http_proxy: proxy,
    // https:// URLs and tunnels go to the same listener, as CONNECT.
    HTTPS_PROXY: proxy,
    https_proxy: proxy,
    NO_PROXY: "localhost,127.0.0.1",
    no_proxy: "localhost,127.0.0.1",
    TRELLIS_NODE_ID: layout.nodeId,
  };
  delete env.PORT;
  if (layout.ports.length > 0) env.PORT = String(layout.ports[0]!.appPort);
  for (const p of layout.ports) env[portVariable(p.port.name)] = String(p.appPort);
  for (const o of layout.outbounds) {
    env[outboundVariable(o.outbound)] = String(o.localPort);
    env[`${outboundVariable(o.outbound)}_ADDR`] = `127.0.0.1:${o.localPort}`;
  }
  return env;
}

/**
 * The listener of an --outbound: sent by the control plane (src/control/translate/run-outbound.ts, from the node
 * metadata TRELLIS_RUN_OUTBOUNDS), so that it routes with the service's tcp routes (weights, subsets).
 */
export const outboundListenerName = (o: RunLayout["outbounds"][number]): string =>
  `run-outbound-${o.cluster.split("|")[3]!}-${o.outbound.port}`;

/** Passed on to CMD's process group while it runs; before, they stop the start. */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

/** A signal to CMD's process group (CMD leads it: detached); a group already gone is fine. */
function signalGroup(child: ReturnType<typeof spawn>, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: nothing left in the group.
  }
}

/**
 * CMD under `setpriv --pdeathsig KILL` (util-linux; Linux's PR_SET_PDEATHSIG, which Node cannot set between fork and
 * exec), so that it dies with trellis run whatever ends it. Left as it is where setpriv is missing (not Linux) or
 * CMD cannot be found or executed: spawning it directly then reports why, as before.
 */
export function parentDeathSignal(command: readonly string[], env: NodeJS.ProcessEnv): string[] {
  if (process.platform !== "linux") return [...command];
  const executable = (file: string): boolean => {
    try {
      accessSync(file, fsConstants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  };
  const find = (name: string): string | undefined =>
    name.includes("/")
      ? executable(name)
        ? name
        : undefined
      : (env.PATH ?? "")
          .split(":")
          .filter(Boolean)
          .map((dir) => join(dir, name))
          .find(executable);
  const setpriv = find("setpriv") ?? ["/usr/bin/setpriv", "/bin/setpriv"].find(executable);
  if (setpriv === undefined || find(command[0]!) === undefined) return [...command];
  return [setpriv, "--pdeathsig", "KILL", "--", ...command];
}

/** Resolves with CMD's exit status (or 127 when it could not start, 1 when the sidecar could not). */
export async function runWithSidecar(options: RunOptions): Promise<number> {
  const { log } = options;
  const outbounds = options.outbounds ?? [];
  await assertAppPortsFree(options.ports); // before anything is registered or started (port-check.ts)
  const free = await freeLocalPorts(1 + options.ports.length * 2 + outbounds.length);
  const firstOutbound = 1 + options.ports.length * 2;
  const layout: RunLayout = {
    nodeId: `${options.service}-${randomBytes(4).toString("hex")}.${options.namespace}`,
    outboundPort: free[0]!,
    ports: options.ports.map((port, i) => ({
      port,
      sidecarPort: free[1 + 2 * i]!,
      appPort: port.appPort ?? free[2 + 2 * i]!,
    })),
    outbounds: outbounds.map((outbound, i) => ({
      outbound,
      cluster: outboundCluster(outboundFqdn(outbound.host, options.namespace), outbound.port),
      localPort: free[firstOutbound + i]!,
    })),
  };
  const labels = {
    app: options.service,
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...options.labels,
  };
  // A process with no port is a pure client: not registered, so its sidecar is not told it serves anything.
  const serves = layout.ports.length > 0;
  const node = nodeFromIdentity({
    nodeId: layout.nodeId,
    ...(serves ? { service: options.service } : {}),
    namespace: options.namespace,
    labels,
    instanceIps: ["127.0.0.1"],
    outboundPort: layout.outboundPort,
    // TCP destinations are bound by this sidecar on free ports (--outbound), not by port number on 127.0.0.1, where
    // they would collide with every other sidecar and process on the machine.
    tcpOutboundListeners: false,
    // CMD calls through HTTP_PROXY: the outbound listener takes CONNECT too.
    httpProxy: true,
    // Each --outbound: a tcp_proxy listener on its local port, sent by the control plane with the service's tcp
    // routes (its weighted clusters and subsets, or the service's cluster as a whole).
    runOutbounds: layout.outbounds.map((o) => ({
      host: o.cluster.split("|")[3]!,
      port: o.outbound.port,
      localPort: o.localPort,
    })),
  });
  const proxy = new Proxy(
    {
      node,
      admin: undefined,
      // The --outbound listeners come by xDS (runOutbounds above).
      staticResources: { listeners: [], clusters: [] },
      drainTimeoutMs: options.drainTimeoutMs,
    },
    { source: `trellis run ${options.service}`, log: (line) => log(`sidecar: ${line}`) },
  );
  await proxy.start();

  let registration: Registration | undefined;
  let client: XdsClient | undefined;
  // Signals that arrive before CMD runs stop the start; after, they are CMD's.
  let child: ReturnType<typeof spawn> | undefined;
  let interrupted: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      signalGroup(child, signal);
      return;
    }
    if (interrupted === undefined) log(`${signal}: stopping before ${options.command[0]} started`);
    interrupted ??= signal;
    wake?.();
    void registration?.deregister();
  };
  const handlers = FORWARDED_SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  // Any exit of this process but SIGKILL (which nothing can catch: the lease is then the fallback) ends CMD's group.
  const onExit = (): void => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) signalGroup(child, "SIGKILL");
  };
  process.on("exit", onExit);
  // The last line, as `trellis proxy` has it (listener/guard.ts): what no handler caught is counted and logged, and
  // the sidecar keeps serving CMD; a crash here would leave CMD running outside the mesh.
  const onUncaught = (err: Error, origin: string): void => proxy.unhandledError(err, origin);
  const onRejection = (reason: unknown): void => proxy.unhandledError(reason, "unhandledRejection");
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onRejection);

  const cleanUp = async (): Promise<void> => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    process.off("exit", onExit);
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onRejection);
    await registration?.deregister();
    client?.stop();
    await proxy.shutdown();
  };

  try {
    if (serves) {
      const body: RegistrationBody = {
        service: options.service,
        namespace: options.namespace,
        labels,
        address: "127.0.0.1",
        ...(options.serviceAccount !== undefined ? { serviceAccount: options.serviceAccount } : {}),
        nodeId: layout.nodeId,
        ports: layout.ports.map((p) => ({
          name: p.port.name,
          number: p.appPort,
          servicePort: p.port.servicePort,
          protocol: p.port.protocol,
          sidecarPort: p.sidecarPort,
        })),
      };
      registration = new Registration({ control: options.control, body, log });
      const id = await registration.register();
      if (id !== undefined) log(`registered ${id}`);
    }
    if (interrupted === undefined) {
      client = new XdsClient({
        servers: [...options.xds],
        node,
        target: proxy,
        clock: systemClock,
        log,
      });
      const ready = (): boolean => {
        const bound = proxy.listenerAddresses();
        return (
          client!.version(TYPE_URL.routeConfiguration) !== "" &&
          bound["outbound-http"] !== undefined &&
          layout.ports.every((p) => bound[`inbound-${p.sidecarPort}`] !== undefined) &&
          // Each --outbound's listener, unless its service is unknown (no cluster: reported below, nothing starts).
          layout.outbounds.every(
            (o) => bound[outboundListenerName(o)] !== undefined || proxy.cluster(o.cluster) === undefined,
          )
        );
      };
      const configured = new Promise<void>((resolve) => {
        wake = resolve;
        client!.onEvent((e) => {
          if (e.kind === "nack") log(`xds: configuration refused (${e.typeUrl.split(".").pop()}): ${e.message}`);
          if (ready()) resolve();
        });
        client!.start();
      });
      if (options.noWait === true) {
        // CMD starts now; the heartbeat that makes the instance healthy follows the first configuration.
        void configured.then(async () => {
          if (interrupted !== undefined || !ready()) return;
          await registration?.heartbeat();
          log(`sidecar ready (outbound 127.0.0.1:${layout.outboundPort})`);
        });
      } else {
        await configured;
        wake = undefined;
      }
    }
    if (interrupted !== undefined) {
      await cleanUp();
      return 128 + (constants.signals[interrupted] ?? 0);
    }
    if (options.noWait !== true) {
      // Each --outbound names a service the configuration has (its cluster came with it), else nothing starts.
      for (const o of layout.outbounds)
        if (proxy.cluster(o.cluster) === undefined) {
          const fqdn = o.cluster.split("|")[3]!;
          const known = proxy
            .clusters()
            .map((c) => c.name.split("|"))
            .filter((parts) => parts[0] === "outbound" && parts[3] === fqdn)
            .map((parts) => parts[1]!);
          throw new UnknownOutboundError(o.outbound, o.cluster, known);
        }
      // The control plane probes the sidecar's ports on a heartbeat: they accept now, so the instance is healthy.
      await registration?.heartbeat();
    }
    log(
      `sidecar ${options.noWait === true ? "not waited for (--no-wait)" : "ready"} (outbound 127.0.0.1:${layout.outboundPort}` +
        layout.ports.map((p) => `, ${p.port.name} ${p.sidecarPort}→${p.appPort}`).join("") +
        layout.outbounds.map((o) => `, ${o.outbound.host}:${o.outbound.port} at 127.0.0.1:${o.localPort}`).join("") +
        `): starting ${options.command.join(" ")}`,
    );
  } catch (err) {
    await cleanUp();
    throw err;
  }

  const status = await new Promise<number>((resolve) => {
    const [file, ...args] = options.command;
    // Its own process group (and session): a terminal's Ctrl-C reaches trellis run's group only, and is passed on
    // once, to CMD's whole group.
    const env = commandEnv(options.env ?? process.env, layout);
    // Through setpriv --pdeathsig KILL where it can be: the kernel kills CMD when trellis run dies, even by SIGKILL.
    const [command, ...commandArgs] = parentDeathSignal([file!, ...args], env);
    child = spawn(command!, commandArgs, { stdio: "inherit", env, detached: true });
    child.once("error", (err) => {
      log(new CommandStartError(options.command[0]!, err).message);
      resolve(127);
    });
    child.once("exit", (code, signal) => {
      resolve(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
  // What CMD left running in its group (a background job of a shell script) is outside the mesh once the sidecar
  // stops: ended too.
  if (child !== undefined) signalGroup(child, "SIGTERM");
  log(`${options.command[0]} exited with status ${status}: deregistering and draining the sidecar`);
  await cleanUp();
  return status;
}
