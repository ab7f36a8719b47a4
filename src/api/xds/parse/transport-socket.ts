// A cluster's transport_socket: how bytes to its endpoints are carried. Only the plain socket is spoken here;
// anything else (TLS above all) is refused with its path, because accepting it would send plaintext to a peer the
// configuration meant to reach over mTLS with a SAN check.

import { describe, isPlainObject } from "./context.ts";
import type { Fields } from "./fields.ts";

export const RAW_BUFFER_NAME = "envoy.transport_sockets.raw_buffer";
export const RAW_BUFFER_TYPE_URL = "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer";

/** What the upstream connection is wrapped in; only "raw_buffer" (nothing) so far. */
export type UpstreamTransportSocket = "raw_buffer";

/**
 * The transport sockets this proxy can put under an upstream connection, by name and by typed_config @type.
 * Hook: a new one (e.g. envoy.transport_sockets.upstream_proxy_protocol wrapping raw_buffer) adds its entry here and
 * its case in readUpstreamTransportSocket.
 */
const KNOWN: readonly { name: string; typeUrl: string; kind: UpstreamTransportSocket }[] = [
  { name: RAW_BUFFER_NAME, typeUrl: RAW_BUFFER_TYPE_URL, kind: "raw_buffer" },
];

const TRANSPORT_SOCKET_SPEC = { handled: ["name", "typed_config"] } as const;

/** `fields.<name>` (a TransportSocket) → its kind; anything not known is reported and read as raw_buffer. */
export function readUpstreamTransportSocket(fields: Fields, name: string): UpstreamTransportSocket {
  if (!fields.has(name)) return "raw_buffer";
  const socket = fields.message(name, TRANSPORT_SOCKET_SPEC);
  if (socket.broken) return "raw_buffer";
  const socketName = socket.string("name") ?? "";
  const typed = socket.raw("typed_config");
  const typeUrl = isPlainObject(typed) && typeof typed["@type"] === "string" ? typed["@type"] : "";
  const known = KNOWN.find((k) => (typeUrl !== "" ? k.typeUrl === typeUrl : k.name === socketName));
  if (known !== undefined) return known.kind;
  const what = typeUrl !== "" ? typeUrl : describe(socketName);
  const why = /tls/i.test(what)
    ? "upstream TLS is not supported yet: the connection would go out in plaintext"
    : `only ${RAW_BUFFER_NAME} is supported`;
  fields.report(name, `transport socket ${what} is not supported yet (${why})`);
  return "raw_buffer";
}
