// One connection of the HTTP/2 upstream pool: a TCP connect bounded by connect_timeout (as Envoy's covers TCP
// only), then a node:http2 client session over that socket carrying many streams. Requests that arrive while
// the socket connects wait here; once it is up they are all started, and the session takes new ones while it
// has room (our cap, the peer's SETTINGS_MAX_CONCURRENT_STREAMS, max_requests_per_connection) and no GOAWAY,
// until max_connection_duration after the connect: then it drains (streams in flight finish, then GOAWAY).

import http2 from "node:http2";
import type { ClientHttp2Session, Settings } from "node:http2";
import type net from "node:net";
import type { Clock, Timer } from "../../api/clock.ts";
import type { ConnectFailure, RetireReason } from "../upstream/pool.ts";
import { ConnectTimeoutError, RequestNotEncodableError } from "./upstream-errors.ts";
import type { H2UpstreamStream, StreamOwner } from "./upstream-stream.ts";

/** What a session needs from its pool. */
export interface SessionOwner {
  readonly clock: Clock;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxRequestsPerConnection: number;
  /** 0 = no limit. */
  readonly maxConnectionDurationMs: number;
  readonly maxConcurrentStreams: number;
  readonly settings: Settings;
  readonly connectionWindow: number;
  /** A stream finished or failed: it no longer counts in the pool's `active`. */
  streamReleased(): void;
  /** The session is gone for good (closed, failed, idle): forget it. */
  sessionClosed(session: H2UpstreamSession): void;
  /** `timeout`: connect_timeout passed. */
  connectFailed(timeout?: boolean): void;
  /** The session is retired by a limit of the pool (counted in the cluster's stats). */
  retired(reason: RetireReason): void;
}

type State = "connecting" | "ready" | "draining" | "closed";

const MAX_SESSION_MEMORY_MB = 64;

export class H2UpstreamSession implements StreamOwner {
  /** The upstream ended the connection (GOAWAY, FIN, reset, refused), not the proxy (Envoy's destroy_remote). */
  remoteClose = false;
  private state: State = "connecting";
  private session: ClientHttp2Session | undefined;
  private readonly waiting: H2UpstreamStream[] = [];
  private streams = 0;
  /** Streams ever given to this session (max_requests_per_connection). */
  private assigned = 0;
  private peerMaxStreams = Infinity;
  private connectTimer: Timer | undefined;
  private idleTimer: Timer | undefined;
  private durationTimer: Timer | undefined;
  private idleSince = 0;
  /** The pool is closing: end the session once its streams are done. */
  private closeWhenIdle = false;

  constructor(
    private readonly owner: SessionOwner,
    private readonly socket: net.Socket,
    private readonly authority: string,
  ) {
    socket.on("error", this.onSocketError);
    if (socket.connecting) {
      socket.once("connect", this.onConnect);
      if (owner.connectTimeoutMs > 0)
        this.connectTimer = owner.clock.setTimer(owner.connectTimeoutMs, this.onConnectTimeout);
    } else {
      queueMicrotask(this.onConnect);
    }
  }

  /** Whether a new stream may be given to this session. */
  get hasRoom(): boolean {
    if (this.state !== "connecting" && this.state !== "ready") return false;
    if (this.closeWhenIdle) return false;
    const inUse = this.streams + this.waiting.length;
    if (inUse >= this.owner.maxConcurrentStreams || inUse >= this.peerMaxStreams) return false;
    const maxReq = this.owner.maxRequestsPerConnection;
    return maxReq === 0 || this.assigned < maxReq;
  }

  /** Connecting or ready and not closing: it takes streams now or will once some finish. */
  get usable(): boolean {
    return (this.state === "connecting" || this.state === "ready") && !this.closeWhenIdle;
  }

  get streamCount(): number {
    return this.streams + this.waiting.length;
  }

  assign(stream: H2UpstreamStream): void {
    this.assigned++;
    stream.attach(this);
    if (this.state === "connecting") this.waiting.push(stream);
    else this.startStream(stream);
  }

  /** Graceful: streams in flight finish, then the connection closes. */
  close(): void {
    this.closeWhenIdle = true;
    if (this.state === "connecting") {
      if (this.waiting.length === 0) this.destroy();
      return;
    }
    this.maybeFinish();
  }

  destroy(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.connectTimer?.cancel();
    this.idleTimer?.cancel();
    this.durationTimer?.cancel();
    if (this.session !== undefined) this.session.destroy();
    else this.socket.destroy();
    this.owner.sessionClosed(this);
  }

  // ---- StreamOwner ----

  abandonWaiting(stream: H2UpstreamStream): void {
    const i = this.waiting.indexOf(stream);
    if (i < 0) return;
    this.waiting.splice(i, 1);
    this.owner.streamReleased();
    // A connect nobody waits for any more still completes: the next request is likely to want it. Only a
    // closing pool gives it up.
    if (this.closeWhenIdle && this.waiting.length === 0) this.destroy();
  }

  release(_stream: H2UpstreamStream): void {
    this.streams--;
    this.owner.streamReleased();
    if (this.streams === 0 && this.waiting.length === 0) this.becameIdle();
  }

  private becameIdle(): void {
    this.idleSince = this.owner.clock.now();
    this.maybeFinish();
    if (this.state === "ready" && this.owner.idleTimeoutMs > 0 && this.idleTimer === undefined)
      this.idleTimer = this.owner.clock.setTimer(this.owner.idleTimeoutMs, this.onIdleTimer);
  }

  // ---- connection life ----

  private readonly onConnect = (): void => {
    if (this.state !== "connecting") return;
    this.connectTimer?.cancel();
    this.connectTimer = undefined;
    this.socket.setNoDelay(true);
    const owner = this.owner;
    const socket = this.socket;
    const session = http2.connect(this.authority, {
      createConnection: () => socket,
      settings: owner.settings,
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
    });
    this.session = session;
    this.state = "ready";
    session.on("error", ignore);
    session.on("frameError", ignore);
    session.on("remoteSettings", (settings: Settings) => {
      this.peerMaxStreams = settings.maxConcurrentStreams ?? Infinity;
    });
    session.on("goaway", () => {
      this.remoteClose = true;
      // No new streams here; those the peer accepted (id ≤ last-stream-id) finish, node closes the session.
      if (this.state === "ready") this.state = "draining";
    });
    session.on("close", () => {
      if (this.state === "closed") return;
      if (this.state === "ready") this.remoteClose = true;
      this.state = "closed";
      this.idleTimer?.cancel();
      this.durationTimer?.cancel();
      owner.sessionClosed(this);
    });
    session.once("connect", () => {
      if (owner.connectionWindow > 65535 && !session.destroyed) session.setLocalWindowSize(owner.connectionWindow);
    });
    // Envoy counts max_connection_duration from the connect, not from when it began.
    if (owner.maxConnectionDurationMs > 0)
      this.durationTimer = owner.clock.setTimer(owner.maxConnectionDurationMs, this.onMaxDuration);
    for (const s of this.waiting.splice(0)) this.startStream(s);
    if (this.streams === 0) this.becameIdle();
  };

  /** max_connection_duration reached: no new stream here; the session ends once its streams are done. */
  private readonly onMaxDuration = (): void => {
    this.durationTimer = undefined;
    if (this.state === "closed") return;
    this.owner.retired("max_duration");
    this.closeWhenIdle = true;
    this.maybeFinish();
  };

  private readonly onConnectTimeout = (): void => {
    this.connectTimer = undefined;
    if (this.state !== "connecting") return;
    this.failConnect("connect_timeout", new ConnectTimeoutError(this.owner.connectTimeoutMs));
  };

  private readonly onSocketError = (err: NodeJS.ErrnoException): void => {
    if (this.state !== "connecting") return; // after connecting, the session reports it to its streams
    this.remoteClose = true;
    this.failConnect(err.code === "ECONNREFUSED" ? "connection_refused" : "connection_failure", err);
  };

  private failConnect(reason: ConnectFailure, err: Error): void {
    this.owner.connectFailed(reason === "connect_timeout");
    const waiting = this.waiting.splice(0);
    this.destroy();
    for (const s of waiting) {
      this.owner.streamReleased();
      s.connectFailed(reason, err);
    }
  }

  private readonly onIdleTimer = (): void => {
    this.idleTimer = undefined;
    if (this.state !== "ready" || this.streams > 0 || this.waiting.length > 0) return;
    const left = this.owner.idleTimeoutMs - (this.owner.clock.now() - this.idleSince);
    if (left > 0) {
      this.idleTimer = this.owner.clock.setTimer(left, this.onIdleTimer);
      return;
    }
    this.owner.retired("idle_timeout");
    this.closeWhenIdle = true;
    this.maybeFinish();
  };

  private startStream(stream: H2UpstreamStream): void {
    this.streams++;
    try {
      stream.start(this.session!);
    } catch (err) {
      if (err instanceof RequestNotEncodableError) {
        // The request's own headers: the session is as good as before and the stream never counted.
        this.assigned--;
      } else if (this.state === "ready") {
        // The session refused (closing, out of stream ids): it takes no more streams.
        this.state = "draining";
      }
      stream.startFailed(err as Error);
      this.release(stream);
      return;
    }
    const maxReq = this.owner.maxRequestsPerConnection;
    if (maxReq > 0 && this.assigned >= maxReq && !this.closeWhenIdle) {
      this.owner.retired("max_requests");
      this.closeWhenIdle = true;
    }
  }

  /** Ends the session when it should close and has nothing in flight (graceful close: GOAWAY, then FIN). */
  private maybeFinish(): void {
    if (this.streams > 0 || this.waiting.length > 0) return;
    if (!this.closeWhenIdle && this.state !== "draining") return;
    if (this.state === "closed") return;
    const session = this.session;
    if (session === undefined) {
      this.destroy();
      return;
    }
    this.state = "draining";
    session.close(() => {
      if (this.state !== "closed") this.destroy();
    });
  }
}

function ignore(): void {}
