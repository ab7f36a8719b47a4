// The DNS proxy's lookup table, built from Istio's NameTable (NDS) as the control plane sends it, and answering as
// Istio's agent does (istio/istio pkg/dns/client/dns.go):
//   - every host of the table by its name (meeting.default.svc.cluster.local, api.example.org);
//   - a registry service in the proxy's cluster domain (the host ends in svc.<domain>, shortname and namespace set)
//     also as name.namespace, name.namespace.svc and, in the proxy's own namespace, as name: how an app's query
//     arrives when the resolver sends it unexpanded (ndots, an absolute name);
//   - each of those plus the first search domain of the pod (<proxy namespace>.svc.<domain>), the form a resolver
//     tries first for a name with fewer than 5 dots: answered with a CNAME to the name and its addresses, so the
//     search ends at the first query (meeting.default.default.svc.cluster.local → meeting.default);
//   - wildcard hosts (*.example.org answers a.example.org and a.b.example.org; the most specific wildcard wins;
//     an exact host beats any wildcard); names are compared case-insensitively.
// A name found answers A and AAAA from its IPv4 and IPv6 addresses (TTL 30 s); a type it has no address of is
// answered NOERROR with no records (NODATA, never NXDOMAIN: a client asking A and AAAA at once must not take a
// missing AAAA for a missing name). Other query types, and names not found, are not answered here (forwarded).

import { isIP } from "node:net";
import { TrellisError } from "../../api/errors.ts";
import { TYPE, type OutRecord } from "./message.ts";

/** Istio's TTL for the answers of its DNS proxy. */
export const TABLE_TTL_SECONDS = 30;

/** A NameTable that cannot be used: every problem, each naming the host and the field. */
export class NameTableError extends TrellisError {
  constructor(readonly issues: readonly string[]) {
    super("TRELLIS_DNS_NAME_TABLE", `NameTable: ${issues.join("; ")}`);
  }
}

interface Addresses {
  v4: string[];
  v6: string[];
}

export interface LookupOptions {
  /** The proxy's namespace (its pod's first search domain is <namespace>.svc.<domain>). */
  namespace: string;
  /** The cluster domain (default cluster.local). */
  domain?: string;
}

export type LookupResult = { found: false } | { found: true; answers: OutRecord[] };

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** The name as the table keys it: lower case, no final dot. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

function hostProblem(host: string): string | undefined {
  if (host === "") return "an empty host name";
  if (host.length > 253) return "longer than 253 characters";
  const labels = host.split(".");
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l === "*" && i === 0 && labels.length > 1) continue;
    if (!LABEL.test(l)) return `label "${l}" is not a DNS label (a-z, 0-9, -, _; 1-63; "*" only as the first label)`;
  }
  return undefined;
}

export class LookupTable {
  private readonly hosts = new Map<string, Addresses>();
  private readonly search: string;

  private constructor(options: LookupOptions) {
    const domain = canonicalName(options.domain ?? "cluster.local");
    this.search = `${canonicalName(options.namespace)}.svc.${domain}`;
  }

  /** An empty table: every query is forwarded. */
  static empty(options: LookupOptions): LookupTable {
    return new LookupTable(options);
  }

  /**
   * Builds the table from the NameTable resources (Istio sends one, named ""), as decoded from the wire. Throws
   * NameTableError naming every bad host and field; nothing is built then (the caller keeps its last good table).
   */
  static build(resources: readonly Record<string, unknown>[], options: LookupOptions): LookupTable {
    const table = new LookupTable(options);
    const domain = canonicalName(options.domain ?? "cluster.local");
    const serviceDomain = `svc.${domain}`;
    const issues: string[] = [];
    resources.forEach((resource, r) => {
      const at = resources.length > 1 ? `resources[${r}].` : "";
      const entries = resource.table ?? {};
      if (typeof entries !== "object" || entries === null || Array.isArray(entries)) {
        issues.push(`${at}table: expected a map of host name to NameInfo`);
        return;
      }
      for (const [key, value] of Object.entries(entries as Record<string, unknown>)) {
        const where = `${at}table["${key}"]`;
        const host = canonicalName(key);
        const problem = hostProblem(host);
        if (problem !== undefined) {
          issues.push(`${where}: ${problem}`);
          continue;
        }
        const info = (value ?? {}) as Record<string, unknown>;
        const ips = info.ips ?? [];
        if (!Array.isArray(ips)) {
          issues.push(`${where}.ips: expected a list of IP addresses`);
          continue;
        }
        const addresses: Addresses = { v4: [], v6: [] };
        ips.forEach((ip, i) => {
          const family = typeof ip === "string" ? isIP(ip) : 0;
          if (family === 4) addresses.v4.push(ip as string);
          else if (family === 6) addresses.v6.push(ip as string);
          else issues.push(`${where}.ips[${i}]: ${JSON.stringify(ip)} is not an IPv4 or IPv6 address`);
        });
        const names = new Set([host]);
        const shortname = typeof info.shortname === "string" ? canonicalName(info.shortname) : "";
        const namespace = typeof info.namespace === "string" ? canonicalName(info.namespace) : "";
        if (shortname !== "" && namespace !== "" && host.endsWith("." + serviceDomain)) {
          names.add(`${shortname}.${namespace}`);
          names.add(`${shortname}.${namespace}.svc`);
          if (namespace === canonicalName(options.namespace)) names.add(shortname);
        }
        const alt = info.alt_hosts ?? [];
        if (!Array.isArray(alt)) issues.push(`${where}.alt_hosts: expected a list of host names`);
        else
          alt.forEach((a, i) => {
            const name = typeof a === "string" ? canonicalName(a) : "";
            const bad = typeof a === "string" ? hostProblem(name) : "expected a host name";
            if (bad !== undefined) issues.push(`${where}.alt_hosts[${i}]: ${bad}`);
            else names.add(name);
          });
        for (const n of names) {
          const held = table.hosts.get(n);
          if (held === undefined) table.hosts.set(n, { v4: [...addresses.v4], v6: [...addresses.v6] });
          else {
            // Two entries answering to one name (a short form of two services, say): both sets of addresses.
            for (const ip of addresses.v4) if (!held.v4.includes(ip)) held.v4.push(ip);
            for (const ip of addresses.v6) if (!held.v6.includes(ip)) held.v6.push(ip);
          }
        }
      }
    });
    if (issues.length > 0) throw new NameTableError(issues);
    return table;
  }

  /** How many names the table answers to (expanded forms included, search-domain forms not). */
  get size(): number {
    return this.hosts.size;
  }

  /** Answers a query for `qname` (as it came: its case is kept in the answers) of `qtype`. */
  lookup(qname: string, qtype: number): LookupResult {
    if (qtype !== TYPE.A && qtype !== TYPE.AAAA) return { found: false };
    const question = qname.endsWith(".") ? qname.slice(0, -1) : qname;
    const name = canonicalName(question);
    const direct = this.match(name);
    if (direct !== undefined) return { found: true, answers: records(question, qtype, direct) };
    // The pod's first search domain appended: a CNAME to the name, then its addresses (Istio's chained answer).
    const suffix = "." + this.search;
    if (name.endsWith(suffix) && name.length > suffix.length) {
      const target = question.slice(0, question.length - suffix.length);
      const expanded = this.match(canonicalName(target));
      if (expanded !== undefined) {
        const addresses = records(target, qtype, expanded);
        if (addresses.length === 0) return { found: true, answers: [] };
        return {
          found: true,
          answers: [{ name: question, type: TYPE.CNAME, ttl: TABLE_TTL_SECONDS, target }, ...addresses],
        };
      }
    }
    return { found: false };
  }

  /** The addresses of `name`: itself, else the most specific wildcard above it. */
  private match(name: string): Addresses | undefined {
    const exact = this.hosts.get(name);
    if (exact !== undefined) return exact;
    let dot = name.indexOf(".");
    while (dot >= 0 && dot < name.length - 1) {
      const wildcard = this.hosts.get("*" + name.slice(dot));
      if (wildcard !== undefined) return wildcard;
      dot = name.indexOf(".", dot + 1);
    }
    return undefined;
  }
}

function records(owner: string, qtype: number, a: Addresses): OutRecord[] {
  const list = qtype === TYPE.A ? a.v4 : a.v6;
  return list.map((address) => ({
    name: owner,
    type: qtype as typeof TYPE.A | typeof TYPE.AAAA,
    ttl: TABLE_TTL_SECONDS,
    address,
  }));
}
