// `trellis proxy --bootstrap FILE` and/or `trellis proxy --xds HOST:PORT[,…] --node-id ID`: a sidecar from a static
// bootstrap, fed by a control plane, or both (the bootstrap's static resources plus xDS). A bad file or flag is
// reported (the path, the field and what was expected) and the process exits 1 or 2 before binding any port.
// SIGTERM/SIGINT drain gracefully.

import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { DEFAULT_DRAIN_TIMEOUT_MS } from "../api/bootstrap.ts";
import { systemClock } from "../api/clock.ts";
import { ConfigError, TrellisError } from "../api/errors.ts";
import type { Bootstrap } from "../api/xds/types.ts";
import { loadBootstrap } from "../proxy/config/load-bootstrap.ts";
import { Proxy } from "../proxy/server.ts";
import type { XdsClient, XdsProtocolName } from "../proxy/xds-client/client.ts";
import type { DnsProxy } from "../proxy/dns/server.ts";
import { DnsUpstreamError, parseUpstreams, resolvConfUpstreams, type Upstream } from "../proxy/dns/upstream.ts";

const ADMIN_PORT = 15000;

class UsageError extends Error {}

function port(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`${flag} expects a port 0-65535, got "${value}"`);
  return n;
}

function labels(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of value ? value.split(",") : []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--labels expects k=v[,k=v…], got "${pair}"`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

/** HOST:PORT, [IPv6]:PORT, or unix:PATH (a Unix socket, as gRPC names it: trellis run --transparent relays one). */
export function xdsServerValid(s: string): boolean {
  return /^[^\s:]+:\d{1,5}$/.test(s) || /^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(s) || /^unix:\/\S+$/.test(s);
}

function servers(value: string): string[] {
  const list = value.split(",").map((s) => s.trim());
  for (const s of list)
    if (!xdsServerValid(s)) throw new UsageError(`--xds expects HOST:PORT[,HOST:PORT…] or unix:/PATH, got "${s}"`);
  return list;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** The machine's non-internal IPv4 addresses (INSTANCE_IPS), else loopback. */
function instanceIps(): string[] {
  const ips = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === "IPv4" && !a.internal)
    .map((a) => a!.address);
  return ips.length > 0 ? ips : ["127.0.0.1"];
}

function dnsHostPort(a: { address: string; port: number }): string {
  return a.address.includes(":") ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** The options main.ts's commander parses for this verb. */
export interface ProxyOptions {
  bootstrap?: string;
  drainTimeout?: string;
  xds?: string;
  nodeId?: string;
  service?: string;
  namespace?: string;
  labels?: string;
  locality?: string;
  /** IP:PORT of the sidecar's DNS proxy (docs/dns.md), its upstream resolvers and their timeout. */
  dns?: string;
  dnsUpstream?: string;
  dnsTimeout?: string;
  adminPort?: string;
  outboundPort?: string;
  xdsProtocol?: string;
  /** REDIRECT: the workload's traffic is captured into this sidecar (INTERCEPTION_MODE). */
  interceptionMode?: string;
  /** The workload's addresses (INSTANCE_IPS), instead of the machine's. */
  instanceIps?: string;
}

/** --dns IP:PORT (IPv6 as [IP]:PORT; port 0: any free port). */
function dnsAddress(value: string): { address: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(value) ?? /^([0-9.]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || isIP(m[1]!) === 0 || port > 65535)
    throw new UsageError(`--dns expects IP:PORT (e.g. 127.0.0.1:15053, [::1]:15053), got "${value}"`);
  return { address: m[1]!, port };
}

export async function runProxy(values: ProxyOptions): Promise<number> {
  const file = values.bootstrap;
  if (!file && !values.xds) {
    process.stderr.write("trellis proxy: --bootstrap FILE or --xds HOST:PORT[,HOST:PORT…] is required\n");
    return 2;
  }
  let xdsServers: string[] | undefined;
  let adminPort: number | undefined;
  let dns: { address: string; port: number } | undefined;
  let dnsUpstreams: Upstream[] | undefined;
  let dnsTimeoutMs: number | undefined;
  let outboundPort: number | undefined;
  let workloadLabels: Record<string, string>;
  let drainTimeoutMs: number | undefined;
  let xdsProtocol: XdsProtocolName = "delta";
  let ips: string[] | undefined;
  try {
    if (values.interceptionMode !== undefined && values.interceptionMode !== "REDIRECT")
      throw new UsageError(
        `--interception-mode expects REDIRECT, got "${values.interceptionMode}"` +
          (values.interceptionMode === "TPROXY" ? " (TPROXY is not supported)" : ""),
      );
    if (values.instanceIps !== undefined) {
      ips = values.instanceIps.split(",").map((s) => s.trim());
      for (const ip of ips)
        if (!IPV4.test(ip)) throw new UsageError(`--instance-ips expects IPv4 addresses, comma-separated, got "${ip}"`);
    }
    if (values.xds !== undefined) {
      xdsServers = servers(values.xds);
      if (!values.nodeId) throw new UsageError("--xds needs --node-id ID (unique per sidecar)");
    }
    if (values.xdsProtocol !== undefined) {
      const p = values.xdsProtocol;
      if (p !== "delta" && p !== "sotw") throw new UsageError(`--xds-protocol expects delta or sotw, got "${p}"`);
      xdsProtocol = p;
    }
    adminPort = port("--admin-port", values.adminPort);
    outboundPort = port("--outbound-port", values.outboundPort);
    workloadLabels = labels(values.labels);
    if (values.locality !== undefined && (values.locality === "" || values.locality.split("/").length > 3))
      throw new UsageError(`--locality expects REGION[/ZONE[/SUBZONE]], got "${values.locality}"`);
    if (values.drainTimeout !== undefined) {
      const ms = Number(values.drainTimeout);
      if (!Number.isFinite(ms) || ms < 0)
        throw new UsageError(`--drain-timeout expects milliseconds ≥ 0, got "${values.drainTimeout}"`);
      drainTimeoutMs = ms;
    }
    if (values.dns !== undefined) dns = dnsAddress(values.dns);
    if (values.dnsUpstream !== undefined || values.dnsTimeout !== undefined) {
      if (dns === undefined) throw new UsageError("--dns-upstream and --dns-timeout need --dns IP:PORT");
    }
    if (values.dnsUpstream !== undefined) {
      try {
        dnsUpstreams = parseUpstreams(values.dnsUpstream);
      } catch (err) {
        if (err instanceof DnsUpstreamError) throw new UsageError(`--dns-upstream ${err.message}`);
        throw err;
      }
    }
    if (values.dnsTimeout !== undefined) {
      const ms = Number(values.dnsTimeout);
      if (!Number.isFinite(ms) || ms <= 0)
        throw new UsageError(`--dns-timeout expects milliseconds > 0, got "${values.dnsTimeout}"`);
      dnsTimeoutMs = ms;
    }
  } catch (err) {
    process.stderr.write(`trellis proxy: ${(err as Error).message}\n`);
    return 2;
  }
  let bootstrap: Bootstrap;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      process.stderr.write(`trellis proxy: cannot read bootstrap ${file}: ${(err as Error).message}\n`);
      return 1;
    }
    try {
      bootstrap = loadBootstrap(text, file);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`trellis proxy: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  } else {
    bootstrap = {
      node: { id: "", cluster: "", metadata: {} },
      admin: undefined,
      staticResources: { listeners: [], clusters: [] },
      drainTimeoutMs: DEFAULT_DRAIN_TIMEOUT_MS,
    };
  }
  if (drainTimeoutMs !== undefined) bootstrap.drainTimeoutMs = drainTimeoutMs;
  if (xdsServers !== undefined) {
    // The flags say who this sidecar is; metadata the bootstrap adds is kept unless a flag sets the same key.
    // The xDS client (gRPC, the protos) is loaded only by sidecars that use it.
    const { nodeFromIdentity } = await import("../proxy/xds-client/node.ts");
    const node = nodeFromIdentity({
      nodeId: values.nodeId!,
      service: values.service,
      ...(dns !== undefined ? { dnsCapture: true } : {}),
      namespace: values.namespace,
      labels: workloadLabels,
      ...(values.locality !== undefined ? { locality: values.locality } : {}),
      instanceIps: ips ?? instanceIps(),
      outboundPort,
      ...(values.interceptionMode === "REDIRECT" ? { interceptionMode: "REDIRECT" as const } : {}),
    });
    bootstrap.node = { ...node, metadata: { ...bootstrap.node.metadata, ...node.metadata } };
    // The flag sets the admin port; the bootstrap's admin access log, if any, stays.
    if (bootstrap.admin === undefined || adminPort !== undefined)
      bootstrap.admin = {
        accessLog: [],
        ...bootstrap.admin,
        address: { address: "127.0.0.1", port: adminPort ?? ADMIN_PORT },
      };
  } else if (adminPort !== undefined)
    bootstrap.admin = { accessLog: [], ...bootstrap.admin, address: { address: "127.0.0.1", port: adminPort } };
  if (xdsServers === undefined && bootstrap.dynamicResources !== undefined) {
    // dynamic_resources: the bootstrap names the control plane (a static cluster) and says who this proxy is.
    xdsServers = bootstrap.dynamicResources.servers;
    xdsProtocol = bootstrap.dynamicResources.protocol;
  }

  let proxy: Proxy;
  try {
    proxy = new Proxy(bootstrap, { source: file ?? `xds ${values.xds}`, onQuit: () => process.exit(0) });
    // The last line (listener/guard.ts): what no handler caught is counted (server.unhandled_errors) and logged,
    // and the sidecar keeps serving. No input may end the process.
    const lastLine = proxy;
    process.on("uncaughtException", (err, origin) => lastLine.unhandledError(err, origin));
    process.on("unhandledRejection", (reason) => lastLine.unhandledError(reason, "unhandledRejection"));
    // Our log's reader going away (EPIPE on stderr) is nothing to report, and nowhere to report it.
    process.stderr.on("error", () => {});
    await proxy.start();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof TrellisError) {
      process.stderr.write(`trellis proxy: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  let dnsProxy: DnsProxy | undefined;
  if (dns !== undefined) {
    // The sidecar's DNS proxy (docs/dns.md): mesh names from the control plane's NameTable, the rest forwarded to
    // --dns-upstream or the nameservers of /etc/resolv.conf (never to itself).
    const { DnsProxy } = await import("../proxy/dns/server.ts");
    const { LookupTable } = await import("../proxy/dns/table.ts");
    const own = dns;
    const upstreams = (dnsUpstreams ?? resolvConfUpstreams()).filter(
      (u) => !(u.host === own.address && u.port === own.port),
    );
    if (upstreams.length === 0)
      process.stderr.write("trellis proxy: dns: no upstream resolver: names outside the mesh answer SERVFAIL\n");
    const namespace = values.namespace ?? "default";
    dnsProxy = new DnsProxy({
      address: dns.address,
      port: dns.port,
      namespace,
      upstreams,
      stats: proxy.stats,
      ...(dnsTimeoutMs !== undefined ? { timeoutMs: dnsTimeoutMs } : {}),
      // Fed by xDS: SERVFAIL until the first NameTable (as Istio's agent). A static proxy forwards everything.
      ...(xdsServers === undefined ? { table: LookupTable.empty({ namespace }) } : {}),
      log: (line) => process.stderr.write(`trellis proxy: ${line}\n`),
    });
    try {
      await dnsProxy.start();
    } catch (err) {
      process.stderr.write(`trellis proxy: dns: cannot bind ${values.dns}: ${(err as Error).message}\n`);
      await proxy.shutdown(0);
      return 1;
    }
  }
  let client: XdsClient | undefined;
  if (xdsServers !== undefined) {
    const { XdsClient } = await import("../proxy/xds-client/client.ts");
    const sink = dnsProxy;
    client = new XdsClient({
      servers: xdsServers,
      node: bootstrap.node,
      target: proxy,
      ...(sink !== undefined ? { nameTable: (_v, resources) => sink.applyNameTable(resources) } : {}),
      clock: systemClock,
      protocol: xdsProtocol,
      log: (line) => process.stderr.write(`trellis proxy: ${line}\n`),
    });
    const { TYPE_URL } = await import("../api/xds/wire/codec.ts");
    let configured = false;
    const xds = client;
    client.onEvent((e) => {
      if (e.kind === "ack")
        process.stderr.write(`trellis proxy: xds: applied ${e.typeUrl.split(".").pop()} version ${e.versionInfo}\n`);
      // One line once the first listeners and clusters are applied: what `trellis run --transparent` waits for.
      if (!configured && xds.version(TYPE_URL.listener) !== "" && xds.version(TYPE_URL.cluster) !== "") {
        configured = true;
        const bound = Object.entries(proxy.listenerAddresses())
          .map(([name, a]) => `${name}=${a.address}:${a.port}`)
          .join(" ");
        process.stderr.write(`trellis proxy: configured (${bound})\n`);
      }
    });
    client.start();
  }
  const addresses = Object.entries(proxy.listenerAddresses())
    .map(([name, a]) => `${name}=${a.address}:${a.port}`)
    .join(" ");
  process.stderr.write(
    `trellis proxy: live (${addresses}${proxy.adminPort !== undefined ? ` admin=${proxy.adminPort}` : ""}` +
      `${xdsServers ? ` xds=${xdsServers.join(",")}` : ""}` +
      `${dnsProxy ? ` dns=${dnsHostPort(dnsProxy.address)}` : ""})\n`,
  );
  return new Promise<number>((resolve) => {
    // The handlers stay installed for the whole drain: a signal without a handler takes Node's default action and
    // would end the process mid-drain. A repeated signal is reported and changes nothing (the drain timeout bounds
    // the wait); the exit status is 0 once the drain is done and the access logs are flushed and closed.
    let draining = false;
    const stop = (signal: string): void => {
      if (draining) {
        process.stderr.write(`trellis proxy: ${signal}: already draining\n`);
        return;
      }
      draining = true;
      process.stderr.write(`trellis proxy: ${signal}: draining (up to ${proxy.bootstrap.drainTimeoutMs} ms)\n`);
      client?.stop();
      void dnsProxy?.close();
      void proxy.shutdown().then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`trellis proxy: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}
