// The ORIGINAL_DST cluster (Envoy's envoy.clusters.original_dst, lb_policy CLUSTER_PROVIDED): no configured hosts;
// the upstream of a connection is its original destination — the local address a listener filter restored
// (original_dst after an iptables REDIRECT, or a PROXY protocol header) — or, with use_http_header, the
// x-envoy-original-dst-host header (http_header_name) of an HTTP request; upstream_port_override replaces the port.
// A host is created on first use, joins the cluster's membership (per-host stats, circuit breakers, /clusters), and
// is removed at a cleanup_interval sweep once it was not picked since the previous sweep and carries no request or
// TCP session. A connection whose local address was never restored has no host: no healthy upstream (503 UH, TCP
// closed), as in Envoy.
//
// Loop guard: a host that is one of the proxy's own listeners (the original destination an application dialled was
// the capture port itself, e.g. 10.250.0.2:15001; or a connection that reached the listener without being redirected,
// whose original destination conntrack reports as the listener itself) is refused, never forwarded — the proxy would
// otherwise connect to itself again and again. Istio puts a BlackHoleCluster chain for destination_port 15001 in
// front of its PassthroughCluster for this; here the cluster refuses it too, counted as no healthy upstream and in
// trellis_original_dst_loop_refused.

import net from "node:net";
import type { Timer } from "../../api/clock.ts";
import type { Cluster } from "../../api/xds/types.ts";
import { ORIGINAL_DST_HOST_HEADER } from "../../api/xds/parse/cluster.ts";
import type { ClusterStats } from "../../telemetry/envoy-stats.ts";
import type { Counter } from "../../telemetry/stats.ts";
import type { PickContext } from "./balancer.ts";
import { UpstreamCluster, type ClusterContext } from "./cluster.ts";
import { Endpoint } from "./endpoint.ts";
import type { ClusterMembership } from "./membership.ts";

interface Host {
  endpoint: Endpoint;
  /** Picked since the last sweep. */
  used: boolean;
}

export class OriginalDstCluster extends UpstreamCluster {
  private readonly created = new Map<string, Host>();
  private sweeper: Timer | undefined;
  private readonly loopRefused: Counter;
  private readonly headerName: string;

  constructor(config: Cluster, membership: ClusterMembership, stats: ClusterStats, context: ClusterContext) {
    super(config, membership, stats, context);
    const od = config.originalDst!;
    this.headerName = od.useHttpHeader ? od.httpHeaderName || ORIGINAL_DST_HOST_HEADER : "";
    this.loopRefused = context.store.counter(
      "trellis_original_dst_loop_refused",
      "Connections an ORIGINAL_DST cluster refused because their original destination was the proxy's own listener",
      { envoy_cluster_name: config.name },
    );
  }

  override initialize(): Promise<void> {
    this.scheduleSweep();
    return super.initialize();
  }

  override pick(ctx: PickContext): Endpoint | undefined {
    const target = this.targetOf(ctx);
    if (target === undefined) return undefined;
    const key = target.address.includes(":")
      ? `[${target.address}]:${target.port}`
      : `${target.address}:${target.port}`;
    let host = this.created.get(key);
    if (host === undefined) {
      // Checked when the host would be made: a host that exists was no listener of the proxy's (the listeners in
      // service are looked through once per new destination, not per connection).
      if (this.context.isOwnListener?.(target.address, target.port) === true) {
        this.loopRefused.inc();
        return undefined;
      }
      host = { endpoint: new Endpoint(target.address, target.port, 1, "HEALTHY"), used: true };
      this.created.set(key, host);
      this.membership.update([...this.created.values()].map((h) => h.endpoint));
      // membership.update keeps the object it is given for a new key.
      host.endpoint = this.membership.endpoints.find((e) => e.key === key) ?? host.endpoint;
    }
    host.used = true;
    return host.endpoint;
  }

  private targetOf(ctx: PickContext): { address: string; port: number } | undefined {
    const od = this.config.originalDst!;
    let target: { address: string; port: number } | undefined;
    if (this.headerName !== "" && ctx.headers !== undefined) target = parseHostPort(ctx.headers.get(this.headerName));
    const downstream = ctx.downstream;
    if (target === undefined && downstream?.restoredFrom !== undefined) {
      target = { address: canonical(downstream.localAddress), port: downstream.localPort };
      const own = downstream.restoredFrom;
      if (target.address === canonical(own.address) && target.port === own.port) {
        this.loopRefused.inc();
        return undefined;
      }
    }
    if (target === undefined) return undefined;
    if (od.upstreamPortOverride !== undefined) target = { ...target, port: od.upstreamPortOverride };
    return target;
  }

  private scheduleSweep(): void {
    if (this.sweeper !== undefined) return;
    this.sweeper = this.context.clock.setTimer(this.config.originalDst!.cleanupIntervalMs, () => {
      this.sweeper = undefined;
      this.sweep();
      this.scheduleSweep();
    });
  }

  /** Envoy's cleanup: a host not picked since the last sweep, with nothing in flight on it, is removed. */
  sweep(): void {
    let removed = false;
    for (const [key, host] of this.created) {
      if (host.used) {
        host.used = false;
        continue;
      }
      const e = host.endpoint;
      const pool = this.poolOf(e);
      // Connections outside the pool are TCP sessions; idle pooled HTTP connections do not keep a host.
      const sessions = e.connections - (pool?.connections ?? 0);
      if (e.activeRequests > 0 || sessions > 0 || (pool?.active ?? 0) > 0) continue;
      this.created.delete(key);
      removed = true;
    }
    if (removed) this.membership.update([...this.created.values()].map((h) => h.endpoint));
  }

  override close(): void {
    this.sweeper?.cancel();
    this.sweeper = undefined;
    super.close();
  }
}

/** "10.1.2.3:80" or "[fd00::1]:80" (IP literals only, as Envoy's header override); undefined otherwise. */
function parseHostPort(value: string | undefined): { address: string; port: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d+\.\d+\.\d+\.\d+)):(\d{1,5})$/.exec(value.trim());
  if (m === null) return undefined;
  const address = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (net.isIP(address) === 0 || port < 1 || port > 65535) return undefined;
  return { address: canonical(address), port };
}

function canonical(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  return net.isIPv6(address) ? new net.SocketAddress({ address, family: "ipv6" }).address : address;
}
