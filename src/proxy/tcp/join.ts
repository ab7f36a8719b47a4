// Two connections joined into one byte stream each way, ended as Envoy's tcp_proxy ends a session (half-close
// enabled on both connections). Used by tcp_proxy's sessions (tcp-proxy.ts, which adds its connect phase and
// stats around it) and by HTTP/1.1 upgrade and CONNECT tunnels (http1/connection-exchange.ts).
//
// - Bytes flow both ways with back-pressure: a side whose peer's buffer is full is paused until it drains.
// - A FIN from one side is passed on to the other (end()), and bytes keep flowing the other way.
// - A side that is fully closed without an error has the other side flushed and then closed (Envoy's FlushWrite):
//   what was written to it still arrives. The join ends when both are closed.
// - An error or RST on either side, or the idle timeout, closes both at once.
// - A downstream that ends (FIN) before sending a single byte closes both at once: its upstream must not wait for
//   the idle timeout or for the upstream's own FIN.
// Everything here is made once per join (a tunnel is set up once per upgrade); nothing is allocated per read.

import type { Duplex } from "node:stream";
import type { Clock, Timer } from "../../api/clock.ts";

/** Where the join counts bytes (a StreamInfo or a tcp_proxy session record). */
export interface JoinCounts {
  /** Bytes read from the downstream (and written upstream). */
  bytesReceived: number;
  /** Bytes read from the upstream (and written downstream). */
  bytesSent: number;
}

/**
 * How a join ended: both sides closed cleanly; an error or RST on one side; the idle timeout; a downstream that
 * ended before its first byte; or abort() by the owner.
 */
export type JoinEnd = "closed" | "downstream_error" | "upstream_error" | "idle_timeout" | "downstream_left" | "aborted";

export interface JoinOptions {
  clock: Clock;
  /** No byte in either direction for this long closes both sides; 0 = none. */
  idleTimeoutMs: number;
  /** The idle timer starts only when startIdleTimer() is called (tcp_proxy: once the upstream is connected). */
  idleTimerLater?: boolean;
  /** The idle timeout closed both sides (called before they are closed). */
  onIdleTimeout?(): void;
  /** The join is over: both sides closed, or being closed at once. Called once, before the sockets are destroyed. */
  onEnd?(how: JoinEnd): void;
  /** Whether a side that closed cleanly may have the other flushed (false: both closed at once; not connected yet). */
  canFlush?(): boolean;
  /** Reading from the downstream paused because the upstream is not taking bytes, and resumed once it drained. */
  onDownstreamPaused?(): void;
  onDownstreamResumed?(): void;
}

export class SocketJoin {
  private ended = false;
  private lastActivity: number;
  private idleTimer: Timer | undefined;
  /** The downstream is paused because the upstream's buffer is full (flow-control hooks hear of each pause once). */
  private downstreamPaused = false;

  constructor(
    private readonly downstream: Duplex,
    private readonly upstream: Duplex,
    private readonly counts: JoinCounts,
    private readonly options: JoinOptions,
  ) {
    const d = downstream;
    const u = upstream;
    this.lastActivity = options.clock.now();
    // A FIN must be passed on, not answered with our own end(): half-close on both (the pool's connections have
    // it off). Node reads the flag when the 'end' arrives, so setting it now is in time.
    d.allowHalfOpen = true;
    u.allowHalfOpen = true;
    d.on("data", this.onDownstreamData);
    u.on("data", this.onUpstreamData);
    d.on("drain", this.onDownstreamDrain);
    u.on("drain", this.onUpstreamDrain);
    d.on("end", this.onDownstreamEnd);
    u.on("end", this.onUpstreamEnd);
    d.on("error", this.onDownstreamError);
    u.on("error", this.onUpstreamError);
    d.on("close", this.onDownstreamClose);
    u.on("close", this.onUpstreamClose);
    if (d.destroyed || u.destroyed) {
      // A side already gone before the join (the client left while the upstream answered): its 'close' is past.
      this.closeBoth("aborted");
      return;
    }
    if (options.idleTimerLater !== true) this.startIdleTimer();
    if (u.readableEnded) this.onUpstreamEnd();
    if (d.readableEnded) this.onDownstreamEnd();
    if (this.ended) return;
    d.resume();
    u.resume();
  }

  /** Starts the idle timer (once; with idleTimerLater). */
  startIdleTimer(): void {
    const ms = this.options.idleTimeoutMs;
    if (ms > 0 && this.idleTimer === undefined && !this.ended)
      this.idleTimer = this.options.clock.setTimer(ms, this.onIdleCheck);
  }

  /** Closes both sides at once (the owner gave up, e.g. a connect timeout); onEnd hears "aborted". */
  abort(): void {
    this.closeBoth("aborted");
  }

  private readonly onDownstreamData = (c: Buffer): void => {
    this.counts.bytesReceived += c.length;
    this.lastActivity = this.options.clock.now();
    if (!this.upstream.write(c)) {
      this.downstream.pause();
      if (!this.downstreamPaused) {
        this.downstreamPaused = true;
        this.options.onDownstreamPaused?.();
      }
    }
  };

  private readonly onUpstreamData = (c: Buffer): void => {
    this.counts.bytesSent += c.length;
    this.lastActivity = this.options.clock.now();
    if (!this.downstream.write(c)) this.upstream.pause();
  };

  private readonly onDownstreamDrain = (): void => {
    this.upstream.resume();
  };

  private readonly onUpstreamDrain = (): void => {
    this.downstream.resume();
    if (this.downstreamPaused) {
      this.downstreamPaused = false;
      this.options.onDownstreamResumed?.();
    }
  };

  private readonly onDownstreamError = (): void => this.closeBoth("downstream_error");
  private readonly onUpstreamError = (): void => this.closeBoth("upstream_error");

  private readonly onDownstreamEnd = (): void => {
    if (this.ended) return;
    if (this.counts.bytesReceived === 0) this.closeBoth("downstream_left");
    else if (!this.upstream.writableEnded) this.upstream.end();
  };

  private readonly onUpstreamEnd = (): void => {
    if (this.ended) return;
    if (!this.downstream.writableEnded) this.downstream.end();
  };

  private readonly onDownstreamClose = (): void => this.sideClosed(this.upstream);
  private readonly onUpstreamClose = (): void => this.sideClosed(this.downstream);

  /** `other`'s peer closed without an error: flush `other` and close it; the join ends when both are closed. */
  private sideClosed(other: Duplex): void {
    if (this.ended) return;
    if (other.destroyed) return this.finish("closed");
    if (this.options.canFlush?.() === false) return this.closeBoth("closed");
    if (other.writableFinished) other.destroy();
    else {
      if (!other.writableEnded) other.end();
      other.once("finish", () => other.destroy());
    }
  }

  private readonly onIdleCheck = (): void => {
    this.idleTimer = undefined;
    if (this.ended) return;
    const due = this.lastActivity + this.options.idleTimeoutMs;
    const now = this.options.clock.now();
    if (now >= due) {
      this.options.onIdleTimeout?.();
      this.closeBoth("idle_timeout");
      return;
    }
    this.idleTimer = this.options.clock.setTimer(due - now, this.onIdleCheck);
  };

  /** An error or RST on either side, the idle timeout, a downstream that left before its first byte, abort(). */
  private closeBoth(how: JoinEnd): void {
    if (this.ended) return;
    this.finish(how);
    this.downstream.destroy();
    this.upstream.destroy();
  }

  private finish(how: JoinEnd): void {
    this.ended = true;
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    this.options.onEnd?.(how);
  }
}
