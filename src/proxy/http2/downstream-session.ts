// What the HTTP/2 downstream keeps per client connection: its address (made once, shared by its exchanges), the
// count of open streams, and Envoy's connection idle_timeout (no streams for that long → close). The idle
// timeout also reaps a session that node:http2 abandoned after a protocol error: nghttp2 sends GOAWAY and stops
// reading, so node would never notice the peer closing and would keep the socket forever. A stream still open on
// such a session would never end either (what it sends is queued and never written), so when a stream of a session
// times out, the session is probed: a PING that does not come back within PROBE_TIMEOUT_MS ends it.

import { directPeerOf } from "../listener/proxy-protocol.ts";
import { restoredFrom } from "../listener/original-destination.ts";
import http2 from "node:http2";
import type { Http2Session } from "node:http2";
import type { Clock, Timer } from "../../api/clock.ts";
import type { Downstream } from "../http/exchange.ts";
import type { StreamCounter } from "./h2-exchange.ts";

/** How long a probed session has to answer our PING. */
export const PROBE_TIMEOUT_MS = 15_000;

export class DownstreamSession implements StreamCounter {
  readonly downstream: Downstream;
  /** The proxy closed the session (drain, idle timeout, shutdown), not the client (Envoy's destroy_local). */
  localClose = false;
  private streams = 0;
  private idleSince: number;
  private idleTimer: Timer | undefined;
  private probeTimer: Timer | undefined;

  constructor(
    readonly session: Http2Session,
    private readonly clock: Clock,
    private readonly idleTimeoutMs: number,
    private readonly onIdleTimeout?: () => void,
  ) {
    const socket = session.socket;
    this.downstream = {
      remoteAddress: socket.remoteAddress ?? "",
      remotePort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? "",
      localPort: socket.localPort ?? 0,
      tls: "encrypted" in socket && socket.encrypted === true,
    };
    const direct = directPeerOf(socket);
    if (direct !== undefined) this.downstream.direct = direct;
    const restored = restoredFrom(socket);
    if (restored !== undefined) this.downstream.restoredFrom = restored;
    this.idleSince = clock.now();
    this.armIdle(idleTimeoutMs);
  }

  streamOpened(): void {
    this.streams++;
  }

  streamClosed(): void {
    if (--this.streams > 0) return;
    this.idleSince = this.clock.now();
    if (this.idleTimer === undefined) this.armIdle(this.idleTimeoutMs);
  }

  /** GOAWAY(NO_ERROR) now so the client stops opening streams; streams in flight finish, then the connection ends. */
  drain(): void {
    const s = this.session;
    if (s.closed || s.destroyed) return;
    this.localClose = true;
    try {
      s.goaway(http2.constants.NGHTTP2_NO_ERROR);
    } catch {
      // Already going away.
    }
    s.close();
  }

  destroy(): void {
    this.localClose ||= !this.session.destroyed;
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    this.session.destroy();
  }

  /** The session closed: stop timing it. */
  closed(): void {
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    this.probeTimer?.cancel();
    this.probeTimer = undefined;
  }

  /**
   * A stream of this session timed out: make sure the session still moves. nghttp2 may have ended it after a
   * connection error without node knowing (see above); then the PING is never sent, never answered, and the
   * session is destroyed, which ends its streams and closes the socket.
   */
  probe(): void {
    const s = this.session;
    if (this.probeTimer !== undefined || s.destroyed) return;
    try {
      s.ping(this.onPingAnswered);
    } catch {
      // Node refuses a ping on a closing session: it is going already.
      return;
    }
    this.probeTimer = this.clock.setTimer(PROBE_TIMEOUT_MS, this.onProbeTimeout);
  }

  private readonly onPingAnswered = (): void => {
    this.probeTimer?.cancel();
    this.probeTimer = undefined;
  };

  private readonly onProbeTimeout = (): void => {
    this.probeTimer = undefined;
    this.destroy();
  };

  private armIdle(ms: number): void {
    if (this.idleTimeoutMs <= 0) return;
    this.idleTimer = this.clock.setTimer(ms, this.onIdleTimer);
  }

  private readonly onIdleTimer = (): void => {
    this.idleTimer = undefined;
    if (this.streams > 0 || this.session.destroyed) return;
    const left = this.idleTimeoutMs - (this.clock.now() - this.idleSince);
    if (left > 0) {
      this.armIdle(left);
      return;
    }
    // No stream is in flight, so a graceful close would end at once; destroy also covers a session whose
    // nghttp2 side stopped after a protocol error.
    this.localClose = true;
    this.onIdleTimeout?.();
    if (!this.session.closed) {
      try {
        this.session.goaway(http2.constants.NGHTTP2_NO_ERROR);
      } catch {
        // Going away already.
      }
    }
    this.session.destroy();
  };
}
