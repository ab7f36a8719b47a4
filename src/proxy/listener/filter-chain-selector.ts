// Envoy's filter chain lookup (FilterChainManagerImpl, legacy matcher): a tree built once per listener, walked
// level by level — destination port → destination IP (prefix_ranges) → server name → transport protocol →
// application protocols → source IP (source_prefix_ranges). At each level the most specific entry that fits wins (a
// port before "any port"; the longest prefix containing the address, "any address" being /0; an exact server name,
// then "*.b.c", then "*.c", then "any name"; each requested ALPN protocol in the client's order, then "any"), and the
// walk never backtracks: a connection whose most specific entry has no fitting chain below it gets the default chain
// (or none), even if a less specific entry would have fitted — as in Envoy.

import type { CidrRange, FilterChainMatch } from "../../api/xds/types.ts";
import { addressBits, isV4Address } from "../../api/xds/parse/filter-chain-match.ts";

/** What the listener (and its listener filters) know about a new connection. */
export interface ConnectionProperties {
  destinationPort: number;
  /** The local address (after original_dst or the PROXY protocol: the one the client meant); absent when unknown. */
  destinationAddress?: string;
  /** The peer's address; absent when unknown. */
  sourceAddress?: string;
  /** "tls" when tls_inspector found a ClientHello, else "raw_buffer" (Envoy's default). */
  transportProtocol: string;
  /** SNI, lower case; "" when none. */
  serverName: string;
  /** ALPN protocols the client offered, in its order. */
  applicationProtocols: readonly string[];
}

/** Addresses by longest prefix; a range list that is empty stands for "any" (0.0.0.0/0 and ::/0, as in Envoy). */
class IpLevel<N> {
  private readonly entries: { v4: boolean; bits: bigint; len: number; key: string; next: N }[] = [];
  private anyEntry: N | undefined;

  child(ranges: readonly CidrRange[], make: () => N): N[] {
    if (ranges.length === 0) return [(this.anyEntry ??= make())];
    return ranges.map((r) => {
      const key = `${r.addressPrefix}/${r.prefixLen}`;
      const found = this.entries.find((e) => e.key === key);
      if (found !== undefined) return found.next;
      const v4 = isV4Address(r.addressPrefix);
      const entry = { v4, bits: addressBits(r.addressPrefix) ?? 0n, len: r.prefixLen, key, next: make() };
      this.entries.push(entry);
      this.entries.sort((a, b) => b.len - a.len); // the longest prefix first
      return entry.next;
    });
  }

  lookup(address: string | undefined): N | undefined {
    if (this.entries.length > 0 && address !== undefined && address !== "") {
      const bits = addressBits(address);
      if (bits !== undefined) {
        const v4 = isV4Address(address);
        const width = v4 ? 32 : 128;
        for (const e of this.entries) {
          if (e.v4 !== v4) continue;
          if (e.len === 0 || bits >> BigInt(width - e.len) === e.bits >> BigInt(width - e.len)) return e.next;
        }
      }
    }
    return this.anyEntry;
  }
}

type SourceLevel<T> = IpLevel<{ value: T | undefined }>;
type AlpnLevel<T> = Map<string, SourceLevel<T>>;
type TransportLevel<T> = Map<string, AlpnLevel<T>>;

interface ServerNameLevel<T> {
  exact: Map<string, TransportLevel<T>>;
  /** "*.example.com" is kept as "example.com". */
  wildcard: Map<string, TransportLevel<T>>;
}

/** "" stands for "any" at every level (port 0 for any port). */
const ANY = "";

function getOrMake<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

export class FilterChainSelector<T> {
  private readonly ports = new Map<number, IpLevel<ServerNameLevel<T>>>();

  /** `chains` must not overlap (the parser refuses that); the first one wins if they do. */
  constructor(
    chains: readonly { match: FilterChainMatch; value: T }[],
    private readonly fallback: T | undefined,
  ) {
    for (const { match, value } of chains) {
      const destinations = getOrMake(this.ports, match.destinationPort ?? 0, () => new IpLevel());
      for (const names of destinations.child(match.prefixRanges, () => ({ exact: new Map(), wildcard: new Map() })))
        for (const name of match.serverNames.length > 0 ? match.serverNames : [ANY]) {
          const wildcard = name.startsWith("*.");
          const byName = wildcard ? names.wildcard : names.exact;
          const transports = getOrMake(byName, wildcard ? name.slice(2) : name, () => new Map());
          const alpns = getOrMake(transports, match.transportProtocol, () => new Map());
          for (const alpn of match.applicationProtocols.length > 0 ? match.applicationProtocols : [ANY]) {
            const sources: SourceLevel<T> = getOrMake(alpns, alpn, () => new IpLevel());
            for (const leaf of sources.child(match.sourcePrefixRanges, () => ({ value: undefined })))
              leaf.value ??= value;
          }
        }
    }
  }

  select(c: ConnectionProperties): T | undefined {
    const destinations = this.ports.get(c.destinationPort) ?? this.ports.get(0);
    const names = destinations?.lookup(c.destinationAddress);
    if (names === undefined) return this.fallback;
    const transports = this.byServerName(names, c.serverName);
    const alpns = transports?.get(c.transportProtocol) ?? transports?.get(ANY);
    if (alpns === undefined) return this.fallback;
    let sources: SourceLevel<T> | undefined;
    for (const protocol of c.applicationProtocols) {
      sources = alpns.get(protocol);
      if (sources !== undefined) break;
    }
    sources ??= alpns.get(ANY);
    return sources?.lookup(c.sourceAddress)?.value ?? this.fallback;
  }

  private byServerName(names: ServerNameLevel<T>, serverName: string): TransportLevel<T> | undefined {
    if (serverName !== "") {
      const exact = names.exact.get(serverName);
      if (exact !== undefined) return exact;
      // "a.b.c" tries "*.b.c", then "*.c" (the most specific wildcard first).
      for (let dot = serverName.indexOf(".", 1); dot !== -1; dot = serverName.indexOf(".", dot + 1)) {
        const wildcard = names.wildcard.get(serverName.slice(dot + 1));
        if (wildcard !== undefined) return wildcard;
      }
    }
    return names.exact.get(ANY);
  }
}
