// Envoy's tcp_proxy network filter: each downstream connection is joined to one upstream connection, chosen by
// cluster (or weighted clusters) and the cluster's balancer. Bytes flow both ways with back-pressure; a half-close
// is passed on; the idle timeout closes both sides when nothing moves. Each session's upstream connection counts
// toward the cluster's max_connections (and per-host max_connections); at the limit the downstream connection is
// closed at once with flag UO (Envoy's upstream_cx_overflow).

import net from "node:net";
import type { Clock, Timer } from "../../api/clock.ts";
import type { TcpProxy } from "../../api/xds/types.ts";
import type { UpstreamCluster } from "../upstream/cluster.ts";
import type { Endpoint } from "../upstream/endpoint.ts";
import { upstreamConnectOptions } from "../upstream/connect.ts";
import { sendDownstreamProxyHeader } from "../upstream/proxy-protocol-socket.ts";
import { restoredFrom } from "../listener/original-destination.ts";
import { SocketJoin, type JoinEnd } from "./join.ts";

export interface TcpSessionInfo {
  startMs: number;
  clusterName: string | undefined;
  upstreamHost: string | undefined;
  responseFlags: string;
  bytesReceived: number;
  bytesSent: number;
  downstreamRemote: string;
  downstreamLocal: string;
}

export interface TcpProxyHooks {
  onSessionStart(): void;
  /** Every session's record; also for a connection refused before tcp_proxy saw it (no onSessionStart then). */
  onSessionEnd(info: TcpSessionInfo): void;
  /** A session closed by the idle timeout. */
  onIdleTimeout?(): void;
  /** Reading from the downstream paused because the upstream is not taking bytes, and resumed once it drained. */
  onDownstreamPaused?(): void;
  onDownstreamResumed?(): void;
}

export class TcpProxyRuntime {
  private readonly totalWeight: number;

  constructor(
    readonly config: TcpProxy,
    private readonly clusters: ReadonlyMap<string, UpstreamCluster>,
    private readonly clock: Clock,
    private readonly hooks: TcpProxyHooks,
    private readonly random: () => number = Math.random,
  ) {
    this.totalWeight = (config.weightedClusters ?? []).reduce((s, c) => s + c.weight, 0);
  }

  private pickClusterName(): string | undefined {
    const wc = this.config.weightedClusters;
    if (wc === undefined) return this.config.cluster;
    let r = this.random() * this.totalWeight;
    for (const c of wc) {
      if (r < c.weight) return c.name;
      r -= c.weight;
    }
    return wc[wc.length - 1]?.name;
  }

  /** Takes over a downstream connection (`initial` = bytes already read by the listener). */
  accept(downstream: net.Socket, initial?: Buffer): void {
    const info = this.newSessionInfo(downstream);
    this.hooks.onSessionStart();
    const name = this.pickClusterName();
    const cluster = name === undefined ? undefined : this.clusters.get(name);
    info.clusterName = name;
    if (cluster === undefined) return this.close(downstream, info, "NC");
    const endpoint = cluster.pick({
      hash: undefined,
      downstream: {
        localAddress: downstream.localAddress ?? "",
        localPort: downstream.localPort ?? 0,
        restoredFrom: restoredFrom(downstream),
      },
    });
    if (endpoint === undefined) {
      cluster.stats.upstreamCxNoneHealthy.inc();
      return this.close(downstream, info, "UH");
    }
    if (!cluster.resources.canOpenConnection(endpoint)) {
      cluster.resources.connectionOverflow();
      info.upstreamHost = endpoint.key;
      return this.close(downstream, info, "UO");
    }
    new TcpSession(downstream, initial, cluster, endpoint, info, this.config.idleTimeoutMs, this.clock, this.hooks);
  }

  /**
   * A connection a network filter before this one refused (e.g. "RL"): closed at once and recorded with `flag`.
   * It is no tcp_proxy session (Envoy's tcp_proxy never sees it), so only onSessionEnd hears of it.
   */
  refuse(downstream: net.Socket, flag: string): void {
    this.close(downstream, this.newSessionInfo(downstream), flag);
  }

  private newSessionInfo(downstream: net.Socket): TcpSessionInfo {
    return {
      startMs: this.clock.now(),
      clusterName: undefined,
      upstreamHost: undefined,
      responseFlags: "",
      bytesReceived: 0,
      bytesSent: 0,
      downstreamRemote: `${downstream.remoteAddress}:${downstream.remotePort}`,
      downstreamLocal: `${downstream.localAddress}:${downstream.localPort}`,
    };
  }

  private close(downstream: net.Socket, info: TcpSessionInfo, flag: string): void {
    info.responseFlags = flag;
    downstream.on("error", () => {});
    downstream.destroy();
    this.hooks.onSessionEnd(info);
  }
}

/**
 * One downstream connection joined to one upstream connection (tcp/join.ts), with tcp_proxy's connect phase and
 * stats around the join. How it ends, as Envoy's tcp_proxy (half-close enabled on both connections):
 * - a FIN from one side is passed on to the other (end()), and bytes keep flowing the other way;
 * - a side that is fully closed without an error has the other side flushed and then closed (Envoy's FlushWrite):
 *   what was written to it still arrives; the session ends when both are closed;
 * - an error or RST on either side, the idle timeout or a failed connect closes both at once;
 * - a downstream that ends (FIN or RST) before sending a single byte closes the session at once, the upstream
 *   connection too (or its connect is abandoned): a load balancer's TCP health check connects and closes, and its
 *   upstream connection must not wait for the idle timeout (an hour by default) or for the upstream's own FIN.
 * Downstream bytes are read from the start: those sent while the upstream is connecting wait in the upstream
 * socket's write buffer (Node sends them once connected; back-pressure pauses the downstream as at any time), so
 * a FIN or RST from the downstream is seen while connecting too. The idle timer starts once connected.
 */
class TcpSession {
  private readonly upstream: net.Socket;
  private readonly join: SocketJoin;
  private connected = false;
  private ended = false;
  private connectTimer: Timer | undefined;

  constructor(
    private readonly downstream: net.Socket,
    initial: Buffer | undefined,
    private readonly cluster: UpstreamCluster,
    private readonly endpoint: Endpoint,
    private readonly info: TcpSessionInfo,
    idleTimeoutMs: number,
    clock: Clock,
    private readonly hooks: TcpProxyHooks,
  ) {
    info.upstreamHost = endpoint.key;
    endpoint.activeRequests++;
    cluster.stats.upstreamCxTotal.inc();
    cluster.stats.upstreamCxActive.inc();
    cluster.resources.connectionOpened(endpoint);
    const raw = net.connect(upstreamConnectOptions(endpoint.address, endpoint.port, cluster.keepAliveMs, true));
    // A TLS cluster: the session's bytes go through TLS (tls/upstream.ts).
    const u =
      cluster.upstreamTls === undefined ? raw : cluster.upstreamTls.wrap(() => raw)(endpoint.address, endpoint.port);
    this.upstream = u;
    const proxyProtocol = cluster.config.upstreamProxyProtocol;
    if (proxyProtocol !== undefined) sendDownstreamProxyHeader(u, proxyProtocol, downstream);
    cluster.stats.trackConnection(u, clock);
    const connectTimeout = cluster.config.connectTimeoutMs;
    if (connectTimeout > 0) this.connectTimer = clock.setTimer(connectTimeout, this.onConnectTimeout);
    u.once("connect", this.onConnect);
    // `initial`: bytes a listener filter read; they go first.
    if (initial && initial.length > 0) downstream.unshift(initial);
    this.join = new SocketJoin(downstream, u, info, {
      clock,
      idleTimeoutMs,
      idleTimerLater: true,
      onIdleTimeout: () => hooks.onIdleTimeout?.(),
      onEnd: this.onJoinEnd,
      canFlush: this.isConnected,
      onDownstreamPaused: () => hooks.onDownstreamPaused?.(),
      onDownstreamResumed: () => hooks.onDownstreamResumed?.(),
    });
  }

  private readonly isConnected = (): boolean => this.connected;

  private readonly onConnect = (): void => {
    this.connected = true;
    this.connectTimer?.cancel();
    this.join.startIdleTimer();
  };

  private readonly onConnectTimeout = (): void => {
    if (this.connected || this.ended) return;
    this.cluster.stats.connectFailed(true);
    this.close("UF", false);
    this.join.abort();
  };

  private readonly onJoinEnd = (how: JoinEnd): void => {
    if (how === "upstream_error") {
      if (this.connected) return this.close("UC", true);
      this.cluster.stats.connectFailed(false);
      return this.close("UF", true);
    }
    this.close(how === "downstream_error" ? "DC" : "");
  };

  /** `remote`: the upstream failed the connection; otherwise it counts as remote when the upstream ended first. */
  private close(flag: string, remote = false): void {
    if (this.ended) return;
    this.ended = true;
    this.cluster.stats.connectionDestroyed(remote || (this.upstream.readableEnded && !this.downstream.readableEnded));
    if (flag && !this.info.responseFlags) this.info.responseFlags = flag;
    this.connectTimer?.cancel();
    this.endpoint.activeRequests--;
    this.cluster.stats.upstreamCxActive.dec();
    this.cluster.resources.connectionClosed(this.endpoint);
    // The join destroys both sockets (after this, as onEnd is called before); abort() does when we end it.
    this.hooks.onSessionEnd(this.info);
  }
}
