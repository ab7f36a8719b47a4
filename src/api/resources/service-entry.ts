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
    if (spec.endpoints.length > 0) f.ctx.error(f.path, "only one of endpoints, workloadSelector may be set");
  }
  spec.hosts.forEach((host, i) => {
    if (host === "*") ctx.error(`${f.at("hosts")}[${i}]`, 'a ServiceEntry host cannot be "*"');
  });
  spec.addresses.forEach((address, i) => {
    const ip = address.split("/")[0];
    if (isIP(ip) === 0)
      ctx.error(`${f.at("addresses")}[${i}]`, `expected an IP address or CIDR block, got ${describe(address)}`);
  });
  checkResolution(f, spec);
  return spec;
}

function readServicePorts(f: SpecFields): ServicePort[] {
  if (!f.broken && !f.has("ports")) f.error("ports", "required: at least one port");
  else if (Array.isArray(f.raw("ports")) && (f.raw("ports") as unknown[]).length === 0) {
    f.error("ports", "expected at least one port");
  }
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
  if (name !== "" && !isDns1123Label(name.toLowerCase())) {
    p.error("name", `expected a port name (letters, digits and "-"), got ${describe(name)}`);
  }
  let protocol: Protocol | undefined;
  if (protocolRequired ? p.require("protocol") : p.has("protocol")) protocol = readProtocol(p, "protocol");
  else protocol = protocolFromName(name);
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
    if (spec.resolution === "STATIC" && address !== "" && !address.startsWith("unix://") && isIP(address) === 0) {
      f.ctx.error(`${path}.address`, `expected an IP address (resolution is STATIC), got ${describe(address)}`);
    }
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
        f.ctx.warn(at, "resolution NONE ignores endpoints (traffic goes to the address the caller asked for)");
      break;
  }
}
