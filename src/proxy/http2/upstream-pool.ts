// The HTTP/2 connection pool of one upstream endpoint (h2c with prior knowledge): one session carries the
// requests; another is opened only when every usable session is full (our cap or the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS), has reached max_requests_per_connection or max_connection_duration, or got a
// GOAWAY. Sessions without streams close after the idle timeout; a closed one is replaced on the next request.
//
// Sessions count toward the cluster's max_connections (and per-host max_connections). At the limit a request that
// finds every usable session full is refused at once with "overflow" (HTTP/2 has no pending queue here: a session
// is full only at its stream limit); a pool with no usable session opens one anyway, as the HTTP/1.1 pool does,
// so a GOAWAY or a closed session never leaves an endpoint without a connection.

import type net from "node:net";
import type { Settings } from "node:http2";
import type { Clock } from "../../api/clock.ts";
import { refuseWithOverflow } from "../upstream/circuit-breakers.ts";
import type {
  ConnectionPool,
  PoolBreakers,
  PoolOptions,
  RetireReason,
  UpstreamHandler,
  UpstreamRequest,
  UpstreamStream,
} from "../upstream/pool.ts";
import { PoolClosedError } from "./upstream-errors.ts";
import { H2UpstreamSession } from "./upstream-session.ts";
import type { SessionOwner } from "./upstream-session.ts";
import { H2UpstreamStream } from "./upstream-stream.ts";
import { netConnect } from "../upstream/connect.ts";

export interface H2PoolOptions extends PoolOptions {
  clock: Clock;
  /** Streams we put on one session at most (the peer's own limit applies too). Default 1024. */
  maxConcurrentStreams?: number;
  /** Per-stream receive window. Default 1 MiB. */
  initialWindowSize?: number;
  /** Makes the TCP connection (tests inject one; default net.connect). Must return a socket still connecting. */
  connect?: (address: string, port: number) => net.Socket;
}

/** Connection events for cluster stats (upstream_cx_total, upstream_cx_active, upstream_cx_connect_fail). */
export interface H2PoolStats {
  /** A session's connection is being opened on `socket`. */
  onConnectionOpened(socket: net.Socket): void;
  /** It closed: `remote` when the upstream closed it (GOAWAY, FIN, reset). */
  onConnectionClosed(remote: boolean): void;
  /** Its connect failed; `timeout`: connect_timeout passed. */
  onConnectFailure(timeout: boolean): void;
  /** A working session was retired by the pool's own limits. */
  onRetired?(reason: RetireReason): void;
}

const DEFAULT_MAX_CONCURRENT_STREAMS = 1024;
const DEFAULT_WINDOW = 1 << 20;

export class H2ConnectionPool implements ConnectionPool, SessionOwner {
  readonly clock: Clock;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxRequestsPerConnection: number;
  readonly maxConnectionDurationMs: number;
  readonly maxConcurrentStreams: number;
  readonly settings: Settings;
  readonly connectionWindow: number;
  private readonly address: string;
  private readonly port: number;
  private readonly authority: string;
  private readonly makeSocket: (address: string, port: number) => net.Socket;
  private readonly sessions: H2UpstreamSession[] = [];
  private closed = false;
  private activeCount = 0;
  private readonly breakers: PoolBreakers | undefined;

  constructor(
    endpoint: { address: string; port: number },
    options: H2PoolOptions,
    private readonly stats?: H2PoolStats,
  ) {
    this.address = endpoint.address;
    this.port = endpoint.port;
    this.authority = `http://${endpoint.address.includes(":") ? `[${endpoint.address}]` : endpoint.address}:${endpoint.port}`;
    this.clock = options.clock;
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.idleTimeoutMs = options.idleTimeoutMs;
    this.maxRequestsPerConnection = options.maxRequestsPerConnection;
    this.maxConnectionDurationMs = options.maxConnectionDurationMs ?? 0;
    this.maxConcurrentStreams = options.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS;
    const window = options.initialWindowSize ?? DEFAULT_WINDOW;
    this.settings = { enablePush: false, initialWindowSize: window };
    this.connectionWindow = window * 8;
    this.makeSocket = options.connect ?? netConnect;
    this.breakers = options.breakers;
  }

  /** Requests in flight plus waiting for a connection. */
  get active(): number {
    return this.activeCount;
  }

  /** Open (or opening) sessions, for /clusters and tests. */
  get connections(): number {
    return this.sessions.length;
  }

  request(request: UpstreamRequest, handler: UpstreamHandler): UpstreamStream {
    if (this.closed) {
      const stream = new H2UpstreamStream(request, handler);
      // Reported asynchronously, like every other failure: the caller gets its UpstreamStream first.
      queueMicrotask(() => stream.connectFailed("connection_failure", new PoolClosedError()));
      return stream;
    }
    let session: H2UpstreamSession | undefined;
    for (const s of this.sessions) {
      if (s.hasRoom) {
        session = s;
        break;
      }
    }
    if (session === undefined) {
      const breakers = this.breakers;
      if (breakers !== undefined && !breakers.canOpenConnection()) {
        breakers.connectionOverflow();
        if (this.sessions.some((s) => s.usable)) return refuseWithOverflow(handler, "max_connections");
      }
      session = this.openSession();
    }
    const stream = new H2UpstreamStream(request, handler);
    this.activeCount++;
    session.assign(stream);
    return stream;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sessions.slice()) s.close();
  }

  // ---- SessionOwner ----

  streamReleased(): void {
    this.activeCount--;
  }

  sessionClosed(session: H2UpstreamSession): void {
    const i = this.sessions.indexOf(session);
    if (i < 0) return;
    this.sessions.splice(i, 1);
    this.stats?.onConnectionClosed(session.remoteClose);
  }

  connectFailed(timeout = false): void {
    this.stats?.onConnectFailure(timeout);
  }

  retired(reason: RetireReason): void {
    this.stats?.onRetired?.(reason);
  }

  private openSession(): H2UpstreamSession {
    const socket = this.makeSocket(this.address, this.port);
    const session = new H2UpstreamSession(this, socket, this.authority);
    this.sessions.push(session);
    this.stats?.onConnectionOpened(socket);
    return session;
  }
}
