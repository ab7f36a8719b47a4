// envoy.config.core.v3.Address → SocketAddress. Only TCP socket addresses: pipes and internal addresses have no
// meaning in this proxy yet, so they are refused by name rather than ignored.

import { isIP } from "node:net";
import type { SocketAddress } from "../types.ts";
import { describe } from "./context.ts";
import type { ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";

const ADDRESS_SPEC = {
  handled: ["socket_address"],
  unsupported: ["pipe", "envoy_internal_address"],
} as const;

const SOCKET_ADDRESS_SPEC = {
  handled: ["address", "port_value", "protocol"],
  ignored: ["ipv4_compat"],
  unsupported: ["named_port", "resolver_name", "network_namespace_filepath"],
} as const;

/** RFC 1123 host names (a trailing dot allowed, as DNS writes them). */
const HOST_NAME =
  /^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

export interface AddressRules {
  /** STRICT_DNS clusters resolve names; everything else binds or connects to a literal IP. */
  allowHostName: boolean;
  /** Listeners and admin may bind port 0 (the kernel picks one); endpoints need a real port. */
  allowPortZero: boolean;
}

export function isHostName(value: string): boolean {
  return HOST_NAME.test(value);
}

/** Reads an Address message at `path` (which names the `address` field itself). */
export function readAddress(ctx: ParseContext, raw: unknown, path: string, rules: AddressRules): SocketAddress {
  const address = Fields.open(ctx, raw, path, ADDRESS_SPEC);
  if (!address.requireField("socket_address")) return { address: "", port: 0 };
  return readSocketAddress(address.message("socket_address", SOCKET_ADDRESS_SPEC), rules);
}

function readSocketAddress(socket: Fields, rules: AddressRules): SocketAddress {
  socket.enumValue("protocol", ["TCP"], "TCP", [undefined, "UDP"]);
  const host = socket.requiredString("address");
  if (host !== "" && isIP(host) === 0) {
    if (!rules.allowHostName) socket.report("address", `expected an IP address, got ${describe(host)}`);
    else if (!isHostName(host))
      socket.report("address", `expected an IP address or a host name, got ${describe(host)}`);
  }
  let port = 0;
  if (rules.allowPortZero) port = socket.integer("port_value", 0, 0, 65535);
  else if (socket.requireField("port_value")) port = socket.integer("port_value", 0, 1, 65535);
  return { address: host, port };
}
