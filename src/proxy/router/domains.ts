// Virtual host selection by authority, with Envoy's precedence: exact domains (a Map), then suffix wildcards
// ("*.foo.com", "*-bar.foo.com") longest first, then prefix wildcards ("foo.*") longest first, then "*". A wildcard
// must cover at least one character ("*.foo.com" does not match ".foo.com"). Lookup is case-insensitive.
//
// Ports: within each of those stages, the authority as received ("a.com:8080") is tried first and then, when it has
// a port, without it ("a.com"), so a domain naming the port wins over one that does not, and a port never makes an
// exact domain lose to a wildcard. (Envoy itself either matches the port literally or, with
// strip_matching_host_port / ignore_port_in_host_matching, drops it before matching; this order serves both kinds of
// domain lists, such as Istio's, which lists every host with and without its port.)

import { asciiLower } from "./ascii.ts";
import { portStart } from "./request.ts";

/** Wildcards of one length, scanned directly when few, looked up in a Map when many. */
interface WildcardGroup<T> {
  length: number;
  list: [string, T][];
  map: Map<string, T>;
}

const SCAN_LIMIT = 8;

export class DomainIndex<T> {
  private readonly exact = new Map<string, T>();
  private readonly suffixes: WildcardGroup<T>[] = [];
  private readonly prefixes: WildcardGroup<T>[] = [];
  private any: T | undefined;

  /** Adds a domain; returns an error message for a duplicate (Envoy rejects those) or undefined. */
  add(domain: string, value: T): string | undefined {
    const d = asciiLower(domain);
    if (d === "*") {
      if (this.any !== undefined) return `only one virtual host may use the domain "*"`;
      this.any = value;
      return undefined;
    }
    if (d.startsWith("*")) return addWildcard(this.suffixes, d.slice(1), value, domain);
    if (d.endsWith("*")) return addWildcard(this.prefixes, d.slice(0, -1), value, domain);
    if (this.exact.has(d)) return `duplicate domain ${JSON.stringify(domain)}`;
    this.exact.set(d, value);
    return undefined;
  }

  get onlyDefault(): boolean {
    return this.exact.size === 0 && this.suffixes.length === 0 && this.prefixes.length === 0;
  }

  find(authority: string): T | undefined {
    if (this.onlyDefault) return this.any;
    // Most authorities arrive lower-case: try them as received before paying for the lower-casing scan.
    const hit = this.exact.get(authority);
    if (hit !== undefined) return hit;
    const host = asciiLower(authority);
    if (host !== authority) {
      const v = this.exact.get(host);
      if (v !== undefined) return v;
    }
    // Only now, on a miss with the port, is the bare host (one small string) made.
    const colon = portStart(host);
    const bare = colon < 0 ? undefined : host.slice(0, colon);
    const v =
      (bare === undefined ? undefined : this.exact.get(bare)) ??
      findWildcard(this.suffixes, host, bare, true) ??
      findWildcard(this.prefixes, host, bare, false);
    return v ?? this.any;
  }
}

function addWildcard<T>(groups: WildcardGroup<T>[], part: string, value: T, domain: string): string | undefined {
  let g = groups.find((x) => x.length === part.length);
  if (!g) {
    g = { length: part.length, list: [], map: new Map() };
    groups.push(g);
    groups.sort((a, b) => b.length - a.length);
  }
  if (g.map.has(part)) return `duplicate domain ${JSON.stringify(domain)}`;
  g.map.set(part, value);
  g.list.push([part, value]);
  return undefined;
}

function findWildcard<T>(
  groups: readonly WildcardGroup<T>[],
  host: string,
  bare: string | undefined,
  suffix: boolean,
): T | undefined {
  for (let gi = 0; gi < groups.length; gi++) {
    const v = matchGroup(groups[gi]!, host, suffix);
    if (v !== undefined) return v;
  }
  if (bare === undefined) return undefined;
  for (let gi = 0; gi < groups.length; gi++) {
    const v = matchGroup(groups[gi]!, bare, suffix);
    if (v !== undefined) return v;
  }
  return undefined;
}

function matchGroup<T>(g: WildcardGroup<T>, host: string, suffix: boolean): T | undefined {
  // Strictly shorter: the '*' stands for at least one character.
  if (g.length >= host.length) return undefined;
  if (g.list.length > SCAN_LIMIT) {
    return g.map.get(suffix ? host.slice(host.length - g.length) : host.slice(0, g.length));
  }
  for (let i = 0; i < g.list.length; i++) {
    const [part, value] = g.list[i]!;
    if (suffix ? host.endsWith(part) : host.startsWith(part)) return value;
  }
  return undefined;
}
