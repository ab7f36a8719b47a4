// The HTTP/2 downstream codec: node:http2's server side (core API, never listening itself) fed with sockets the
// listener has already accepted and sniffed, turning each stream into an Exchange for the handler chain.
// Errors from node:http2 stay inside their session: a malformed frame closes that session only.

import http2 from "node:http2";
import type { Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type net from "node:net";
import type { Clock } from "../../api/clock.ts";
import type { Exchange, Handler } from "../http/exchange.ts";
import { DownstreamSession } from "./downstream-session.ts";
import { H2Exchange } from "./h2-exchange.ts";
import type { H2ExchangeContext } from "./h2-exchange.ts";
import { requestHeadersFromRaw } from "./h2-headers.ts";

export interface H2DownstreamOptions {
  clock: Clock;
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce. Default 1024 (Envoy's 2^31-1 is no limit at all). */
  maxConcurrentStreams?: number;
  /** Per-stream receive window. Default 1 MiB (node's 64 KiB starves large bodies; Envoy's 256 MiB costs memory). */
  initialWindowSize?: number;
  /** Connection-level receive window. Default 8 × the stream window. */
  initialConnectionWindowSize?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE. Default 60 KiB, like Envoy's max_request_headers_kb. */
  maxHeaderListSize?: number;
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
const DEFAULT_MAX_HEADER_LIST = 60 * 1024;
/** Node's default (10 MB) refuses streams under load with large windows; in-flight data is bounded by windows. */
const MAX_SESSION_MEMORY_MB = 64;

const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;

const kSession = Symbol("trellis.h2downstream");
type TaggedSession = Http2Session & { [kSession]?: DownstreamSession };

export function createH2Downstream(handler: Handler, options: H2DownstreamOptions): H2Downstream {
  const streamWindow = options.initialWindowSize ?? DEFAULT_WINDOW;
  const connectionWindow = options.initialConnectionWindowSize ?? streamWindow * 8;
  const server = http2.createServer({
    settings: {
      maxConcurrentStreams: options.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
      initialWindowSize: streamWindow,
      maxHeaderListSize: options.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST,
    },
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    // Node's own header-count limit (default 128) would refuse requests Envoy accepts; the byte limit governs.
    maxHeaderListPairs: 1024,
  });
  const ctx: H2ExchangeContext = {
    clock: options.clock,
    streamIdleTimeoutMs: options.streamIdleTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs ?? 0,
    onStreamComplete: options.onStreamComplete,
  };
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const sessions = new Set<DownstreamSession>();
  let closed = false;
  /** The socket being handed to node:http2 (it makes the session synchronously, inside emit("connection")). */
  let accepting: net.Socket | undefined;

  server.on("session", (session: TaggedSession) => {
    if (closed) {
      session.destroy();
      return;
    }
    // Every session gets an error handler, so a protocol error on one connection never reaches the process.
    session.on("error", ignore);
    const state = new DownstreamSession(session, options.clock, idleTimeoutMs, options.onIdleTimeout);
    session[kSession] = state;
    sessions.add(state);
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

  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
    const state = (stream.session as TaggedSession | undefined)?.[kSession];
    if (state === undefined) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    state.streamOpened();
    handler(new H2Exchange(stream, headers, requestHeadersFromRaw(raw), state.downstream, ctx, state));
  });

  return {
    accept(socket: net.Socket, alreadyRead?: Buffer): void {
      if (closed) {
        socket.destroy();
        return;
      }
      socket.on("error", ignore);
      if (alreadyRead !== undefined && alreadyRead.length > 0) socket.unshift(alreadyRead);
      accepting = socket;
      server.emit("connection", socket);
      accepting = undefined;
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
