// Cluster.upstream_connection_options: socket options of every upstream connection. Only tcp_keepalive is
// implemented. Its values go to setsockopt on Linux (TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL), where the kernel
// refuses anything beyond its limits; Envoy would then fail every connection, so they are refused here instead.

import type { TcpKeepalive } from "../types.ts";
import type { Fields } from "./fields.ts";

const UPSTREAM_CONNECTION_OPTIONS_SPEC = {
  handled: ["tcp_keepalive"],
  unsupported: ["set_local_interface_name_on_upstream_connections", "happy_eyeballs_config"],
} as const;
const TCP_KEEPALIVE_SPEC = { handled: ["keepalive_probes", "keepalive_time", "keepalive_interval"] } as const;

/** Linux's MAX_TCP_KEEPCNT, MAX_TCP_KEEPIDLE and MAX_TCP_KEEPINTVL. */
const MAX_PROBES = 127;
const MAX_SECONDS = 32_767;

/** `cluster.upstream_connection_options.tcp_keepalive`; undefined when there is none. */
export function readTcpKeepalive(cluster: Fields): TcpKeepalive | undefined {
  if (!cluster.has("upstream_connection_options")) return undefined;
  const options = cluster.message("upstream_connection_options", UPSTREAM_CONNECTION_OPTIONS_SPEC);
  if (!options.has("tcp_keepalive")) return undefined;
  const keepalive = options.message("tcp_keepalive", TCP_KEEPALIVE_SPEC);
  if (keepalive.broken) return undefined;
  const out: TcpKeepalive = {};
  const probes = keepalive.optionalInteger("keepalive_probes", 1, MAX_PROBES);
  const timeS = keepalive.optionalInteger("keepalive_time", 1, MAX_SECONDS);
  const intervalS = keepalive.optionalInteger("keepalive_interval", 1, MAX_SECONDS);
  if (probes !== undefined) out.probes = probes;
  if (timeS !== undefined) out.timeS = timeS;
  if (intervalS !== undefined) out.intervalS = intervalS;
  return out;
}
