// One filter chain of a listener at run time: its non-terminal network filters (a local rate limit may refuse the
// connection), then HTTP (HTTP/1.1 and h2c on the same port with codec AUTO, told apart by the HTTP/2 client
// preface) or TCP proxying. It keeps its own connections, so a drain can close idle ones at once and busy ones after
// their response.

import type net from "node:net";
import type { Timer } from "../../api/clock.ts";
import type { Listener } from "../../api/xds/types.ts";
import type { HttpConnectionManagerRuntime } from "../http/connection-manager.ts";
import { Http1ServerConnection, type Http1ConnectionOptions } from "../http1/connection.ts";
import { createH2Downstream, type H2Downstream } from "../http2/downstream.ts";
import { createH2CodecStats } from "../http2/codec-stats.ts";
import type { TcpProxyRuntime } from "../tcp/tcp-proxy.ts";
import { DEFAULT_LIMITS } from "../http1/limits.ts";
import type { Http1Exchange } from "../http1/connection-exchange.ts";
import { CAUSES, rescue } from "../http/rescue.ts";
import type { ConnectionFilter } from "./connection-filter.ts";
import type { DownstreamTls } from "../tls/downstream.ts";

/** HTTP/2's own default window (RFC 9113 §6.9.2) is the floor: a smaller one would make every upload crawl. */
const MIN_H2_WINDOW = 65_535;
const MAX_H2_WINDOW = 0x7fffffff;

function h2StreamWindow(bufferLimitBytes: number): number {
  return Math.min(MAX_H2_WINDOW, Math.max(MIN_H2_WINDOW, bufferLimitBytes));
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type ListenerTerminal =
  { kind: "http"; hcm: HttpConnectionManagerRuntime } | { kind: "tcp"; tcp: TcpProxyRuntime };

export class FilterChainRuntime {
  private readonly h1 = new Set<Http1ServerConnection>();
  private readonly tcpSockets = new Set<net.Socket>();
  private readonly h2: H2Downstream | undefined;
  private readonly h1Options: Http1ConnectionOptions | undefined;
  /** Drain began: connections the proxy closes from now on count as downstream_cx_drain_close. */
  private draining = false;

  constructor(
    listener: Listener,
    readonly terminal: ListenerTerminal,
    /** The chain's non-terminal network filters, in order. */
    private readonly connectionFilters: readonly ConnectionFilter[] = [],
    /** transport_socket envoy.transport_sockets.tls: the chain terminates TLS (tls/downstream.ts). */
    private readonly tls?: DownstreamTls,
  ) {
    if (terminal.kind === "http") {
      const hcm = terminal.hcm;
      const c = hcm.config;
      this.h1Options = {
        clock: hcm.clock,
        limits: { ...DEFAULT_LIMITS, maxHeadBytes: c.maxRequestHeadersKb * 1024 },
        bufferLimitBytes: listener.perConnectionBufferLimitBytes,
        idleTimeoutMs: c.idleTimeoutMs,
        requestTimeoutMs: c.requestTimeoutMs,
        requestHeadersTimeoutMs: c.requestHeadersTimeoutMs,
        streamIdleTimeoutMs: c.streamIdleTimeoutMs,
        serverName: c.serverName,
        ...(c.defaultHostForHttp10 === undefined ? {} : { defaultHostForHttp10: c.defaultHostForHttp10 }),
        onExchangeComplete: hcm.complete,
        onIdleTimeout: () => hcm.stats.downstreamCxIdleTimeout.inc(),
        onProtocolError: (downstream, err, flag, inExchange) =>
          hcm.protocolError(downstream, err.status, err.code, flag, inExchange),
        onExchangeTimeout: (ex: Http1Exchange, kind) => {
          rescue(ex, kind === "request_timeout" ? CAUSES.requestTimeout : CAUSES.streamIdleTimeout, hcm.statPrefix);
        },
      };
      if (c.codecType !== "HTTP1")
        this.h2 = createH2Downstream(hcm.handler, {
          clock: hcm.clock,
          streamIdleTimeoutMs: c.streamIdleTimeoutMs,
          requestTimeoutMs: c.requestTimeoutMs,
          idleTimeoutMs: c.idleTimeoutMs,
          maxRequestHeadersBytes: c.maxRequestHeadersKb * 1024,
          // A stream's receive window is what node holds for a body nobody reads yet (waiting for its upstream, or
          // paused by one): the listener's buffer limit, as Envoy bounds a stream's buffered body by it.
          // http2_protocol_options, when the connection manager sets them, come first.
          initialWindowSize: c.http2?.initialStreamWindowSize ?? h2StreamWindow(listener.perConnectionBufferLimitBytes),
          ...(c.http2?.initialConnectionWindowSize === undefined
            ? {}
            : { initialConnectionWindowSize: c.http2.initialConnectionWindowSize }),
          ...(c.http2?.maxConcurrentStreams === undefined
            ? {}
            : { maxConcurrentStreams: c.http2.maxConcurrentStreams }),
          onStreamComplete: hcm.complete,
          onProtocolError: hcm.protocolError,
          codecStats: createH2CodecStats(hcm.store),
          onSessionOpened: () => hcm.stats.connectionOpened(true),
          onSessionClosed: (socket, lengthMs, local) =>
            hcm.stats.connectionClosed(true, socket, lengthMs, local, this.draining),
          onIdleTimeout: () => hcm.stats.downstreamCxIdleTimeout.inc(),
        });
    }
  }

  /** Takes a new connection over; `initial` = bytes listener filters already read (handed on intact). */
  accept(socket: net.Socket, initial: Buffer | undefined): void {
    const t = this.terminal;
    const filters = this.connectionFilters;
    for (let i = 0; i < filters.length; i++) {
      const filter = filters[i]!;
      if (filter.onNewConnection(socket)) continue;
      // Refused before the terminal filter saw a byte: closed at once. A TCP session records why.
      if (t.kind === "tcp") t.tcp.refuse(socket, filter.refusalFlag);
      else {
        socket.on("error", () => {});
        socket.destroy();
      }
      return;
    }
    // TLS: the terminal filter gets the decrypted socket once the handshake is done, and its ALPN.
    if (this.tls !== undefined)
      this.tls.accept(socket, initial, (secure) => this.serve(secure, undefined, secure.alpnProtocol));
    else this.serve(socket, initial, false);
  }

  /** The terminal filter takes the connection; `alpn`: the protocol TLS negotiated (false: none, or plaintext). */
  private serve(socket: net.Socket, initial: Buffer | undefined, alpn: string | false | null): void {
    const t = this.terminal;
    if (t.kind === "tcp") {
      this.tcpSockets.add(socket);
      socket.once("close", () => void this.tcpSockets.delete(socket));
      t.tcp.accept(socket, initial);
      return;
    }
    const codec = t.hcm.config.codecType;
    // ALPN decides between the codecs it names (Envoy's codec AUTO over TLS); without it the codec setting does.
    if (alpn === "h2" && codec !== "HTTP1") this.h2!.accept(socket, initial);
    else if (alpn === "http/1.1" && codec !== "HTTP2") this.startHttp1(socket, t.hcm, initial);
    else if (codec === "HTTP1") this.startHttp1(socket, t.hcm, initial);
    else if (codec === "HTTP2") {
      // H2Downstream.accept turns half-close off (a client's FIN ends the session), on this path and codec AUTO's.
      if (initial !== undefined) socket.pause();
      this.h2!.accept(socket, initial);
    } else this.sniff(socket, t.hcm, initial);
  }

  /**
   * codec AUTO: the HTTP/2 client preface (RFC 9113 §3.4) means h2c with prior knowledge; anything else is HTTP/1.
   * Until the bytes decide, the connection's idle timeout runs (neither codec's has started yet): a client that
   * sends nothing, or only part of the preface, is closed then instead of being kept for good.
   */
  private sniff(socket: net.Socket, hcm: HttpConnectionManagerRuntime, initial: Buffer | undefined): void {
    let seen: Buffer | undefined;
    let timer: Timer | undefined;
    const onData = (chunk: Buffer): boolean => {
      seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const prefixMatches = seen.compare(H2_PREFACE, 0, n, 0, n) === 0;
      if (prefixMatches && n < H2_PREFACE.length) return false; // could still be h2: wait for more
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("end", onError);
      timer?.cancel();
      if (prefixMatches) {
        socket.pause();
        this.h2!.accept(socket, seen);
      } else this.startHttp1(socket, hcm, seen);
      return true;
    };
    const onError = (): void => {
      timer?.cancel();
      socket.destroy();
    };
    if (initial !== undefined && initial.length > 0 && onData(initial)) return;
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("end", onError); // closed before a single request byte
    const idleMs = hcm.config.idleTimeoutMs;
    if (idleMs > 0) timer = hcm.clock.setTimer(idleMs, onError);
  }

  private startHttp1(socket: net.Socket, hcm: HttpConnectionManagerRuntime, initial: Buffer | undefined): void {
    const clock = hcm.clock;
    const opened = clock.now();
    hcm.stats.connectionOpened(false);
    const conn = new Http1ServerConnection(socket, hcm.handler, this.h1Options!, (c) => {
      this.h1.delete(c);
      hcm.stats.connectionClosed(false, socket, clock.now() - opened, c.localClose, this.draining);
    });
    this.h1.add(conn);
    if (initial !== undefined) conn.feed(initial);
  }

  /** Drain: close idle HTTP/1 connections, ask busy ones to close after their response, GOAWAY h2. */
  drain(idleGraceMs: number): void {
    this.draining = true;
    for (const c of this.h1) c.drain(idleGraceMs);
    this.h2?.drain();
  }

  /** Connections still open (HTTP/1, HTTP/2 sessions, TCP). */
  get openConnections(): number {
    return this.h1.size + (this.h2?.sessions ?? 0) + this.tcpSockets.size + (this.tls?.pending ?? 0);
  }

  /** Ends everything now. */
  destroy(): void {
    this.tls?.destroy();
    for (const c of this.h1) c.destroy();
    this.h2?.close();
    for (const s of this.tcpSockets) s.destroy();
  }
}
