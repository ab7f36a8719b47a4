// connectionPool.tcp.tcpKeepalive → the cluster's upstream_connection_options.tcp_keepalive, as Istio's
// setKeepAliveSettings writes it (pilot/pkg/networking/core/cluster_traffic_policy.go): an empty tcp_keepalive
// turns SO_KEEPALIVE on with the system's values; probes when above 0; time and interval in whole seconds.
//
// Two departures, both reported: Istio truncates a duration to whole seconds, so "500ms" would become 0, which the
// kernel refuses (Envoy would then fail every connection) — here it becomes 1 s, and values beyond Linux's limits
// are capped. And Trellis's proxy honours only the time: Node sets TCP_KEEPIDLE, and libuv then fixes the probe
// interval at 1 s and the count at 10, so probes and interval are written for Envoy but have no effect here.

import type { ConnectionPoolSettings } from "../../api/resources/types.ts";
import type { Json } from "./envoy.ts";
import type { Problems } from "./problems.ts";

type TcpKeepalive = NonNullable<NonNullable<ConnectionPoolSettings["tcp"]>["tcpKeepalive"]>;

/** Linux's MAX_TCP_KEEPIDLE / MAX_TCP_KEEPINTVL (seconds) and MAX_TCP_KEEPCNT. */
const MAX_SECONDS = 32_767;
const MAX_PROBES = 127;

/** upstream_connection_options for the pool's tcpKeepalive; undefined when it has none. */
export function upstreamConnectionOptions(
  pool: ConnectionPoolSettings | undefined,
  where: string,
  problems: Problems,
): Json | undefined {
  const keepalive = pool?.tcp?.tcpKeepalive;
  if (keepalive === undefined) return undefined;
  return { tcp_keepalive: tcpKeepalive(keepalive, where, problems) };
}

function tcpKeepalive(k: TcpKeepalive, where: string, problems: Problems): Json {
  const out: Json = {};
  if (k.probes !== undefined && k.probes > 0) {
    out.keepalive_probes = Math.min(k.probes, MAX_PROBES);
    if (k.probes > MAX_PROBES) {
      problems.add(
        `${where}: connectionPool.tcp.tcpKeepalive.probes ${k.probes} is above Linux's ${MAX_PROBES}; ${MAX_PROBES} used`,
      );
    }
  }
  if (k.time !== undefined) out.keepalive_time = wholeSeconds(k.time, "time", where, problems);
  if (k.interval !== undefined) out.keepalive_interval = wholeSeconds(k.interval, "interval", where, problems);
  if (out.keepalive_probes !== undefined || out.keepalive_interval !== undefined) {
    problems.add(
      `${where}: connectionPool.tcp.tcpKeepalive probes and interval are not honoured by Trellis's proxy: only the ` +
        "time is applied (Node on Linux then probes every 1 s, 10 times); see docs/bootstrap.md",
    );
  }
  return out;
}

/** A duration as Envoy's whole seconds: Istio's truncation, but at least 1 s and at most Linux's limit. */
function wholeSeconds(ms: number, field: string, where: string, problems: Problems): number {
  const seconds = Math.min(MAX_SECONDS, Math.max(1, Math.floor(ms / 1000)));
  if (seconds * 1000 !== ms) {
    problems.add(
      `${where}: connectionPool.tcp.tcpKeepalive.${field} is ${ms} ms; Envoy takes whole seconds ` +
        `from 1 to ${MAX_SECONDS}: ${seconds} s used`,
    );
  }
  return seconds;
}
