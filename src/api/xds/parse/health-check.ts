// A cluster's health_checks (Envoy's config.core.v3.HealthCheck): how often each endpoint is probed, how many
// results move it in or out of the load balancer, and the probe itself (HTTP, TCP or gRPC). Envoy's defaults are
// applied here, so the run time never has to know them.

import type { GrpcHealthCheck, HealthCheck, HttpHealthCheck, StatusRange, TcpHealthCheck } from "../types.ts";
import { describe, ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import type { Item } from "./fields.ts";
import { readHeadersToAdd, readHeadersToRemove } from "./headers.ts";

/** Envoy's default no_traffic_interval. */
export const DEFAULT_NO_TRAFFIC_INTERVAL_MS = 60_000;

const HEALTH_CHECK_SPEC = {
  handled: [
    "timeout",
    "interval",
    "initial_jitter",
    "interval_jitter",
    "interval_jitter_percent",
    "unhealthy_threshold",
    "healthy_threshold",
    "no_traffic_interval",
    "no_traffic_healthy_interval",
    "unhealthy_interval",
    "unhealthy_edge_interval",
    "healthy_edge_interval",
    "reuse_connection",
    "always_log_health_check_failures",
    "always_log_health_check_success",
    "http_health_check",
    "tcp_health_check",
    "grpc_health_check",
  ],
  unsupported: [
    "alt_port",
    "custom_health_check",
    "event_log_path",
    "event_logger",
    "event_service",
    "tls_options",
    "transport_socket_match_criteria",
  ],
} as const;
const HTTP_SPEC = {
  handled: [
    "host",
    "path",
    "method",
    "request_headers_to_add",
    "request_headers_to_remove",
    "expected_statuses",
    "retriable_statuses",
    "codec_client_type",
  ],
  // Only read together with `receive`, which is not supported: without it the body is never inspected.
  ignored: ["response_buffer_size"],
  unsupported: ["send", "receive", "service_name_matcher"],
} as const;
const RANGE_SPEC = { handled: ["start", "end"] } as const;
const TCP_SPEC = { handled: ["send", "receive"], unsupported: ["proxy_protocol_config"] } as const;
const PAYLOAD_SPEC = { handled: ["text", "binary"] } as const;
const GRPC_SPEC = { handled: ["service_name", "authority"], unsupported: ["initial_metadata"] } as const;

const CHECK_KINDS = ["http_health_check", "tcp_health_check", "grpc_health_check"] as const;
/** RequestMethod by number; METHOD_UNSPECIFIED (0) means GET. */
const METHODS = [undefined, "GET", "HEAD", "POST", "PUT", "DELETE", undefined, "OPTIONS", "TRACE", "PATCH"];
const UNSUPPORTED_METHODS = [undefined, undefined, undefined, undefined, undefined, undefined, "CONNECT"];
const CODEC_TYPES: readonly ("HTTP1" | "HTTP2" | undefined)[] = ["HTTP1", "HTTP2"];
const UNSUPPORTED_CODEC_TYPES = [undefined, undefined, "HTTP3"];
const MAX_STATUS = 600;
/** What may go on a request line or into a header value: no whitespace in a path, no control characters. */
const PATH_CHARS = /^[\x21-\x7e]+$/;
const HEADER_VALUE_CHARS = /^[\x20-\x7e\x80-\xff\t]*$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Reads `health_checks` of a cluster: Envoy runs at most one health checker per cluster, and so does Trellis. */
export function readHealthChecks(cluster: Fields): HealthCheck[] {
  const items = cluster.list("health_checks");
  for (const extra of items.slice(1)) cluster.ctx.report(extra.path, "only one health check per cluster is supported");
  return items.slice(0, 1).map((item) => readHealthCheck(cluster.ctx, item));
}

export function readHealthCheck(ctx: ParseContext, item: Item): HealthCheck {
  const hc = Fields.open(ctx, item.value, item.path, HEALTH_CHECK_SPEC);
  const timeoutMs = requiredPositiveDuration(hc, "timeout");
  const intervalMs = requiredPositiveDuration(hc, "interval");
  const unhealthyThreshold = requiredThreshold(hc, "unhealthy_threshold");
  const healthyThreshold = requiredThreshold(hc, "healthy_threshold");
  const noTrafficIntervalMs = positiveDuration(hc, "no_traffic_interval") ?? DEFAULT_NO_TRAFFIC_INTERVAL_MS;
  const unhealthyIntervalMs = positiveDuration(hc, "unhealthy_interval") ?? intervalMs;
  return {
    timeoutMs,
    intervalMs,
    initialJitterMs: hc.durationMs("initial_jitter") ?? 0,
    intervalJitterMs: hc.durationMs("interval_jitter") ?? 0,
    intervalJitterPercent: hc.integer("interval_jitter_percent", 0),
    unhealthyThreshold,
    healthyThreshold,
    noTrafficIntervalMs,
    noTrafficHealthyIntervalMs: positiveDuration(hc, "no_traffic_healthy_interval") ?? noTrafficIntervalMs,
    unhealthyIntervalMs,
    unhealthyEdgeIntervalMs: positiveDuration(hc, "unhealthy_edge_interval") ?? unhealthyIntervalMs,
    healthyEdgeIntervalMs: positiveDuration(hc, "healthy_edge_interval") ?? intervalMs,
    reuseConnection: hc.bool("reuse_connection", true),
    alwaysLogHealthCheckFailures: hc.bool("always_log_health_check_failures", false),
    alwaysLogHealthCheckSuccess: hc.bool("always_log_health_check_success", false),
    check: readCheck(hc),
  };
}

/** Parses one HealthCheck on its own (tests, tools); throws ConfigError naming every problem. */
export function parseHealthCheck(raw: unknown, path = "health_check"): HealthCheck {
  const ctx = new ParseContext();
  const hc = readHealthCheck(ctx, { value: raw, path });
  ctx.throwIfFailed("health check");
  return hc;
}

function readCheck(hc: Fields): HealthCheck["check"] {
  const kind = hc.oneOf(CHECK_KINDS, true);
  if (kind === "tcp_health_check") return readTcp(hc.message(kind, TCP_SPEC));
  if (kind === "grpc_health_check") return readGrpc(hc.message(kind, GRPC_SPEC));
  const http = hc.message("http_health_check", HTTP_SPEC);
  // With no kind at all (already reported), an HTTP check of "/" keeps the value harmless.
  return readHttp(http, kind === undefined);
}

function readHttp(http: Fields, placeholder: boolean): HttpHealthCheck {
  let path = "/";
  if (!placeholder && http.requireField("path")) {
    const written = http.requiredString("path");
    if (written !== "" && !PATH_CHARS.test(written)) {
      http.report("path", `expected a path without spaces or control characters, got ${describe(written)}`);
    } else if (written !== "") path = written;
  }
  const host = http.string("host");
  if (host !== undefined && !HEADER_VALUE_CHARS.test(host)) {
    http.report("host", `expected a header value without control characters, got ${describe(host)}`);
  }
  const expected = readStatusRanges(http, "expected_statuses");
  return {
    kind: "http",
    host: host === undefined || host === "" ? undefined : host,
    path,
    method: http.enumValue("method", METHODS, "GET", UNSUPPORTED_METHODS),
    requestHeadersToAdd: readHeadersToAdd(http, "request_headers_to_add"),
    requestHeadersToRemove: readHeadersToRemove(http, "request_headers_to_remove"),
    expectedStatuses: expected.length > 0 ? expected : [{ start: 200, end: 201 }],
    retriableStatuses: readStatusRanges(http, "retriable_statuses"),
    codecClientType: http.has("codec_client_type")
      ? http.enumValue("codec_client_type", CODEC_TYPES, "HTTP1", UNSUPPORTED_CODEC_TYPES)
      : undefined,
  };
}

/** Int64Range list; each range [start, end) with 100 <= start < end <= 600, as Envoy validates them. */
function readStatusRanges(http: Fields, name: string): StatusRange[] {
  const out: StatusRange[] = [];
  for (const item of http.list(name)) {
    const range = Fields.open(http.ctx, item.value, item.path, RANGE_SPEC);
    const start = range.integer("start", 0, 0, Number.MAX_SAFE_INTEGER);
    const end = range.integer("end", 0, 0, Number.MAX_SAFE_INTEGER);
    if (range.broken) continue;
    if (start < 100) range.report("start", `expected a status of at least 100, got ${start}`);
    else if (end > MAX_STATUS) range.report("end", `expected at most ${MAX_STATUS} (the end is exclusive), got ${end}`);
    else if (start >= end)
      http.ctx.report(item.path, `expected start < end (end is exclusive), got [${start}, ${end})`);
    else out.push({ start, end });
  }
  return out;
}

function readTcp(tcp: Fields): TcpHealthCheck {
  const send = tcp.has("send") ? readPayload(tcp.ctx, { value: tcp.raw("send"), path: tcp.at("send") }) : undefined;
  return {
    kind: "tcp",
    send: send ?? new Uint8Array(0),
    receive: tcp.list("receive").map((item) => readPayload(tcp.ctx, item) ?? new Uint8Array(0)),
  };
}

/** Payload: `text` is hex (Envoy's spelling: "000000FF"), `binary` is bytes (base64 in protobuf's JSON). */
function readPayload(ctx: ParseContext, item: Item): Uint8Array | undefined {
  const payload = Fields.open(ctx, item.value, item.path, PAYLOAD_SPEC);
  const kind = payload.oneOf(["text", "binary"], true);
  if (kind === undefined) return undefined;
  const value = payload.string(kind);
  if (value === undefined) return undefined;
  if (kind === "text") {
    if (HEX.test(value)) return Uint8Array.from(Buffer.from(value, "hex"));
    payload.report("text", `expected hex digits in pairs (e.g. "50494E47"), got ${describe(value)}`);
    return undefined;
  }
  if (value !== "" && BASE64.test(value)) return Uint8Array.from(Buffer.from(value, "base64"));
  payload.report("binary", `expected non-empty base64, got ${describe(value)}`);
  return undefined;
}

function readGrpc(grpc: Fields): GrpcHealthCheck {
  const authority = grpc.string("authority");
  if (authority !== undefined && !HEADER_VALUE_CHARS.test(authority)) {
    grpc.report("authority", `expected a header value without control characters, got ${describe(authority)}`);
  }
  return {
    kind: "grpc",
    serviceName: grpc.string("service_name") ?? "",
    authority: authority === undefined || authority === "" ? undefined : authority,
  };
}

function positiveDuration(fields: Fields, name: string): number | undefined {
  const value = fields.durationMs(name);
  if (value === undefined || value > 0) return value;
  fields.report(name, "expected a duration greater than 0");
  return undefined;
}

/** timeout and interval have no default in Envoy: a health check without them is refused. */
function requiredPositiveDuration(fields: Fields, name: string): number {
  if (!fields.requireField(name)) return 1_000;
  return positiveDuration(fields, name) ?? 1_000;
}

/** The thresholds have no default either; 0 would mean "never changes state", which Trellis refuses. */
function requiredThreshold(fields: Fields, name: string): number {
  if (!fields.requireField(name)) return 1;
  return fields.integer(name, 1, 1);
}
