// The response head of RFC 9112 §4 as an upstream sends it, parsed as strictly as requests are: a response whose
// framing two parties could read differently would desynchronize the pooled connection it arrived on. Every error
// has status 502 (the proxy's answer to its client when the upstream misbehaves).

import { CR, FIELD_VALUE, LF, SP } from "./chars.ts";
import { Http1ParseError, type Http1ErrorCode } from "./errors.ts";
import { MODE_RESPONSE, materializeFields, parseFieldLines, scan } from "./fields.ts";
import { checkTransferEncoding, connection, firstUpgradeProtocol, parseConnection } from "./framing.ts";
import type { Http1Limits } from "./limits.ts";
import { Headers } from "../http/headers.ts";

export type { Http1Limits } from "./limits.ts";

export class ResponseHead {
  constructor(
    readonly versionMinor: 0 | 1,
    readonly status: number,
    /** The reason-phrase as received; may be empty. */
    readonly reason: string,
    /** Every field as received, in order; names lower-case, values without leading/trailing OWS. */
    readonly headers: Headers,
    /** -1 when absent or chunked. Still reported when noBody (a HEAD or 304 response describes the GET one). */
    readonly contentLength: number,
    readonly chunked: boolean,
    /** Whether the connection may carry another exchange afterwards. */
    readonly keepAlive: boolean,
    /** No body follows the head whatever the fields say: a response to HEAD, 1xx, 204, 304, and a 2xx to CONNECT
     * (after which the connection is a tunnel). */
    readonly noBody: boolean,
    /** The body runs until the upstream closes: no Content-Length, not chunked, and a body is allowed. */
    readonly readUntilClose: boolean,
    /** Lower-cased first protocol of Upgrade when Connection lists "upgrade" (meaningful on a 101). */
    readonly upgrade: string | undefined,
    /** Lower-cased tokens of Connection other than close, keep-alive and upgrade. */
    readonly connectionTokens: string[] | undefined,
    /** Bytes of the head, from `start` through the final CRLF CRLF. */
    readonly headBytes: number,
  ) {}
}

function fail(code: Http1ErrorCode, message: string, offset = -1): Http1ParseError {
  return new Http1ParseError(code, 502, message, offset);
}

/** "HTTP/" DIGIT "." DIGIT SP DIGIT DIGIT DIGIT; DIGIT stands for any of 0–9. */
const DIGIT = -1;
const STATUS_PATTERN = [0x48, 0x54, 0x54, 0x50, 0x2f, DIGIT, 0x2e, DIGIT, SP, DIGIT, DIGIT, DIGIT];

function outOfBytes(scanEnd: number, limitEnd: number): null {
  if (scanEnd >= limitEnd) throw fail("HPE_HEADER_OVERFLOW", "response head too large", scanEnd);
  return null;
}

/**
 * Parses the response head in buf[start, end) for a request made with `requestMethod`. Returns null when it is not
 * complete yet; throws Http1ParseError (status 502) when the bytes are not a valid head or are too large.
 * A 1xx other than 101 is returned like any head (noBody); the caller then parses the next head.
 */
export function parseResponseHead(
  buf: Buffer,
  start: number,
  end: number,
  limits: Http1Limits,
  requestMethod: string,
): ResponseHead | null {
  const limitEnd = start + limits.maxHeadBytes;
  const scanEnd = end < limitEnd ? end : limitEnd;
  let pos = start;
  for (let i = 0; i < STATUS_PATTERN.length; i++, pos++) {
    if (pos >= scanEnd) return outOfBytes(scanEnd, limitEnd);
    const c = buf[pos]!;
    const want = STATUS_PATTERN[i]!;
    if (want === DIGIT ? c < 0x30 || c > 0x39 : c !== want) {
      throw fail(i < 8 ? "HPE_INVALID_VERSION" : "HPE_INVALID_STATUS", "malformed status-line", pos);
    }
  }
  const major = buf[start + 5]! - 0x30;
  const minor = buf[start + 7]! - 0x30;
  if (major !== 1 || minor > 1) throw fail("HPE_INVALID_VERSION", `HTTP/${major}.${minor} is not supported`, start);
  const status = (buf[start + 9]! - 0x30) * 100 + (buf[start + 10]! - 0x30) * 10 + (buf[start + 11]! - 0x30);
  if (status < 100) throw fail("HPE_INVALID_STATUS", "status code below 100", start + 9);

  // [SP reason-phrase] CRLF. The SP before an empty reason is often left out; llhttp accepts that, so do we.
  let reasonStart = pos;
  if (pos >= scanEnd) return outOfBytes(scanEnd, limitEnd);
  if (buf[pos] === SP) reasonStart = ++pos;
  while (pos < scanEnd && FIELD_VALUE[buf[pos]!] !== 0) pos++;
  if (pos >= scanEnd) return outOfBytes(scanEnd, limitEnd);
  if (buf[pos] !== CR) {
    throw fail(buf[pos] === LF ? "HPE_CR_EXPECTED" : "HPE_INVALID_STATUS", "invalid byte in reason-phrase", pos);
  }
  if (pos + 1 >= scanEnd) return outOfBytes(scanEnd, limitEnd);
  if (buf[pos + 1] !== LF) throw fail("HPE_LF_EXPECTED", "CR not followed by LF", pos + 1);
  const reasonEnd = pos;
  pos += 2;

  const headEnd = parseFieldLines(buf, pos, end, limitEnd, limits.maxHeaders, MODE_RESPONSE);
  if (headEnd < 0) return null;
  const text = materializeFields(buf, start, headEnd, MODE_RESPONSE);
  const reason = reasonEnd === reasonStart ? "" : text.substring(reasonStart - start, reasonEnd - start);

  const versionMinor: 0 | 1 = minor === 1 ? 1 : 0;
  let chunked = false;
  if (scan.transferEncoding !== undefined) {
    if (versionMinor === 0) throw fail("HPE_INVALID_TRANSFER_ENCODING", "Transfer-Encoding in an HTTP/1.0 response");
    chunked = checkTransferEncoding(scan.transferEncoding, MODE_RESPONSE);
    if (scan.contentLength >= 0) {
      throw fail("HPE_UNEXPECTED_CONTENT_LENGTH", "both Content-Length and Transfer-Encoding");
    }
  }
  // RFC 9110 §8.6 / RFC 9112 §6.1: a 1xx or 204 carries neither; one that does is lying about its framing, and the
  // bytes that follow would be read as the next response (Envoy refuses these too).
  if ((status < 200 || status === 204) && (chunked || scan.contentLength > 0)) {
    throw fail("HPE_UNEXPECTED_CONTENT_LENGTH", `a ${status} response may not have a body`);
  }

  const noBody =
    requestMethod === "HEAD" ||
    status < 200 ||
    status === 204 ||
    status === 304 ||
    (requestMethod === "CONNECT" && status < 300);
  const contentLength = chunked ? -1 : scan.contentLength;
  const readUntilClose = !noBody && !chunked && contentLength < 0;
  parseConnection(scan.connection, MODE_RESPONSE);
  const keepAlive = !readUntilClose && !connection.close && (versionMinor === 1 || connection.keepAlive);
  const upgrade = connection.upgrade && scan.upgrade !== undefined ? firstUpgradeProtocol(scan.upgrade) : undefined;

  return new ResponseHead(
    versionMinor,
    status,
    reason,
    new Headers(scan.list),
    contentLength,
    chunked,
    keepAlive,
    noBody,
    readUntilClose,
    upgrade,
    connection.others,
    headEnd - start,
  );
}
