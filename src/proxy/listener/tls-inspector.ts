// envoy.filters.listener.tls_inspector: reads the ClientHello (never terminating TLS) and sets the connection's
// transport protocol "tls", its SNI and ALPN for filter_chain_match. Anything else is left as "raw_buffer";
// a malformed hello counts as not TLS, as in Envoy (BoringSSL fails the hello: tls_not_found); a hello larger than
// 16 KiB closes the connection (client_hello_too_large). Stats as Envoy's, under tls_inspector.*.

import type { Counter, StatsStore } from "../../telemetry/stats.ts";
import type { ConnectionProperties } from "./filter-chain-selector.ts";
import type { InspectResult, ListenerFilterRuntime } from "./listener-filter.ts";
import { parseClientHello } from "./tls-client-hello.ts";

export class TlsInspectorStats {
  readonly tlsFound: Counter;
  readonly tlsNotFound: Counter;
  readonly sniFound: Counter;
  readonly sniNotFound: Counter;
  readonly alpnFound: Counter;
  readonly alpnNotFound: Counter;
  readonly clientHelloTooLarge: Counter;

  constructor(store: StatsStore) {
    const counter = (name: string, help: string): Counter => store.counter(`envoy_tls_inspector_${name}`, help);
    this.tlsFound = counter("tls_found", "Total number of times TLS was found");
    this.tlsNotFound = counter("tls_not_found", "Total number of times TLS was not found");
    this.sniFound = counter("sni_found", "Total number of times Server Name Indication was found");
    this.sniNotFound = counter("sni_not_found", "Total number of times Server Name Indication was not found");
    this.alpnFound = counter("alpn_found", "Total number of times ALPN was successful");
    this.alpnNotFound = counter("alpn_not_found", "Total number of times ALPN has failed");
    this.clientHelloTooLarge = counter("client_hello_too_large", "Total unreasonably large Client Hello received");
  }
}

export class TlsInspector implements ListenerFilterRuntime {
  constructor(private readonly stats: TlsInspectorStats) {}

  inspect(data: Buffer, props: ConnectionProperties): InspectResult {
    if (data.length === 0) return "more";
    const hello = parseClientHello(data);
    switch (hello.kind) {
      case "incomplete":
        return "more";
      case "too_large":
        this.stats.clientHelloTooLarge.inc();
        return "close";
      case "not_tls":
        this.stats.tlsNotFound.inc();
        return "done";
      case "tls":
        this.stats.tlsFound.inc();
        props.transportProtocol = "tls";
        props.serverName = hello.serverName.toLowerCase();
        props.applicationProtocols = hello.alpn;
        (hello.serverName !== "" ? this.stats.sniFound : this.stats.sniNotFound).inc();
        (hello.alpn.length > 0 ? this.stats.alpnFound : this.stats.alpnNotFound).inc();
        return "done";
    }
  }
}
