// envoy.filters.listener.http_inspector: looks at a plaintext connection's first bytes and, when they are HTTP,
// sets its application protocol for filter_chain_match.application_protocols, as Envoy's does — "h2c" for the
// HTTP/2 connection preface, "http/1.1" or "http/1.0" for an HTTP/1 request line — so one listener can send HTTP to
// a connection manager and anything else to tcp_proxy (Istio's protocol sniffing on ports with no declared
// protocol). It decides as soon as the bytes allow: a first byte that cannot start a request line (a TLS record,
// a binary protocol) is "not HTTP" at once. A connection the tls_inspector found TLS is left alone. It waits for the
// client's first bytes: a server-first protocol on such a port waits for listener_filters_timeout (Istio's
// protocolDetectionTimeout; 0 = no timeout, Istio's default), which is why those ports must be declared TCP.
// Stats as Envoy's, under http_inspector.*.

import type { Counter, StatsStore } from "../../telemetry/stats.ts";
import type { ConnectionProperties } from "./filter-chain-selector.ts";
import type { InspectResult, ListenerFilterRuntime } from "./listener-filter.ts";

export class HttpInspectorStats {
  readonly http10Found: Counter;
  readonly http11Found: Counter;
  readonly http2Found: Counter;
  readonly httpNotFound: Counter;
  readonly readError: Counter;

  constructor(store: StatsStore) {
    const counter = (name: string, help: string): Counter => store.counter(`envoy_http_inspector_${name}`, help);
    this.http10Found = counter("http10_found", "Number of times HTTP/1.0 was found");
    this.http11Found = counter("http11_found", "Number of times HTTP/1.1 was found");
    this.http2Found = counter("http2_found", "Number of times HTTP/2 was found");
    this.httpNotFound = counter("http_not_found", "Number of times HTTP was not found");
    this.readError = counter("read_error", "Number of read errors encountered");
  }
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
/** Envoy reads at most this much looking for the end of the request line. */
const MAX_INSPECT = 64 * 1024;

export type HttpDetection = "h2c" | "http/1.1" | "http/1.0" | "none" | "more";

/** What the first bytes of a connection say (exported for tests). */
export function detectHttp(data: Buffer): HttpDetection {
  if (data.length === 0) return "more";
  // The HTTP/2 preface, or a prefix of it so far.
  const n = Math.min(data.length, H2_PREFACE.length);
  if (data.compare(H2_PREFACE, 0, n, 0, n) === 0) return n === H2_PREFACE.length ? "h2c" : "more";
  // An HTTP/1 request line: METHOD SP TARGET SP HTTP/1.x CRLF, the method a token.
  let i = 0;
  while (i < data.length && isTokenChar(data[i]!)) i++;
  if (i === data.length) return data.length >= MAX_INSPECT ? "none" : "more";
  if (i === 0 || data[i] !== 0x20) return "none";
  const eol = data.indexOf(0x0a, i);
  if (eol < 0) {
    // No line end yet: a control character (other than in the line end) means it is no request line.
    for (let j = i; j < data.length; j++) if (data[j]! < 0x20 && data[j] !== 0x0d) return "none";
    return data.length >= MAX_INSPECT ? "none" : "more";
  }
  const line = data.toString("latin1", 0, data[eol - 1] === 0x0d ? eol - 1 : eol);
  const m = / [^ ]+ HTTP\/1\.([01])$/.exec(line.slice(i));
  if (m === null) return "none";
  return m[1] === "1" ? "http/1.1" : "http/1.0";
}

function isTokenChar(c: number): boolean {
  // RFC 9110 tchar
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c))
  );
}

export class HttpInspector implements ListenerFilterRuntime {
  constructor(private readonly stats: HttpInspectorStats) {}

  inspect(data: Buffer, props: ConnectionProperties): InspectResult {
    if (props.transportProtocol === "tls") return "done";
    const found = detectHttp(data);
    switch (found) {
      case "more":
        return "more";
      case "none":
        this.stats.httpNotFound.inc();
        return "done";
      case "h2c":
        this.stats.http2Found.inc();
        break;
      case "http/1.1":
        this.stats.http11Found.inc();
        break;
      case "http/1.0":
        this.stats.http10Found.inc();
        break;
    }
    props.applicationProtocols = [found];
    return "done";
  }
}
