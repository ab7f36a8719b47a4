// The HTTP/2 downstream codec: node:http2's server side (core API, never listening itself) fed with sockets the
// listener has already accepted and sniffed, turning each stream into an Exchange for the handler chain.
// Errors from node:http2 stay inside their session: a malformed frame closes that session only.

import http2 from "node:http2";
import type { Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type net from "node:net";
import type { Clock } from "../../api/clock.ts";
import type { Downstream, Exchange, Handler } from "../http/exchange.ts";
import { DownstreamSession } from "./downstream-session.ts";
import { H2Exchange } from "./h2-exchange.ts";
import type { H2ExchangeContext } from "./h2-exchange.ts";
import { invalidTarget, requestHeadersFromRaw } from "./h2-headers.ts";
import type { H2CodecStats } from "./codec-stats.ts";
import { rescue } from "../http/rescue.ts";

export interface H2DownstreamOptions {
  clock: Clock;
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce. Default 1024 (Envoy's 2^31-1 is no limit at all). */
  maxConcurrentStreams?: number;
  /** Per-stream receive window. Default 1 MiB (node's 64 KiB starves large bodies; Envoy's 256 MiB costs memory). */
  initialWindowSize?: number;
  /** Connection-level receive window. Default 8 × the stream window. */
  initialConnectionWindowSize?: number;
  /**
   * Envoy's max_request_headers_kb × 1024: a request whose decoded header list (names and values, pseudo-headers
   * included) is larger has its stream reset, as Envoy resets it. Default 60 KiB.
   */
  maxRequestHeadersBytes?: number;
  /** A request refused before it became an exchange's business (400 DPE): counted and logged by the HCM. */
  onProtocolError?: (downstream: Downstream, status: number, details: string) => void;
  /** Envoy's http2.* codec counters. */
  codecStats?: H2CodecStats;
  /** Envoy's connection idle_timeout: a connection without streams for this long is closed. Default 1 h; 0 = off. */
  idleTimeoutMs?: number;
  /** Envoy's stream_idle_timeout: no bytes either way for this long → 408, or a reset once answered. 0 = off. */
  streamIdleTimeoutMs: number;
  /** Envoy's request_timeout: the whole request must arrive within this. Default 0 = off. */
  requestTimeoutMs?: number;
  /** Access log and stats: called once per exchange, after the response ended or the stream was reset. */
  onStreamComplete?: (ex: Exchange) => void;
  /** Connection stats: a session started on an accepted socket. */
  onSessionOpened?: () => void;
  /** It closed after `lengthMs` (`socket`: the accepted socket, whose byte counts it keeps), by the proxy if `local`. */
  onSessionClosed?: (socket: net.Socket, lengthMs: number, local: boolean) => void;
  /** A session was closed by the connection idle_timeout. */
  onIdleTimeout?: () => void;
}

export interface H2Downstream {
  /** Takes an accepted connection whose first bytes (`alreadyRead`, the sniffed preface) are replayed. */
  accept(socket: net.Socket, alreadyRead?: Buffer): void;
  /** Open sessions. */
  readonly sessions: number;
  /** Sends GOAWAY on every session; streams in flight finish, then the sessions close. */
  drain(): void;
  /** Closes every session now. */
  close(): void;
}

const DEFAULT_MAX_CONCURRENT_STREAMS = 1024;
const DEFAULT_WINDOW = 1 << 20;
const DEFAULT_MAX_REQUEST_HEADERS = 60 * 1024;
/** Node refuses a stream with more fields than this (RST_STREAM ENHANCE_YOUR_CALM). */
const MAX_HEADER_LIST_PAIRS = 1024;
/** SETTINGS_MAX_HEADER_LIST_SIZE counts 32 bytes per field on top of names and values (RFC 9113 §6.5.2). */
const FIELD_OVERHEAD = 32;
/** Node's default (10 MB) refuses streams under load with large windows; in-flight data is bounded by windows. */
const MAX_SESSION_MEMORY_MB = 64;

const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;

const kSession = Symbol("trellis.h2downstream");
type TaggedSession = Http2Session & { [kSession]?: DownstreamSession };

export function createH2Downstream(handler: Handler, options: H2DownstreamOptions): H2Downstream {
  const streamWindow = options.initialWindowSize ?? DEFAULT_WINDOW;
  const connectionWindow = options.initialConnectionWindowSize ?? streamWindow * 8;
  const maxHeaderBytes = options.maxRequestHeadersBytes ?? DEFAULT_MAX_REQUEST_HEADERS;
  const server = http2.createServer({
    settings: {
      maxConcurrentStreams: options.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
      initialWindowSize: streamWindow,
      // The limit is ours (requestHeadersFromRaw, the same before and after the client's SETTINGS ACK, which is
      // when node starts applying this one); announced with the per-field overhead of the most fields we accept,
      // so node's own check never answers first with another code.
      maxHeaderListSize: maxHeaderBytes + FIELD_OVERHEAD * MAX_HEADER_LIST_PAIRS,
    },
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    // Node's own header-count limit (default 128) would refuse requests Envoy accepts; the byte limit governs.
    maxHeaderListPairs: MAX_HEADER_LIST_PAIRS,
  });
  const ctx: H2ExchangeContext = {
    clock: options.clock,
    streamIdleTimeoutMs: options.streamIdleTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs ?? 0,
    onStreamComplete: options.onStreamComplete,
  };
  // A request refused before the handler saw it is answered through an exchange that reports to nobody: the HCM
  // counts and logs it through onProtocolError instead (it never counted the request as active).
  const refusedCtx: H2ExchangeContext = { ...ctx, onStreamComplete: undefined };
  const onProtocolError = options.onProtocolError;
  const codecStats = options.codecStats;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const sessions = new Set<DownstreamSession>();
  let closed = false;
  /** The socket being handed to node:http2 (it makes the session synchronously, inside emit("connection")). */
  let accepting: net.Socket | undefined;

  // Streams are taken from each session's own 'stream' event, not the server's: node emits it a tick after the
  // HEADERS, and a stream that went wrong meanwhile (reset by the peer, a content-length mismatch, a connection
  // error) has already been destroyed and detached from its session by then. It must still get an 'error' listener,
  // or its error ends the process.
  function onSessionStream(
    this: TaggedSession,
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    _flags: number,
    raw: string[],
  ): void {
    const state = this[kSession];
    if (state === undefined || stream.destroyed) {
      stream.on("error", ignore);
      if (!stream.destroyed) stream.close(NGHTTP2_REFUSED_STREAM);
      return;
    }
    const requestHeaders = requestHeadersFromRaw(raw, maxHeaderBytes);
    if (requestHeaders === undefined) {
      // Envoy's codec resets the stream (nghttp2 answers its callback failure with INTERNAL_ERROR) and counts it.
      codecStats?.headerOverflow.inc();
      stream.on("error", ignore);
      stream.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    const method = headers[":method"];
    const invalid = invalidTarget(
      method === "CONNECT" ? "" : String(headers[":path"] ?? ""),
      String(headers[":authority"] ?? ""),
    );
    let ex: H2Exchange | undefined;
    try {
      ex = new H2Exchange(
        stream,
        headers,
        requestHeaders,
        state.downstream,
        invalid === undefined ? ctx : refusedCtx,
        state,
      );
    } catch {
      stream.on("error", ignore);
      stream.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    state.streamOpened();
    if (invalid !== undefined) {
      // Malformed for an intermediary (RFC 9113 §8.1.1): never forwarded; answered 400 as Envoy answers it.
      codecStats?.rxMessagingError.inc();
      onProtocolError?.(state.downstream, invalid.status, invalid.detail);
      rescue(ex, invalid, "");
      return;
    }
    try {
      handler(ex);
    } catch {
      // A layer threw instead of answering: this stream is reset, the connection and the process go on.
      ex.reset();
    }
  }

  server.on("session", (session: TaggedSession) => {
    if (closed) {
      session.destroy();
      return;
    }
    // Every session gets an error handler, so a protocol error on one connection never reaches the process.
    session.on("error", ignore);
    session.destroy = destroyWithCode;
    const state = new DownstreamSession(session, options.clock, idleTimeoutMs, options.onIdleTimeout);
    session[kSession] = state;
    sessions.add(state);
    session.on("stream", onSessionStream);
    const socket = accepting;
    const opened = options.clock.now();
    if (socket !== undefined) options.onSessionOpened?.();
    session.on("close", () => {
      state.closed();
      sessions.delete(state);
      if (socket !== undefined) options.onSessionClosed?.(socket, options.clock.now() - opened, state.localClose);
    });
    if (connectionWindow > 65535) {
      try {
        session.setLocalWindowSize(connectionWindow);
      } catch {
        // Session already gone: nothing to size.
      }
    }
  });
  server.on("sessionError", ignore);
  server.on("error", ignore);

  return {
    accept(socket: net.Socket, alreadyRead?: Buffer): void {
      if (closed) {
        socket.destroy();
        return;
      }
      socket.on("error", ignore);
      // HTTP/2 ends streams with its own frames; a TCP FIN from the client means it is gone (Envoy's connection
      // manager does not enable half-close either). The listener's sockets are half-open (for HTTP/1.1 and TCP):
      // without this a session whose client had left stayed until the idle timeout, on codec HTTP2 listeners and
      // on codec AUTO's sniffed h2c alike (a FIN is seen when 'end' is emitted, so setting it now is in time).
      socket.allowHalfOpen = false;
      try {
        if (alreadyRead !== undefined && alreadyRead.length > 0) socket.unshift(alreadyRead);
        accepting = socket;
        server.emit("connection", socket);
      } catch {
        // The client went away while the connection was handed over (node cannot start a session on it).
        socket.destroy();
      } finally {
        accepting = undefined;
      }
    },
    get sessions(): number {
      return sessions.size;
    },
    drain(): void {
      for (const s of sessions) s.drain();
    },
    close(): void {
      closed = true;
      for (const s of sessions) s.destroy();
      sessions.clear();
    },
  };
}

function ignore(): void {}

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_INTERNAL_ERROR } = http2.constants;

/**
 * nghttp2's library errors (negative) → the HTTP/2 error code its own GOAWAY would carry (nghttp2's
 * get_error_code_from_lib_error_code). Node destroys the session from nghttp2's invalid-frame callback, before
 * nghttp2 queues its GOAWAY, and then says INTERNAL_ERROR for everything; the peer deserves the real reason.
 */
function goawayCodeFor(libError: number): number {
  switch (libError) {
    case -505: // NGHTTP2_ERR_PROTO
    case -531: // NGHTTP2_ERR_HTTP_HEADER
    case -532: // NGHTTP2_ERR_HTTP_MESSAGING
    case -536: // NGHTTP2_ERR_SETTINGS_EXPECTED
    case -903: // NGHTTP2_ERR_BAD_CLIENT_MAGIC
      return http2.constants.NGHTTP2_PROTOCOL_ERROR;
    case -510: // NGHTTP2_ERR_STREAM_CLOSED
      return http2.constants.NGHTTP2_STREAM_CLOSED;
    case -522: // NGHTTP2_ERR_FRAME_SIZE_ERROR
      return http2.constants.NGHTTP2_FRAME_SIZE_ERROR;
    case -523: // NGHTTP2_ERR_HEADER_COMP
      return http2.constants.NGHTTP2_COMPRESSION_ERROR;
    case -524: // NGHTTP2_ERR_FLOW_CONTROL
      return http2.constants.NGHTTP2_FLOW_CONTROL_ERROR;
    case -533: // NGHTTP2_ERR_REFUSED_STREAM
      return NGHTTP2_REFUSED_STREAM;
    case -537: // NGHTTP2_ERR_TOO_MANY_SETTINGS
    case -904: // NGHTTP2_ERR_FLOODED
      return http2.constants.NGHTTP2_ENHANCE_YOUR_CALM;
    default:
      return NGHTTP2_INTERNAL_ERROR;
  }
}

/** Http2Session#destroy with the GOAWAY code nghttp2 meant when node destroys the session over a library error. */
function destroyWithCode(this: Http2Session, error?: Error | number, code?: number): void {
  if (code === undefined && error instanceof Error && (error as { code?: string }).code === "ERR_HTTP2_ERROR") {
    const errno = (error as { errno?: number }).errno;
    if (typeof errno === "number") code = goawayCodeFor(errno);
  }
  // The instance's own `destroy` (this function) shadows the class's: call the class's.
  (Object.getPrototypeOf(this) as Http2Session).destroy.call(this, error as Error, code);
}
