// CommonHttpProtocolOptions, shared by the connection manager (downstream) and clusters (upstream), and the
// Http2ProtocolOptions of an upstream HTTP/2 codec.

import type { Fields } from "./fields.ts";

/** Envoy's default idle timeout for HTTP connections: 1 hour. */
export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 3_600_000;
/** Envoy's bounds on http2_protocol_options.max_concurrent_streams. */
const MAX_CONCURRENT_STREAMS_LIMIT = 2_147_483_647;

const COMMON_SPEC = {
  handled: ["idle_timeout", "max_requests_per_connection", "max_connection_duration"],
  unsupported: [
    "max_headers_count",
    "max_response_headers_kb",
    "max_stream_duration",
    "headers_with_underscores_action",
  ],
} as const;

const DOWNSTREAM_SPEC = {
  handled: ["idle_timeout"],
  unsupported: [...COMMON_SPEC.unsupported, "max_requests_per_connection", "max_connection_duration"],
} as const;

/**
 * Http2ProtocolOptions of an upstream codec. The stream cap is implemented. Receive windows only pace a peer and the
 * frame-flood limits guard against an abusive one (node:http2 has its own guards), and which codec Envoy would use
 * is Envoy's business: accepted without effect. Knobs that change what is sent or allowed on the wire (HPACK table,
 * CONNECT, METADATA, custom SETTINGS, keepalive PINGs, stream errors) are refused.
 */
const HTTP2_SPEC = {
  handled: ["max_concurrent_streams"],
  ignored: [
    "initial_stream_window_size",
    "initial_connection_window_size",
    "max_outbound_frames",
    "max_outbound_control_frames",
    "max_consecutive_inbound_frames_with_empty_payload",
    "max_inbound_priority_frames_per_stream",
    "max_inbound_window_update_frames_per_data_frame_sent",
    "use_oghttp2_codec",
  ],
  unsupported: [
    "hpack_table_size",
    "allow_connect",
    "allow_metadata",
    "stream_error_on_invalid_http_messaging",
    "override_stream_error_on_invalid_http_message",
    "custom_settings_parameters",
    "connection_keepalive",
  ],
} as const;

/** Http1ProtocolOptions knobs that change the HTTP/1.1 codec (header case, absolute URLs, trailers…): refused. */
export const HTTP1_CODEC_KNOBS = [
  "allow_absolute_url",
  "header_key_format",
  "enable_trailers",
  "allow_chunked_length",
  "override_stream_error_on_invalid_http_message",
  "send_fully_qualified_url",
  "use_balsa_parser",
  "allow_custom_methods",
  "ignore_http_11_upgrade",
] as const;

/**
 * Http1ProtocolOptions of an upstream codec: accept_http_10 and default_host_for_http_10 concern requests received,
 * which an upstream codec never gets (no effect in Envoy either); every knob that changes what is sent is refused.
 */
const UPSTREAM_HTTP1_SPEC = {
  handled: [],
  ignored: ["accept_http_10", "default_host_for_http_10"],
  unsupported: HTTP1_CODEC_KNOBS,
} as const;

/** `fields.<name>` as an upstream Http1ProtocolOptions: checked, nothing of it is applied (see the spec). */
export function readUpstreamHttp1Options(fields: Fields, name: string): void {
  fields.message(name, UPSTREAM_HTTP1_SPEC);
}

export interface CommonHttpProtocolOptions {
  idleTimeoutMs: number;
  maxRequestsPerConnection: number;
  /** 0 = no limit. */
  maxConnectionDurationMs: number;
}

/**
 * `fields.<name>`; `upstream` allows max_requests_per_connection and max_connection_duration, which only clusters
 * implement here.
 */
export function readCommonHttpProtocolOptions(
  fields: Fields,
  name: string,
  upstream: boolean,
): CommonHttpProtocolOptions {
  const options = fields.message(name, upstream ? COMMON_SPEC : DOWNSTREAM_SPEC);
  return {
    idleTimeoutMs: options.durationMs("idle_timeout") ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS,
    maxRequestsPerConnection: upstream ? options.integer("max_requests_per_connection", 0) : 0,
    // Envoy: unset means no limit; 0 is read the same way, as for idle_timeout.
    maxConnectionDurationMs: upstream ? (options.durationMs("max_connection_duration") ?? 0) : 0,
  };
}

/** `fields.<name>` as Http2ProtocolOptions: its max_concurrent_streams (1-2147483647), undefined when unset. */
export function readHttp2MaxConcurrentStreams(fields: Fields, name: string): number | undefined {
  const options = fields.message(name, HTTP2_SPEC);
  return options.optionalInteger("max_concurrent_streams", 1, MAX_CONCURRENT_STREAMS_LIMIT);
}
