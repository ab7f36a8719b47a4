// What routing reads of a request and of its connection, and the small read helpers every matcher shares. The
// helpers avoid allocating on the common paths: a single header value is returned as is, and the path's query
// string is located by index instead of being sliced off.

import type { Headers } from "../http/headers.ts";

/** What routing reads of a request; an Exchange (src/proxy/http/exchange.ts) satisfies it structurally. */
export interface RouteRequest {
  method: string;
  /** Origin form, query included ("/a/b?c=d"). */
  path: string;
  authority: string;
  scheme: string;
  /** Lower-case names, without pseudo-headers or Host. */
  headers: Headers;
}

/** The connection facts header formats and hash policies read. */
export interface RouteContext {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** "HTTP/1.1", "HTTP/2", … (what %PROTOCOL% prints). */
  protocol: string;
  /** The x-request-id of this request (%STREAM_ID%). */
  requestId?: string;
  /** Wall-clock milliseconds when the request started (Clock.wallNow()), for %START_TIME%; now when absent. */
  startWallMs?: number;
}

/** Which request field a pseudo-header name reads; 0 = an ordinary header. */
export enum Pseudo {
  None = 0,
  Method = 1,
  Path = 2,
  Authority = 3,
  Scheme = 4,
}

export function pseudoOf(name: string): Pseudo {
  switch (name) {
    case ":method":
      return Pseudo.Method;
    case ":path":
      return Pseudo.Path;
    // HTTP/1.1's Host is HTTP/2's :authority; the Exchange keeps it out of the header list, so read the field.
    case ":authority":
    case "host":
      return Pseudo.Authority;
    case ":scheme":
      return Pseudo.Scheme;
    default:
      return Pseudo.None;
  }
}

export function readPseudo(req: RouteRequest, p: Pseudo): string {
  switch (p) {
    case Pseudo.Method:
      return req.method;
    case Pseudo.Path:
      return req.path;
    case Pseudo.Authority:
      return req.authority;
    default:
      return req.scheme;
  }
}

/** All values of `name` joined with "," (Envoy's getAllOfHeaderAsString), or undefined when absent. */
export function joinedHeader(headers: Headers, name: string): string | undefined {
  const l = headers.list;
  let out: string | undefined;
  for (let i = 0; i < l.length; i += 2) {
    if (l[i] === name) out = out === undefined ? l[i + 1] : out + "," + l[i + 1];
  }
  return out;
}

/** Index where the path part ends: the first '?' or '#', else the length (Envoy's removeQueryAndFragment). */
export function pathEnd(path: string): number {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return i;
  }
  return path.length;
}

/**
 * The query string as a flat [name, value, …] list, neither name nor value percent-decoded (Envoy's
 * QueryParamsMulti::parseQueryString, which route matching and hash policies use). A parameter without '=' has the
 * value "". The last parse is kept: it is a pure function of the path, so a second reader of the same request (or
 * of the same path) pays nothing.
 */
let lastPath: string | undefined;
let lastQuery: string[] = [];

export function parseQuery(path: string): string[] {
  if (path === lastPath) return lastQuery;
  const out: string[] = [];
  const q = path.indexOf("?");
  if (q >= 0) {
    let start = q + 1;
    while (start < path.length) {
      let end = path.indexOf("&", start);
      if (end < 0) end = path.length;
      const eq = path.indexOf("=", start);
      if (eq >= 0 && eq < end) out.push(path.slice(start, eq), path.slice(eq + 1, end));
      else out.push(path.slice(start, end), "");
      start = end + 1;
    }
  }
  lastPath = path;
  lastQuery = out;
  return out;
}

export function firstQueryValue(query: string[], name: string): string | undefined {
  for (let i = 0; i < query.length; i += 2) if (query[i] === name) return query[i + 1];
  return undefined;
}

/** Where a host's port starts (the ':' index), -1 if none; "[::1]" has none, "[::1]:80" has one (Envoy's getPortStart). */
export function portStart(host: string): number {
  const colon = host.lastIndexOf(":");
  if (colon < 0) return -1;
  const v6End = host.lastIndexOf("]");
  return v6End < 0 || v6End < colon ? colon : -1;
}
