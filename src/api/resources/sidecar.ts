// Sidecar (networking.istio.io): what one workload's proxy may reach (egress hosts, `namespace/host`), what it
// accepts (ingress ports) and what happens to traffic for unknown hosts (outboundTrafficPolicy).

import { isIP } from "node:net";
import type { SidecarPort, SidecarSpec } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import type { Item } from "./fields.ts";
import {
  isDns1123Label,
  readDestination,
  readHosts,
  readPortNumber,
  readProtocol,
  readWorkloadSelector,
  MAX_PORT,
} from "./common.ts";
import { readConnectionPool, assign } from "./traffic-policy.ts";
import { describe } from "../xds/parse/context.ts";

const SPEC = { known: ["workloadSelector", "ingress", "egress", "outboundTrafficPolicy", "inboundConnectionPool"] };
const CAPTURE_MODES = ["DEFAULT", "IPTABLES", "NONE"] as const;

export function readSidecarSpec(ctx: ResourceContext, raw: unknown, path: string): SidecarSpec {
  const f = SpecFields.open(ctx, raw, path, SPEC);
  const spec: SidecarSpec = {
    ingress: f.list("ingress").map((item) => {
      const i = SpecFields.open(ctx, item.value, item.path, {
        known: ["port", "bind", "captureMode", "defaultEndpoint", "connectionPool"],
        refused: { tls: "ingress tls (terminating TLS at the sidecar) is not supported" },
      });
      const port = i.require("port")
        ? readSidecarPort(ctx, { value: i.raw("port"), path: i.at("port") })
        : { number: 0 };
      const ingress: SidecarSpec["ingress"][number] = { port };
      assign(ingress, "bind", readBind(i));
      assign(ingress, "captureMode", i.enumValue("captureMode", CAPTURE_MODES));
      const defaultEndpoint = i.string("defaultEndpoint");
      if (defaultEndpoint !== undefined) {
        const parsed = parseDefaultEndpoint(defaultEndpoint);
        if (typeof parsed === "string") i.error("defaultEndpoint", parsed);
        else ingress.defaultEndpoint = defaultEndpoint;
      }
      if (i.has("connectionPool"))
        ingress.connectionPool = readConnectionPool(ctx, i.raw("connectionPool"), i.at("connectionPool"));
      return ingress;
    }),
    egress: f.list("egress").map((item) => {
      const e = SpecFields.open(ctx, item.value, item.path, { known: ["port", "bind", "captureMode", "hosts"] });
      const hosts = readHosts(e, "hosts", true, true);
      hosts.forEach((host, i) => {
        if (!host.includes("/"))
          e.ctx.error(
            `${e.at("hosts")}[${i}]`,
            `expected "namespace/host" (like "./*" or "istio-system/*"), got ${describe(host)}`,
          );
      });
      const egress: SidecarSpec["egress"][number] = { hosts };
      if (e.has("port")) egress.port = readSidecarPort(ctx, { value: e.raw("port"), path: e.at("port") });
      assign(egress, "bind", readBind(e));
      assign(egress, "captureMode", e.enumValue("captureMode", CAPTURE_MODES));
      return egress;
    }),
  };
  if (f.has("workloadSelector"))
    spec.workloadSelector = readWorkloadSelector(ctx, f.raw("workloadSelector"), f.at("workloadSelector"));
  if (f.has("outboundTrafficPolicy")) {
    const o = f.message("outboundTrafficPolicy", { known: ["mode", "egressProxy"] });
    // An unset mode is the proto's first value, REGISTRY_ONLY (as Istio reads it), not the mesh's default.
    spec.outboundTrafficPolicy = {
      mode: o.enumValue("mode", ["REGISTRY_ONLY", "ALLOW_ANY"] as const) ?? "REGISTRY_ONLY",
    };
    if (o.has("egressProxy")) {
      const egressProxy = readDestination(ctx, o.raw("egressProxy"), o.at("egressProxy"));
      spec.outboundTrafficPolicy.egressProxy = egressProxy;
      // Istio's rules: only unknown traffic that would pass through can go to an egress proxy, at a known port.
      if (spec.outboundTrafficPolicy.mode !== "ALLOW_ANY")
        o.error("egressProxy", "egressProxy may only be set with mode ALLOW_ANY");
      else if (egressProxy.port === undefined) o.error("egressProxy.port", "required: the egress proxy's port");
    }
  }
  if (f.has("inboundConnectionPool")) {
    spec.inboundConnectionPool = readConnectionPool(ctx, f.raw("inboundConnectionPool"), f.at("inboundConnectionPool"));
  }
  // Istio: "sidecar: empty configuration provided" — a Sidecar must say something besides whom it selects.
  const said = ["egress", "ingress", "outboundTrafficPolicy", "inboundConnectionPool"];
  if (
    !f.broken &&
    spec.egress.length === 0 &&
    spec.ingress.length === 0 &&
    !f.has("outboundTrafficPolicy") &&
    !f.has("inboundConnectionPool")
  )
    ctx.error(f.path, `empty configuration: expected at least one of ${said.join(", ")}`);
  const ingressPorts = new Set<string>();
  spec.ingress.forEach((ingress, n) => {
    const key = `${ingress.bind ?? ""}:${ingress.port.number}`;
    if (ingress.port.number !== 0 && ingressPorts.has(key))
      ctx.error(
        `${f.at("ingress")}[${n}].port.number`,
        `port ${ingress.port.number} is already used by another ingress`,
      );
    ingressPorts.add(key);
  });
  const catchAll = spec.egress.filter((e) => e.port === undefined).length;
  if (catchAll > 1) f.error("egress", "at most one egress listener may omit its port (the catch-all)");
  else if (catchAll === 1 && spec.egress[spec.egress.length - 1]!.port !== undefined)
    f.error("egress", "the egress listener without a port (the catch-all) must be the last");
  const egressPorts = new Set<number>();
  spec.egress.forEach((egress, n) => {
    const number = egress.port?.number ?? 0;
    if (number !== 0 && egressPorts.has(number))
      ctx.error(`${f.at("egress")}[${n}].port.number`, `port ${number} is already used by another egress listener`);
    egressPorts.add(number);
    checkEgressHosts(f, `${f.at("egress")}[${n}].hosts`, egress.hosts);
  });
  spec.ingress.forEach((ingress, n) => {
    const protocol = ingress.port.protocol;
    if (ingress.connectionPool?.http !== undefined && protocol !== undefined && !HTTP_PROTOCOLS.has(protocol))
      ctx.warn(
        `${f.at("ingress")}[${n}].connectionPool.http`,
        `the port's protocol is ${protocol}, not HTTP: only the tcp settings apply`,
      );
  });
  return spec;
}

const HTTP_PROTOCOLS = new Set(["HTTP", "HTTP2", "GRPC", "GRPC-WEB"]);

/** Istio's warnings: a host listed twice in a namespace (or under its `ns/*`), and `*\/*` beside other hosts. */
function checkEgressHosts(f: SpecFields, at: string, hosts: readonly string[]): void {
  const seen = new Map<string, Set<string>>();
  hosts.forEach((host, i) => {
    const slash = host.indexOf("/");
    if (slash < 0 || host.startsWith("~")) return;
    const [namespace, name] = [host.slice(0, slash), host.slice(slash + 1)];
    const names = seen.get(namespace) ?? new Set<string>();
    if (name === "*" ? names.size > 0 : names.has(name) || names.has("*"))
      f.ctx.warn(`${at}[${i}]`, `duplicates an earlier host of namespace ${describe(namespace)}`);
    names.add(name);
    seen.set(namespace, names);
  });
  if (seen.get("*")?.has("*") === true && seen.size > 1)
    f.ctx.warn(at, '"*/*" selects every host: the other hosts add nothing');
}

function readSidecarPort(ctx: ResourceContext, item: Item): SidecarPort {
  const p = SpecFields.open(ctx, item.value, item.path, { known: ["number", "protocol", "name", "targetPort"] });
  const port: SidecarPort = { number: readPortNumber(p, "number") ?? 0 };
  // `protocol: ""` is Istio's "not set" (sniffing), like leaving it out.
  if (p.raw("protocol") !== "") assign(port, "protocol", readProtocol(p, "protocol"));
  const name = p.string("name");
  if (name !== undefined && name !== "" && !isDns1123Label(name))
    p.error("name", `expected a port name (a DNS-1123 label: a-z, 0-9, "-"), got ${describe(name)}`);
  if (name !== "") assign(port, "name", name);
  assign(port, "targetPort", p.integer("targetPort", 1, MAX_PORT));
  return port;
}

/** A listener's bind: an IP address (Istio's rule for ports with a number). */
function readBind(f: SpecFields): string | undefined {
  const bind = f.string("bind");
  if (bind !== undefined && bind !== "" && isIP(bind) === 0)
    f.error("bind", `expected an IP address to bind to, got ${describe(bind)}`);
  return bind === "" ? undefined : bind;
}

/** Where an ingress listener forwards: the loopback or any address (the workload's own) at a port, or a socket. */
export type DefaultEndpoint =
  { kind: "loopback" | "workload"; ipv6: boolean; port: number } | { kind: "unix"; path: string };

/**
 * Istio's accepted forms: 127.0.0.1:PORT, [::1]:PORT (the loopback), 0.0.0.0:PORT, [::]:PORT (the workload's own
 * address), unix://PATH. A message saying what was expected when `text` is none of them.
 */
export function parseDefaultEndpoint(text: string): DefaultEndpoint | string {
  const expected = `expected 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix://<path>, got ${describe(text)}`;
  if (text.startsWith("unix://"))
    return text.length > "unix://".length ? { kind: "unix", path: text.slice(7) } : expected;
  const m = /^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]):(\d{1,5})$/.exec(text);
  if (m === null) return expected;
  const port = Number(m[2]);
  if (port < 1 || port > MAX_PORT) return expected;
  const host = m[1]!;
  const loopback = host === "127.0.0.1" || host === "[::1]";
  return { kind: loopback ? "loopback" : "workload", ipv6: host.startsWith("["), port };
}
