// FilterChainMatch: which connections a filter chain takes. Implemented: destination_port, prefix_ranges (the
// destination address), server_names (SNI), transport_protocol, application_protocols (ALPN) and
// source_prefix_ranges; the other source criteria and address_suffix are refused, since dropping them would send
// connections to the wrong chain.

import net, { isIP } from "node:net";
import type { CidrRange, FilterChainMatch } from "../types.ts";
import { describe, type ParseContext } from "./context.ts";
import { Fields, type Item } from "./fields.ts";

const FILTER_CHAIN_MATCH_SPEC = {
  handled: [
    "destination_port",
    "prefix_ranges",
    "server_names",
    "transport_protocol",
    "application_protocols",
    "source_prefix_ranges",
  ],
  unsupported: ["address_suffix", "suffix_len", "direct_source_prefix_ranges", "source_type", "source_ports"],
} as const;

const CIDR_RANGE_SPEC = { handled: ["address_prefix", "prefix_len"] } as const;

/** What tls_inspector can detect (Envoy's listener sets "raw_buffer" when no listener filter detected anything). */
export const TRANSPORT_PROTOCOLS = ["tls", "raw_buffer"] as const;

export const ANY_CONNECTION: FilterChainMatch = Object.freeze({
  destinationPort: undefined,
  serverNames: [],
  transportProtocol: "",
  applicationProtocols: [],
  prefixRanges: [],
  sourcePrefixRanges: [],
});

/** Reads a filter_chain_match at `path` (absent → matches any connection). */
export function readFilterChainMatch(ctx: ParseContext, raw: unknown, path: string): FilterChainMatch {
  if (raw === undefined || raw === null) return ANY_CONNECTION;
  const match = Fields.open(ctx, raw, path, FILTER_CHAIN_MATCH_SPEC);
  const destinationPort = match.optionalInteger("destination_port", 1, 65535);
  const serverNames = match.list("server_names").flatMap((item) => readServerName(ctx, item));
  let transportProtocol = match.string("transport_protocol") ?? "";
  if (transportProtocol !== "" && !(TRANSPORT_PROTOCOLS as readonly string[]).includes(transportProtocol)) {
    match.report(
      "transport_protocol",
      `expected one of ${TRANSPORT_PROTOCOLS.join(", ")}, got ${describe(transportProtocol)}`,
    );
    transportProtocol = "";
  }
  const applicationProtocols: string[] = [];
  for (const item of match.list("application_protocols")) {
    if (typeof item.value === "string" && item.value !== "") applicationProtocols.push(item.value);
    else ctx.report(item.path, `expected a protocol name (e.g. "h2"), got ${describe(item.value)}`);
  }
  const prefixRanges = match.list("prefix_ranges").flatMap((item) => readCidrRange(ctx, item));
  const sourcePrefixRanges = match.list("source_prefix_ranges").flatMap((item) => readCidrRange(ctx, item));
  return { destinationPort, serverNames, transportProtocol, applicationProtocols, prefixRanges, sourcePrefixRanges };
}

/**
 * A core.v3.CidrRange: an IPv4 or IPv6 address and prefix_len (0 when unset, up to 32 or 128). The address is kept
 * masked to its prefix ("10.1.2.3/8" is 10.0.0.0/8), as Envoy's CidrRange keeps it.
 */
export function readCidrRange(ctx: ParseContext, item: Item): CidrRange[] {
  const range = Fields.open(ctx, item.value, item.path, CIDR_RANGE_SPEC);
  const addressPrefix = range.requiredString("address_prefix");
  const family = isIP(addressPrefix);
  if (addressPrefix !== "" && family === 0) {
    range.report("address_prefix", `expected an IPv4 or IPv6 address, got ${describe(addressPrefix)}`);
    return [];
  }
  const prefixLen = range.integer("prefix_len", 0, 0, family === 6 ? 128 : 32);
  if (family === 0 || range.broken) return [];
  return [{ addressPrefix: maskedPrefix(addressPrefix, prefixLen), prefixLen }];
}

/** The address with every bit past `prefixLen` cleared, in the canonical form. */
function maskedPrefix(address: string, prefixLen: number): string {
  const bits = addressBits(address, false);
  if (bits === undefined) return address;
  const width = isIP(address) === 6 ? 128 : 32;
  const keep = prefixLen === 0 ? 0n : ((1n << BigInt(prefixLen)) - 1n) << BigInt(width - prefixLen);
  return bitsToAddress(bits & keep, width);
}

/**
 * An IPv4 or IPv6 address as a number (IPv4-mapped IPv6 "::ffff:a.b.c.d" is read as its IPv4 address, the way a
 * dual-stack socket reports an IPv4 peer, unless `unmap` is false); undefined when it is neither.
 */
export function addressBits(address: string, unmap = true): bigint | undefined {
  const v4 = parseV4(
    unmap && address.toLowerCase().startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address,
  );
  if (v4 !== undefined) return v4;
  if (isIP(address) !== 6) return undefined;
  const [head, tail] = address.includes("::") ? address.split("::") : [address, undefined];
  const groups = (part: string | undefined): bigint[] => {
    if (part === undefined || part === "") return [];
    const out: bigint[] = [];
    for (const g of part.split(":")) {
      if (g.includes(".")) {
        const embedded = parseV4(g)!;
        out.push(embedded >> 16n, embedded & 0xffffn);
      } else out.push(BigInt(parseInt(g, 16)));
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<bigint>(8 - h.length - t.length).fill(0n), ...t];
  return all.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** Whether `address` is an IPv4 address (or IPv4-mapped IPv6): it matches IPv4 ranges only. */
export function isV4Address(address: string): boolean {
  return isIP(address) === 4 || (address.toLowerCase().startsWith("::ffff:") && isIP(address.slice(7)) === 4);
}

function parseV4(address: string): bigint | undefined {
  if (isIP(address) !== 4) return undefined;
  return address.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
}

function bitsToAddress(bits: bigint, width: number): string {
  if (width === 32) return [24n, 16n, 8n, 0n].map((s) => String((bits >> s) & 0xffn)).join(".");
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((bits >> BigInt(16 * i)) & 0xffffn).toString(16));
  return new net.SocketAddress({ address: groups.join(":"), family: "ipv6" }).address;
}

/** Exact names and "*.suffix" wildcards, as Envoy: any other "*" (a partial wildcard) is refused. */
function readServerName(ctx: ParseContext, item: Item): string[] {
  if (typeof item.value !== "string") {
    ctx.report(item.path, `expected a server name, got ${describe(item.value)}`);
    return [];
  }
  const name = item.value.toLowerCase();
  const wildcard = name.startsWith("*.");
  const rest = wildcard ? name.slice(2) : name;
  if (rest === "" || rest.includes("*")) {
    ctx.report(item.path, `expected a host name or a "*.suffix" wildcard, got ${describe(item.value)}`);
    return [];
  }
  return [name];
}

/**
 * The leaves of Envoy's filter chain lookup tree a match occupies: one key per combination of its criteria. Two
 * chains sharing a leaf could never both be reached; Envoy refuses that ("overlapping matching rules").
 */
export function matchKeys(m: FilterChainMatch): string[] {
  const keys: string[] = [];
  for (const name of m.serverNames.length > 0 ? m.serverNames : [""])
    for (const alpn of m.applicationProtocols.length > 0 ? m.applicationProtocols : [""])
      for (const dst of m.prefixRanges.length > 0 ? m.prefixRanges.map(cidrKey) : [""])
        for (const src of m.sourcePrefixRanges.length > 0 ? m.sourcePrefixRanges.map(cidrKey) : [""])
          keys.push(`${m.destinationPort ?? 0}|${dst}|${name}|${m.transportProtocol}|${alpn}|${src}`);
  return keys;
}

function cidrKey(r: CidrRange): string {
  return `${r.addressPrefix}/${r.prefixLen}`;
}
