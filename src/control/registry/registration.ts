// Reads a registration as a workload sends it (JSON over the HTTP API), reporting every problem with its field.
// Besides the shape, it refuses the mistakes a newcomer makes that would otherwise register fine and then route
// nowhere: an address nobody can call (0.0.0.0, ::, multicast, broadcast) and an unnamed port that would split a
// service in two (see servicePortProblems).

import { isIP } from "node:net";
import { fail, ok, type Result } from "../../api/result.ts";
import { instanceId } from "./registry.ts";
import type { Instance, InstancePort, PortProtocol, Registration } from "./types.ts";

const PROTOCOLS: readonly PortProtocol[] = ["HTTP", "HTTP2", "GRPC", "TCP", "TLS", "HTTPS", "AUTO"];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/**
 * The registration, or every problem with its field path. `others` are the instances already registered: an
 * unnamed port is checked against the ports of the service it joins.
 */
export function readRegistration(raw: unknown, others: readonly Instance[] = []): Result<Registration, string[]> {
  const problems: string[] = [];
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return fail(["expected a JSON object"]);
  const r = raw as Record<string, unknown>;
  const known = new Set(["service", "namespace", "labels", "address", "ports", "serviceAccount", "nodeId", "locality"]);
  for (const key of Object.keys(r)) if (!known.has(key)) problems.push(`${key}: unknown field`);
  const service = dnsLabel(r.service, "service", problems, undefined);
  const namespace = dnsLabel(r.namespace, "namespace", problems, "default");
  const address = typeof r.address === "string" && isIP(r.address) !== 0 ? r.address : undefined;
  if (address === undefined) problems.push(`address: expected an IP address, got ${JSON.stringify(r.address)}`);
  else {
    const why = unreachableAddress(address);
    if (why !== undefined)
      problems.push(
        `address: ${JSON.stringify(address)} is ${why}, not an address other workloads can call; register the ` +
          `address they reach this instance at (the host's IP; 127.0.0.1 when everything runs on one machine)`,
      );
  }
  const labels = readLabels(r.labels, problems);
  const unnamed = new Set<string>();
  const ports = readPorts(r.ports, problems, unnamed);
  const serviceAccount = r.serviceAccount === undefined ? "default" : r.serviceAccount;
  if (typeof serviceAccount !== "string" || !DNS_LABEL.test(serviceAccount))
    problems.push(`serviceAccount: expected a DNS label, got ${JSON.stringify(serviceAccount)}`);
  if (r.nodeId !== undefined && (typeof r.nodeId !== "string" || r.nodeId === ""))
    problems.push(`nodeId: expected a non-empty string, got ${JSON.stringify(r.nodeId)}`);
  const locality = r.locality;
  if (locality !== undefined && (typeof locality !== "string" || locality.split("/").length > 3))
    problems.push(
      `locality: expected "region/zone/subzone" (zone and subzone optional), got ${JSON.stringify(locality)}`,
    );
  if (problems.length === 0 && service !== undefined && namespace !== undefined && address !== undefined)
    problems.push(...servicePortProblems({ service, namespace, address, ports }, unnamed, others));
  if (problems.length > 0) return fail(problems);
  return ok({
    service: service!,
    namespace: namespace!,
    labels,
    address: address!,
    ports,
    serviceAccount: serviceAccount as string,
    nodeId: r.nodeId as string | undefined,
    ...(typeof locality === "string" && locality !== "" ? { locality } : {}),
  });
}

function dnsLabel(value: unknown, field: string, problems: string[], fallback: string | undefined): string | undefined {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value === "string" && value.length <= 63 && DNS_LABEL.test(value)) return value;
  problems.push(`${field}: expected a DNS label (lower-case letters, digits, '-'), got ${JSON.stringify(value)}`);
  return undefined;
}

function readLabels(value: unknown, problems: string[]): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    problems.push(`labels: expected an object of strings, got ${JSON.stringify(value)}`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!LABEL_KEY.test(k)) problems.push(`labels.${k}: not a valid label key`);
    else if (typeof v !== "string") problems.push(`labels.${k}: expected a string, got ${JSON.stringify(v)}`);
    else out[k] = v;
  }
  return out;
}

/** Why an IP address cannot be an instance's (unspecified, multicast, broadcast), or undefined. */
export function unreachableAddress(address: string): string | undefined {
  if (isIP(address) === 4) {
    const first = Number(address.split(".")[0]);
    if (address === "0.0.0.0") return "the unspecified address (a server binds it to listen on every interface)";
    if (address === "255.255.255.255") return "the broadcast address";
    if (first >= 224 && first <= 239) return "a multicast address";
    return undefined;
  }
  if (/^[0:]+$/.test(address)) return "the unspecified address (a server binds it to listen on every interface)";
  if (/^::ffff:0\.0\.0\.0$/i.test(address)) return "the unspecified address";
  if (/^ff[0-9a-f]{2}:/i.test(address)) return "a multicast address";
  return undefined;
}

/**
 * Instances of one service share its ports by name; an unnamed port is named after its protocol and number
 * (http-9080). A second instance that listens on another number without naming its port would add a second service
 * port that only it serves: callers of the first port would never reach it, which is two services under one name.
 * Refused, saying which name joins the existing port. A named port is the user's decision and always accepted.
 */
function servicePortProblems(
  r: Pick<Registration, "service" | "namespace" | "address" | "ports">,
  unnamed: ReadonlySet<string>,
  others: readonly Instance[],
): string[] {
  const id = instanceId(r as Registration);
  const peers = others.filter((o) => o.service === r.service && o.namespace === r.namespace && o.id !== id);
  if (peers.length === 0) return [];
  const servicePorts = new Map<string, InstancePort>();
  for (const peer of peers) for (const p of peer.ports) if (!servicePorts.has(p.name)) servicePorts.set(p.name, p);
  const problems: string[] = [];
  r.ports.forEach((port, i) => {
    if (!unnamed.has(port.name) || servicePorts.has(port.name)) return;
    const sameProtocol = [...servicePorts.values()].filter(
      (p) => p.protocol === port.protocol && !r.ports.some((q) => q.name === p.name),
    );
    if (sameProtocol.length === 0) return;
    const existing = sameProtocol.map((p) => `"${p.name}" (${p.number})`).join(", ");
    problems.push(
      `ports[${i}].name: service ${r.service}.${r.namespace} already has ${port.protocol} port ${existing}; this ` +
        `unnamed port ${port.number} would become a second port, "${port.name}", that only this instance serves ` +
        `(callers of the first would never reach it). To add this instance to the service, name the port as the ` +
        `service does ("name": "${sameProtocol[0]!.name}"; it is still reached at ${port.number}); for a port of ` +
        `its own, give it a name`,
    );
  });
  return problems;
}

function readPorts(value: unknown, problems: string[], unnamed: Set<string>): InstancePort[] {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`ports: expected at least one port, got ${JSON.stringify(value)}`);
    return [];
  }
  const out: InstancePort[] = [];
  const names = new Set<string>();
  value.forEach((p: unknown, i) => {
    const at = `ports[${i}]`;
    if (p === null || typeof p !== "object") {
      problems.push(`${at}: expected an object {number, protocol, name?, sidecarPort?, servicePort?}`);
      return;
    }
    const port = p as Record<string, unknown>;
    const number = port.number;
    if (!isPort(number)) problems.push(`${at}.number: expected a port 1-65535, got ${JSON.stringify(number)}`);
    const protocol = (typeof port.protocol === "string" ? port.protocol.toUpperCase() : "HTTP") as PortProtocol;
    if (!PROTOCOLS.includes(protocol))
      problems.push(`${at}.protocol: expected one of ${PROTOCOLS.join(", ")}, got ${JSON.stringify(port.protocol)}`);
    const sidecarPort = port.sidecarPort;
    if (sidecarPort !== undefined && !isPort(sidecarPort))
      problems.push(`${at}.sidecarPort: expected a port 1-65535, got ${JSON.stringify(sidecarPort)}`);
    const servicePort = port.servicePort;
    if (servicePort !== undefined && !isPort(servicePort))
      problems.push(`${at}.servicePort: expected a port 1-65535, got ${JSON.stringify(servicePort)}`);
    const named = typeof port.name === "string" && port.name !== "";
    const name = named
      ? (port.name as string)
      : `${protocol.toLowerCase()}-${isPort(servicePort) ? servicePort : number}`;
    if (!named) unnamed.add(name);
    if (names.has(name)) problems.push(`${at}.name: duplicate port name ${JSON.stringify(name)}`);
    names.add(name);
    if (isPort(number))
      out.push({
        name,
        number,
        protocol,
        sidecarPort: isPort(sidecarPort) ? sidecarPort : undefined,
        ...(isPort(servicePort) && servicePort !== number ? { servicePort } : {}),
      });
  });
  return out;
}

function isPort(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535;
}
