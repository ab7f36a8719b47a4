// Header values with Envoy's %COMMAND% substitutions, parsed once. A value without '%' stays a plain string and
// costs nothing per request; otherwise it becomes a list of literal parts and commands evaluated per request.
//
// Supported: %DOWNSTREAM_REMOTE_ADDRESS[_WITHOUT_PORT]%, %DOWNSTREAM_LOCAL_ADDRESS[_WITHOUT_PORT]%,
// %DOWNSTREAM_DIRECT_REMOTE_ADDRESS[_WITHOUT_PORT]% (the same as the remote address: Trellis trusts no
// x-forwarded-for), %DOWNSTREAM_REMOTE_PORT%, %DOWNSTREAM_LOCAL_PORT%, %PROTOCOL%, %REQ(name[?alt])[:max]%,
// %RESP(name[?alt])[:max]% (response headers only), %HOSTNAME%, %START_TIME% (ISO 8601, Envoy's default format;
// custom formats are refused), %STREAM_ID%, %UPSTREAM_CLUSTER%, %ENVIRONMENT(NAME)% (read once, at compile time),
// and `%%` for a literal '%'. Anything else is a configuration error, as it is in Envoy.

import type { Headers } from "../http/headers.ts";
import type { RouteContext, RouteRequest } from "./request.ts";
import { Pseudo, pseudoOf, readPseudo } from "./request.ts";

const enum Cmd {
  RemoteAddress,
  RemoteAddressNoPort,
  RemotePort,
  LocalAddress,
  LocalAddressNoPort,
  LocalPort,
  Protocol,
  Req,
  Resp,
  StartTime,
  StreamId,
  UpstreamCluster,
}

class Command {
  constructor(
    readonly cmd: Cmd,
    /** REQ/RESP: the header names to try in order (`a?b`), with their pseudo-header kinds. */
    readonly names: readonly string[] = [],
    readonly pseudos: readonly Pseudo[] = [],
    /** REQ/RESP: `:N` truncates the value to N characters. */
    readonly maxLength: number = -1,
  ) {}

  evaluate(
    headers: Headers,
    response: boolean,
    req: RouteRequest,
    ctx: RouteContext,
    cluster: string | undefined,
  ): string {
    switch (this.cmd) {
      case Cmd.RemoteAddress:
        return joinHostPort(ctx.remoteAddress, ctx.remotePort);
      case Cmd.RemoteAddressNoPort:
        return ctx.remoteAddress;
      case Cmd.RemotePort:
        return String(ctx.remotePort);
      case Cmd.LocalAddress:
        return joinHostPort(ctx.localAddress, ctx.localPort);
      case Cmd.LocalAddressNoPort:
        return ctx.localAddress;
      case Cmd.LocalPort:
        return String(ctx.localPort);
      case Cmd.Protocol:
        return ctx.protocol;
      case Cmd.StartTime:
        return new Date(ctx.startWallMs ?? Date.now()).toISOString();
      case Cmd.StreamId:
        return ctx.requestId ?? "";
      case Cmd.UpstreamCluster:
        return cluster ?? "";
      default: {
        // REQ reads the request: the headers being edited on the request side, the request's own on responses.
        if (this.cmd === Cmd.Resp && !response) return "";
        const source = this.cmd === Cmd.Req && response ? req.headers : headers;
        let v: string | undefined;
        for (let i = 0; i < this.names.length && v === undefined; i++) {
          const p = this.pseudos[i]!;
          v = p !== Pseudo.None && this.cmd === Cmd.Req ? readPseudo(req, p) : source.get(this.names[i]!);
        }
        if (v === undefined) return "";
        return this.maxLength >= 0 && v.length > this.maxLength ? v.slice(0, this.maxLength) : v;
      }
    }
  }
}

/** "1.2.3.4:80", "[::1]:80": how Envoy prints an address with its port. */
export function joinHostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

export class HeaderFormatError extends Error {
  readonly code = "TRELLIS_HEADER_FORMAT_INVALID";
}

/** A compiled header value: a constant, or parts evaluated per request. */
export class HeaderValueFormat {
  /** Set when the value has no command: the string itself. */
  readonly constant: string | undefined;
  private readonly parts: readonly (string | Command)[];

  private constructor(constant: string | undefined, parts: readonly (string | Command)[]) {
    this.constant = constant;
    this.parts = parts;
  }

  /** Throws HeaderFormatError on an unknown or unterminated command. */
  static parse(value: string, env: { hostname: string }): HeaderValueFormat {
    if (!value.includes("%")) return new HeaderValueFormat(value, []);
    const parts: (string | Command)[] = [];
    let literal = "";
    let i = 0;
    while (i < value.length) {
      const c = value[i]!;
      if (c !== "%") {
        literal += c;
        i++;
        continue;
      }
      if (value[i + 1] === "%") {
        literal += "%";
        i += 2;
        continue;
      }
      const end = findCommandEnd(value, i + 1);
      if (end < 0) throw new HeaderFormatError(`unterminated %COMMAND% at position ${i} in ${JSON.stringify(value)}`);
      const token = value.slice(i + 1, end);
      const resolved = resolve(token, env);
      if (typeof resolved === "string") literal += resolved;
      else {
        if (literal !== "") parts.push(literal);
        literal = "";
        parts.push(resolved);
      }
      i = end + 1;
    }
    if (literal !== "") parts.push(literal);
    if (parts.length === 0) return new HeaderValueFormat("", []);
    if (parts.length === 1 && typeof parts[0] === "string") return new HeaderValueFormat(parts[0], []);
    return new HeaderValueFormat(undefined, parts);
  }

  evaluate(
    headers: Headers,
    response: boolean,
    req: RouteRequest,
    ctx: RouteContext,
    cluster: string | undefined,
  ): string {
    if (this.constant !== undefined) return this.constant;
    const parts = this.parts;
    let out = "";
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      out += typeof p === "string" ? p : p.evaluate(headers, response, req, ctx, cluster);
    }
    return out;
  }
}

/** The closing '%' of a command starting at `from`; parentheses may hold '%' (e.g. %START_TIME(%s)%). */
function findCommandEnd(value: string, from: number): number {
  let depth = 0;
  for (let i = from; i < value.length; i++) {
    const c = value[i];
    if (c === "(") depth++;
    else if (c === ")") depth = Math.max(0, depth - 1);
    else if (c === "%" && depth === 0) return i;
  }
  return -1;
}

const SIMPLE: Record<string, Cmd> = {
  DOWNSTREAM_REMOTE_ADDRESS: Cmd.RemoteAddress,
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: Cmd.RemoteAddressNoPort,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: Cmd.RemoteAddress,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: Cmd.RemoteAddressNoPort,
  DOWNSTREAM_REMOTE_PORT: Cmd.RemotePort,
  DOWNSTREAM_LOCAL_ADDRESS: Cmd.LocalAddress,
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: Cmd.LocalAddressNoPort,
  DOWNSTREAM_LOCAL_PORT: Cmd.LocalPort,
  PROTOCOL: Cmd.Protocol,
  START_TIME: Cmd.StartTime,
  STREAM_ID: Cmd.StreamId,
  UPSTREAM_CLUSTER: Cmd.UpstreamCluster,
};

/** A command token (without the '%'s) → a Command, or a string when it is constant for the process. */
function resolve(token: string, env: { hostname: string }): Command | string {
  const simple = SIMPLE[token];
  if (simple !== undefined) return new Command(simple);
  if (token === "HOSTNAME") return env.hostname;
  const m = /^(REQ|RESP|ENVIRONMENT)\(([^()]*)\)(?::(\d+))?$/.exec(token);
  if (m) {
    const [, op, arg, max] = m;
    const maxLength = max === undefined ? -1 : Number(max);
    if (op === "ENVIRONMENT") {
      const v = process.env[arg!] ?? "";
      return maxLength >= 0 ? v.slice(0, maxLength) : v;
    }
    const names = arg!.split("?").map((n) => n.trim().toLowerCase());
    if (names.length > 2 || names.some((n) => n === "")) {
      throw new HeaderFormatError(`%${token}%: expected one header name or two separated by '?'`);
    }
    return new Command(op === "REQ" ? Cmd.Req : Cmd.Resp, names, names.map(pseudoOf), maxLength);
  }
  if (token.startsWith("START_TIME(")) {
    throw new HeaderFormatError(`%${token}%: custom START_TIME formats are not supported (use %START_TIME%)`);
  }
  throw new HeaderFormatError(`%${token}% is not a supported header value command`);
}
