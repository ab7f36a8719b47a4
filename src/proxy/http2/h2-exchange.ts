// One HTTP/2 stream on the downstream side as an Exchange. The object is its own RequestBody and ResponseSink
// (the three interfaces share no member names), so a stream costs one object of ours; node's stream events are
// routed to it through module-level functions and a symbol slot, so no closure is made per stream.

import http2 from "node:http2";
import type { OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Clock, Timer } from "../../api/clock.ts";
import { TrellisError } from "../../api/errors.ts";
import { Headers } from "../http/headers.ts";
import type { BodySink, Downstream, Exchange, RequestBody, ResponseSink, StreamInfo } from "../http/exchange.ts";
import { newStreamInfo } from "../http/exchange.ts";
import { CAUSES, rescue, type Cause } from "../http/rescue.ts";
import { contentLength, headersFromObject, toOutgoing } from "./h2-headers.ts";

const { NGHTTP2_INTERNAL_ERROR } = http2.constants;
const kExchange = Symbol("trellis.h2exchange");

type StreamWithExchange = ServerHttp2Stream & { [kExchange]: H2Exchange };

/** The exchange's connection, told when a stream ends (its idle timeout counts streams) or times out. */
export interface StreamCounter {
  streamClosed(): void;
  /** A stream timed out: check that the connection itself still moves. */
  probe(): void;
}

/** What the downstream connection gives each exchange. */
export interface H2ExchangeContext {
  clock: Clock;
  streamIdleTimeoutMs: number;
  /** Envoy's request_timeout: the whole request must arrive within this; 0 = off. */
  requestTimeoutMs: number;
  onStreamComplete: ((ex: Exchange) => void) | undefined;
}

export class H2Exchange implements Exchange, RequestBody, ResponseSink {
  readonly protocol = "HTTP/2" as const;
  method: string;
  path: string;
  authority: string;
  scheme: string;
  readonly headers: Headers;
  readonly downstream: Downstream;
  readonly info: StreamInfo;
  readonly upgrade = undefined;
  readonly body: RequestBody = this;
  readonly response: ResponseSink = this;

  // RequestBody
  readonly empty: boolean;
  readonly length: number;

  // ResponseSink
  headSent = false;

  private readonly stream: StreamWithExchange;
  private readonly ctx: H2ExchangeContext;
  /** stream_idle_timeout, or the route's idle_timeout once the router has set it. */
  private streamIdleTimeoutMs: number;
  private sink: BodySink | undefined;
  private requestDone: boolean;
  private requestTrailers: Headers | undefined;
  /** The peer reset or dropped the stream before END_STREAM (node still ends the readable side then). */
  private requestAborted = false;
  private responseDone = false;
  /** A head that carries grpc-status waits here for end(): together they are one Trailers-Only HEADERS frame. */
  private heldStatus = 0;
  private heldHeaders: Headers | undefined;
  /**
   * A plain (non-gRPC) head waits for the rest of the response that usually arrives in the same tick: knowing
   * whether trailers follow saves node's wantTrailers round and an empty DATA frame, and a whole response goes out
   * as HEADERS + one DATA with END_STREAM. A microtask sends whatever is still waiting.
   */
  private deferredHeaders: Headers | undefined;
  private deferredStatus = 0;
  private deferredData: Buffer | undefined;
  private responseTrailers: Headers | undefined;
  private drainCb: (() => void) | undefined;
  private abortCb: (() => void) | undefined;
  /** pause() was called and resume() not since (kept for a pause before start()). */
  private bodyPaused = false;
  private streamError: Error | undefined;
  private idleTimer: Timer | undefined;
  private requestTimer: Timer | undefined;
  private lastActivityMs: number;

  constructor(
    stream: ServerHttp2Stream,
    pseudo: Record<string, string | string[] | undefined>,
    headers: Headers,
    downstream: Downstream,
    ctx: H2ExchangeContext,
    private readonly connection: StreamCounter,
  ) {
    this.stream = stream as StreamWithExchange;
    this.stream[kExchange] = this;
    this.ctx = ctx;
    this.method = String(pseudo[":method"] ?? "GET");
    this.path = String(pseudo[":path"] ?? "");
    this.authority = String(pseudo[":authority"] ?? pseudo["host"] ?? "");
    this.scheme = String(pseudo[":scheme"] ?? "http");
    this.headers = headers;
    this.downstream = downstream;
    const now = ctx.clock.now();
    this.info = newStreamInfo(now);
    this.lastActivityMs = now;
    this.empty = stream.endAfterHeaders;
    this.requestDone = this.empty;
    this.length = this.empty ? 0 : contentLength(headers);

    stream.on("error", onStreamError);
    stream.on("close", onStreamClose);
    this.streamIdleTimeoutMs = ctx.streamIdleTimeoutMs;
    if (ctx.streamIdleTimeoutMs > 0)
      this.idleTimer = ctx.clock.setTimer(ctx.streamIdleTimeoutMs, () => this.checkIdle());
    if (ctx.requestTimeoutMs > 0 && !this.requestDone)
      this.requestTimer = ctx.clock.setTimer(ctx.requestTimeoutMs, () => this.requestTimedOut());
  }

  // ---- RequestBody ----

  start(sink: BodySink): void {
    if (this.sink !== undefined) return;
    this.sink = sink;
    if (this.empty) {
      sink.onEnd(undefined);
      return;
    }
    const s = this.stream;
    s.on("trailers", onRequestTrailers);
    s.on("end", onRequestEnd);
    s.on("aborted", onRequestAborted);
    s.on("data", onRequestData);
    if (this.bodyPaused) s.pause();
    // A body that was only an empty DATA frame with END_STREAM can have ended (node emitted 'end') before the pool
    // was ready to send it (a new upstream connection): the listener came too late, so end it here.
    if (s.readableEnded) this.handleEnd();
  }

  // Before start() the stream is not flowing (flow control holds the peer back); resuming it then would switch it
  // to flowing with no listener and drop the body, so a pause or resume before start() only records the wish.
  pause(): void {
    this.bodyPaused = true;
    if (this.sink !== undefined) this.stream.pause();
  }

  resume(): void {
    this.bodyPaused = false;
    if (this.sink !== undefined) this.stream.resume();
  }

  // ---- ResponseSink ----

  head(status: number, headers: Headers): void {
    if (this.headSent || this.responseDone) return;
    this.headSent = true;
    this.info.responseCode = status;
    this.lastActivityMs = this.ctx.clock.now();
    if (headers.has("grpc-status")) {
      this.heldStatus = status;
      this.heldHeaders = headers;
      return;
    }
    this.deferredStatus = status;
    this.deferredHeaders = headers;
    queueMicrotask(() => this.flushDeferred());
  }

  private flushDeferred(): void {
    const headers = this.deferredHeaders;
    if (headers === undefined || this.stream.destroyed) return;
    this.deferredHeaders = undefined;
    const data = this.deferredData;
    this.deferredData = undefined;
    // The end has not come in this tick: whether trailers follow is unknown, so node is asked to wait for them.
    this.respond(this.deferredStatus, headers, false, true);
    if (data !== undefined && !this.responseDone) this.stream.write(data);
  }

  data(chunk: Buffer): boolean {
    if (this.responseDone || this.stream.destroyed) return true;
    if (this.heldHeaders !== undefined) this.flushHeld(false);
    this.info.bytesSent += chunk.length;
    this.lastActivityMs = this.ctx.clock.now();
    if (this.deferredHeaders !== undefined) {
      if (this.deferredData === undefined) {
        this.deferredData = chunk;
        return true;
      }
      this.flushDeferred();
    }
    return this.stream.write(chunk);
  }

  onDrain(cb: () => void): void {
    if (this.drainCb === undefined) this.stream.on("drain", onResponseDrain);
    this.drainCb = cb;
  }

  end(trailers?: Headers): void {
    if (this.responseDone) return;
    this.responseDone = true;
    const s = this.stream;
    if (s.destroyed) return;
    if (!this.headSent) {
      // A response must have a head; an end() without one is answered as an empty 200 rather than hanging.
      this.headSent = true;
      this.info.responseCode = 200;
      this.respond(200, trailers ?? new Headers(), true);
    } else if (this.deferredHeaders !== undefined) {
      const headers = this.deferredHeaders;
      const data = this.deferredData;
      this.deferredHeaders = undefined;
      this.deferredData = undefined;
      const hasTrailers = trailers !== undefined && trailers.size > 0;
      if (hasTrailers) this.responseTrailers = trailers;
      this.respond(this.deferredStatus, headers, data === undefined && !hasTrailers, hasTrailers);
      if (!s.destroyed && (data !== undefined || hasTrailers)) {
        if (data !== undefined) s.end(data);
        else s.end();
      }
    } else if (this.heldHeaders !== undefined) {
      if (trailers !== undefined)
        for (let i = 0; i < trailers.list.length; i += 2)
          this.heldHeaders.add(trailers.list[i]!, trailers.list[i + 1]!);
      this.flushHeld(true);
    } else {
      if (trailers !== undefined && trailers.size > 0) this.responseTrailers = trailers;
      s.end();
    }
    this.discardUnreadRequest();
  }

  reset(): void {
    if (this.responseDone && this.stream.closed) return;
    this.responseDone = true;
    this.heldHeaders = undefined;
    this.deferredHeaders = undefined;
    this.deferredData = undefined;
    if (!this.stream.closed) this.stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  onAbort(cb: () => void): void {
    this.abortCb = cb;
  }

  // ---- internals ----

  private respond(status: number, headers: Headers, endStream: boolean, waitForTrailers = true): void {
    const out: OutgoingHttpHeaders = toOutgoing(headers, { ":status": status });
    try {
      // waitForTrailers unless it is known that none come: with none, sendTrailers({}) makes node send an empty
      // DATA frame with END_STREAM, which is what a plain end would have sent.
      this.stream.respond(out, endStream ? { endStream: true } : waitForTrailers ? { waitForTrailers: true } : {});
    } catch (err) {
      // Node refuses some header sets (e.g. a repeated single-value field): the stream cannot be answered.
      this.streamError = err as Error;
      this.responseDone = true;
      if (!this.stream.closed) this.stream.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (!endStream && waitForTrailers) this.stream.on("wantTrailers", onWantTrailers);
  }

  private flushHeld(endStream: boolean): void {
    const headers = this.heldHeaders!;
    this.heldHeaders = undefined;
    this.respond(this.heldStatus, headers, endStream);
  }

  /** The response is complete but the request is not, and nobody reads it: let it flow away (flow control). */
  private discardUnreadRequest(): void {
    if (this.sink === undefined && !this.requestDone) this.stream.resume();
  }

  setStreamIdleTimeout(ms: number): void {
    this.streamIdleTimeoutMs = ms;
    this.idleTimer?.cancel();
    this.idleTimer = ms > 0 ? this.ctx.clock.setTimer(ms, () => this.checkIdle()) : undefined;
  }

  private checkIdle(): void {
    this.idleTimer = undefined;
    if (this.stream.closed) return;
    const timeout = this.streamIdleTimeoutMs;
    const idle = this.ctx.clock.now() - this.lastActivityMs;
    if (idle < timeout) {
      this.idleTimer = this.ctx.clock.setTimer(timeout - idle, () => this.checkIdle());
      return;
    }
    // Envoy's stream_idle_timeout: 408 when nothing was answered yet, else a reset; flag SI either way.
    this.timedOut(CAUSES.streamIdleTimeout);
  }

  /** Envoy's request_timeout: the request (head and body) did not arrive in time. */
  private requestTimedOut(): void {
    this.requestTimer = undefined;
    if (this.stream.closed || this.requestDone) return;
    this.timedOut(CAUSES.requestTimeout);
  }

  /** Answers 408 (or resets once answered); the layers above learn it through their abort callbacks, so the
   * upstream request is cancelled too. */
  private timedOut(cause: Cause): void {
    this.requestTimer?.cancel();
    this.requestTimer = undefined;
    const abortCb = this.abortCb;
    this.abortCb = undefined;
    const sink = this.requestDone ? undefined : this.sink;
    this.requestDone = true;
    this.connection.probe();
    try {
      rescue(this, cause, "");
      abortCb?.();
      sink?.onAbort(new TrellisError("TRELLIS_H2_STREAM_ABORTED", cause.detail.replace(/_/g, " ")));
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** @internal event routing */ handleData(chunk: Buffer): void {
    this.info.bytesReceived += chunk.length;
    this.lastActivityMs = this.ctx.clock.now();
    this.sink?.onData(chunk);
  }

  /** @internal */ handleTrailers(trailers: Headers): void {
    this.requestTrailers = trailers;
  }

  /** @internal */ handleEnd(): void {
    if (this.requestDone) return;
    // Node also ends the readable side when the peer resets the stream; only a real END_STREAM completes the
    // body (the abort is reported from 'close').
    if (this.requestAborted) return;
    const rst = this.stream.rstCode;
    if (rst !== undefined && rst !== 0) return;
    this.requestDone = true;
    this.requestTimer?.cancel();
    this.requestTimer = undefined;
    this.sink?.onEnd(this.requestTrailers);
  }

  /** @internal */ handleAborted(): void {
    this.requestAborted = true;
  }

  /** @internal */ handleWantTrailers(): void {
    const t = this.responseTrailers;
    this.responseTrailers = undefined;
    try {
      this.stream.sendTrailers(t === undefined ? {} : toOutgoing(t, {}));
    } catch {
      if (!this.stream.closed) this.stream.close(NGHTTP2_INTERNAL_ERROR);
    }
  }

  /** @internal */ handleDrain(): void {
    this.drainCb?.();
  }

  /** @internal */ handleError(err: Error): void {
    this.streamError ??= err;
  }

  /** @internal A layer threw while handling this stream's events: the stream is reset, the others go on. */
  fail(err: Error): void {
    this.streamError ??= err;
    this.reset();
  }

  /** @internal */ handleClose(): void {
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    this.requestTimer?.cancel();
    this.requestTimer = undefined;
    // What the layers above throw from here has nowhere left to go (the stream is closed): it is dropped, and the
    // connection and the process go on. Inline try blocks, not a helper: no closure per stream.
    if (!this.responseDone) {
      // The client reset the stream (or the connection went) before the response ended.
      this.responseDone = true;
      if (this.info.responseFlags === "") this.info.responseFlags = "DC";
      this.heldHeaders = undefined;
      const cb = this.abortCb;
      this.abortCb = undefined;
      try {
        cb?.();
      } catch {
        // See above.
      }
    }
    if (!this.requestDone) {
      this.requestDone = true;
      const rst = this.stream.rstCode;
      try {
        this.sink?.onAbort(
          this.streamError ?? new TrellisError("TRELLIS_H2_STREAM_ABORTED", `stream closed (code ${rst ?? "?"})`),
        );
      } catch {
        // See above.
      }
    }
    this.connection.streamClosed();
    try {
      this.ctx.onStreamComplete?.(this);
    } catch {
      // See above.
    }
  }
}

// Node emits these from its own stack: a layer that throws must end this stream, not reach the process.
function onRequestData(this: StreamWithExchange, chunk: Buffer): void {
  const ex = this[kExchange];
  try {
    ex.handleData(chunk);
  } catch (err) {
    ex.fail(err as Error);
  }
}
function onRequestTrailers(this: StreamWithExchange, trailers: Record<string, string | string[] | undefined>): void {
  this[kExchange].handleTrailers(headersFromObject(trailers));
}
function onRequestEnd(this: StreamWithExchange): void {
  const ex = this[kExchange];
  try {
    ex.handleEnd();
  } catch (err) {
    ex.fail(err as Error);
  }
}
function onRequestAborted(this: StreamWithExchange): void {
  this[kExchange].handleAborted();
}
function onWantTrailers(this: StreamWithExchange): void {
  this[kExchange].handleWantTrailers();
}
function onResponseDrain(this: StreamWithExchange): void {
  const ex = this[kExchange];
  try {
    ex.handleDrain();
  } catch (err) {
    ex.fail(err as Error);
  }
}
function onStreamError(this: StreamWithExchange, err: Error): void {
  this[kExchange].handleError(err);
}
function onStreamClose(this: StreamWithExchange): void {
  this[kExchange].handleClose();
}
