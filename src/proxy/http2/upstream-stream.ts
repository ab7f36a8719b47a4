// One request on an upstream HTTP/2 session: sends the head, streams the request body with back-pressure, and
// reports the response to the router's UpstreamHandler. It is also the BodySink of the request body, and node's
// stream events reach it through module-level functions and a symbol slot (no closures per request).

import http2 from "node:http2";
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import type { Headers } from "../http/headers.ts";
import type { BodySink } from "../http/exchange.ts";
import type { ConnectFailure, UpstreamHandler, UpstreamRequest, UpstreamStream } from "../upstream/pool.ts";
import { headersFromObject, headersFromRaw, toOutgoing } from "./h2-headers.ts";
import { isRequestEncodingError, RequestNotEncodableError, UpstreamStreamResetError } from "./upstream-errors.ts";
import { requestStream } from "./cheap-request.ts";

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM } = http2.constants;
const kStream = Symbol("trellis.h2upstream");
type TaggedStream = ClientHttp2Stream & { [kStream]: H2UpstreamStream };

/** What a stream tells the session that carries it. */
export interface StreamOwner {
  /** Called exactly once, when a started stream no longer counts as active (closed or failed). */
  release(stream: H2UpstreamStream): void;
  /** The caller abandoned a stream that still waits for its connection. */
  abandonWaiting(stream: H2UpstreamStream): void;
}

export class H2UpstreamStream implements UpstreamStream, BodySink {
  private owner: StreamOwner | undefined;
  private req: TaggedStream | undefined;
  /** The handler has had its last callback, or the caller abandoned the request. */
  private done = false;
  private released = false;
  private bodyPaused = false;
  private requestTrailers: Headers | undefined;
  private responseTrailers: Headers | undefined;
  private streamError: Error | undefined;
  /** The request's trailers could not be encoded: the stream was cancelled for the client's sake. */
  private notEncodable: RequestNotEncodableError | undefined;

  constructor(
    readonly request: UpstreamRequest,
    private readonly handler: UpstreamHandler,
  ) {}

  /** The session that will carry the stream (it may still be connecting). */
  attach(owner: StreamOwner): void {
    this.owner = owner;
  }

  /** Opens the stream on `session`. Throws what session.request() throws (the caller decides what it means). */
  start(session: ClientHttp2Session): void {
    const r = this.request;
    const empty = r.body.empty;
    const out: OutgoingHttpHeaders = toOutgoing(r.headers, {
      ":method": r.method,
      ":path": r.path,
      ":authority": r.authority,
      ":scheme": r.scheme || "http",
    });
    let req: TaggedStream;
    try {
      req = requestStream(session, out, empty ? { endStream: true } : { waitForTrailers: true }) as TaggedStream;
    } catch (err) {
      // A header node:http2 will not encode is the request's fault; anything else is the session's.
      if (isRequestEncodingError(err, !session.closed && !session.destroyed)) throw new RequestNotEncodableError(err);
      throw err;
    }
    this.req = req;
    req[kStream] = this;
    req.on("response", onResponse);
    req.on("data", onData);
    req.on("trailers", onTrailers);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
    if (!empty) {
      req.on("wantTrailers", onWantTrailers);
      req.on("drain", onDrain);
      r.body.start(this);
    }
  }

  /** No connection could be made: the one callback this request gets. */
  connectFailed(reason: ConnectFailure, err: Error): void {
    if (this.done) return;
    this.done = true;
    this.handler.onConnectFailure(reason, err);
  }

  /**
   * The stream could not be started: the session was closing (reported as a reset), or the request cannot be
   * encoded (reported as such: the router answers 400 and blames nobody upstream).
   */
  startFailed(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.handler.onReset(err instanceof RequestNotEncodableError ? err : new UpstreamStreamResetError(undefined, err));
  }

  get abandoned(): boolean {
    return this.done;
  }

  // ---- UpstreamStream ----

  abort(): void {
    if (this.done) return;
    this.done = true;
    const req = this.req;
    if (req === undefined) this.owner?.abandonWaiting(this);
    else if (!req.closed) req.close(NGHTTP2_CANCEL); // released on 'close'
  }

  resume(): void {
    this.req?.resume();
  }

  // ---- BodySink: the request body, flowing to the upstream ----

  onData(chunk: Buffer): void {
    const req = this.req!;
    if (req.destroyed) return;
    if (!req.write(chunk) && !this.bodyPaused) {
      this.bodyPaused = true;
      this.request.body.pause();
    }
  }

  onEnd(trailers: Headers | undefined): void {
    const req = this.req!;
    if (req.destroyed) return;
    this.requestTrailers = trailers;
    req.end();
  }

  onAbort(_err: Error): void {
    // The downstream went away mid-body: the request cannot complete, so the upstream stream is cancelled. The
    // router learns of it from the downstream side; the handler gets nothing more.
    this.abort();
  }

  // ---- node events (via the module-level functions below) ----

  /** @internal */ handleResponse(headers: IncomingHttpHeaders, flags: number, raw: string[]): void {
    if (this.done) return;
    this.handler.onHead(Number(headers[":status"]), headersFromRaw(raw));
    // A HEADERS frame with END_STREAM (e.g. gRPC Trailers-Only): report the end right away, so the downstream
    // can forward head and end as one frame too.
    if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) this.finish();
  }

  /** @internal */ handleData(chunk: Buffer): void {
    if (this.done) return;
    if (this.handler.onData(chunk) === false) this.req!.pause();
  }

  /** @internal */ handleTrailers(trailers: IncomingHttpHeaders): void {
    this.responseTrailers = headersFromObject(trailers);
  }

  /** @internal */ finish(): void {
    if (this.done) return;
    this.done = true;
    this.handler.onEnd(this.responseTrailers);
  }

  /** @internal */ handleWantTrailers(): void {
    const t = this.requestTrailers;
    this.requestTrailers = undefined;
    try {
      this.req!.sendTrailers(t === undefined ? {} : toOutgoing(t, {}));
    } catch (err) {
      // Trailers node:http2 will not encode are the client's fault: the stream is cancelled (the session is
      // unharmed) and reported as such, not as the upstream's reset.
      this.notEncodable = new RequestNotEncodableError(err);
      if (!this.req!.closed) this.req!.close(NGHTTP2_CANCEL);
    }
  }

  /** @internal */ handleDrain(): void {
    if (!this.bodyPaused) return;
    this.bodyPaused = false;
    this.request.body.resume();
  }

  /** @internal */ handleError(err: Error): void {
    this.streamError ??= err;
  }

  /** @internal */ handleClose(): void {
    if (!this.done) {
      this.done = true;
      const rst = this.req!.rstCode;
      // rstCode is set when a RST_STREAM (ours or the peer's) closed the stream; a stream closed with the
      // connection and no RST_STREAM of its own reports the connection error.
      this.handler.onReset(
        this.notEncodable ??
          new UpstreamStreamResetError(rst === undefined || rst === 0 ? undefined : rst, this.streamError),
      );
    }
    this.release();
  }

  /** Frees the stream's slot in its session (once). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.owner?.release(this);
  }
}

function onResponse(this: TaggedStream, headers: IncomingHttpHeaders, flags: number, raw: string[]): void {
  this[kStream].handleResponse(headers, flags, raw);
}
function onData(this: TaggedStream, chunk: Buffer): void {
  this[kStream].handleData(chunk);
}
function onTrailers(this: TaggedStream, trailers: IncomingHttpHeaders): void {
  this[kStream].handleTrailers(trailers);
}
function onEnd(this: TaggedStream): void {
  // Node ends the readable side on RST_STREAM too: a reset is reported from 'close', never as a complete response.
  const rst = this.rstCode;
  if (rst !== undefined && rst !== 0) return;
  this[kStream].finish();
}
function onWantTrailers(this: TaggedStream): void {
  this[kStream].handleWantTrailers();
}
function onDrain(this: TaggedStream): void {
  this[kStream].handleDrain();
}
function onError(this: TaggedStream, err: Error): void {
  this[kStream].handleError(err);
}
function onClose(this: TaggedStream): void {
  this[kStream].handleClose();
}
