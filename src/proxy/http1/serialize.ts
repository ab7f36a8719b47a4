// Message heads and chunk framing as latin1 strings, each head written by the caller in one socket write. Values
// are written as they are: they come from the strict parser or from configuration validated when it was loaded
// (isValidFieldValue in chars.ts is the check for that).

import type { Headers } from "../http/headers.ts";
import { statusLine } from "./reasons.ts";

export { reasonPhrase } from "./reasons.ts";

/** How the body of an outgoing request is framed. */
export interface RequestFraming {
  /** ≥ 0: a Content-Length of that many bytes. -1: no Content-Length (chunked if `chunked`, else no body). */
  contentLength: number;
  chunked: boolean;
}

/**
 * "METHOD target HTTP/1.1\r\nhost: authority\r\n…fields…framing\r\n\r\n". Host, Content-Length and
 * Transfer-Encoding in `headers` are skipped: the authority and the framing arguments decide them, so a message can
 * never leave with two framings. Hop-by-hop fields are expected to be gone already.
 */
export function serializeRequestHead(
  method: string,
  target: string,
  authority: string,
  headers: Headers,
  framing: RequestFraming,
): string {
  let s = method + " " + target + " HTTP/1.1\r\nhost: " + authority + "\r\n";
  const l = headers.list;
  for (let i = 0; i < l.length; i += 2) {
    const name = l[i]!;
    if (name === "host" || name === "content-length" || name === "transfer-encoding") continue;
    s += name + ": " + l[i + 1] + "\r\n";
  }
  if (framing.contentLength >= 0) s += "content-length: " + framing.contentLength + "\r\n";
  else if (framing.chunked) s += "transfer-encoding: chunked\r\n";
  return s + "\r\n";
}

/**
 * "HTTP/1.1 status reason\r\n…fields…extra\r\n". `reason` undefined means the registered phrase. `extra` is
 * pre-serialized lines ("transfer-encoding: chunked\r\nconnection: close\r\n") that the caller's framing adds; the
 * fields are written as given (the caller has removed hop-by-hop ones).
 */
export function serializeResponseHead(
  status: number,
  reason: string | undefined,
  headers: Headers,
  extra: string,
): string {
  let s = reason === undefined ? statusLine(status) : "HTTP/1.1 " + status + " " + reason + "\r\n";
  const l = headers.list;
  for (let i = 0; i < l.length; i += 2) s += l[i] + ": " + l[i + 1] + "\r\n";
  return s + extra + "\r\n";
}

/** The chunk-size line for a chunk of `length` (> 0) bytes: "1a\r\n". Write it, the data, then CRLF. */
export function encodeChunkHead(length: number): string {
  return length.toString(16) + "\r\n";
}

export const CRLF = "\r\n";
const CRLF_BUFFER = Buffer.from(CRLF, "latin1");

/** One chunk as the buffers to write: size line, the data itself (not copied), CRLF. Empty data → nothing. */
export function encodeChunk(chunk: Buffer): Buffer[] {
  if (chunk.length === 0) return []; // a zero-size chunk would end the body
  return [Buffer.from(encodeChunkHead(chunk.length), "latin1"), chunk, CRLF_BUFFER];
}

/** The end of a chunked body without trailers: last-chunk and the final CRLF. */
export const LAST_CHUNK = "0\r\n\r\n";

/**
 * The trailer section that follows "0\r\n": each field line, then the final CRLF. So the end of a body with
 * trailers is "0\r\n" + serializeTrailers(trailers).
 */
export function serializeTrailers(trailers: Headers): string {
  let s = "";
  const l = trailers.list;
  for (let i = 0; i < l.length; i += 2) s += l[i] + ": " + l[i + 1] + "\r\n";
  return s + "\r\n";
}
