// envoy.filters.network.http_connection_manager: the HTTP side of a listener, with its inline route_config.

import { isIP } from "node:net";
import type { CidrRange, CodecType, HttpConnectionManager, HttpFilter, InternalAddressConfig } from "../types.ts";
import { describe, isPlainObject } from "./context.ts";
import type { ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import type { Item } from "./fields.ts";
import { HTTP1_CODEC_KNOBS, readCommonHttpProtocolOptions } from "./protocol-options.ts";
import { readRouteConfiguration } from "./route.ts";

export const HCM_FILTER_NAME = "envoy.filters.network.http_connection_manager";
export const HCM_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
export const ROUTER_FILTER_NAME = "envoy.filters.http.router";
export const ROUTER_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";

/** Envoy's default stream_idle_timeout: 5 minutes. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;
export const DEFAULT_MAX_REQUEST_HEADERS_KB = 60;
export const DEFAULT_SERVER_NAME = "trellis";

const HCM_SPEC = {
  handled: [
    "@type",
    "stat_prefix",
    "codec_type",
    "rds",
    "route_config",
    "request_timeout",
    "stream_idle_timeout",
    "common_http_protocol_options",
    "http_filters",
    "upgrade_configs",
    "generate_request_id",
    "use_remote_address",
    "xff_num_trusted_hops",
    "skip_xff_append",
    "internal_address_config",
    "preserve_external_request_id",
    "request_headers_timeout",
    "server_name",
    "max_request_headers_kb",
    "access_log",
    "http_protocol_options",
    "http2_protocol_options",
    "local_reply_config",
  ],
  unsupported: [
    "scoped_routes",
    "add_user_agent",
    "tracing",
    "http3_protocol_options",
    "server_header_transformation",
    "scheme_header_transformation",
    "drain_timeout",
    "delayed_close_timeout",
    "access_log_flush_interval",
    "flush_access_log_on_new_request",
    "access_log_options",
    "original_ip_detection_extensions",
    "early_header_mutation_extensions",
    "via",
    "always_set_request_id_in_response",
    "forward_client_cert_details",
    "set_current_client_cert_details",
    "proxy_100_continue",
    "represent_ipv4_remote_address_as_ipv4_mapped_ipv6",
    "normalize_path",
    "merge_slashes",
    "path_with_escaped_slashes_action",
    "request_id_extension",
    "strip_matching_host_port",
    "strip_any_host_port",
    "stream_error_on_invalid_http_message",
    "path_normalization_options",
    "strip_trailing_host_dot",
    "proxy_status_config",
    "typed_header_validation_config",
    "append_x_forwarded_port",
    "append_local_overload",
    "add_proxy_protocol_connection_state",
  ],
} as const;

const HTTP_FILTER_SPEC = {
  handled: ["name", "typed_config"],
  unsupported: ["config_discovery", "is_optional", "disabled"],
} as const;
const UPGRADE_SPEC = { handled: ["upgrade_type", "enabled"], unsupported: ["filters"] } as const;
const CODECS: readonly (CodecType | undefined)[] = ["AUTO", "HTTP1", "HTTP2"];

/** `raw` is the filter's typed_config (with its `@type`), at `path`. */
export function readHttpConnectionManager(ctx: ParseContext, raw: unknown, path: string): HttpConnectionManager {
  const hcm = Fields.open(ctx, raw, path, HCM_SPEC);
  const statPrefix = hcm.requiredString("stat_prefix");
  const codecType = hcm.enumValue("codec_type", CODECS, "AUTO", [undefined, undefined, undefined, "HTTP3"]);
  // Exactly one: inline routes (a static bootstrap) or RDS (a control plane). Missing both names route_config.
  const source = hcm.oneOf(["rds", "route_config"], false);
  if (source === undefined) hcm.requireField("route_config");
  const rds = source === "rds" ? readRds(hcm) : undefined;
  const routeConfig =
    source === "rds" ? undefined : readRouteConfiguration(ctx, hcm.raw("route_config") ?? {}, hcm.at("route_config"));
  return {
    statPrefix,
    codecType,
    routeConfig,
    rds,
    requestTimeoutMs: hcm.durationMs("request_timeout") ?? 0,
    requestHeadersTimeoutMs: hcm.durationMs("request_headers_timeout") ?? 0,
    streamIdleTimeoutMs: hcm.durationMs("stream_idle_timeout") ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS,
    idleTimeoutMs: readCommonHttpProtocolOptions(hcm, "common_http_protocol_options", false).idleTimeoutMs,
    httpFilters: readHttpFilters(hcm),
    upgradeTypes: readUpgradeTypes(hcm),
    generateRequestId: hcm.bool("generate_request_id", true),
    useRemoteAddress: hcm.bool("use_remote_address", false),
    xffNumTrustedHops: hcm.integer("xff_num_trusted_hops", 0),
    skipXffAppend: hcm.bool("skip_xff_append", false),
    internalAddressConfig: readInternalAddressConfig(hcm),
    preserveExternalRequestId: hcm.bool("preserve_external_request_id", false),
    // Kept raw: the access-log module (telemetry/) parses and validates it when the proxy is built.
    accessLog: hcm.list("access_log").map((item) => item.value as Record<string, unknown>),
    // Kept raw too: its formats are the access log's, compiled by the proxy (http/local-reply-config.ts).
    ...(hcm.has("local_reply_config")
      ? { localReplyConfig: hcm.raw("local_reply_config") as Record<string, unknown> }
      : {}),
    serverName: hcm.string("server_name") ?? DEFAULT_SERVER_NAME,
    maxRequestHeadersKb: hcm.integer("max_request_headers_kb", DEFAULT_MAX_REQUEST_HEADERS_KB, 1, 8192),
    ...readDownstreamProtocolOptions(hcm),
  };
}

/**
 * Http1ProtocolOptions: HTTP/1.0 is always served here, so accept_http_10 may only say so (true);
 * default_host_for_http_10 is the authority of an HTTP/1.0 request without Host. The other knobs change the codec
 * (header case, absolute URLs, trailers…) and are refused.
 */
const DOWNSTREAM_HTTP1_SPEC = {
  handled: ["accept_http_10", "default_host_for_http_10"],
  unsupported: HTTP1_CODEC_KNOBS,
} as const;
/** Http2ProtocolOptions the downstream codec honours (its SETTINGS and windows); the rest are refused. */
const DOWNSTREAM_HTTP2_SPEC = {
  handled: ["max_concurrent_streams", "initial_stream_window_size", "initial_connection_window_size"],
  unsupported: [
    "hpack_table_size",
    "allow_connect",
    "allow_metadata",
    "max_outbound_frames",
    "max_outbound_control_frames",
    "max_consecutive_inbound_frames_with_empty_payload",
    "max_inbound_priority_frames_per_stream",
    "max_inbound_window_update_frames_per_data_frame_sent",
    "stream_error_on_invalid_http_messaging",
    "override_stream_error_on_invalid_http_message",
    "custom_settings_parameters",
    "connection_keepalive",
    "use_oghttp2_codec",
  ],
} as const;
/** Envoy's bounds: a window of 65535 to 2^31-1 bytes, 1 to 2^31-1 streams. */
const H2_MAX = 2_147_483_647;
const H2_MIN_WINDOW = 65_535;

function readDownstreamProtocolOptions(hcm: Fields): Pick<HttpConnectionManager, "defaultHostForHttp10" | "http2"> {
  const out: Pick<HttpConnectionManager, "defaultHostForHttp10" | "http2"> = {};
  if (hcm.has("http_protocol_options")) {
    const h1 = hcm.message("http_protocol_options", DOWNSTREAM_HTTP1_SPEC);
    if (h1.has("accept_http_10") && !h1.bool("accept_http_10", true))
      h1.report("accept_http_10", "HTTP/1.0 requests are always accepted here; false is not supported yet");
    const host = h1.string("default_host_for_http_10");
    if (host !== undefined && host !== "") out.defaultHostForHttp10 = host;
  }
  if (hcm.has("http2_protocol_options")) {
    const h2 = hcm.message("http2_protocol_options", DOWNSTREAM_HTTP2_SPEC);
    const http2 = {
      maxConcurrentStreams: h2.optionalInteger("max_concurrent_streams", 1, H2_MAX),
      initialStreamWindowSize: h2.optionalInteger("initial_stream_window_size", H2_MIN_WINDOW, H2_MAX),
      initialConnectionWindowSize: h2.optionalInteger("initial_connection_window_size", H2_MIN_WINDOW, H2_MAX),
    };
    out.http2 = Object.fromEntries(Object.entries(http2).filter(([, v]) => v !== undefined));
  }
  return out;
}

const INTERNAL_ADDRESS_SPEC = { handled: ["unix_sockets", "cidr_ranges"] } as const;
const CIDR_SPEC = { handled: ["address_prefix", "prefix_len"] } as const;

/**
 * internal_address_config: which peers are internal (trusted with x-envoy-* headers and their x-request-id). Absent:
 * undefined, Envoy's long-standing default (RFC 1918 IPv4, fd00::/8, and the loopback addresses).
 */
function readInternalAddressConfig(hcm: Fields): InternalAddressConfig | undefined {
  if (!hcm.has("internal_address_config")) return undefined;
  const config = hcm.message("internal_address_config", INTERNAL_ADDRESS_SPEC);
  const cidrRanges: CidrRange[] = [];
  for (const item of config.list("cidr_ranges")) {
    const range = Fields.open(hcm.ctx, item.value, item.path, CIDR_SPEC);
    const addressPrefix = range.requiredString("address_prefix");
    const family = isIP(addressPrefix);
    if (addressPrefix !== "" && family === 0) {
      range.report("address_prefix", `expected an IPv4 or IPv6 address, got "${addressPrefix}"`);
      continue;
    }
    const prefixLen = range.integer("prefix_len", 0, 0, family === 6 ? 128 : 32);
    if (family !== 0) cidrRanges.push({ addressPrefix, prefixLen });
  }
  return { unixSockets: config.bool("unix_sockets", false), cidrRanges };
}

const RDS_SPEC = { handled: ["route_config_name", "config_source"] } as const;
const CONFIG_SOURCE_SPEC = {
  handled: ["ads"],
  ignored: ["initial_fetch_timeout", "resource_api_version", "authorities"],
  unsupported: ["path", "path_config_source", "api_config_source", "self"],
} as const;

/**
 * rds: {route_config_name, config_source: {ads: {}}}. Only ADS is spoken: the route configuration comes on the
 * same stream as the listener that names it.
 */
function readRds(hcm: Fields): { routeConfigName: string } {
  const rds = hcm.message("rds", RDS_SPEC);
  const routeConfigName = rds.requiredString("route_config_name");
  if (rds.requireField("config_source")) {
    const source = rds.message("config_source", CONFIG_SOURCE_SPEC);
    if (!source.broken && !source.has("ads")) source.report("ads", "required: Trellis fetches routes over ADS only");
    if (source.has("ads")) source.map("ads");
  }
  return { routeConfigName };
}

/** The filters in order, without the router: it is implicit at the end, and must be last when written. */
function readHttpFilters(hcm: Fields): HttpFilter[] {
  const items = hcm.list("http_filters");
  const out: HttpFilter[] = [];
  items.forEach((item, i) => {
    const filter = readHttpFilter(hcm.ctx, item);
    if (filter.name === ROUTER_FILTER_NAME || filter.typeUrl === ROUTER_TYPE_URL) {
      if (i !== items.length - 1) hcm.ctx.report(item.path, "the router filter must be the last HTTP filter");
      return;
    }
    out.push(filter);
  });
  return out;
}

/**
 * The HTTP filters Envoy also finds by their well-known name when typed_config is absent or `{}` (an empty Any),
 * with their configuration's defaults.
 */
const HTTP_FILTER_TYPES_BY_NAME: Readonly<Record<string, string>> = {
  "envoy.filters.http.fault": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
  "envoy.filters.http.cors": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors",
};

function readHttpFilter(ctx: ParseContext, item: Item): HttpFilter {
  const filter = Fields.open(ctx, item.value, item.path, HTTP_FILTER_SPEC);
  const name = filter.requiredString("name");
  const { typeUrl, config } = readTypedConfig(filter);
  return { name, typeUrl: typeUrl || (HTTP_FILTER_TYPES_BY_NAME[name] ?? ""), config };
}

/**
 * typed_config → its `@type` and the rest; absent or `{}` (an empty Any, as Envoy's examples write for the router)
 * → "" and {} (Envoy then looks the filter up by name).
 */
export function readTypedConfig(fields: Fields): { typeUrl: string; config: Record<string, unknown> } {
  if (!fields.has("typed_config")) return { typeUrl: "", config: {} };
  const raw = fields.raw("typed_config");
  if (isPlainObject(raw) && Object.keys(raw).length === 0) return { typeUrl: "", config: {} };
  if (!isPlainObject(raw)) {
    fields.report("typed_config", `expected an object with "@type", got ${describe(raw)}`);
    return { typeUrl: "", config: {} };
  }
  const { "@type": typeUrl, ...config } = raw;
  if (typeof typeUrl !== "string" || typeUrl === "") {
    fields.ctx.report(`${fields.at("typed_config")}.@type`, `required: the type URL, got ${describe(typeUrl)}`);
    return { typeUrl: "", config };
  }
  return { typeUrl, config };
}

function readUpgradeTypes(hcm: Fields): string[] {
  const out: string[] = [];
  for (const item of hcm.list("upgrade_configs")) {
    const upgrade = Fields.open(hcm.ctx, item.value, item.path, UPGRADE_SPEC);
    const type = upgrade.requiredString("upgrade_type").toLowerCase();
    // enabled: false means "off unless a route enables it"; routes carry their own overrides.
    if (type !== "" && upgrade.bool("enabled", true)) out.push(type);
  }
  return out;
}
