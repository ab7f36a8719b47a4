// Envoy's HTTP/2 codec counters (http2.*), kept for the downstream codec. Envoy keeps them in the root scope, shared by
// every HTTP/2 connection, so they carry no listener label.

import type { Counter, StatsStore } from "../../telemetry/stats.ts";

export interface H2CodecStats {
  /** http2.header_overflow: a stream reset because its headers were larger than max_request_headers_kb. */
  headerOverflow: Counter;
  /** http2.rx_messaging_error: a request that broke RFC 9113 §8 and was refused. */
  rxMessagingError: Counter;
}

export function createH2CodecStats(store: StatsStore): H2CodecStats {
  return {
    headerOverflow: store.counter(
      "envoy_http2_header_overflow",
      "Total number of streams reset because the headers were larger than the configured limit",
    ),
    rxMessagingError: store.counter(
      "envoy_http2_rx_messaging_error",
      "Total number of invalid received frames that violated section 8 of the HTTP/2 spec",
    ),
  };
}
