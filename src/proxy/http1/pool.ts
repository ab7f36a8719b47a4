// The HTTP/1.1 connection pool of one upstream endpoint: idle connections are reused last-in first-out (the most
// recently used socket is the least likely to have been closed by the upstream's keep-alive timer), new ones are
// opened on demand. PERFORMANCE.md: without keep-alive pooling a Node proxy falls to a few hundred req/s.

import type { Clock, Timer } from "../../api/clock.ts";
import type {
  ConnectionPool,
  PoolOptions,
  UpstreamHandler,
  UpstreamRequest,
  UpstreamStream,
} from "../upstream/pool.ts";
import type { Http1Limits } from "./response-head.ts";
import {
  Http1UpstreamConnection,
  netConnect,
  type UpstreamConnect,
  type UpstreamConnectionOwner,
} from "./upstream-connection.ts";

export interface Http1PoolStats {
  onConnectionOpened(): void;
  onConnectionClosed(): void;
  onConnectFailure(): void;
}

export class Http1ConnectionPool implements ConnectionPool, UpstreamConnectionOwner {
  readonly clock: Clock;
  readonly limits: Http1Limits;
  readonly connectTimeoutMs: number;
  readonly maxRequestsPerConnection: number;
  readonly connect: UpstreamConnect;
  private readonly idleTimeoutMs: number;
  private readonly idle: Http1UpstreamConnection[] = [];
  private readonly all = new Set<Http1UpstreamConnection>();
  private closing = false;
  private sweepTimer: Timer | undefined;
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
    this.idleTimeoutMs = options.idleTimeoutMs;
  }

  request(request: UpstreamRequest, handler: UpstreamHandler): UpstreamStream {
    let conn: Http1UpstreamConnection | undefined;
    // Upgrades take a fresh connection: it leaves the pool for good once the tunnel is up.
    if (request.upgrade === undefined) {
      while ((conn = this.idle.pop()) !== undefined) {
        // Connections idle too long are closed by the sweep timer; here only closed ones are skipped.
        if (!conn.closed) break;
        conn.destroy();
      }
    }
    if (conn === undefined) {
      conn = new Http1UpstreamConnection(this, this.host, this.port, request.upgrade !== undefined);
      this.all.add(conn);
      this.stats?.onConnectionOpened();
    }
    this.active++;
    conn.send(request, handler);
    return conn;
  }

  /** Idle connections held now (for /clusters). */
  get connections(): number {
    return this.all.size;
  }

  close(): void {
    this.closing = true;
    this.sweepTimer?.cancel();
    for (const c of this.idle.splice(0)) c.destroy();
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
    if (this.idleTimeoutMs > 0 && this.sweepTimer === undefined)
      this.sweepTimer = this.clock.setTimer(this.idleTimeoutMs, this.sweep);
  }

  forget(conn: Http1UpstreamConnection): void {
    if (this.all.delete(conn)) this.stats?.onConnectionClosed();
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
  }

  onConnected(): void {}

  onConnectFailure(): void {
    this.stats?.onConnectFailure();
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
        c.destroy();
      } else oldestKept = Math.min(oldestKept, c.idleSince);
    }
    if (this.idle.length > 0 && !this.closing)
      this.sweepTimer = this.clock.setTimer(Math.max(1, oldestKept + this.idleTimeoutMs - now), this.sweep);
  };
}
