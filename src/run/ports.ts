// `trellis run --port [NAME=]P[:APP_PORT][/PROTO]`: a service port callers use (P), where the application listens
// (APP_PORT, else a free port handed to it in PORT and TRELLIS_PORT_<NAME>), and its protocol: `/PROTO`, else the
// port's name as Istio reads it (`http`, `http-web`, `grpc-api`…); a name that names no protocol (`web`) leaves it
// to be detected per connection (AUTO, Istio's protocol sniffing), as `/auto` does; no name and no `/PROTO`: HTTP.
// Every mistake is a RunUsageError that quotes the flag's value and says what was expected.

import { TrellisError } from "../api/errors.ts";

/** AUTO: no declared protocol; each connection's first bytes decide between HTTP and TCP (sniffing). */
export const RUN_PROTOCOLS = ["HTTP", "HTTP2", "GRPC", "TCP", "TLS", "HTTPS", "AUTO"] as const;
export type RunProtocol = (typeof RUN_PROTOCOLS)[number];

/** A bad flag of `trellis run` (exit status 2). */
export class RunUsageError extends TrellisError {
  constructor(message: string) {
    super("TRELLIS_RUN_USAGE", message);
  }
}

export interface RunPort {
  /** The port's name in the service (given, else `<protocol>-<P>`, the registry's own default). */
  name: string;
  /** The number callers of the service use. */
  servicePort: number;
  /** Where the application listens, when fixed with `:APP_PORT`; otherwise a free port is chosen at start. */
  appPort: number | undefined;
  protocol: RunProtocol;
  /** The flag's value as given, for messages. */
  spec?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SPEC = /^(?:([^=]*)=)?(\d+)(?::(\d+))?(?:\/(.*))?$/;

function portNumber(text: string, what: string, spec: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new RunUsageError(`--port "${spec}": ${what} must be 1-65535, got ${text}`);
  return n;
}

/** Istio's protocol selection by port name: the name, or its prefix before the first '-' ("auto" is no protocol). */
export function protocolFromName(name: string): RunProtocol | undefined {
  const prefix = name.split("-")[0]!.toUpperCase();
  return prefix !== "AUTO" && (RUN_PROTOCOLS as readonly string[]).includes(prefix)
    ? (prefix as RunProtocol)
    : undefined;
}

export function parsePort(spec: string): RunPort {
  const m = SPEC.exec(spec.trim());
  if (m === null)
    throw new RunUsageError(
      `--port "${spec}": expected [NAME=]PORT[:APP_PORT][/PROTOCOL], e.g. 8080, 8080:3000, grpc=9090/grpc`,
    );
  const [, givenName, port, app, proto] = m;
  if (givenName !== undefined && !DNS_LABEL.test(givenName))
    throw new RunUsageError(
      `--port "${spec}": the name must be a DNS label (lower-case letters, digits, '-'), got "${givenName}"`,
    );
  const servicePort = portNumber(port!, "PORT", spec);
  const appPort = app === undefined ? undefined : portNumber(app, "APP_PORT", spec);
  let protocol: RunProtocol | undefined;
  if (proto !== undefined) {
    const upper = proto.toUpperCase();
    if (!(RUN_PROTOCOLS as readonly string[]).includes(upper))
      throw new RunUsageError(
        `--port "${spec}": the protocol must be one of ${RUN_PROTOCOLS.map((p) => p.toLowerCase()).join(", ")}, ` +
          `got "${proto}"`,
      );
    protocol = upper as RunProtocol;
  }
  // Istio: a port whose name names no protocol is sniffed; Trellis keeps HTTP for a bare `--port 8080`.
  protocol ??= givenName === undefined ? "HTTP" : (protocolFromName(givenName) ?? "AUTO");
  return { name: givenName ?? `${protocol.toLowerCase()}-${servicePort}`, servicePort, appPort, protocol, spec };
}

/** Every --port, checked together: one name, one service port and one application port each. */
export function parsePorts(specs: readonly string[]): RunPort[] {
  const ports = specs.map(parsePort);
  const seen = (key: (p: RunPort) => unknown, what: string): void => {
    const at = new Map<unknown, string>();
    ports.forEach((p, i) => {
      const k = key(p);
      if (k === undefined) return;
      const first = at.get(k);
      if (first !== undefined)
        throw new RunUsageError(`--port "${specs[i]}": ${what} ${String(k)} is already declared by --port "${first}"`);
      at.set(k, specs[i]!);
    });
  };
  seen((p) => p.name, "the port name");
  seen((p) => p.servicePort, "port");
  seen((p) => p.appPort, "application port");
  return ports;
}

/** The environment variable that gives the application one port's number: TRELLIS_PORT_HTTP_8080, TRELLIS_PORT_WEB. */
export function portVariable(name: string): string {
  return `TRELLIS_PORT_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** `--labels k=v,…` as a map. */
export function parseLabels(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of value ? value.split(",") : []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new RunUsageError(`--labels expects k=v[,k=v…], got "${pair}"`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

/** A declared TCP destination, `--outbound HOST:PORT`: a local port on the sidecar goes to that service's port. */
export interface RunOutbound {
  /** As written: `redis`, `redis.default`, `redis.default.svc.cluster.local`, a ServiceEntry's host. */
  host: string;
  port: number;
  /** The flag's value, for messages. */
  spec: string;
}

const HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function parseOutbound(spec: string): RunOutbound {
  const m = /^([^:]*):(\d+)$/.exec(spec.trim());
  if (m === null) throw new RunUsageError(`--outbound "${spec}": expected HOST:PORT, e.g. redis.default:6379`);
  const host = m[1]!.toLowerCase();
  if (!HOSTNAME.test(host))
    throw new RunUsageError(
      `--outbound "${spec}": HOST must be a DNS name (e.g. redis or redis.default), got "${m[1]}"`,
    );
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new RunUsageError(`--outbound "${spec}": PORT must be 1-65535, got ${m[2]}`);
  return { host, port, spec };
}

/** Every --outbound, each destination once. */
export function parseOutbounds(specs: readonly string[]): RunOutbound[] {
  const out = specs.map(parseOutbound);
  const at = new Map<string, string>();
  out.forEach((o) => {
    const key = `${o.host}:${o.port}`;
    const first = at.get(key);
    if (first !== undefined)
      throw new RunUsageError(`--outbound "${o.spec}": ${key} is already declared by --outbound "${first}"`);
    at.set(key, o.spec);
  });
  return out;
}

/** The variable that gives the application a destination's local port: TRELLIS_OUTBOUND_REDIS_DEFAULT_6379. */
export function outboundVariable(o: { host: string; port: number }): string {
  return `TRELLIS_OUTBOUND_${o.host.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_${o.port}`;
}
