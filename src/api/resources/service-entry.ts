// ServiceEntry (networking.istio.io): a service the mesh does not know by itself — an external API or a set of VMs
// — with its hosts, ports and how endpoints are found (resolution). Checks follow istioctl's.

import { isIP } from "node:net";
import type { GatewayPort, Protocol, ServiceEntrySpec, ServicePort } from "./types.ts";
import { PROTOCOLS } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import type { Item } from "./fields.ts";
import {
  isDns1123Label,
  readExportTo,
  readHosts,
  readPortNumber,
  readProtocol,
  readWorkloadSelector,
  MAX_PORT,
} from "./common.ts";
import { readWorkloadEntrySpec } from "./workload-entry.ts";
import { describe } from "../xds/parse/context.ts";

const SPEC = {
  known: [
    "hosts",
    "addresses",
    "ports",
    "location",
    "resolution",
    "endpoints",
    "workloadSelector",
    "exportTo",
    "subjectAltNames",
  ],
};
const RESOLUTIONS = ["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"] as const;
/** What Envoy's dynamic forward proxy can carry: requests that name their host (Istio's list for DYNAMIC_DNS). */
const DYNAMIC_DNS_PROTOCOLS = new Set<string>(["HTTP", "TLS", "GRPC", "HTTP2"]);
/** A wildcard that is not a whole leftmost label ("*api.example.com", "*-api.example.com"): Istio warns. */
const PARTIAL_WILDCARD = /^\*-?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.|$)/;
/** Protocols whose requests name their host (Host header or SNI), so one port can serve several hosts. */
const HOST_AWARE = new Set<string>(["HTTP", "HTTPS", "HTTP2", "GRPC", "GRPC-WEB", "TLS"]);

export function readServiceEntrySpec(ctx: ResourceContext, raw: unknown, path: string): ServiceEntrySpec {
  const f = SpecFields.open(ctx, raw, path, SPEC);
  const hosts = readServiceEntryHosts(f);
  const spec: ServiceEntrySpec = {
    hosts: hosts.hosts,
    addresses: f.stringList("addresses"),
    ports: readServicePorts(f),
    location: f.enumValue("location", ["MESH_EXTERNAL", "MESH_INTERNAL"] as const) ?? "MESH_EXTERNAL",
    resolution: f.enumValue("resolution", RESOLUTIONS) ?? "NONE",
    endpoints: f.list("endpoints").map((item) => readWorkloadEntrySpec(ctx, item.value, item.path)),
    exportTo: readExportTo(f),
    subjectAltNames: f.stringList("subjectAltNames"),
  };
  if (f.has("workloadSelector")) {
    spec.workloadSelector = readWorkloadSelector(ctx, f.raw("workloadSelector"), f.at("workloadSelector"));
    if (f.has("endpoints")) f.ctx.error(f.path, "only one of endpoints, workloadSelector may be set");
  }
  if (spec.resolution !== "DYNAMIC_DNS") {
    for (const i of hosts.partial) {
      const host = spec.hosts[i]!;
      ctx.warn(
        `${f.at("hosts")}[${i}]`,
        `partial wildcard ${describe(host)}: Istio allows a wildcard only as the whole leftmost label`,
      );
    }
  }
  spec.hosts.forEach((host, i) => {
    if (host === "*") ctx.error(`${f.at("hosts")}[${i}]`, 'a ServiceEntry host cannot be "*"');
  });
  spec.addresses.forEach((address, i) => {
    const [ip, bits, extra] = address.split("/");
    const family = isIP(ip ?? "");
    const badBits = bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128));
    if (family === 0 || badBits || extra !== undefined)
      ctx.error(`${f.at("addresses")}[${i}]`, `expected an IP address or CIDR block, got ${describe(address)}`);
  });
  if (spec.addresses.some((a) => a.includes("/")) && spec.resolution !== "NONE" && spec.resolution !== "STATIC")
    f.error("addresses", `CIDR blocks are allowed only with resolution NONE or STATIC, got ${spec.resolution}`);
  // Plain TCP cannot tell hosts apart (no Host header, no SNI): several hosts need resolution NONE.
  if (spec.resolution !== "NONE" && spec.hosts.length > 1) {
    const i = spec.ports.findIndex((p) => !HOST_AWARE.has(p.protocol ?? ""));
    if (i >= 0)
      ctx.error(
        `${f.at("ports")}[${i}].protocol`,
        `several hosts need HTTP or TLS ports to be told apart (resolution ${spec.resolution}), got ${spec.ports[i]!.protocol}`,
      );
  }
  checkResolution(f, spec);
  return spec;
}

/**
 * The hosts, as Istio reads them: a wildcard only in the leftmost label; one that is not the whole label
 * ("*api.example.com") is stored with a warning (Istio's ValidatePartialWildCard), none with DYNAMIC_DNS, where
 * Istio takes it as any other wildcard.
 */
function readServiceEntryHosts(f: SpecFields): { hosts: string[]; partial: number[] } {
  const partial = new Map<number, string>();
  const raw = f.raw("hosts");
  if (Array.isArray(raw)) {
    raw.forEach((host, i) => {
      if (typeof host === "string" && PARTIAL_WILDCARD.test(host)) partial.set(i, host);
    });
  }
  if (partial.size === 0) return { hosts: readHosts(f, "hosts", true), partial: [] };
  // Checked as the whole label would be ("*api.example.com" as "*.example.com"), then kept as written.
  const whole = (raw as unknown[]).map((h, i) => (partial.has(i) ? wholeLabel(h as string) : h));
  const hosts = readHosts(SpecFields.open(f.ctx, { hosts: whole }, f.path, { known: ["hosts"] }), "hosts", true);
  for (const [i, host] of partial) hosts[i] = host;
  return { hosts, partial: [...partial.keys()] };
}

function wholeLabel(host: string): string {
  const dot = host.indexOf(".");
  return dot < 0 ? "*" : `*${host.slice(dot)}`;
}

/**
 * Ports are optional (Istio's rule): an entry without them only names hosts (for a workloadSelector, for ambient
 * mode). Trellis then builds no listener, route or cluster for it, which is said as a warning.
 */
function readServicePorts(f: SpecFields): ServicePort[] {
  if (!f.broken && (!f.has("ports") || (Array.isArray(f.raw("ports")) && (f.raw("ports") as unknown[]).length === 0)))
    f.warn(
      "ports",
      "none: no listener, route or cluster is built for these hosts, so the entry has no effect on traffic (add ports)",
    );
  const ports = f.list("ports").map((item) => readServicePort(f.ctx, item, false));
  const names = new Set<string>();
  const numbers = new Set<number>();
  ports.forEach((port, i) => {
    const at = `${f.at("ports")}[${i}]`;
    if (port.name !== "" && names.has(port.name)) f.ctx.error(`${at}.name`, `port name "${port.name}" is used twice`);
    if (port.number !== 0 && numbers.has(port.number))
      f.ctx.error(`${at}.number`, `port ${port.number} is listed twice`);
    names.add(port.name);
    numbers.add(port.number);
  });
  return ports;
}

/**
 * A ServiceEntry's or Gateway server's port. The name is required (Istio's rule). A Gateway port needs its
 * protocol; a ServiceEntry's may leave it out, and Istio then reads it from the name's prefix ("http-web" → HTTP,
 * "grpc" → GRPC), else TCP.
 */
export function readServicePort(ctx: ResourceContext, item: Item, protocolRequired: boolean): ServicePort {
  const p = SpecFields.open(ctx, item.value, item.path, { known: ["number", "protocol", "name", "targetPort"] });
  const number = readPortNumber(p, "number") ?? 0;
  const name = p.requiredString("name");
  // Istio: a ServiceEntry's port names are DNS-1123 labels (lower case), as its endpoints' port names are; a
  // Gateway's need only be set (upper case is tolerated there).
  if (name !== "" && !protocolRequired && !isDns1123Label(name))
    p.error("name", `expected a port name (a DNS-1123 label: a-z, 0-9, "-"), got ${describe(name)}`);
  else if (name !== "" && !isDns1123Label(name.toLowerCase()))
    p.error("name", `expected a port name (letters, digits and "-"), got ${describe(name)}`);
  let protocol: Protocol | undefined;
  // `protocol: ""` is Istio's "not set" (protocol sniffing): read like an absent protocol.
  const unset = !p.has("protocol") || p.raw("protocol") === "";
  if (protocolRequired) {
    if (p.require("protocol")) protocol = readProtocol(p, "protocol");
  } else if (!unset) protocol = readProtocol(p, "protocol");
  else {
    // Istio's protocol selection: the name, else detected per connection (sniffing): left unset.
    protocol = protocolFromName(name);
    if (protocol === "TCP" && name.split("-")[0]!.toUpperCase() !== "TCP") protocol = undefined;
  }
  const port: ServicePort = { number, name };
  if (protocol !== undefined || protocolRequired) port.protocol = protocol ?? "TCP";
  const target = p.integer("targetPort", 1, MAX_PORT);
  if (target !== undefined) port.targetPort = target;
  return port;
}

/** A Gateway server's port: the protocol is required (TCP stands in when it is missing, reported). */
export function readGatewayPort(ctx: ResourceContext, item: Item): GatewayPort {
  const port = readServicePort(ctx, item, true);
  return { ...port, protocol: port.protocol ?? "TCP" };
}

/** Istio's protocol selection by port name: `<protocol>` or `<protocol>-<suffix>`. */
export function protocolFromName(name: string): Protocol {
  if (name.toLowerCase().startsWith("grpc-web")) return "GRPC-WEB";
  const prefix = name.split("-")[0].toUpperCase();
  return (PROTOCOLS as readonly string[]).includes(prefix) ? (prefix as Protocol) : "TCP";
}

function checkResolution(f: SpecFields, spec: ServiceEntrySpec): void {
  const at = f.at("resolution");
  const portNames = new Set(spec.ports.map((p) => p.name));
  spec.endpoints.forEach((endpoint, i) => {
    const path = `${f.at("endpoints")}[${i}]`;
    for (const name of Object.keys(endpoint.ports)) {
      if (!portNames.has(name))
        f.ctx.error(`${path}.ports.${name}`, `names no port of this ServiceEntry (${[...portNames].join(", ")})`);
    }
    const address = endpoint.address ?? "";
    if (address.startsWith("unix://") && spec.ports.length !== 1)
      f.ctx.error(`${path}.address`, `a unix:// endpoint needs exactly one service port, got ${spec.ports.length}`);
    if (spec.resolution === "STATIC" && address !== "" && !address.startsWith("unix://") && isIP(address) === 0) {
      f.ctx.error(`${path}.address`, `expected an IP address (resolution is STATIC), got ${describe(address)}`);
    }
    if ((spec.resolution === "DNS" || spec.resolution === "DNS_ROUND_ROBIN") && address.startsWith("unix://"))
      f.ctx.error(
        `${path}.address`,
        `expected a hostname or an IP address (resolution is ${spec.resolution}), got ${describe(address)}`,
      );
  });
  switch (spec.resolution) {
    case "STATIC":
      if (spec.endpoints.length === 0 && spec.workloadSelector === undefined) {
        f.ctx.error(at, "STATIC resolution needs endpoints (or a workloadSelector)");
      }
      break;
    case "DNS":
    case "DNS_ROUND_ROBIN":
      if (spec.endpoints.length === 0) {
        spec.hosts.forEach((host, i) => {
          if (host.startsWith("*")) {
            f.ctx.error(
              `${f.at("hosts")}[${i}]`,
              `${spec.resolution} resolution without endpoints resolves the hosts: expected a hostname, not a wildcard`,
            );
          }
        });
      }
      if (spec.resolution === "DNS_ROUND_ROBIN" && spec.endpoints.length > 1) {
        f.ctx.error(f.at("endpoints"), "DNS_ROUND_ROBIN allows at most one endpoint");
      }
      break;
    case "DYNAMIC_DNS":
      // Istio's rules: the host of each request is the upstream, so the entry names hosts by wildcard only, with no
      // endpoints or addresses of its own, and ports whose requests name their host.
      spec.hosts.forEach((host, i) => {
        if (!host.startsWith("*"))
          f.ctx.error(`${f.at("hosts")}[${i}]`, `resolution DYNAMIC_DNS needs a wildcard host, got ${describe(host)}`);
      });
      if (spec.endpoints.length > 0)
        f.error("endpoints", "not allowed with resolution DYNAMIC_DNS (each request's host is resolved)");
      if (spec.addresses.length > 0)
        f.error("addresses", "not allowed with resolution DYNAMIC_DNS (HTTP virtual hosts answer to the hosts only)");
      spec.ports.forEach((port, i) => {
        if (!DYNAMIC_DNS_PROTOCOLS.has(port.protocol ?? ""))
          f.ctx.error(
            `${f.at("ports")}[${i}].protocol`,
            `only HTTP, TLS, GRPC and HTTP2 ports are supported with resolution DYNAMIC_DNS, got ${port.protocol ?? "none (detected per connection)"}`,
          );
      });
      break;
    case "NONE":
      if (spec.endpoints.length > 0)
        f.ctx.error(
          f.at("endpoints"),
          "not allowed with resolution NONE (traffic goes to the address the caller asked for; use STATIC or DNS)",
        );
      if (spec.workloadSelector !== undefined) f.ctx.warn(f.at("workloadSelector"), "has no use with resolution NONE");
      break;
  }
}
