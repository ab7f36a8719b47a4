// Errors the HTTP/2 upstream pool reports through UpstreamHandler. Codes are stable: the retry stage matches on
// them (REFUSED_STREAM is always safe to retry: the peer promises it did not process the stream, RFC 9113 §8.7).

import http2 from "node:http2";
import { TrellisError } from "../../api/errors.ts";

const C = http2.constants;

/** The pool was closed before the request could be sent. */
export class PoolClosedError extends TrellisError {
  constructor() {
    super("TRELLIS_POOL_CLOSED", "the connection pool is closed");
  }
}

/** The TCP connection to the endpoint was not established within connect_timeout. */
export class ConnectTimeoutError extends TrellisError {
  constructor(ms: number) {
    super("TRELLIS_CONNECT_TIMEOUT", `connect timeout after ${ms} ms`);
  }
}

/**
 * node:http2 refused to encode the request (a header it will not send: two content-type fields, a
 * connection-specific field, a character HPACK fields may not carry…). The request is at fault, not the endpoint
 * nor the session: the router answers the client 400 (DPE) and counts nothing against the endpoint.
 */
export class RequestNotEncodableError extends TrellisError {
  constructor(cause: unknown) {
    super(
      "TRELLIS_H2_REQUEST_NOT_ENCODABLE",
      `the request cannot be sent over HTTP/2: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
  }
}

/** Codes node:http2's request() throws for the session's state rather than for the request's headers. */
const SESSION_STATE_CODES: ReadonlySet<string> = new Set([
  "ERR_HTTP2_INVALID_SESSION",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_OUT_OF_STREAMS",
]);

/** Whether an error session.request() threw is the request's own (its headers), not the session's. */
export function isRequestEncodingError(err: unknown, sessionUsable: boolean): boolean {
  if (!sessionUsable) return false;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code !== "string" || !SESSION_STATE_CODES.has(code);
}

/** The upstream reset the stream (RST_STREAM) or its connection went away after connecting. */
export class UpstreamStreamResetError extends TrellisError {
  /** The HTTP/2 error code of the reset (NGHTTP2_*), or undefined when the connection failed instead. */
  readonly rstCode: number | undefined;
  constructor(rstCode: number | undefined, cause?: unknown) {
    super(
      rstCode === C.NGHTTP2_REFUSED_STREAM ? "REFUSED_STREAM" : "TRELLIS_H2_STREAM_RESET",
      rstCode === undefined ? "upstream connection closed" : `upstream reset the stream (${h2ErrorName(rstCode)})`,
      cause === undefined ? undefined : { cause },
    );
    this.rstCode = rstCode;
  }
}

const NAMES: Record<number, string> = {
  [C.NGHTTP2_NO_ERROR]: "NO_ERROR",
  [C.NGHTTP2_PROTOCOL_ERROR]: "PROTOCOL_ERROR",
  [C.NGHTTP2_INTERNAL_ERROR]: "INTERNAL_ERROR",
  [C.NGHTTP2_FLOW_CONTROL_ERROR]: "FLOW_CONTROL_ERROR",
  [C.NGHTTP2_SETTINGS_TIMEOUT]: "SETTINGS_TIMEOUT",
  [C.NGHTTP2_STREAM_CLOSED]: "STREAM_CLOSED",
  [C.NGHTTP2_FRAME_SIZE_ERROR]: "FRAME_SIZE_ERROR",
  [C.NGHTTP2_REFUSED_STREAM]: "REFUSED_STREAM",
  [C.NGHTTP2_CANCEL]: "CANCEL",
  [C.NGHTTP2_COMPRESSION_ERROR]: "COMPRESSION_ERROR",
  [C.NGHTTP2_CONNECT_ERROR]: "CONNECT_ERROR",
  [C.NGHTTP2_ENHANCE_YOUR_CALM]: "ENHANCE_YOUR_CALM",
  [C.NGHTTP2_INADEQUATE_SECURITY]: "INADEQUATE_SECURITY",
  [C.NGHTTP2_HTTP_1_1_REQUIRED]: "HTTP_1_1_REQUIRED",
};

export function h2ErrorName(code: number): string {
  return NAMES[code] ?? `error ${code}`;
}
