// `trellis gateway --name NAME [-n NS] [--labels k=v,…] [--port [NAME=]P[:LISTEN]]… [--xds …]`: an edge proxy (Istio's
// ingress or egress gateway) fed by the control plane. Its node is a router (`router~127.0.0.1~NAME-XXXX.NS~NS.svc.
// cluster.local`), with labels `istio=ingressgateway` unless --labels says otherwise, plus `app=NAME`; it gets the
// listeners of the Gateways whose selector matches those labels (control/translate/gateway.ts). Each --port maps a
// Gateway server port P to the port it binds on 127.0.0.1 (LISTEN, default P) and is registered as a port of service
// NAME (so mesh traffic can be sent to the gateway, and `get workloads` lists it); a server port with no --port binds
// its own number. SIGTERM/SIGINT deregister it and drain. docs/gateways.md.

import { randomBytes } from "node:crypto";
import { DEFAULT_DRAIN_TIMEOUT_MS } from "../api/bootstrap.ts";
import { TrellisError } from "../api/errors.ts";
import { controlUrl } from "./control-client.ts";
import type { RunProtocol } from "../run/ports.ts";
import { xdsServers } from "./run.ts";

/** The options main.ts's commander parses for this verb. */
export interface GatewayOptions {
  name?: string;
  namespace?: string;
  labels?: string;
  port?: string[];
  xds?: string;
  adminPort?: string;
  drainTimeout?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A usage error of `trellis gateway` (exit status 2). */
export class GatewayUsageError extends TrellisError {
  constructor(message: string) {
    super("TRELLIS_GATEWAY_USAGE", message);
  }
}

export interface GatewayPort {
  name: string;
  /** The Gateway server port (what `servers[].port.number` says, and the registered service port). */
  port: number;
  /** Where it listens on 127.0.0.1. */
  listen: number;
  /** Istio's protocol from the name's prefix (http, http2, grpc, https, tls, tcp); default HTTP. */
  protocol: RunProtocol;
}

const PROTOCOL_PREFIXES = ["http2", "https", "http", "grpc", "tls", "tcp"] as const;

/** `[NAME=]P[:LISTEN]`: NAME default http-P (https for 443), LISTEN default P. */
export function parseGatewayPort(value: string): GatewayPort {
  const m = /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)=)?(\d{1,5})(?::(\d{1,5}))?$/.exec(value);
  const usage = `--port expects [NAME=]PORT[:LISTEN] (e.g. http=80:8080), got "${value}"`;
  if (m === null) throw new GatewayUsageError(usage);
  const port = Number(m[3]);
  const listen = m[4] === undefined ? port : Number(m[4]);
  for (const n of [port, listen]) if (n < 1 || n > 65535) throw new GatewayUsageError(`${usage}: ports are 1-65535`);
  const name = m[1] ?? (port === 443 ? "https" : `http-${port}`);
  const prefix = PROTOCOL_PREFIXES.find((p) => name === p || name.startsWith(`${p}-`));
  return { name, port, listen, protocol: (prefix ?? "http").toUpperCase() as RunProtocol };
}

export function parseGatewayLabels(value: string | undefined, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of value ? value.split(",") : []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new GatewayUsageError(`--labels expects k=v[,k=v…], got "${pair}"`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  // Istio's default ingress gateway's labels, unless the user gives an `istio` label (istio=egressgateway…).
  return { ...(out.istio === undefined ? { istio: "ingressgateway" } : {}), app: name, ...out };
}

export async function runGateway(values: GatewayOptions): Promise<number> {
  const log = (line: string): void => void process.stderr.write(`trellis gateway: ${line}\n`);
  let name: string;
  let namespace: string;
  let labels: Record<string, string>;
  let ports: GatewayPort[];
  let xds: string[];
  let control: string;
  let adminPort = 0;
  let drainTimeoutMs = DEFAULT_DRAIN_TIMEOUT_MS;
  try {
    if (values.name === undefined || !DNS_LABEL.test(values.name))
      throw new GatewayUsageError(
        values.name === undefined
          ? "--name NAME is required"
          : `--name expects a DNS label (lower-case letters, digits, '-'), got "${values.name}"`,
      );
    name = values.name;
    namespace = values.namespace ?? "default";
    if (!DNS_LABEL.test(namespace)) throw new GatewayUsageError(`--namespace expects a DNS label, got "${namespace}"`);
    labels = parseGatewayLabels(values.labels, name);
    ports = (values.port ?? []).map(parseGatewayPort);
    const seen = new Set<number>();
    for (const p of ports) {
      if (seen.has(p.port)) throw new GatewayUsageError(`--port ${p.port} is given twice`);
      seen.add(p.port);
    }
    control = controlUrl();
    xds = xdsServers(values.xds, control);
    for (const s of xds)
      if (!/^[^\s:]+:\d{1,5}$/.test(s) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(s))
        throw new GatewayUsageError(`--xds expects HOST:PORT[,HOST:PORT…], got "${s}"`);
    if (values.adminPort !== undefined) {
      adminPort = Number(values.adminPort);
      if (!Number.isInteger(adminPort) || adminPort < 0 || adminPort > 65535)
        throw new GatewayUsageError(`--admin-port expects a port 0-65535, got "${values.adminPort}"`);
    }
    if (values.drainTimeout !== undefined) {
      drainTimeoutMs = Number(values.drainTimeout);
      if (!Number.isFinite(drainTimeoutMs) || drainTimeoutMs < 0)
        throw new GatewayUsageError(`--drain-timeout expects milliseconds ≥ 0, got "${values.drainTimeout}"`);
    }
  } catch (err) {
    if (!(err instanceof GatewayUsageError)) throw err;
    process.stderr.write(`trellis gateway: ${err.message}\n`);
    return 2;
  }

  const [{ Proxy }, { XdsClient }, { nodeFromIdentity }, { systemClock }, { Registration }] = await Promise.all([
    import("../proxy/server.ts"),
    import("../proxy/xds-client/client.ts"),
    import("../proxy/xds-client/node.ts"),
    import("../api/clock.ts"),
    import("../run/registration.ts"),
  ]);
  // Istio's router node id: TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local.
  const nodeId = `router~127.0.0.1~${name}-${randomBytes(3).toString("hex")}.${namespace}~${namespace}.svc.cluster.local`;
  const base = nodeFromIdentity({ nodeId, service: name, namespace, labels, instanceIps: ["127.0.0.1"] });
  const node = {
    ...base,
    metadata: {
      ...base.metadata,
      TRELLIS_NODE_TYPE: "router",
      TRELLIS_GATEWAY_ADDRESS: "127.0.0.1",
      TRELLIS_GATEWAY_PORTS: ports.map((p) => `${p.port}:${p.listen}`).join(","),
    },
  };
  const proxy = new Proxy(
    {
      node,
      admin: { accessLog: [], address: { address: "127.0.0.1", port: adminPort } },
      staticResources: { listeners: [], clusters: [] },
      drainTimeoutMs,
    },
    { source: `trellis gateway ${name}`, log: (line) => log(line) },
  );
  try {
    await proxy.start();
  } catch (err) {
    if (!(err instanceof TrellisError)) throw err;
    log(err.message);
    return 1;
  }
  const onUncaught = (err: Error, origin: string): void => proxy.unhandledError(err, origin);
  const onRejection = (reason: unknown): void => proxy.unhandledError(reason, "unhandledRejection");
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onRejection);

  // Registered as a workload of service NAME: `get workloads` lists it, and mesh traffic can be sent to it (egress).
  const registration = new Registration({
    control,
    body: {
      service: name,
      namespace,
      labels,
      address: "127.0.0.1",
      nodeId,
      ports: ports.map((p) => ({ name: p.name, number: p.listen, servicePort: p.port, protocol: p.protocol })),
    },
    log,
  });
  const client = new XdsClient({ servers: xds, node, target: proxy, clock: systemClock, log });
  let ready = false;
  client.onEvent((e) => {
    if (e.kind === "nack") log(`xds: configuration refused (${e.typeUrl.split(".").pop()}): ${e.message}`);
    if (e.kind === "ack" && !ready && client.version(TYPE_LISTENER) !== "") {
      ready = true;
      const bound = Object.entries(proxy.listenerAddresses())
        .map(([n, a]) => `${n}=${a.address}:${a.port}`)
        .join(" ");
      log(`ready (${bound === "" ? "no listeners: no Gateway selects this gateway yet" : bound})`);
    }
  });
  client.start();
  log(
    `node ${nodeId} (labels ${Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",")}; admin 127.0.0.1:${proxy.adminPort ?? "-"}; xds ${xds.join(",")})`,
  );
  // The registry wants at least one port: a gateway without --port serves its Gateways but is not registered.
  if (ports.length > 0)
    void registration.register().then(
      (id) => {
        if (id !== undefined) log(`registered ${id}`);
      },
      (err: unknown) => log(err instanceof Error ? err.message : String(err)),
    );
  else log("not registered: no --port given (get workloads lists a gateway by its ports); proxy-status shows it");

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: deregistering and draining (up to ${drainTimeoutMs} ms)`);
      void (async () => {
        await registration.deregister();
        client.stop();
        await proxy.shutdown();
        process.off("uncaughtException", onUncaught);
        process.off("unhandledRejection", onRejection);
        resolve(0);
      })();
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}

const TYPE_LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener";
