// Exchange: one HTTP request and its response, whatever the version on either side (HTTP/1.1, HTTP/2, gRPC).
// Codecs create exchanges; layers (filters, router) read the request and answer through `response`. The response
// side is a set of callbacks, not a promise or a stream object, so a layer costs no allocation per request
// (as Envoy's filter callbacks and undici's dispatch handlers do).

import type { Duplex } from "node:stream";
import type { Headers } from "./headers.ts";
import type { CompiledRoute, RouteMiss } from "../router/types.ts";

export type HttpProtocol = "HTTP/1.0" | "HTTP/1.1" | "HTTP/2";

export interface Downstream {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  tls: boolean;
  /** The peer that connected, when a PROXY protocol header named another client (remoteAddress is that one). */
  direct?: { address: string; port: number };
  /**
   * Set when a listener filter (original_dst, proxy_protocol) restored the local address (Envoy's
   * localAddressRestored): the address the connection actually reached. An ORIGINAL_DST cluster connects to
   * localAddress then.
   */
  restoredFrom?: { address: string; port: number };
}

/** What happened to one exchange: read by the access log and stats once it completes. */
export interface StreamInfo {
  /** Clock.now() when the request head was complete. */
  startMs: number;
  /** Envoy-style response flags, comma-separated ("" when the proxy added nothing of its own). */
  responseFlags: string;
  /** Why the proxy answered itself, e.g. "no_route_for_host:foo" (Envoy's response code details). */
  details: string;
  routeName: string | undefined;
  clusterName: string | undefined;
  /** "address:port" of the endpoint that served it. */
  upstreamHost: string | undefined;
  /** Why the last upstream connection failed, when its transport (TLS) says ("TLS error: …"; Envoy's). */
  upstreamTransportFailureReason: string | undefined;
  requestId: string | undefined;
  responseCode: number;
  bytesReceived: number;
  bytesSent: number;
  /** Upstream attempts made (1 without retries). */
  attempts: number;
  /** The path before the route rewrote it (Envoy's x-envoy-original-path), when it did. */
  originalPath: string | undefined;
  /** The upstream's response headers as relayed (for %RESP(…)% in access logs). */
  responseHeaders: Headers | undefined;
  /** Milliseconds from sending the request upstream to its response head. */
  upstreamServiceTimeMs: number | undefined;
  /** The route matched for this request, resolved once by the first layer that asks (a filter or the router). */
  route: CompiledRoute | RouteMiss | undefined;
  /** The connection manager's local_reply_config, when it has one: every local reply goes through it. */
  localReply: LocalReplyRewriter | undefined;
}

/** local_reply_config at run time (http/local-reply-config.ts). */
export interface LocalReplyRewriter {
  rewrite(
    ex: Exchange,
    status: number,
    body: string,
  ): { status: number; body: string; contentType: string | undefined; addHeaders(headers: Headers): void };
}

export function newStreamInfo(startMs: number): StreamInfo {
  return {
    startMs,
    responseFlags: "",
    details: "",
    routeName: undefined,
    clusterName: undefined,
    upstreamHost: undefined,
    upstreamTransportFailureReason: undefined,
    requestId: undefined,
    responseCode: 0,
    bytesReceived: 0,
    bytesSent: 0,
    attempts: 0,
    originalPath: undefined,
    responseHeaders: undefined,
    upstreamServiceTimeMs: undefined,
    route: undefined,
    localReply: undefined,
  };
}

export interface BodySink {
  onData(chunk: Buffer): void;
  /** The body is complete; trailers only for HTTP/2 or chunked HTTP/1.1 with trailers. */
  onEnd(trailers: Headers | undefined): void;
  /** The downstream went away or sent a malformed body. */
  onAbort(err: Error): void;
}

export interface RequestBody {
  /** The request has no body at all (no Content-Length or a zero one, not chunked, h2 END_STREAM on headers). */
  readonly empty: boolean;
  /** Content-Length, or -1 when the length is not known in advance (chunked, HTTP/2 without content-length). */
  readonly length: number;
  /** Starts delivery; anything already buffered is delivered first. Called at most once per exchange. */
  start(sink: BodySink): void;
  pause(): void;
  resume(): void;
}

export interface ResponseSink {
  readonly headSent: boolean;
  /** Sends the status and headers (names lower-case; hop-by-hop already removed by the upstream codec). */
  head(status: number, headers: Headers): void;
  /** Sends body bytes; false means the downstream is congested: pause the source until onDrain fires. */
  data(chunk: Buffer): boolean;
  /** Registers the one callback run when a congested downstream can take more. */
  onDrain(cb: () => void): void;
  /** Ends the response, with trailers where the protocol carries them (HTTP/2, gRPC, chunked HTTP/1.1). */
  end(trailers?: Headers): void;
  /** Aborts the stream: resets an HTTP/2 stream, closes an HTTP/1 connection. */
  reset(): void;
  /** Registers the one callback run if the downstream disappears before the response has ended. */
  onAbort(cb: () => void): void;
  /**
   * Completes an HTTP/1.1 upgrade: sends 101 with `headers`, then joins the downstream connection to `upstream`
   * byte for byte (`head` holds upstream bytes already read). Only HTTP/1.1 downstreams have it.
   */
  upgradeTo?(headers: Headers, upstream: Duplex, head: Buffer): void;
}

export interface Exchange {
  readonly protocol: HttpProtocol;
  method: string;
  /** The request target as forwarded; rewrites change it. Origin form ("/a?b"). */
  path: string;
  /** Host / :authority, as received (rewrites change it). */
  authority: string;
  scheme: string;
  /** Request headers, names lower-case, without pseudo-headers, Host, or hop-by-hop headers. */
  readonly headers: Headers;
  readonly downstream: Downstream;
  readonly info: StreamInfo;
  /**
   * The lower-cased Upgrade token of an HTTP/1.1 upgrade request ("websocket"), "connect" for an HTTP/1.1 CONNECT
   * (an upgrade in Envoy's terms), else undefined.
   */
  readonly upgrade: string | undefined;
  readonly body: RequestBody;
  readonly response: ResponseSink;
  /**
   * The route's idle_timeout: replaces the connection manager's stream_idle_timeout for this exchange (0 = none).
   * Idleness is judged by bytes in either direction, as for stream_idle_timeout.
   */
  setStreamIdleTimeout(ms: number): void;
}

export type Handler = (exchange: Exchange) => void;
/** Adds exactly one concern around the next handler; composed once, when configuration arrives. */
export type Layer = (next: Handler) => Handler;
