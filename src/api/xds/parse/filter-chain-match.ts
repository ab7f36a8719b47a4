// FilterChainMatch: which connections a filter chain takes. The subset implemented is what TLS passthrough routing
// needs — destination_port, server_names (SNI), transport_protocol, application_protocols (ALPN); the address and
// source criteria are refused, since dropping them would send connections to the wrong chain.

import type { FilterChainMatch } from "../types.ts";
import { describe, type ParseContext } from "./context.ts";
import { Fields, type Item } from "./fields.ts";

const FILTER_CHAIN_MATCH_SPEC = {
  handled: ["destination_port", "server_names", "transport_protocol", "application_protocols"],
  unsupported: [
    "prefix_ranges",
    "address_suffix",
    "suffix_len",
    "direct_source_prefix_ranges",
    "source_type",
    "source_prefix_ranges",
    "source_ports",
  ],
} as const;

/** What tls_inspector can detect (Envoy's listener sets "raw_buffer" when no listener filter detected anything). */
export const TRANSPORT_PROTOCOLS = ["tls", "raw_buffer"] as const;

export const ANY_CONNECTION: FilterChainMatch = Object.freeze({
  destinationPort: undefined,
  serverNames: [],
  transportProtocol: "",
  applicationProtocols: [],
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
  return { destinationPort, serverNames, transportProtocol, applicationProtocols };
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
      keys.push(`${m.destinationPort ?? 0}|${name}|${m.transportProtocol}|${alpn}`);
  return keys;
}
