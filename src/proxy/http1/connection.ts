// One downstream HTTP/1.x connection on a raw net.Socket: parses request heads with the strict codec, frames
// request bodies, hands each request to the handler as an Exchange and answers pipelined requests in order (one
// exchange at a time; bytes of the next request wait in the buffer). Malformed input is answered with 400 and the
// connection is closed, so nothing ambiguous is ever forwarded.

import { directPeerOf } from "../listener/proxy-protocol.ts";
import { restoredFrom } from "../listener/original-destination.ts";
import type { Socket } from "node:net";
import type { Clock, Timer } from "../../api/clock.ts";
import type { Downstream, Handler } from "../http/exchange.ts";
import { Http1Exchange, type Http1ExchangeOwner, type TunnelTiming } from "./connection-exchange.ts";
import { HeadProgress, parseRequestHead, type Http1Limits } from "./request-head.ts";
import { ChunkedDecoder } from "./chunked.ts";
import { stripHopByHop } from "./hop-by-hop.ts";
import { Http1ParseError } from "./errors.ts";
import { readDirect, type DirectReader } from "./direct-read.ts";
import { statusLine } from "./reasons.ts";

export interface Http1ConnectionOptions {
  clock: Clock;
  /** http_protocol_options.default_host_for_http_10: the authority of an HTTP/1.0 request without Host. */
  defaultHostForHttp10?: string;
  limits: Http1Limits;
  /** Envoy's per_connection_buffer_limit_bytes: read-ahead (pipelined bytes, unread body) before pausing. */
  bufferLimitBytes: number;
  /** Downstream connection idle timeout (no exchange active); 0 = none. */
  idleTimeoutMs: number;
  /** Whole request (head and body) must arrive within this; 0 = none. */
  requestTimeoutMs: number;
  /** Envoy's request_headers_timeout: the head must be complete this long after its first byte; 0 = none. */
  requestHeadersTimeoutMs: number;
  /** No bytes in either direction for this long ends the exchange; 0 = none. */
  streamIdleTimeoutMs: number;
  serverName: string;
  /** Called once per exchange when its response has ended or it was abandoned (stats, access log). */
  onExchangeComplete(exchange: Http1Exchange): void;
  /**
   * Called for a request refused before an exchange existed (bad bytes, a head not complete in time): stats and
   * access log. `flag` is the response flag the answer carried (DPE, or SI for a head that went idle).
   * `inExchange`: the refusal came after the head, in the body; its exchange completes (and is logged) on its own,
   * so only the connection's protocol error is counted.
   */
  onProtocolError(downstream: Downstream, err: Http1ParseError, flag: string, inExchange: boolean): void;
  /** The connection was idle for idleTimeoutMs and is closed (counted as downstream_cx_idle_timeout). */
  onIdleTimeout?(): void;
  /** An exchange timed out in the connection (request_timeout / stream_idle_timeout): answer 408 or reset. */
  onExchangeTimeout(exchange: Http1Exchange, kind: "request_timeout" | "stream_idle_timeout"): void;
}

const enum State {
  Head,
  Body,
  Chunked,
  /** An upgrade request is waiting for its answer; later bytes belong to the tunnel, not to HTTP. */
  Upgrade,
  Closed,
}

/** Bytes copied to join reads into one buffer, over the process's life: a work counter for tests. */
export const readCopyWork = { bytes: 0 };

const chunkSink = {
  target: undefined as Http1Exchange | undefined,
  data(chunk: Buffer): void {
    chunkSink.target!.pushBody(chunk);
  },
};

export class Http1ServerConnection implements Http1ExchangeOwner {
  readonly socket: Socket;
  readonly downstream: Downstream;
  /** A request body nobody reads yet is held up to this much before the socket is paused. */
  readonly bufferLimitBytes: number;
  draining = false;
  /** The proxy closed the connection before the client did (Envoy's destroy_local). */
  localClose = false;
  /** The client half-closed: requests already received are answered, then the connection closes. */
  private peerEnded = false;
  private state = State.Head;
  /** Where a request body's end leads: the next head, or (an upgrade request) the tunnel. */
  private afterBody = State.Head;
  private pending: Buffer | undefined;
  private offset = 0;
  /** A buffer with room to spare that `pending` views when reads had to be joined; `accUsed` = its bytes in use. */
  private acc: Buffer | undefined;
  private accUsed = 0;
  /** Where the parse of an incomplete head stopped (see HeadProgress). */
  private readonly headProgress = new HeadProgress();
  private active: Http1Exchange | undefined;
  private remaining = 0;
  private decoder: ChunkedDecoder | undefined;
  private processing = false;
  private socketPaused = false;
  private lastActivity: number;
  /** Bytes of the active exchange when the timer last looked (stream_idle_timeout counts both directions). */
  private bytesAtCheck = -1;
  private exchangeStart = 0;
  private timer: Timer | undefined;
  private onClosed: ((c: Http1ServerConnection) => void) | undefined;
  /** Reads come straight from the socket (no Readable stream per read) when this Node allows it. */
  private readonly reader: DirectReader | undefined;

  constructor(
    socket: Socket,
    private readonly handler: Handler,
    private readonly options: Http1ConnectionOptions,
    onClosed?: (c: Http1ServerConnection) => void,
  ) {
    this.socket = socket;
    this.bufferLimitBytes = options.bufferLimitBytes;
    this.onClosed = onClosed;
    this.downstream = {
      remoteAddress: stripV4Mapped(socket.remoteAddress ?? ""),
      remotePort: socket.remotePort ?? 0,
      localAddress: stripV4Mapped(socket.localAddress ?? ""),
      localPort: socket.localPort ?? 0,
      // A socket the filter chain's TLS decrypted (tls/downstream.ts): x-forwarded-proto https.
      tls: "encrypted" in socket && socket.encrypted === true,
    };
    const direct = directPeerOf(socket);
    if (direct !== undefined) this.downstream.direct = direct;
    const restored = restoredFrom(socket);
    if (restored !== undefined) this.downstream.restoredFrom = restored;
    this.lastActivity = options.clock.now();
    socket.setNoDelay(true);
    this.reader = readDirect(socket, this.onDirectData);
    if (this.reader === undefined) socket.on("data", this.onData);
    socket.on("error", noop);
    socket.on("close", this.onClose);
    socket.on("end", this.onEnd);
    this.armTimer();
  }

  readonly flushPendingHead = (): void => {
    this.active?.flushHead();
  };

  /** Feeds bytes the listener read while sniffing the protocol. */
  feed(initial: Buffer): void {
    this.onData(initial);
  }

  /**
   * Graceful drain: a busy connection closes after its current response (which says `connection: close`). An idle
   * one stays open for `idleGraceMs`, so a client that is just sending its next request on it gets an answer (with
   * `connection: close`) instead of a reset: closing an idle keep-alive connection always races the client's next
   * write, and a short grace takes that race away from clients that are actively sending.
   */
  drain(idleGraceMs = 0): void {
    this.draining = true;
    if (this.active || this.state === State.Closed) return;
    if (idleGraceMs <= 0) return this.closeSocket();
    this.options.clock.setTimer(idleGraceMs, () => {
      if (!this.active && this.state !== State.Closed) this.closeSocket();
    });
  }

  /** Closes at once (drain timeout expired). */
  destroy(): void {
    this.localClose = true;
    this.socket.destroy();
  }

  // ---- input -----------------------------------------------------------------------------------------------------

  private readonly onDirectData = (chunk: Buffer): boolean => {
    this.onData(chunk);
    return true; // back-pressure is pauseSocket()'s, as with 'data' events
  };

  private readonly onData = (chunk: Buffer): void => {
    this.lastActivity = this.options.clock.now();
    const pending = this.pending;
    if (pending === undefined || this.offset >= pending.length) {
      this.pending = chunk;
      this.offset = 0;
    } else this.append(pending, chunk);
    if (!this.processing) this.process();
  };

  /**
   * Joins a read to the bytes not consumed yet. They go into a buffer with room to spare, doubled when full, so a
   * head (or pipelined requests) arriving in many small reads is copied in amortised linear time, not re-copied
   * whole on every read. Bytes already handed on (body views) are never overwritten: only the room past them is.
   */
  private append(pending: Buffer, chunk: Buffer): void {
    const acc = this.acc;
    if (
      acc !== undefined &&
      pending.buffer === acc.buffer &&
      pending.byteOffset + pending.length === acc.byteOffset + this.accUsed &&
      this.accUsed + chunk.length <= acc.length
    ) {
      chunk.copy(acc, this.accUsed);
      readCopyWork.bytes += chunk.length;
      const from = pending.byteOffset - acc.byteOffset;
      this.accUsed += chunk.length;
      this.pending = acc.subarray(from, this.accUsed);
      return;
    }
    const rest = pending.length - this.offset;
    const used = rest + chunk.length;
    const next = Buffer.allocUnsafeSlow(Math.max(2 * used, 4096));
    pending.copy(next, 0, this.offset);
    chunk.copy(next, rest);
    readCopyWork.bytes += used;
    this.acc = next;
    this.accUsed = used;
    this.pending = next.subarray(0, used);
    this.offset = 0;
  }

  private process(): void {
    this.processing = true;
    try {
      while (this.pending !== undefined && this.offset < this.pending.length) {
        const buf = this.pending;
        const state = this.state;
        if (state === State.Head) {
          if (this.active) {
            // A pipelined request waits until the previous response is complete.
            if (buf.length - this.offset > this.options.bufferLimitBytes) this.pauseSocket();
            return;
          }
          if (!this.parseHead(buf)) return;
        } else if (state === State.Body) {
          const avail = buf.length - this.offset;
          const n = avail < this.remaining ? avail : this.remaining;
          const ex = this.active!;
          const piece = n === buf.length ? buf : buf.subarray(this.offset, this.offset + n);
          this.offset += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = this.afterBody;
          ex.pushBody(piece);
          if (this.remaining === 0) ex.endBody(undefined);
        } else if (state === State.Chunked) {
          const ex = this.active!;
          const decoder = this.decoder!;
          chunkSink.target = ex;
          let used: number;
          try {
            used = decoder.push(buf, this.offset, buf.length, chunkSink);
          } catch (err) {
            this.bodyError(ex, err as Error);
            return;
          } finally {
            chunkSink.target = undefined;
          }
          this.offset += used;
          if (decoder.done) {
            this.state = this.afterBody;
            this.decoder = undefined;
            ex.endBody(decoder.trailers);
          } else if (used === 0) return;
        } else return; // Upgrade or Closed: hold the bytes
      }
      if (this.pending !== undefined && this.offset >= this.pending.length) {
        this.pending = undefined;
        this.offset = 0;
        this.acc = undefined;
      }
    } finally {
      this.processing = false;
    }
    this.closeIfPeerDone();
  }

  /** Parses one request head at `offset`; returns false when more bytes are needed or the connection ended. */
  private parseHead(buf: Buffer): boolean {
    let head;
    try {
      head = parseRequestHead(buf, this.offset, buf.length, this.options.limits, this.headProgress);
    } catch (err) {
      this.protocolError(err);
      return false;
    }
    if (head === null) {
      if (this.offset > 0) {
        this.pending = buf.subarray(this.offset);
        this.offset = 0;
      }
      if (this.exchangeStart === 0) {
        // A head has begun: its stream's timeouts start now (the timer may be waiting on the longer idle timeout).
        this.exchangeStart = this.options.clock.now();
        this.cancelTimer();
        this.armTimer();
      }
      return false;
    }
    this.offset += head.headBytes;
    if (this.headProgress.seen !== 0) this.headProgress.reset();
    // The exchange carries no hop-by-hop fields (nor those Connection names: the codec parsed them already), and
    // Host travels as the authority.
    stripHopByHop(head.headers, head.connectionTokens);
    head.headers.remove("host");
    // 100-continue is the proxy's to answer (when the body is first wanted), as Envoy does without
    // proxy_100_continue; from an HTTP/1.0 client it is ignored (RFC 9110 §10.1.1). Either way it goes no further.
    if (head.expect100) head.headers.remove("expect");
    // The head completed in this read: the time onData took is the request's start.
    const now = this.lastActivity;
    // CONNECT is an upgrade (Envoy's type "CONNECT"): what follows its head is tunnel bytes, never a request.
    const upgrade = head.method === "CONNECT" ? "connect" : head.upgrade;
    const ex = new Http1Exchange(
      this,
      head.versionMinor,
      head.method,
      head.path,
      head.host ?? this.options.defaultHostForHttp10 ?? "",
      head.headers,
      this.downstream,
      now,
      head.contentLength,
      head.chunked,
      head.keepAlive && !this.draining,
      upgrade,
      head.expectContinue,
    );
    this.exchangeStart = now;
    // The new exchange has moved no bytes yet; its head's arrival (lastActivity) is where its idleness starts.
    this.bytesAtCheck = 0;
    this.active = ex;
    // An upgrade request's body (as Envoy does, it is forwarded) is read as a body; the tunnel's bytes follow it.
    this.afterBody = upgrade !== undefined ? State.Upgrade : State.Head;
    if (head.chunked) {
      this.state = State.Chunked;
      this.decoder = new ChunkedDecoder();
    } else if (head.contentLength > 0) {
      this.state = State.Body;
      this.remaining = head.contentLength;
    } else if (upgrade !== undefined) this.state = State.Upgrade;
    this.handler(ex);
    return true;
  }

  /** `inExchange`: the refusal ends an exchange, which logs it (and counts its status) when it completes. */
  private protocolError(err: unknown, flag = "DPE", inExchange = false): void {
    const e =
      err instanceof Http1ParseError ? err : new Http1ParseError("HPE_INTERNAL", 400, String((err as Error)?.message));
    this.options.onProtocolError(this.downstream, e, flag, inExchange);
    const body = `${e.message}\n`;
    this.socket.write(
      `${statusLine(e.status)}content-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `x-trellis-response-flags: ${flag}\r\nx-trellis-details: ${e.code}\r\nserver: ${this.options.serverName}\r\n` +
        `connection: close\r\n\r\n${body}`,
      "latin1",
    );
    this.closeSocket();
  }

  private bodyError(ex: Http1Exchange, err: Error): void {
    ex.info.responseFlags = ex.info.responseFlags ? ex.info.responseFlags + ",DPE" : "DPE";
    if (!ex.headSent && err instanceof Http1ParseError) {
      // Nothing of the response is out yet: the client still learns why, and the exchange's log line says so.
      this.state = State.Closed;
      ex.info.responseCode = err.status;
      ex.info.details = err.code;
      this.abandon(ex, err);
      this.protocolError(err, "DPE", true);
      return;
    }
    this.abandon(ex, err);
    this.closeSocket();
  }

  /**
   * The exchange ends here, from the downstream side (the client left mid-request, or its body was refused): its
   * producers are told, and it completes now (stats, access log). Whatever the router does next with its response
   * finds it ended, so it is not completed again.
   */
  private abandon(ex: Http1Exchange, err: Error): void {
    ex.abortFromDownstream(err);
    if (ex !== this.active) return;
    this.active = undefined;
    this.exchangeStart = 0;
    this.options.onExchangeComplete(ex);
  }

  // ---- Http1ExchangeOwner -----------------------------------------------------------------------------------------

  setBodyPaused(paused: boolean): void {
    if (paused) this.pauseSocket();
    else if (this.socketPaused) {
      this.socketPaused = false;
      this.socket.resume();
      if (!this.processing && this.pending !== undefined) this.process();
    }
  }

  responseDone(ex: Http1Exchange, close: boolean): void {
    if (ex !== this.active) return;
    this.lastActivity = this.options.clock.now();
    this.active = undefined;
    this.exchangeStart = 0;
    const mustClose = close || this.draining || !ex.requestComplete || this.state === State.Upgrade;
    this.options.onExchangeComplete(ex);
    if (mustClose) {
      this.closeSocket();
      return;
    }
    // A pause for that exchange's body (its consumer, or a body held past the buffer limit) ends with it.
    if (this.socketPaused) {
      this.socketPaused = false;
      this.socket.resume();
    }
    if (!this.processing && this.pending !== undefined) this.process();
    this.closeIfPeerDone();
  }

  detach(ex: Http1Exchange): TunnelTiming {
    const timing = { clock: this.options.clock, idleTimeoutMs: this.streamIdleTimeoutOf(ex) };
    if (ex !== this.active) return timing;
    this.active = undefined;
    this.state = State.Closed;
    this.cancelTimer();
    this.socket.off("data", this.onData);
    this.reader?.toReadable();
    this.socket.off("end", this.onEnd);
    this.socket.off("close", this.onClose);
    // The tunnel's bytes that arrived with the head are replayed into the socket for joinSockets to read.
    if (this.pending !== undefined && this.offset < this.pending.length)
      this.socket.unshift(this.pending.subarray(this.offset));
    this.pending = undefined;
    this.socket.once("close", () => {
      this.options.onExchangeComplete(ex);
      this.onClosed?.(this);
    });
    return timing;
  }

  // ---- lifecycle -------------------------------------------------------------------------------------------------

  private pauseSocket(): void {
    if (!this.socketPaused) {
      this.socketPaused = true;
      this.socket.pause();
    }
  }

  private closeSocket(): void {
    if (this.state === State.Closed && this.socket.destroyed) return;
    this.localClose ||= !this.peerEnded;
    this.state = State.Closed;
    this.pending = undefined;
    this.cancelTimer();
    // end() flushes what the response wrote; destroy after a grace so a client that never reads cannot pin us.
    this.socket.end();
    const t = this.options.clock.setTimer(5000, () => this.socket.destroy());
    this.socket.once("close", () => t.cancel());
  }

  private readonly onEnd = (): void => {
    // The client half-closed. A request being read is now truncated; complete requests (pipelined ones too) are
    // still answered, in order, and then the connection closes.
    this.peerEnded = true;
    const ex = this.active;
    if (ex && !ex.requestComplete) {
      this.abandon(ex, new Error("downstream closed mid-request"));
      this.socket.destroy();
      return;
    }
    this.closeIfPeerDone();
  };

  private closeIfPeerDone(): void {
    if (this.peerEnded && this.active === undefined && !this.processing && this.state !== State.Closed)
      this.closeSocket();
  }

  private readonly onClose = (): void => {
    this.state = State.Closed;
    this.cancelTimer();
    // An exchange still active has not completed (responseDone and detach let go of theirs first).
    const ex = this.active;
    this.active = undefined;
    if (ex) {
      ex.abortFromDownstream(new Error("downstream connection closed"));
      this.options.onExchangeComplete(ex);
    }
    this.onClosed?.(this);
    this.onClosed = undefined;
  };

  // One timer per connection covers the idle, request and stream-idle timeouts; activity only writes a number,
  // and the timer re-arms itself for whatever remains, so a request costs no timer allocation.
  private armTimer(): void {
    const o = this.options;
    const periods = [
      o.idleTimeoutMs,
      o.requestTimeoutMs,
      o.requestHeadersTimeoutMs,
      this.streamIdleTimeoutOf(this.active),
    ].filter((ms) => ms > 0);
    if (periods.length === 0) return;
    const wait = Math.min(...periods);
    this.timer = o.clock.setTimer(wait, this.onTimer);
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (this.state === State.Closed) return;
    const o = this.options;
    const now = o.clock.now();
    const ex = this.active;
    let next = Infinity;
    if (ex === undefined && this.exchangeStart === 0) {
      if (o.idleTimeoutMs > 0) {
        const due = this.lastActivity + o.idleTimeoutMs;
        if (now >= due) {
          o.onIdleTimeout?.();
          return this.closeSocket();
        }
        next = due;
      }
    } else if (ex === undefined) {
      // A request head is arriving: as in Envoy, its stream exists from the first byte, so the stream's timeouts
      // (request_timeout, request_headers_timeout, stream_idle_timeout) apply, and the connection's idle one does not.
      const start = this.exchangeStart;
      if (o.requestTimeoutMs > 0) {
        const due = start + o.requestTimeoutMs;
        if (now >= due) return this.headTimeout("request_overall_timeout", "DPE", "request timeout");
        next = due;
      }
      if (o.requestHeadersTimeoutMs > 0) {
        const due = start + o.requestHeadersTimeoutMs;
        if (now >= due) return this.headTimeout("request_header_timeout", "DPE", "request header timeout");
        next = Math.min(next, due);
      }
      if (o.streamIdleTimeoutMs > 0) {
        const due = this.lastActivity + o.streamIdleTimeoutMs;
        if (now >= due) return this.headTimeout("stream_idle_timeout", "SI", "stream timeout");
        next = Math.min(next, due);
      }
    } else {
      if (o.requestTimeoutMs > 0 && !ex.requestComplete) {
        const due = ex.info.startMs + o.requestTimeoutMs;
        if (now >= due) return o.onExchangeTimeout(ex, "request_timeout");
        next = Math.min(next, due);
      }
      const streamIdleTimeoutMs = this.streamIdleTimeoutOf(ex);
      if (streamIdleTimeoutMs > 0) {
        // Response bytes count as activity too; they are seen here, at the timer, rather than on every write. The
        // head is not in bytesSent (body bytes only, as Envoy's %BYTES_SENT%): it counts as one.
        const bytes = ex.info.bytesSent + ex.info.bytesReceived + (ex.headSent ? 1 : 0);
        if (bytes !== this.bytesAtCheck) {
          this.bytesAtCheck = bytes;
          this.lastActivity = now;
        }
        const due = this.lastActivity + streamIdleTimeoutMs;
        if (now >= due) return o.onExchangeTimeout(ex, "stream_idle_timeout");
        next = Math.min(next, due);
      }
    }
    if (next === Infinity) {
      const periods = [
        o.idleTimeoutMs,
        o.requestTimeoutMs,
        o.requestHeadersTimeoutMs,
        this.streamIdleTimeoutOf(ex),
      ].filter((x) => x > 0);
      // Nothing left to watch (a route turned the stream idle timeout off): re-armed when the exchange changes.
      if (periods.length === 0) return;
      next = now + Math.min(...periods);
    }
    this.timer = o.clock.setTimer(Math.max(1, next - now), this.onTimer);
  };

  /** The route's idle_timeout of the exchange, else the connection manager's stream_idle_timeout. */
  private streamIdleTimeoutOf(ex: Http1Exchange | undefined): number {
    return ex !== undefined && ex.streamIdleTimeoutMs >= 0 ? ex.streamIdleTimeoutMs : this.options.streamIdleTimeoutMs;
  }

  streamIdleTimeoutChanged(ex: Http1Exchange): void {
    if (ex !== this.active || this.state === State.Closed) return;
    this.cancelTimer();
    this.armTimer();
  }

  /** A request head not complete in time: 408 with Envoy's body and response code detail; the connection closes. */
  private headTimeout(code: string, flag: string, message: string): void {
    this.protocolError(new Http1ParseError(code, 408, message), flag);
  }
}

function noop(): void {}

export function stripV4Mapped(address: string): string {
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}
