// Envoy's filter chain lookup (FilterChainManagerImpl, legacy matcher): a tree built once per listener, walked
// level by level — destination port → server name → transport protocol → application protocols. At each level the
// most specific entry that fits wins (a port before "any port"; an exact server name, then "*.b.c", then "*.c", then
// "any name"; each requested ALPN protocol in the client's order, then "any"), and the walk never backtracks: a
// connection whose most specific entry has no fitting chain below it gets the default chain (or none), even if a less
// specific entry would have fitted — as in Envoy.

import type { FilterChainMatch } from "../../api/xds/types.ts";

/** What the listener (and its listener filters) know about a new connection. */
export interface ConnectionProperties {
  destinationPort: number;
  /** "tls" when tls_inspector found a ClientHello, else "raw_buffer" (Envoy's default). */
  transportProtocol: string;
  /** SNI, lower case; "" when none. */
  serverName: string;
  /** ALPN protocols the client offered, in its order. */
  applicationProtocols: readonly string[];
}

type AlpnLevel<T> = Map<string, T>;
type TransportLevel<T> = Map<string, AlpnLevel<T>>;

interface ServerNameLevel<T> {
  exact: Map<string, TransportLevel<T>>;
  /** "*.example.com" is kept as "example.com". */
  wildcard: Map<string, TransportLevel<T>>;
}

/** "" stands for "any" at every level (port 0 for any port). */
const ANY = "";

export class FilterChainSelector<T> {
  private readonly ports = new Map<number, ServerNameLevel<T>>();

  /** `chains` must not overlap (the parser refuses that); the first one wins if they do. */
  constructor(
    chains: readonly { match: FilterChainMatch; value: T }[],
    private readonly fallback: T | undefined,
  ) {
    for (const { match, value } of chains) {
      const port = match.destinationPort ?? 0;
      let names = this.ports.get(port);
      if (names === undefined) this.ports.set(port, (names = { exact: new Map(), wildcard: new Map() }));
      for (const name of match.serverNames.length > 0 ? match.serverNames : [ANY]) {
        const wildcard = name.startsWith("*.");
        const byName = wildcard ? names.wildcard : names.exact;
        const key = wildcard ? name.slice(2) : name;
        let transports = byName.get(key);
        if (transports === undefined) byName.set(key, (transports = new Map()));
        let alpns = transports.get(match.transportProtocol);
        if (alpns === undefined) transports.set(match.transportProtocol, (alpns = new Map()));
        for (const alpn of match.applicationProtocols.length > 0 ? match.applicationProtocols : [ANY])
          if (!alpns.has(alpn)) alpns.set(alpn, value);
      }
    }
  }

  select(c: ConnectionProperties): T | undefined {
    const names = this.ports.get(c.destinationPort) ?? this.ports.get(0);
    if (names === undefined) return this.fallback;
    const transports = this.byServerName(names, c.serverName);
    const alpns = transports?.get(c.transportProtocol) ?? transports?.get(ANY);
    if (alpns === undefined) return this.fallback;
    for (const protocol of c.applicationProtocols) {
      const chain = alpns.get(protocol);
      if (chain !== undefined) return chain;
    }
    return alpns.get(ANY) ?? this.fallback;
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
