// The HTTP/1.1 connection pool of one upstream endpoint: idle connections are reused last-in first-out (the most
// recently used socket is the least likely to have been closed by the upstream's keep-alive timer), new ones are
// opened on demand. PERFORMANCE.md: without keep-alive pooling a Node proxy falls to a few hundred req/s.
//
// Circuit breakers: a new connection is opened only within the cluster's max_connections and the endpoint's
// per-host max_connections. Beyond them a request waits in this pool's FIFO queue (max_pending_requests across the
// cluster; beyond that it is refused at once with "overflow") and is served by the next connection this pool
// releases, or opens when one of its connections closes. A pool with no connection at all opens one even at the
// limit (Envoy's rule): otherwise an endpoint whose pool holds none could wait for ever while other endpoints hold
// every connection of the cluster.

import type net from "node:net";
import type { Clock, Timer } from "../../api/clock.ts";
import type {
  ConnectionPool,
  PoolBreakers,
  PoolOptions,
  RetireReason,
  UpstreamHandler,
  UpstreamRequest,
  UpstreamStream,
} from "../upstream/pool.ts";
import { refuseWithOverflow } from "../upstream/circuit-breakers.ts";
import { PoolClosedError } from "../http2/upstream-errors.ts";
import { PendingRequest, type PendingOwner } from "./pending-request.ts";
import type { Http1Limits } from "./response-head.ts";
import { Http1UpstreamConnection, type UpstreamConnectionOwner } from "./upstream-connection.ts";
import { netConnect, type UpstreamConnect } from "../upstream/connect.ts";

export interface Http1PoolStats {
  /** A connection is being opened on `socket`. */
  onConnectionOpened(socket: net.Socket): void;
  /** It closed: `remote` when the upstream closed or reset it. */
  onConnectionClosed(remote: boolean): void;
  /** Its connect failed; `timeout`: connect_timeout passed. */
  onConnectFailure(timeout: boolean): void;
  /** A working connection was retired by the pool's own limits. */
  onRetired?(reason: RetireReason): void;
}

export class Http1ConnectionPool implements ConnectionPool, UpstreamConnectionOwner, PendingOwner {
  readonly clock: Clock;
  readonly limits: Http1Limits;
  readonly connectTimeoutMs: number;
  readonly maxRequestsPerConnection: number;
  readonly maxConnectionDurationMs: number;
  readonly connect: UpstreamConnect;
  private readonly idleTimeoutMs: number;
  private readonly idle: Http1UpstreamConnection[] = [];
  private readonly all = new Set<Http1UpstreamConnection>();
  private closing = false;
  private sweepTimer: Timer | undefined;
  private readonly breakers: PoolBreakers | undefined;
  /** Requests waiting for a connection, oldest first; made when the first one has to wait. */
  private queue: PendingRequest[] | undefined;
  private drainScheduled = false;
  /** Requests in flight plus those waiting in the queue. */
  active = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    options: PoolOptions & { clock: Clock; limits: Http1Limits; connect?: UpstreamConnect },
    private readonly stats?: Http1PoolStats,
  ) {
    this.connect = options.connect ?? netConnect;
    this.clock = options.clock;
    this.limits = options.limits;
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.maxRequestsPerConnection = options.maxRequestsPerConnection;
    this.maxConnectionDurationMs = options.maxConnectionDurationMs ?? 0;
    this.idleTimeoutMs = options.idleTimeoutMs;
    this.breakers = options.breakers;
  }

  request(request: UpstreamRequest, handler: UpstreamHandler): UpstreamStream {
    const queue = this.queue;
    if (queue === undefined || queue.length === 0) {
      // Upgrades take a fresh connection: it leaves the pool for good once the tunnel is up.
      let conn = request.upgrade === undefined ? this.popIdle() : undefined;
      if (conn === undefined) {
        const breakers = this.breakers;
        if (breakers !== undefined && !breakers.canOpenConnection()) {
          breakers.connectionOverflow();
          if (this.all.size > 0) return this.enqueue(breakers, request, handler);
          // No connection at all in this pool: open one anyway (see the top of the file).
        }
        conn = this.open(request.upgrade !== undefined);
      }
      this.active++;
      conn.send(request, handler);
      return conn;
    }
    // Others are already waiting: this one goes behind them (FIFO). If room appeared meanwhile (a connection of
    // another endpoint closed), the queue is served from its head.
    const breakers = this.breakers!;
    if (breakers.canOpenConnection()) this.scheduleDrain();
    else breakers.connectionOverflow();
    return this.enqueue(breakers, request, handler);
  }

  private popIdle(): Http1UpstreamConnection | undefined {
    let conn: Http1UpstreamConnection | undefined;
    while ((conn = this.idle.pop()) !== undefined) {
      // Connections idle too long are closed by the sweep timer; here only closed ones are skipped.
      if (!conn.closed) return conn;
      conn.destroy();
    }
    return undefined;
  }

  private open(forUpgrade: boolean): Http1UpstreamConnection {
    const conn = new Http1UpstreamConnection(this, this.host, this.port, forUpgrade);
    this.all.add(conn);
    this.stats?.onConnectionOpened(conn.socket);
    return conn;
  }

  private enqueue(breakers: PoolBreakers, request: UpstreamRequest, handler: UpstreamHandler): UpstreamStream {
    if (!breakers.tryStartPending()) return refuseWithOverflow(handler, "max_pending_requests");
    const pending = new PendingRequest(this, request, handler);
    (this.queue ??= []).push(pending);
    this.active++;
    return pending;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(this.drain);
  }

  /**
   * Serves the queue from its head: with a released connection, or a new one when the limits allow (or this pool
   * has none left). In a microtask, never inside a connection's callback: the connection that was just released
   * may still be reading the chunk that finished its previous response.
   */
  private readonly drain = (): void => {
    this.drainScheduled = false;
    const queue = this.queue;
    const breakers = this.breakers;
    if (queue === undefined || breakers === undefined) return;
    while (queue.length > 0 && !this.closing) {
      const next = queue[0]!;
      const upgrade = next.request.upgrade !== undefined;
      let conn = upgrade ? undefined : this.popIdle();
      if (conn === undefined) {
        // An upgrade needs a fresh connection: an idle one makes room for it.
        if (upgrade && !breakers.canOpenConnection()) this.popIdle()?.destroy();
        if (!breakers.canOpenConnection() && this.all.size > 0) return;
        conn = this.open(upgrade);
      }
      queue.shift();
      breakers.endPending();
      next.dispatch(conn);
    }
  };

  // ---- PendingOwner ------------------------------------------------------------------------------------------

  abandon(pending: PendingRequest): void {
    const queue = this.queue;
    const i = queue === undefined ? -1 : queue.indexOf(pending);
    if (i < 0) return;
    queue!.splice(i, 1);
    this.breakers!.endPending();
    this.active--;
  }

  /** Connections open or opening, idle or busy (tunnels excluded). */
  get connections(): number {
    return this.all.size;
  }

  /** Requests waiting for a connection (tests, /clusters). */
  get pending(): number {
    return this.queue?.length ?? 0;
  }

  /** Idle connections are closed now, busy ones after their response; queued requests fail (connection_failure). */
  close(): void {
    this.closing = true;
    this.sweepTimer?.cancel();
    for (const c of this.idle.splice(0)) c.destroy();
    const queued = this.queue?.splice(0) ?? [];
    for (const pending of queued) {
      this.breakers!.endPending();
      this.active--;
      pending.handler.onConnectFailure("connection_failure", new PoolClosedError());
    }
  }

  /** Closes everything now, busy or not. */
  destroy(): void {
    this.close();
    for (const c of [...this.all]) c.destroy();
  }

  // ---- UpstreamConnectionOwner -------------------------------------------------------------------------------

  release(conn: Http1UpstreamConnection): void {
    if (this.closing) {
      conn.destroy();
      return;
    }
    this.idle.push(conn);
    // A waiting request takes it (from the idle stack, in a microtask: see drain).
    if (this.queue !== undefined && this.queue.length > 0) this.scheduleDrain();
    if (this.idleTimeoutMs > 0 && this.sweepTimer === undefined)
      this.sweepTimer = this.clock.setTimer(this.idleTimeoutMs, this.sweep);
  }

  forget(conn: Http1UpstreamConnection): void {
    if (this.all.delete(conn)) {
      // A WebSocket tunnel is still a connection to the endpoint (Envoy counts it): it is released when it closes.
      if (conn.tunnel) conn.socket.once("close", this.tunnelClosed);
      else this.stats?.onConnectionClosed(conn.closedByPeer);
    }
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    // Room for a waiting request: a closed connection no longer counts against max_connections.
    if (this.queue !== undefined && this.queue.length > 0) this.scheduleDrain();
  }

  private readonly tunnelClosed = (): void => {
    this.stats?.onConnectionClosed(false);
    if (this.queue !== undefined && this.queue.length > 0) this.scheduleDrain();
  };

  onConnected(): void {}

  onConnectFailure(timeout = false): void {
    this.stats?.onConnectFailure(timeout);
  }

  retired(reason: RetireReason): void {
    this.stats?.onRetired?.(reason);
  }

  requestDone(): void {
    this.active--;
  }

  private readonly sweep = (): void => {
    this.sweepTimer = undefined;
    const now = this.clock.now();
    let oldestKept = Infinity;
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i]!;
      if (now - c.idleSince >= this.idleTimeoutMs) {
        this.idle.splice(i, 1);
        this.retired("idle_timeout");
        c.destroy();
      } else oldestKept = Math.min(oldestKept, c.idleSince);
    }
    if (this.idle.length > 0 && !this.closing)
      this.sweepTimer = this.clock.setTimer(Math.max(1, oldestKept + this.idleTimeoutMs - now), this.sweep);
  };
}
