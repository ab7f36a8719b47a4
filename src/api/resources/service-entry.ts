// ServiceEntry (networking.istio.io): a service the mesh does not know by itself — an external API or a set of VMs
// — with its hosts, ports and how endpoints are found (resolution). Checks follow istioctl's.

import { isIP } from "node:net";
import type { Protocol, ServiceEntrySpec, ServicePort } from "./types.ts";
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
const RESOLUTIONS = ["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"] as const;
/** Protocols whose requests name their host (Host header or SNI), so one port can serve several hosts. */
const HOST_AWARE = new Set<string>(["HTTP", "HTTPS", "HTTP2", "GRPC", "GRPC-WEB", "TLS"]);

export function readServiceEntrySpec(ctx: ResourceContext, raw: unknown, path: string): ServiceEntrySpec {
  const f = SpecFields.open(ctx, raw, path, SPEC);
  const spec: ServiceEntrySpec = {
    hosts: readHosts(f, "hosts", true),
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
    const i = spec.ports.findIndex((p) => !HOST_AWARE.has(p.protocol));
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
    protocol = protocolFromName(name);
    if (protocol === "TCP" && name.split("-")[0]!.toUpperCase() !== "TCP")
      p.warn(
        "protocol",
        `not set: Istio would detect HTTP on this port; Trellis does not sniff, so the port is TCP (the name ${describe(name)} names no protocol). Set protocol: HTTP (or name the port http-…) for HTTP routing`,
      );
  }
  const port: ServicePort = { number, protocol: protocol ?? "TCP", name };
  const target = p.integer("targetPort", 1, MAX_PORT);
  if (target !== undefined) port.targetPort = target;
  return port;
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
