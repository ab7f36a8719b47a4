// A route's hash_policy, evaluated as Envoy's HashPolicyImpl::generateHash: policies in order; each that yields a
// value is folded in (the previous hash rotated left by one, xor the new one: combineHashes); a terminal policy
// stops the walk once any hash exists; undefined when nothing yielded a value. The hash function is the one the
// ring-hash and maglev balancers use (src/proxy/upstream/hash.ts), so keys and rings agree.

import type { HashPolicy } from "../../api/xds/types.ts";
import { combineHashes, hashString } from "../upstream/hash.ts";
import { joinHostPort } from "./header-format.ts";
import type { RouteContext, RouteRequest } from "./request.ts";
import { Pseudo, firstQueryValue, parseQuery, pseudoOf, readPseudo } from "./request.ts";

/** Called with a Set-Cookie header value when a cookie policy with a ttl generated the cookie (Envoy does too). */
export type SetCookie = (headerValue: string) => void;

const enum Kind {
  Header,
  Cookie,
  SourceIp,
  Query,
}

interface Compiled {
  readonly kind: Kind;
  readonly name: string;
  readonly pseudo: Pseudo;
  readonly terminal: boolean;
  /** Cookie: Max-Age in seconds when the cookie may be generated; undefined = never generate. */
  readonly ttlSeconds: number | undefined;
  readonly path: string;
}

export class HashPolicyEvaluator {
  private readonly policies: readonly Compiled[];

  constructor(policies: readonly HashPolicy[]) {
    this.policies = policies.map((p) => {
      const name =
        p.kind === "header"
          ? p.headerName.toLowerCase()
          : p.kind === "cookie" || p.kind === "query_parameter"
            ? p.name
            : "";
      return {
        kind:
          p.kind === "header"
            ? Kind.Header
            : p.kind === "cookie"
              ? Kind.Cookie
              : p.kind === "source_ip"
                ? Kind.SourceIp
                : Kind.Query,
        name,
        pseudo: p.kind === "header" ? pseudoOf(name) : Pseudo.None,
        terminal: p.terminal,
        ttlSeconds: p.kind === "cookie" && p.ttlMs !== undefined ? Math.floor(p.ttlMs / 1000) : undefined,
        path: p.kind === "cookie" ? p.path : "",
      };
    });
  }

  get empty(): boolean {
    return this.policies.length === 0;
  }

  hash(req: RouteRequest, ctx: RouteContext, setCookie: SetCookie | undefined): number | undefined {
    let hash: number | undefined;
    const ps = this.policies;
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i]!;
      const h = evaluate(p, req, ctx, setCookie);
      if (h !== undefined) hash = hash === undefined ? h : combineHashes(hash, h);
      if (p.terminal && hash !== undefined) break;
    }
    return hash;
  }
}

function evaluate(
  p: Compiled,
  req: RouteRequest,
  ctx: RouteContext,
  setCookie: SetCookie | undefined,
): number | undefined {
  switch (p.kind) {
    case Kind.Header:
      return p.pseudo !== Pseudo.None ? hashString(readPseudo(req, p.pseudo)) : hashHeader(req, p.name);
    case Kind.SourceIp:
      return ctx.remoteAddress === "" ? undefined : hashString(ctx.remoteAddress);
    case Kind.Query: {
      const v = firstQueryValue(parseQuery(req.path), p.name);
      return v === undefined ? undefined : hashString(v);
    }
    default: {
      const v = cookieValue(req, p.name);
      if (v !== undefined && v !== "") return hashString(v);
      if (p.ttlSeconds === undefined) return undefined;
      // Envoy derives the new cookie from the connection's addresses, so one client keeps landing on one host.
      const remote = joinHostPort(ctx.remoteAddress, ctx.remotePort);
      const local = joinHostPort(ctx.localAddress, ctx.localPort);
      const generated = hashString(remote + local)
        .toString(16)
        .padStart(8, "0");
      setCookie?.(setCookieValue(p.name, generated, p.path, p.ttlSeconds));
      return hashString(generated);
    }
  }
}

/** Every value of the header, order-insensitively (Envoy sorts the values so "a, b" and "b, a" agree). */
function hashHeader(req: RouteRequest, name: string): number | undefined {
  const l = req.headers.list;
  let first = -1;
  let count = 0;
  for (let i = 0; i < l.length; i += 2) {
    if (l[i] === name) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (count === 0) return undefined;
  if (count === 1) return hashString(l[first + 1]!);
  const values = req.headers.getAll(name).sort();
  let h = 0;
  for (const v of values) h = hashString(v, h);
  return h;
}

/** The first `name` cookie in the Cookie header(s), quotes removed (Envoy's parseCookieValue). */
export function cookieValue(req: RouteRequest, name: string): string | undefined {
  const l = req.headers.list;
  for (let i = 0; i < l.length; i += 2) {
    if (l[i] !== "cookie") continue;
    const header = l[i + 1]!;
    let start = 0;
    while (start < header.length) {
      let end = header.indexOf(";", start);
      if (end < 0) end = header.length;
      while (start < end && header.charCodeAt(start) === 32) start++;
      const eq = header.indexOf("=", start);
      if (eq >= 0 && eq < end && eq - start === name.length && header.startsWith(name, start)) {
        let v = header.slice(eq + 1, end);
        if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
        return v;
      }
      start = end + 1;
    }
  }
  return undefined;
}

/** Envoy's makeSetCookieValue for a generated hash cookie (HttpOnly, Max-Age only when the ttl is non-zero). */
function setCookieValue(name: string, value: string, path: string, maxAge: number): string {
  let out = `${name}="${value}"`;
  if (maxAge !== 0) out += `; Max-Age=${maxAge}`;
  if (path !== "") out += `; Path=${path}`;
  return out + "; HttpOnly";
}
