// Reads a registration as a workload sends it (JSON over the HTTP API), reporting every problem with its field.

import { isIP } from "node:net";
import { fail, ok, type Result } from "../../api/result.ts";
import type { InstancePort, PortProtocol, Registration } from "./types.ts";

const PROTOCOLS: readonly PortProtocol[] = ["HTTP", "HTTP2", "GRPC", "TCP", "TLS", "HTTPS"];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function readRegistration(raw: unknown): Result<Registration, string[]> {
  const problems: string[] = [];
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return fail(["expected a JSON object"]);
  const r = raw as Record<string, unknown>;
  const known = new Set(["service", "namespace", "labels", "address", "ports", "serviceAccount", "nodeId", "locality"]);
  for (const key of Object.keys(r)) if (!known.has(key)) problems.push(`${key}: unknown field`);
  const service = dnsLabel(r.service, "service", problems, undefined);
  const namespace = dnsLabel(r.namespace, "namespace", problems, "default");
  const address = typeof r.address === "string" && isIP(r.address) !== 0 ? r.address : undefined;
  if (address === undefined) problems.push(`address: expected an IP address, got ${JSON.stringify(r.address)}`);
  const labels = readLabels(r.labels, problems);
  const ports = readPorts(r.ports, problems);
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

function readPorts(value: unknown, problems: string[]): InstancePort[] {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`ports: expected at least one port, got ${JSON.stringify(value)}`);
    return [];
  }
  const out: InstancePort[] = [];
  const names = new Set<string>();
  value.forEach((p: unknown, i) => {
    const at = `ports[${i}]`;
    if (p === null || typeof p !== "object") {
      problems.push(`${at}: expected an object {number, protocol, name?, sidecarPort?}`);
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
    const name = typeof port.name === "string" && port.name !== "" ? port.name : `${protocol.toLowerCase()}-${number}`;
    if (names.has(name)) problems.push(`${at}.name: duplicate port name ${JSON.stringify(name)}`);
    names.add(name);
    if (isPort(number))
      out.push({ name, number, protocol, sidecarPort: isPort(sidecarPort) ? sidecarPort : undefined });
  });
  return out;
}

function isPort(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535;
}
