// Envoy's access log format strings (`[%START_TIME%] "%REQ(:METHOD)% …"`) and format dictionaries (json_format),
// compiled once when configuration arrives into a list of literal parts and value getters, so logging an entry is
// a loop of property reads and string concatenation: no parsing, no regex per request.

import { hostname } from "node:os";
import { TrellisError } from "../api/errors.ts";

/** The part of a header list the log reads; src/proxy/http/headers.ts's Headers satisfies it (names lower-case). */
export interface HeaderLookup {
  get(name: string): string | undefined;
}

/**
 * What the log knows about one finished HTTP exchange or TCP connection. HTTP-only fields are optional: a TCP
 * connection leaves them out and their operators print "-", as Envoy does.
 */
export interface AccessLogEntry {
  /** Wall-clock ms since the epoch when the request (or connection) started. */
  startWallMs: number;
  method?: string;
  /** The path as received, before any rewrite. */
  path?: string;
  /** The path before a rewrite, when the router rewrote it (Envoy's x-envoy-original-path). */
  originalPath?: string;
  scheme?: string;
  authority?: string;
  /** "HTTP/1.1", "HTTP/2"; absent for TCP. */
  protocol?: string;
  /** 0 when no response was sent (and for TCP). */
  responseCode: number;
  /** Envoy response flags, comma-separated ("UH", "NR,URX"), "" for none. */
  responseFlags: string;
  responseCodeDetails?: string;
  connectionTerminationDetails?: string;
  bytesReceived: number;
  bytesSent: number;
  durationMs: number;
  /** Time the upstream took, also sent as x-envoy-upstream-service-time. */
  upstreamServiceTimeMs?: number;
  requestHeaders?: HeaderLookup;
  responseHeaders?: HeaderLookup;
  responseTrailers?: HeaderLookup;
  /** "address:port" of the endpoint that served it. */
  upstreamHost?: string;
  upstreamCluster?: string;
  upstreamLocalAddress?: string;
  upstreamTransportFailureReason?: string;
  routeName?: string;
  /** Upstream attempts (1 without retries, 0 when no upstream was tried). */
  attempts?: number;
  /** "ip:port" */
  downstreamRemoteAddress?: string;
  /** "ip:port" */
  downstreamLocalAddress?: string;
  /** "ip:port" of the peer that connected, when it is not the remote address (a PROXY protocol header); absent: the same. */
  downstreamDirectRemoteAddress?: string;
  /** TLS SNI; absent without TLS. */
  requestedServerName?: string;
  /** The body of a local reply, for local_reply_config's body_format (%LOCAL_REPLY_BODY%). */
  localReplyBody?: string;
}

/** A TCP proxy connection: the same formatter; HTTP operators print "-", %RESPONSE_CODE% prints 0. */
export type TcpAccessLogEntry = Omit<
  AccessLogEntry,
  | "method"
  | "path"
  | "originalPath"
  | "scheme"
  | "authority"
  | "protocol"
  | "responseCodeDetails"
  | "upstreamServiceTimeMs"
  | "requestHeaders"
  | "responseHeaders"
  | "responseTrailers"
  | "routeName"
>;

export const DEFAULT_ACCESS_LOG_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" ' +
  '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

export type AccessLogFormatter = (entry: AccessLogEntry) => string;

export class AccessLogFormatError extends TrellisError {
  constructor(message: string) {
    super("TRELLIS_ACCESS_LOG_FORMAT", message);
  }
}

/** A value for one operator; undefined (or "") means "not available" and prints as "-". */
type Getter = (e: AccessLogEntry) => string | number | undefined;

interface Command {
  getter: Getter;
  /** The operator yields a number when available (typed as a number in JSON output). */
  numeric: boolean;
  /** An empty string is a value, printed as "" (Envoy's %LOCAL_REPLY_BODY% of an empty body), not "-" / null. */
  emptyIsValue?: boolean;
}

type Part = string | Command;

// ---------------------------------------------------------------------------------------------------------------
// Operators

const trunc = (v: number | undefined) => (v === undefined ? undefined : Math.trunc(v));

const withoutPort = (a: string | undefined): string | undefined => {
  if (a === undefined) return undefined;
  if (a.startsWith("[")) {
    const end = a.indexOf("]");
    return end > 0 ? a.slice(1, end) : a;
  }
  const colon = a.lastIndexOf(":");
  // A bare IPv6 address has several colons and no port to strip.
  return colon > 0 && a.indexOf(":") === colon ? a.slice(0, colon) : a;
};

/** Operators without arguments. */
const SIMPLE: Record<string, Command> = {
  PROTOCOL: { getter: (e) => e.protocol, numeric: false },
  RESPONSE_CODE: { getter: (e) => e.responseCode, numeric: true },
  RESPONSE_FLAGS: { getter: (e) => e.responseFlags, numeric: false },
  RESPONSE_CODE_DETAILS: { getter: (e) => e.responseCodeDetails, numeric: false },
  LOCAL_REPLY_BODY: { getter: (e) => e.localReplyBody, numeric: false, emptyIsValue: true },
  CONNECTION_TERMINATION_DETAILS: { getter: (e) => e.connectionTerminationDetails, numeric: false },
  BYTES_RECEIVED: { getter: (e) => e.bytesReceived, numeric: true },
  BYTES_SENT: { getter: (e) => e.bytesSent, numeric: true },
  DURATION: { getter: (e) => trunc(e.durationMs), numeric: true },
  UPSTREAM_HOST: { getter: (e) => e.upstreamHost, numeric: false },
  UPSTREAM_CLUSTER: { getter: (e) => e.upstreamCluster, numeric: false },
  UPSTREAM_LOCAL_ADDRESS: { getter: (e) => e.upstreamLocalAddress, numeric: false },
  UPSTREAM_TRANSPORT_FAILURE_REASON: { getter: (e) => e.upstreamTransportFailureReason, numeric: false },
  ROUTE_NAME: { getter: (e) => e.routeName, numeric: false },
  UPSTREAM_REQUEST_ATTEMPT_COUNT: { getter: (e) => e.attempts ?? 0, numeric: true },
  DOWNSTREAM_REMOTE_ADDRESS: { getter: (e) => e.downstreamRemoteAddress, numeric: false },
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: { getter: (e) => withoutPort(e.downstreamRemoteAddress), numeric: false },
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: {
    getter: (e) => e.downstreamDirectRemoteAddress ?? e.downstreamRemoteAddress,
    numeric: false,
  },
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: {
    getter: (e) => withoutPort(e.downstreamDirectRemoteAddress ?? e.downstreamRemoteAddress),
    numeric: false,
  },
  DOWNSTREAM_LOCAL_ADDRESS: { getter: (e) => e.downstreamLocalAddress, numeric: false },
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: { getter: (e) => withoutPort(e.downstreamLocalAddress), numeric: false },
  REQUESTED_SERVER_NAME: { getter: (e) => e.requestedServerName, numeric: false },
  GRPC_STATUS: { getter: (e) => grpcStatusName(grpcStatus(e)), numeric: false },
  GRPC_STATUS_NUMBER: { getter: (e) => numberOrUndefined(grpcStatus(e)), numeric: true },
};

// Operators Envoy has whose data Trellis does not record yet: accepted (so Istio's and users' formats load) and
// printed as "-", rather than refusing the configuration.
const UNAVAILABLE = new Set([
  "REQUEST_DURATION",
  "REQUEST_TX_DURATION",
  "RESPONSE_DURATION",
  "RESPONSE_TX_DURATION",
  "UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
  "CONNECTION_ID",
  "DOWNSTREAM_TLS_VERSION",
  "DOWNSTREAM_PEER_URI_SAN",
  "DOWNSTREAM_LOCAL_URI_SAN",
  "DOWNSTREAM_PEER_SUBJECT",
  "UPSTREAM_TLS_VERSION",
  "DYNAMIC_METADATA",
  "CLUSTER_METADATA",
  "UPSTREAM_METADATA",
  "FILTER_STATE",
]);

const GRPC_NAMES = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
];

function grpcStatus(e: AccessLogEntry): string | undefined {
  return e.responseTrailers?.get("grpc-status") ?? e.responseHeaders?.get("grpc-status");
}

function numberOrUndefined(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isInteger(n) ? n : undefined;
}

function grpcStatusName(s: string | undefined): string | undefined {
  const n = numberOrUndefined(s);
  return n === undefined ? undefined : (GRPC_NAMES[n] ?? String(n));
}

/** %REQ(X?Y)%: the request header X, else Y. Pseudo-headers read the entry's own fields. */
function requestHeaderGetter(name: string): Getter {
  switch (name) {
    case ":method":
      return (e) => e.method;
    case ":path":
      return (e) => e.path;
    case ":authority":
    case "host":
      return (e) => e.authority;
    case ":scheme":
      return (e) => e.scheme;
    case "x-envoy-original-path":
      return (e) => e.originalPath ?? e.requestHeaders?.get(name);
    default:
      return (e) => e.requestHeaders?.get(name);
  }
}

function responseHeaderGetter(name: string): Getter {
  switch (name) {
    case ":status":
      return (e) => (e.responseCode === 0 ? undefined : e.responseCode);
    case "x-envoy-upstream-service-time":
      return (e) => e.responseHeaders?.get(name) ?? trunc(e.upstreamServiceTimeMs);
    default:
      return (e) => e.responseHeaders?.get(name);
  }
}

function trailerGetter(name: string): Getter {
  return (e) => e.responseTrailers?.get(name);
}

/** Builds a getter for %OP(main?alternative)%. */
function headerCommand(arg: string | undefined, op: string, make: (name: string) => Getter): Command {
  if (arg === undefined || arg === "") throw new AccessLogFormatError(`%${op}%: needs a header name, as %${op}(X)%`);
  const q = arg.indexOf("?");
  if (q >= 0 && arg.indexOf("?", q + 1) >= 0) {
    throw new AccessLogFormatError(`%${op}(${arg})%: at most one alternative header (X?Y)`);
  }
  const mainName = (q >= 0 ? arg.slice(0, q) : arg).toLowerCase();
  const altName = q >= 0 ? arg.slice(q + 1).toLowerCase() : undefined;
  if (mainName === "" || altName === "") throw new AccessLogFormatError(`%${op}(${arg})%: empty header name`);
  const main = make(mainName);
  if (altName === undefined) return { getter: main, numeric: false };
  const alt = make(altName);
  return {
    getter: (e) => {
      const v = main(e);
      return v === undefined || v === "" ? alt(e) : v;
    },
    numeric: false,
  };
}

function compileCommand(op: string, arg: string | undefined, maxLength: number | undefined, at: number): Command {
  let cmd: Command;
  switch (op) {
    case "START_TIME":
      cmd = { getter: startTimeGetter(arg), numeric: false };
      break;
    case "REQ":
    case "REQUEST_HEADER":
      cmd = headerCommand(arg, op, requestHeaderGetter);
      break;
    case "RESP":
    case "RESPONSE_HEADER":
      cmd = headerCommand(arg, op, responseHeaderGetter);
      break;
    case "TRAILER":
    case "RESPONSE_TRAILER":
      cmd = headerCommand(arg, op, trailerGetter);
      break;
    case "HOSTNAME": {
      const host = hostname();
      cmd = { getter: () => host, numeric: false };
      break;
    }
    default: {
      const simple = SIMPLE[op];
      if (simple !== undefined) {
        if (arg !== undefined) throw new AccessLogFormatError(`%${op}% takes no argument (at position ${at})`);
        cmd = simple;
      } else if (UNAVAILABLE.has(op)) cmd = { getter: () => undefined, numeric: false };
      else throw new AccessLogFormatError(`unknown access log operator %${op}% at position ${at}`);
    }
  }
  if (maxLength === undefined) return cmd;
  const inner = cmd.getter;
  return {
    getter: (e) => {
      const v = inner(e);
      return typeof v === "string" && v.length > maxLength ? v.slice(0, maxLength) : v;
    },
    numeric: cmd.numeric,
    ...(cmd.emptyIsValue === true ? { emptyIsValue: true } : {}),
  };
}

// %OP%, %OP(args)%, %OP(args):N%. Arguments may themselves contain '%' (START_TIME's strftime), not ')'.
const COMMAND = /%([A-Z][A-Z0-9_]*)(?:\(([^)]*)\))?(?::(\d+))?%/y;

function parseFormat(format: string): Part[] {
  const parts: Part[] = [];
  let literal = "";
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf("%", i);
    if (pct < 0) {
      literal += format.slice(i);
      break;
    }
    literal += format.slice(i, pct);
    if (format[pct + 1] === "%") {
      literal += "%"; // "%%" is a literal percent sign
      i = pct + 2;
      continue;
    }
    COMMAND.lastIndex = pct;
    const m = COMMAND.exec(format);
    if (m === null) throw new AccessLogFormatError(`no valid operator at position ${pct} of ${JSON.stringify(format)}`);
    if (literal !== "") parts.push(literal);
    literal = "";
    parts.push(compileCommand(m[1]!, m[2], m[3] === undefined ? undefined : Number(m[3]), pct));
    i = pct + m[0].length;
  }
  if (literal !== "") parts.push(literal);
  return parts;
}

function present(v: string | number | undefined): v is string | number {
  return v !== undefined && v !== "";
}

export interface FormatOptions {
  /** Envoy's omit_empty_values: missing values print as "" (text) or leave the key out (JSON), not "-"/null. */
  omitEmptyValues?: boolean;
}

/** Compiles an Envoy format string; throws AccessLogFormatError (code TRELLIS_ACCESS_LOG_FORMAT) if invalid. */
export function compileAccessLogFormat(format: string, options: FormatOptions = {}): AccessLogFormatter {
  const parts = parseFormat(format);
  const missing = options.omitEmptyValues ? "" : "-";
  return (e) => {
    let out = "";
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (typeof p === "string") out += p;
      else {
        const v = p.getter(e);
        out += present(v) ? v : p.emptyIsValue === true && v === "" ? "" : missing;
      }
    }
    return out;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// JSON (format dictionaries)

export interface JsonFormatSpec {
  [key: string]: string | number | boolean | JsonFormatSpec;
}

/** Appends `"key":value` to out, or nothing when the value is left out. */
type JsonField = (e: AccessLogEntry, first: boolean) => string;

function compileJsonObject(spec: JsonFormatSpec, omit: boolean, path: string): (e: AccessLogEntry) => string {
  const fields: JsonField[] = [];
  for (const key of Object.keys(spec)) {
    const value = spec[key];
    const head = JSON.stringify(key) + ":";
    if (typeof value === "string") {
      const parts = parseFormat(value);
      const only = parts.length === 1 && typeof parts[0] !== "string" ? parts[0] : undefined;
      if (only !== undefined) {
        // A value that is exactly one operator keeps its type: numbers stay numbers, missing is null (Envoy).
        fields.push((e, first) => {
          const v = only.getter(e);
          if (!present(v) && !(only.emptyIsValue === true && v === ""))
            return omit ? "" : (first ? "" : ",") + head + "null";
          const text = typeof v === "number" && only.numeric ? String(v) : JSON.stringify(String(v));
          return (first ? "" : ",") + head + text;
        });
      } else {
        fields.push((e, first) => {
          let s = "";
          for (const p of parts) {
            if (typeof p === "string") s += p;
            else {
              const v = p.getter(e);
              s += present(v) ? v : p.emptyIsValue === true && v === "" ? "" : omit ? "" : "-";
            }
          }
          return (first ? "" : ",") + head + JSON.stringify(s);
        });
      }
    } else if (typeof value === "number" || typeof value === "boolean") {
      const text = JSON.stringify(value);
      fields.push((_e, first) => (first ? "" : ",") + head + text);
    } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      const nested = compileJsonObject(value, omit, `${path}.${key}`);
      fields.push((e, first) => (first ? "" : ",") + head + nested(e));
    } else {
      throw new AccessLogFormatError(`json_format${path}.${key}: expected a format string or a nested object`);
    }
  }
  return (e) => {
    let out = "{";
    let first = true;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!(e, first);
      if (f !== "") {
        out += f;
        first = false;
      }
    }
    return out + "}";
  };
}

/** Compiles a json_format dictionary; each entry becomes one JSON object on one line. */
export function compileJsonAccessLogFormat(spec: JsonFormatSpec, options: FormatOptions = {}): AccessLogFormatter {
  const object = compileJsonObject(spec, options.omitEmptyValues === true, "");
  return (e) => object(e) + "\n";
}

// ---------------------------------------------------------------------------------------------------------------
// START_TIME

function startTimeGetter(pattern: string | undefined): Getter {
  if (pattern === undefined || pattern === "") return (e) => new Date(e.startWallMs).toISOString();
  const render = compileStrftime(pattern);
  return (e) => render(e.startWallMs);
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** The strftime subset Envoy users put in START_TIME(...), in UTC; %s epoch seconds, %Nf N fraction digits. */
function compileStrftime(pattern: string): (ms: number) => string {
  const steps: ((d: Date, ms: number) => string)[] = [];
  let literal = "";
  const flush = () => {
    if (literal !== "") {
      const l = literal;
      steps.push(() => l);
      literal = "";
    }
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c !== "%" || i + 1 >= pattern.length) {
      literal += c;
      continue;
    }
    let spec = pattern[++i]!;
    let digits = 9;
    if (spec >= "1" && spec <= "9" && pattern[i + 1] === "f") {
      digits = Number(spec);
      spec = "f";
      i++;
    }
    const step = strftimeStep(spec, digits);
    if (step === undefined) {
      literal += "%" + spec;
      continue;
    }
    flush();
    steps.push(step);
  }
  flush();
  return (ms) => {
    const d = new Date(ms);
    let out = "";
    for (const s of steps) out += s(d, ms);
    return out;
  };
}

function strftimeStep(spec: string, digits: number): ((d: Date, ms: number) => string) | undefined {
  switch (spec) {
    case "Y":
      return (d) => String(d.getUTCFullYear());
    case "y":
      return (d) => pad(d.getUTCFullYear() % 100, 2);
    case "m":
      return (d) => pad(d.getUTCMonth() + 1, 2);
    case "d":
      return (d) => pad(d.getUTCDate(), 2);
    case "e":
      return (d) => String(d.getUTCDate()).padStart(2, " ");
    case "H":
      return (d) => pad(d.getUTCHours(), 2);
    case "M":
      return (d) => pad(d.getUTCMinutes(), 2);
    case "S":
      return (d) => pad(d.getUTCSeconds(), 2);
    case "j":
      return (d) => pad(Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1, 3);
    case "b":
      return (d) => MONTHS[d.getUTCMonth()]!;
    case "a":
      return (d) => DAYS[d.getUTCDay()]!;
    case "F":
      return (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
    case "T":
      return (d) => `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
    case "z":
      return () => "+0000";
    case "Z":
      return () => "UTC";
    case "s":
      return (_d, ms) => String(Math.floor(ms / 1000));
    case "f":
      // Milliseconds are all the clock gives; further digits are zeros.
      return (_d, ms) => (pad((((ms % 1000) + 1000) % 1000) | 0, 3) + "000000").slice(0, digits);
    case "%":
      return () => "%";
    default:
      return undefined;
  }
}
