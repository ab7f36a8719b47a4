// CommonHttpProtocolOptions, shared by the connection manager (downstream) and clusters (upstream).

import type { Fields } from "./fields.ts";

/** Envoy's default idle timeout for HTTP connections: 1 hour. */
export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 3_600_000;

const COMMON_SPEC = {
  handled: ["idle_timeout", "max_requests_per_connection"],
  unsupported: [
    "max_connection_duration",
    "max_headers_count",
    "max_response_headers_kb",
    "max_stream_duration",
    "headers_with_underscores_action",
  ],
} as const;

const DOWNSTREAM_SPEC = {
  handled: ["idle_timeout"],
  unsupported: [...COMMON_SPEC.unsupported, "max_requests_per_connection"],
} as const;

export interface CommonHttpProtocolOptions {
  idleTimeoutMs: number;
  maxRequestsPerConnection: number;
}

/** `fields.<name>`; `upstream` allows max_requests_per_connection, which only clusters implement here. */
export function readCommonHttpProtocolOptions(
  fields: Fields,
  name: string,
  upstream: boolean,
): CommonHttpProtocolOptions {
  const options = fields.message(name, upstream ? COMMON_SPEC : DOWNSTREAM_SPEC);
  return {
    idleTimeoutMs: options.durationMs("idle_timeout") ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS,
    maxRequestsPerConnection: upstream ? options.integer("max_requests_per_connection", 0) : 0,
  };
}
