// A listener's listener_filters: they see a new connection before a filter chain is chosen. Implemented:
// envoy.filters.listener.tls_inspector (SNI and ALPN for filter_chain_match) and envoy.filters.listener.proxy_protocol
// (the PROXY protocol header, v1 and v2, gives the connection its addresses) and envoy.filters.listener.original_dst
// (a redirected connection's original destination becomes its local address) and envoy.filters.listener.http_inspector
// (HTTP/1 or HTTP/2 from the first bytes, as the application protocol); any other is refused by name. Each may
// carry filter_disabled (listener-filter-predicate.ts): skipped for the connections it matches.

import type { ListenerFilter } from "../types.ts";
import { describe, type ParseContext } from "./context.ts";
import { Fields, type Item } from "./fields.ts";
import { readTypedConfig } from "./http-connection-manager.ts";
import { readListenerFilterPredicate } from "./listener-filter-predicate.ts";

export const TLS_INSPECTOR_FILTER_NAME = "envoy.filters.listener.tls_inspector";
export const TLS_INSPECTOR_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector";

const LISTENER_FILTER_SPEC = {
  handled: ["name", "typed_config", "filter_disabled"],
  unsupported: ["config_discovery"],
} as const;

export const PROXY_PROTOCOL_FILTER_NAME = "envoy.filters.listener.proxy_protocol";
export const PROXY_PROTOCOL_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol";

const PROXY_PROTOCOL_SPEC = {
  handled: ["@type", "allow_requests_without_proxy_protocol", "disallowed_versions", "rules", "pass_through_tlvs"],
  unsupported: ["stat_prefix"],
} as const;

export const ORIGINAL_DST_FILTER_NAME = "envoy.filters.listener.original_dst";
export const ORIGINAL_DST_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst";
const ORIGINAL_DST_SPEC = {
  handled: ["@type"],
  // Envoy reads it on Windows only (which side of a WFP redirect the listener is); on Linux it has no effect.
  ignored: ["traffic_direction"],
} as const;

export const HTTP_INSPECTOR_FILTER_NAME = "envoy.filters.listener.http_inspector";
export const HTTP_INSPECTOR_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector";
const HTTP_INSPECTOR_SPEC = { handled: ["@type"] } as const;

const TLS_INSPECTOR_SPEC = {
  handled: ["@type", "enable_ja3_fingerprinting"],
  // How much Envoy peeks first; here whatever the socket delivers is looked at, up to the 16 KiB limit.
  ignored: ["initial_read_buffer_size"],
} as const;

export function readListenerFilters(ctx: ParseContext, items: readonly Item[]): ListenerFilter[] {
  const out: ListenerFilter[] = [];
  for (const item of items) {
    const filter = Fields.open(ctx, item.value, item.path, LISTENER_FILTER_SPEC);
    const name = filter.requiredString("name");
    const { typeUrl } = readTypedConfig(filter);
    const disabled = filter.has("filter_disabled")
      ? readListenerFilterPredicate(ctx, filter.raw("filter_disabled"), filter.at("filter_disabled"))
      : undefined;
    const add = (f: ListenerFilter): void => {
      out.push(disabled === undefined ? f : { ...f, disabled });
    };
    const known = [TLS_INSPECTOR_TYPE_URL, PROXY_PROTOCOL_TYPE_URL, ORIGINAL_DST_TYPE_URL, HTTP_INSPECTOR_TYPE_URL];
    const knownNames = [
      TLS_INSPECTOR_FILTER_NAME,
      PROXY_PROTOCOL_FILTER_NAME,
      ORIGINAL_DST_FILTER_NAME,
      HTTP_INSPECTOR_FILTER_NAME,
    ];
    if (typeUrl !== "" && !known.includes(typeUrl)) {
      filter.report("typed_config", `unknown listener filter ${describe(name)} (type ${typeUrl})`);
      continue;
    }
    if (typeUrl === "" && name !== "" && !knownNames.includes(name)) {
      filter.report("name", `unknown listener filter ${describe(name)} (supported: ${knownNames.join(", ")})`);
      continue;
    }
    if (typeUrl === ORIGINAL_DST_TYPE_URL || (typeUrl === "" && name === ORIGINAL_DST_FILTER_NAME)) {
      Fields.open(ctx, filter.raw("typed_config") ?? {}, filter.at("typed_config"), ORIGINAL_DST_SPEC);
      if (out.some((f) => f.kind === "original_dst"))
        ctx.report(item.path, `${ORIGINAL_DST_FILTER_NAME} is listed twice`);
      else add({ kind: "original_dst", name });
      continue;
    }
    if (typeUrl === HTTP_INSPECTOR_TYPE_URL || (typeUrl === "" && name === HTTP_INSPECTOR_FILTER_NAME)) {
      Fields.open(ctx, filter.raw("typed_config") ?? {}, filter.at("typed_config"), HTTP_INSPECTOR_SPEC);
      if (out.some((f) => f.kind === "http_inspector"))
        ctx.report(item.path, `${HTTP_INSPECTOR_FILTER_NAME} is listed twice`);
      else add({ kind: "http_inspector", name });
      continue;
    }
    if (typeUrl === PROXY_PROTOCOL_TYPE_URL || (typeUrl === "" && name === PROXY_PROTOCOL_FILTER_NAME)) {
      const proxyProtocol = readProxyProtocol(filter, name);
      if (proxyProtocol === undefined) continue;
      if (out.some((f) => f.kind === "proxy_protocol"))
        ctx.report(item.path, `${PROXY_PROTOCOL_FILTER_NAME} is listed twice`);
      else add(proxyProtocol);
      continue;
    }
    const config = Fields.open(ctx, filter.raw("typed_config"), filter.at("typed_config"), TLS_INSPECTOR_SPEC);
    if (config.bool("enable_ja3_fingerprinting", false))
      config.report("enable_ja3_fingerprinting", "JA3 fingerprinting is not supported yet");
    if (out.some((f) => f.kind === "tls_inspector"))
      ctx.report(item.path, `${TLS_INSPECTOR_FILTER_NAME} is listed twice`);
    else add({ kind: "tls_inspector", name });
  }
  return out;
}

const VERSIONS: readonly ("V1" | "V2" | undefined)[] = ["V1", "V2"];

/**
 * ProxyProtocol: allow_requests_without_proxy_protocol and disallowed_versions take effect; `rules` (TLVs into
 * dynamic metadata) and `pass_through_tlvs` need metadata and an upstream that passes TLVs on, which Trellis does
 * not have yet: refused when set to anything but empty.
 */
function readProxyProtocol(filter: Fields, name: string): ListenerFilter | undefined {
  const config = Fields.open(
    filter.ctx,
    filter.raw("typed_config") ?? {},
    filter.at("typed_config"),
    PROXY_PROTOCOL_SPEC,
  );
  if (config.list("rules").length > 0)
    config.report("rules", "TLVs into dynamic metadata are not supported yet (Trellis has no dynamic metadata)");
  if (config.has("pass_through_tlvs"))
    config.report("pass_through_tlvs", "passing TLVs on to the upstream is not supported yet");
  const disallowed: (1 | 2)[] = [];
  for (const item of config.list("disallowed_versions")) {
    const raw = typeof item.value === "string" ? item.value.toUpperCase() : item.value;
    if (raw === "V1" || raw === 0) disallowed.push(1);
    else if (raw === "V2" || raw === 1) disallowed.push(2);
    else filter.ctx.report(item.path, `expected one of ${VERSIONS.join(", ")}, got ${describe(item.value)}`);
  }
  if (config.broken) return undefined;
  return {
    kind: "proxy_protocol",
    name,
    allowWithout: config.bool("allow_requests_without_proxy_protocol", false),
    disallowedVersions: disallowed,
  };
}
