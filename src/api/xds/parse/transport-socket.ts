// transport_socket: how bytes of a connection are carried. A filter chain's may be envoy.transport_sockets.tls with
// a DownstreamTlsContext (the chain terminates TLS); a cluster's may be raw_buffer (nothing) or
// envoy.transport_sockets.tls with an UpstreamTlsContext (TLS origination). Anything else is refused with its path:
// accepting it would carry in plaintext what the configuration meant to protect.

import { describe, isPlainObject } from "./context.ts";
import type { Fields } from "./fields.ts";
import {
  DOWNSTREAM_TLS_TYPE_URL,
  readDownstreamTlsContext,
  readUpstreamTlsContext,
  TLS_SOCKET_NAME,
  UPSTREAM_TLS_TYPE_URL,
  type DownstreamTlsContext,
  type UpstreamTlsContext,
} from "./tls-context.ts";

export const RAW_BUFFER_NAME = "envoy.transport_sockets.raw_buffer";
export const RAW_BUFFER_TYPE_URL = "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer";

const TRANSPORT_SOCKET_SPEC = { handled: ["name", "typed_config"] } as const;

type Side = "downstream" | "upstream";

/** `fields.<name>` (a TransportSocket) → its kind: undefined (raw_buffer, also after a reported problem) or TLS. */
function readTransportSocket(fields: Fields, name: string, side: Side): { typed: unknown; path: string } | undefined {
  if (!fields.has(name)) return undefined;
  const socket = fields.message(name, TRANSPORT_SOCKET_SPEC);
  if (socket.broken) return undefined;
  const socketName = socket.string("name") ?? "";
  const typed = socket.raw("typed_config");
  const typeUrl = isPlainObject(typed) && typeof typed["@type"] === "string" ? typed["@type"] : "";
  const tlsType = side === "downstream" ? DOWNSTREAM_TLS_TYPE_URL : UPSTREAM_TLS_TYPE_URL;
  if (typeUrl === RAW_BUFFER_TYPE_URL || (typeUrl === "" && socketName === RAW_BUFFER_NAME)) return undefined;
  if (typeUrl === tlsType || (typeUrl === "" && socketName === TLS_SOCKET_NAME)) {
    if (typeUrl === "") {
      socket.report(
        "typed_config",
        `required: the ${tlsType.slice(tlsType.lastIndexOf(".") + 1)} of ${TLS_SOCKET_NAME}`,
      );
      return undefined;
    }
    return { typed, path: socket.at("typed_config") };
  }
  const what = typeUrl !== "" ? typeUrl : describe(socketName);
  const other = side === "downstream" ? UPSTREAM_TLS_TYPE_URL : DOWNSTREAM_TLS_TYPE_URL;
  const why =
    typeUrl === other
      ? `a ${side === "downstream" ? "filter chain" : "cluster"} takes ${tlsType}`
      : `only ${RAW_BUFFER_NAME} and ${TLS_SOCKET_NAME} are supported`;
  fields.report(name, `transport socket ${what} is not supported (${why})`);
  return undefined;
}

/** A filter chain's transport_socket: its DownstreamTlsContext, or undefined for plaintext. */
export function readDownstreamTransportSocket(fields: Fields, name: string): DownstreamTlsContext | undefined {
  const found = readTransportSocket(fields, name, "downstream");
  return found === undefined ? undefined : readDownstreamTlsContext(fields.ctx, found.typed, found.path);
}

/** A cluster's transport_socket: its UpstreamTlsContext, or undefined for plaintext (raw_buffer). */
export function readUpstreamTransportSocket(fields: Fields, name: string): UpstreamTlsContext | undefined {
  const found = readTransportSocket(fields, name, "upstream");
  return found === undefined ? undefined : readUpstreamTlsContext(fields.ctx, found.typed, found.path);
}
