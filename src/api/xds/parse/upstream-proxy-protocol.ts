// A cluster's transport_socket envoy.transport_sockets.upstream_proxy_protocol (ProxyProtocolUpstreamTransport):
// every upstream connection starts with a PROXY protocol header (config.version V1 or V2), then the inner transport
// socket, which must be raw_buffer (or absent): upstream TLS is not implemented yet. Other transport sockets are
// left to the cluster's own rules.

import { describe, type ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";

export const UPSTREAM_PROXY_PROTOCOL_NAME = "envoy.transport_sockets.upstream_proxy_protocol";
export const UPSTREAM_PROXY_PROTOCOL_TYPE_URL =
  "type.googleapis.com/envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport";
const RAW_BUFFER_NAME = "envoy.transport_sockets.raw_buffer";
const RAW_BUFFER_TYPE_URL = "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer";

const TRANSPORT_SOCKET_SPEC = { handled: ["name", "typed_config"] } as const;
const UPSTREAM_SPEC = {
  handled: ["@type", "config", "transport_socket"],
  unsupported: ["allow_unspecified_address", "tlv_as_pool_key"],
} as const;
const CONFIG_SPEC = { handled: ["version"], unsupported: ["pass_through_tlvs", "added_tlvs"] } as const;

/** Whether `raw` (a transport_socket) is the upstream PROXY protocol socket. */
export function isUpstreamProxyProtocol(raw: unknown): boolean {
  if (raw === null || typeof raw !== "object") return false;
  const r = raw as { name?: unknown; typed_config?: { "@type"?: unknown }; typedConfig?: { "@type"?: unknown } };
  const type = (r.typed_config ?? r.typedConfig)?.["@type"];
  return type === UPSTREAM_PROXY_PROTOCOL_TYPE_URL || (type === undefined && r.name === UPSTREAM_PROXY_PROTOCOL_NAME);
}

/** Reads it at `path`: the header's version (1 or 2; Envoy's default V1). */
export function readUpstreamProxyProtocol(ctx: ParseContext, raw: unknown, path: string): 1 | 2 {
  const socket = Fields.open(ctx, raw, path, TRANSPORT_SOCKET_SPEC);
  const upstream = Fields.open(ctx, socket.raw("typed_config") ?? {}, socket.at("typed_config"), UPSTREAM_SPEC);
  const config = upstream.message("config", CONFIG_SPEC);
  const version = config.enumValue("version", ["V1", "V2"] as const, "V1");
  if (upstream.has("transport_socket")) {
    const inner = Fields.open(
      ctx,
      upstream.raw("transport_socket"),
      upstream.at("transport_socket"),
      TRANSPORT_SOCKET_SPEC,
    );
    const name = inner.string("name") ?? "";
    const typeUrl = (inner.raw("typed_config") as { "@type"?: unknown } | undefined)?.["@type"];
    const rawBuffer = typeUrl === undefined ? name === RAW_BUFFER_NAME || name === "" : typeUrl === RAW_BUFFER_TYPE_URL;
    if (!rawBuffer)
      ctx.report(
        upstream.at("transport_socket"),
        `only ${RAW_BUFFER_NAME} can be wrapped; got ${describe(typeUrl ?? name)} (upstream TLS is not supported yet)`,
      );
  }
  return version === "V2" ? 2 : 1;
}
