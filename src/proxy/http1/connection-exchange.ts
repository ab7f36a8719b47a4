// One HTTP/1.x request/response on a downstream connection. The object is at once the Exchange, its RequestBody
// and its ResponseSink, so a request costs one allocation here. The connection (server-connection.ts) feeds the
// body in and is told when the response has ended.

import type { Duplex } from "node:stream";
import type { Headers } from "../http/headers.ts";
import type {
  BodySink,
  Downstream,
  Exchange,
  HttpProtocol,
  RequestBody,
  ResponseSink,
  StreamInfo,
} from "../http/exchange.ts";
import { newStreamInfo } from "../http/exchange.ts";
import { encodeChunkHead, LAST_CHUNK, serializeResponseHead, serializeTrailers } from "./serialize.ts";
import { isHopByHop } from "./hop-by-hop.ts";
import type { Clock } from "../../api/clock.ts";
import { SocketJoin } from "../tcp/join.ts";

/** What an exchange needs from its connection; implemented by Http1ServerConnection. */
export interface Http1ExchangeOwner {
  readonly socket: Duplex & { cork(): void; uncork(): void; writableNeedDrain: boolean };
  /** The body flow wants more (resume reading the socket) or less. */
  setBodyPaused(paused: boolean): void;
  /** Request body bytes held while nobody reads them (upstream queued or connecting) before the socket pauses. */
  readonly bufferLimitBytes: number;
  /** The response has been written completely (or the stream reset); `close` = the connection must close. */
  responseDone(exchange: Http1Exchange, close: boolean): void;
  /** Hands the socket over to a tunnel (upgrade); the connection stops parsing. Says how the tunnel is timed. */
  detach(exchange: Http1Exchange): TunnelTiming;
  /** The connection is draining: answers carry `connection: close`. */
  readonly draining: boolean;
  /** Flushes the active exchange's pending head; one function per connection, queued as a microtask. */
  readonly flushPendingHead: () => void;
  /** The exchange's stream idle timeout changed (a route's idle_timeout): the connection's timer re-arms. */
  streamIdleTimeoutChanged(exchange: Http1Exchange): void;
}

/** A tunnel's timing: the connection's clock and the stream idle timeout that goes on applying to it (0 = none). */
export interface TunnelTiming {
  clock: Clock;
  idleTimeoutMs: number;
}

/** Body pieces up to this size are copied together with the head or chunk framing into a single write. */
const COALESCE_LIMIT = 16 * 1024;

const enum BodyState {
  Empty,
  Streaming,
  Done,
  Aborted,
}

export class Http1Exchange implements Exchange, RequestBody, ResponseSink {
  readonly protocol: HttpProtocol;
  method: string;
  path: string;
  authority: string;
  scheme: string;
  readonly headers: Headers;
  readonly downstream: Downstream;
  readonly info: StreamInfo;
  readonly upgrade: string | undefined;
  readonly body: RequestBody = this;
  readonly response: ResponseSink = this;
  /** The route's idle_timeout for this exchange; -1 = the connection manager's stream_idle_timeout. */
  streamIdleTimeoutMs = -1;

  // request body
  readonly empty: boolean;
  readonly length: number;
  private bodyState: BodyState;
  private sink: BodySink | undefined;
  private buffered: Buffer[] | undefined;
  private bufferedBytes = 0;
  private bufferedEndTrailers: Headers | undefined | null = null; // null: end not yet seen
  private bodyPausedByConsumer = false;

  // response
  headSent = false;
  private ended = false;
  private chunkedResponse = false;
  private closeAfter: boolean;
  private drainCb: (() => void) | undefined;
  private abortCb: (() => void) | undefined;
  /** The serialized response head, until the first body bytes or the end join it in one write. */
  private pendingHead: string | undefined;
  /** The request asked for 100-continue; sent when the body is first wanted. */
  private expectContinue: boolean;

  constructor(
    private readonly owner: Http1ExchangeOwner,
    versionMinor: 0 | 1,
    method: string,
    path: string,
    authority: string,
    headers: Headers,
    downstream: Downstream,
    startMs: number,
    bodyLength: number,
    chunked: boolean,
    keepAlive: boolean,
    upgrade: string | undefined,
    expectContinue: boolean,
  ) {
    this.protocol = versionMinor === 1 ? "HTTP/1.1" : "HTTP/1.0";
    this.method = method;
    this.path = path;
    this.authority = authority;
    this.scheme = downstream.tls ? "https" : "http";
    this.headers = headers;
    this.downstream = downstream;
    this.info = newStreamInfo(startMs);
    this.upgrade = upgrade;
    this.empty = !chunked && bodyLength <= 0;
    this.length = chunked ? -1 : Math.max(0, bodyLength);
    this.bodyState = this.empty ? BodyState.Empty : BodyState.Streaming;
    this.closeAfter = !keepAlive;
    this.expectContinue = expectContinue && !this.empty;
  }

  setStreamIdleTimeout(ms: number): void {
    this.streamIdleTimeoutMs = ms;
    this.owner.streamIdleTimeoutChanged(this);
  }

  // ---- request body (RequestBody) -------------------------------------------------------------------------------

  start(sink: BodySink): void {
    this.sink = sink;
    if (this.expectContinue) {
      this.expectContinue = false;
      if (!this.headSent) this.owner.socket.write("HTTP/1.1 100 Continue\r\n\r\n");
    }
    if (this.bodyState === BodyState.Empty) {
      sink.onEnd(undefined);
      return;
    }
    const buffered = this.buffered;
    if (buffered) {
      this.buffered = undefined;
      this.bufferedBytes = 0;
      for (const chunk of buffered) sink.onData(chunk);
    }
    if (this.bufferedEndTrailers !== null) sink.onEnd(this.bufferedEndTrailers);
    else if (this.bodyState === BodyState.Aborted)
      sink.onAbort(new Error("downstream closed before the request body ended"));
    else this.owner.setBodyPaused(this.bodyPausedByConsumer);
  }

  pause(): void {
    this.bodyPausedByConsumer = true;
    this.owner.setBodyPaused(true);
  }

  resume(): void {
    this.bodyPausedByConsumer = false;
    this.owner.setBodyPaused(false);
  }

  /** Connection → exchange: request body bytes (already de-chunked). */
  pushBody(chunk: Buffer): void {
    this.info.bytesReceived += chunk.length;
    if (this.sink) this.sink.onData(chunk);
    else {
      // Nobody reads the body yet (the upstream is queued or connecting): past the connection's buffer limit the
      // client is made to wait (the socket stops being read) instead of the proxy holding the body without bound.
      (this.buffered ??= []).push(chunk);
      this.bufferedBytes += chunk.length;
      if (this.bufferedBytes > this.owner.bufferLimitBytes) this.owner.setBodyPaused(true);
    }
  }

  /** Connection → exchange: the request body is complete. */
  endBody(trailers: Headers | undefined): void {
    this.bodyState = BodyState.Done;
    if (this.sink) this.sink.onEnd(trailers);
    else this.bufferedEndTrailers = trailers;
  }

  get requestComplete(): boolean {
    return this.bodyState === BodyState.Empty || this.bodyState === BodyState.Done;
  }

  /** Connection → exchange: the downstream went away (or sent bad bytes) before the exchange ended. */
  abortFromDownstream(err: Error): void {
    if (this.bodyState === BodyState.Streaming) {
      this.bodyState = BodyState.Aborted;
      this.sink?.onAbort(err);
    }
    if (!this.ended) {
      this.ended = true;
      if (!this.info.responseFlags) this.info.responseFlags = "DC";
      const cb = this.abortCb;
      this.abortCb = undefined;
      cb?.();
    }
  }

  // ---- response (ResponseSink) ----------------------------------------------------------------------------------

  head(status: number, headers: Headers): void {
    if (this.headSent || this.ended) return;
    this.headSent = true;
    this.info.responseCode = status;
    // A client still waiting for 100-continue gets the final answer instead; the body it may still send cannot be
    // told apart from the next request, so the connection closes afterwards.
    if (this.expectContinue || (!this.requestComplete && this.sink === undefined)) this.closeAfter = true;
    if (this.owner.draining) this.closeAfter = true;
    const noBody = this.method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
    let extra = "";
    const l = headers.list;
    let hasLength = false;
    let clientWantsClose = false;
    // Strip hop-by-hop fields that a filter may have added; the framing is ours to decide.
    for (let i = 0; i < l.length;) {
      const name = l[i]!;
      if (name === "content-length") {
        hasLength = true;
        i += 2;
      } else if (isHopByHop(name)) {
        if (name === "connection" && /\bclose\b/i.test(l[i + 1]!)) clientWantsClose = true;
        l.splice(i, 2);
      } else i += 2;
    }
    if (clientWantsClose) this.closeAfter = true;
    if (!noBody && !hasLength) {
      if (this.protocol === "HTTP/1.1") {
        this.chunkedResponse = true;
        extra = "transfer-encoding: chunked\r\n";
      } else this.closeAfter = true;
    }
    if (this.closeAfter) extra += "connection: close\r\n";
    else if (this.protocol === "HTTP/1.0") extra += "connection: keep-alive\r\n";
    // %BYTES_SENT% counts the body only, as Envoy's does (not the head, not the chunked framing).
    const head = serializeResponseHead(status, undefined, headers, extra);
    if (noBody) this.chunkedResponse = false;
    // The head waits for the first body bytes or the end, which usually follow in the same tick (they arrived in
    // the same upstream read): one write, one syscall per response. A microtask flushes a head left alone.
    this.pendingHead = head;
    queueMicrotask(this.owner.flushPendingHead);
  }

  /** Writes a head still waiting for its body (streaming responses whose body comes later). */
  flushHead(): void {
    const head = this.pendingHead;
    if (head === undefined) return;
    this.pendingHead = undefined;
    this.owner.socket.write(head, "latin1");
  }

  data(chunk: Buffer): boolean {
    if (this.ended || chunk.length === 0) return true;
    const socket = this.owner.socket;
    this.info.bytesSent += chunk.length;
    const head = this.pendingHead;
    const chunkHead = this.chunkedResponse ? encodeChunkHead(chunk.length) : undefined;
    if (chunk.length <= COALESCE_LIMIT) {
      // Small pieces are copied into one buffer: a copy of a few KiB is far cheaper than a writev.
      this.pendingHead = undefined;
      const prefix = head === undefined ? chunkHead : chunkHead === undefined ? head : head + chunkHead;
      const prefixLen = prefix === undefined ? 0 : prefix.length;
      const suffixLen = chunkHead === undefined ? 0 : 2;
      const buf = Buffer.allocUnsafe(prefixLen + chunk.length + suffixLen);
      if (prefix !== undefined) buf.write(prefix, 0, "latin1");
      chunk.copy(buf, prefixLen);
      if (suffixLen) buf.write("\r\n", prefixLen + chunk.length, "latin1");
      return socket.write(buf);
    }
    if (head !== undefined) this.flushHead();
    if (chunkHead !== undefined) {
      socket.write(chunkHead, "latin1");
      socket.write(chunk);
      return socket.write("\r\n", "latin1");
    }
    return socket.write(chunk);
  }

  onDrain(cb: () => void): void {
    this.drainCb = cb;
    this.owner.socket.once("drain", this.runDrain);
  }

  private readonly runDrain = (): void => {
    const cb = this.drainCb;
    this.drainCb = undefined;
    cb?.();
  };

  end(trailers?: Headers): void {
    if (this.ended) return;
    this.ended = true;
    const head = this.pendingHead;
    this.pendingHead = undefined;
    if (this.chunkedResponse) {
      const last = trailers && trailers.size > 0 ? "0\r\n" + serializeTrailers(trailers) : LAST_CHUNK;
      this.owner.socket.write(head === undefined ? last : head + last, "latin1");
    } else if (head !== undefined) this.owner.socket.write(head, "latin1");
    this.abortCb = undefined;
    // If the request body is still arriving, the connection can only be reused once it has been read entirely.
    this.owner.responseDone(this, this.closeAfter);
  }

  reset(): void {
    if (this.ended) return;
    this.ended = true;
    this.pendingHead = undefined;
    // Whoever is producing the response (the router's upstream request) is told, so it stops too.
    const cb = this.abortCb;
    this.abortCb = undefined;
    this.owner.responseDone(this, true);
    cb?.();
  }

  onAbort(cb: () => void): void {
    this.abortCb = cb;
  }

  upgradeTo(headers: Headers, upstream: Duplex, head: Buffer): void {
    if (this.headSent || this.ended) {
      upstream.destroy();
      return;
    }
    this.headSent = true;
    this.ended = true;
    // A CONNECT tunnel is established by a 200 (RFC 9110 §9.3.6), without framing fields; an upgrade by a 101.
    const connect = this.upgrade === "connect";
    this.info.responseCode = connect ? 200 : 101;
    const socket = this.owner.socket;
    const l = headers.list;
    for (let i = 0; i < l.length;) {
      const name = l[i];
      if (name === "connection" || name === "upgrade" || name === "content-length" || name === "transfer-encoding")
        l.splice(i, 2);
      else i += 2;
    }
    const extra = connect ? "" : `connection: upgrade\r\nupgrade: ${this.upgrade}\r\n`;
    socket.write(serializeResponseHead(connect ? 200 : 101, undefined, headers, extra), "latin1");
    const timing = this.owner.detach(this);
    if (head.length > 0) {
      this.info.bytesSent += head.length;
      socket.write(head);
    }
    joinSockets(socket, upstream, this.info, timing);
  }

  get responseEnded(): boolean {
    return this.ended;
  }
}

/**
 * Joins the client's socket and the upstream's into a tunnel with tcp_proxy's semantics (tcp/join.ts): a FIN is
 * passed on, a side that closed cleanly has the other flushed then closed, an error or RST closes both, a client
 * that ends before its first byte closes both; the stream idle timeout (the route's, else the connection
 * manager's) closes both when nothing moves, recorded as Envoy records it (SI, stream_idle_timeout). Counts the
 * bytes for the access log.
 */
export function joinSockets(a: Duplex, b: Duplex, info: StreamInfo, timing: TunnelTiming): void {
  new SocketJoin(a, b, info, {
    clock: timing.clock,
    idleTimeoutMs: timing.idleTimeoutMs,
    onIdleTimeout: () => {
      if (info.responseFlags === "") info.responseFlags = "SI";
      info.details = "stream_idle_timeout";
    },
  });
}
