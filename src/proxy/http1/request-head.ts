// The request head of RFC 9112 §3, parsed strictly: anything a front end and a back end could read two ways (the
// raw material of request smuggling) is refused rather than guessed at. Pure function over a Buffer.

import { CR, LF, SP, TARGET_CHAR, TOKEN_LOWER } from "./chars.ts";
import { Http1ParseError, type Http1ErrorCode } from "./errors.ts";
import { MODE_REQUEST, materializeFields, parseFieldLines, scan } from "./fields.ts";
import {
  checkTransferEncoding,
  connection,
  firstUpgradeProtocol,
  isValidAuthority,
  parseConnection,
} from "./framing.ts";
import { DEFAULT_HTTP1_LIMITS, type Http1Limits } from "./limits.ts";
import { Headers } from "../http/headers.ts";

export type { Http1Limits } from "./limits.ts";

/** Which of the four request-target forms (RFC 9112 §3.2) the request used. */
export type TargetForm = "origin" | "absolute" | "authority" | "asterisk";

export class RequestHead {
  constructor(
    readonly method: string,
    /** The request-target exactly as received. */
    readonly target: string,
    readonly targetForm: TargetForm,
    /** Origin-form path and query ("/a?b"): the target itself, or derived from an absolute-form one ("/" if empty);
     * "*" for asterisk-form, the authority for CONNECT. */
    readonly path: string,
    readonly versionMinor: 0 | 1,
    /** Every field as received, in order; names lower-case, values without leading/trailing OWS. */
    readonly headers: Headers,
    /** The authority to route on: from an absolute-form or authority-form target if used (it wins over Host,
     * RFC 9112 §3.2.2), else the Host field; undefined only for HTTP/1.0 without either. */
    readonly host: string | undefined,
    /** -1 when absent (or chunked). */
    readonly contentLength: number,
    readonly chunked: boolean,
    /** Whether the connection may carry another request: by version, then Connection close / keep-alive. */
    readonly keepAlive: boolean,
    /** Lower-cased first protocol of Upgrade, only when Connection lists "upgrade" (HTTP/1.1 only). */
    readonly upgrade: string | undefined,
    readonly expectContinue: boolean,
    /** Lower-cased tokens of Connection other than close, keep-alive and upgrade: extra hop-by-hop fields. */
    readonly connectionTokens: string[] | undefined,
    /** Bytes of the head, from `start` through the final CRLF CRLF. */
    readonly headBytes: number,
  ) {}
}

function fail(code: Http1ErrorCode, status: number, message: string, offset = -1): Http1ParseError {
  return new Http1ParseError(code, status, message, offset);
}

/** "HTTP/" DIGIT "." DIGIT CR LF, byte by byte; DIGIT stands for any of 0–9. */
const DIGIT = -1;
const VERSION_PATTERN = [0x48, 0x54, 0x54, 0x50, 0x2f, DIGIT, 0x2e, DIGIT, CR, LF];

function is(buf: Buffer, at: number, ascii: string): boolean {
  for (let i = 0; i < ascii.length; i++) if (buf[at + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

/** Known methods as literals, so the common case allocates no string. */
function internMethod(buf: Buffer, start: number, end: number, line: string): string {
  switch (end - start) {
    case 3:
      if (is(buf, start, "GET")) return "GET";
      if (is(buf, start, "PUT")) return "PUT";
      break;
    case 4:
      if (is(buf, start, "POST")) return "POST";
      if (is(buf, start, "HEAD")) return "HEAD";
      break;
    case 5:
      if (is(buf, start, "PATCH")) return "PATCH";
      if (is(buf, start, "TRACE")) return "TRACE";
      break;
    case 6:
      if (is(buf, start, "DELETE")) return "DELETE";
      break;
    case 7:
      if (is(buf, start, "OPTIONS")) return "OPTIONS";
      if (is(buf, start, "CONNECT")) return "CONNECT";
      break;
  }
  return line.substring(0, end - start);
}

/** Length of an "http://" or "https://" prefix (any case), or -1. */
function schemePrefixLength(target: string): number {
  const lower = target.length >= 8 ? target.slice(0, 8).toLowerCase() : target.toLowerCase();
  if (lower.startsWith("http://")) return 7;
  if (lower.startsWith("https://")) return 8;
  return -1;
}

function tooLarge(offset: number): never {
  throw fail("HPE_HEADER_OVERFLOW", 431, "request head too large", offset);
}

/** Ran out of bytes inside the request-line: too long (414), head too large (431) or simply incomplete. */
function lineOutOfBytes(scanEnd: number, lineLimit: number, limitEnd: number): null {
  if (scanEnd >= lineLimit) throw fail("HPE_URI_TOO_LONG", 414, "request-line too long", scanEnd);
  if (scanEnd >= limitEnd) tooLarge(scanEnd);
  return null;
}

/**
 * Parses the request head in buf[start, end). Returns null when it is not complete yet; throws Http1ParseError
 * (with the status to answer) when the bytes are not a valid head, or when the head is incomplete but already
 * longer than the limits allow.
 */
export function parseRequestHead(
  buf: Buffer,
  start: number,
  end: number,
  limits: Http1Limits = DEFAULT_HTTP1_LIMITS,
): RequestHead | null {
  const limitEnd = start + limits.maxHeadBytes;
  let pos = start;

  // RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) received before the request-line.
  while (pos < end && buf[pos] === CR) {
    if (pos + 1 >= end) return pos + 1 >= limitEnd ? tooLarge(pos + 1) : null;
    if (buf[pos + 1] !== LF) throw fail("HPE_LF_EXPECTED", 400, "CR not followed by LF", pos + 1);
    pos += 2;
    if (pos >= limitEnd) throw tooLarge(pos);
  }

  // request-line = method SP request-target SP HTTP-version CRLF, nothing more and nothing less.
  const lineStart = pos;
  const lineLimit = lineStart + limits.maxRequestLineBytes;
  let scanEnd = end;
  if (lineLimit < scanEnd) scanEnd = lineLimit;
  if (limitEnd < scanEnd) scanEnd = limitEnd;

  const tokenLower = TOKEN_LOWER; // local aliases: module imports are live bindings, re-read on every use
  const targetChar = TARGET_CHAR;
  while (pos < scanEnd && tokenLower[buf[pos]!] !== 0) pos++;
  if (pos >= scanEnd) return lineOutOfBytes(scanEnd, lineLimit, limitEnd);
  const methodEnd = pos;
  if (buf[pos] !== SP || methodEnd === lineStart) {
    throw fail("HPE_INVALID_METHOD", 400, "invalid method or separator after it", pos);
  }
  const targetStart = ++pos;
  while (pos < scanEnd && targetChar[buf[pos]!] !== 0) pos++;
  if (pos >= scanEnd) return lineOutOfBytes(scanEnd, lineLimit, limitEnd);
  const targetEnd = pos;
  if (buf[pos] !== SP || targetEnd === targetStart) {
    throw fail("HPE_INVALID_URL", 400, "invalid byte in request-target or separator after it", pos);
  }
  pos++;
  const versionStart = pos;
  for (let i = 0; i < VERSION_PATTERN.length; i++, pos++) {
    if (pos >= scanEnd) return lineOutOfBytes(scanEnd, lineLimit, limitEnd);
    const c = buf[pos]!;
    const want = VERSION_PATTERN[i]!;
    if (want === DIGIT ? c < 0x30 || c > 0x39 : c !== want) {
      if (i < 5) throw fail("HPE_INVALID_CONSTANT", 400, "expected HTTP-version", pos);
      if (i === 8) throw fail("HPE_CR_EXPECTED", 400, "request-line must end with CRLF", pos);
      if (i === 9) throw fail("HPE_LF_EXPECTED", 400, "CR not followed by LF", pos);
      throw fail("HPE_INVALID_VERSION", 400, "malformed HTTP-version", pos);
    }
  }
  const major = buf[versionStart + 5]! - 0x30;
  const minor = buf[versionStart + 7]! - 0x30;
  if (major !== 1 || minor > 1) {
    throw fail("HPE_INVALID_VERSION", 505, `HTTP/${major}.${minor} is not supported`, versionStart);
  }
  const versionMinor: 0 | 1 = minor === 1 ? 1 : 0;

  const headEnd = parseFieldLines(buf, pos, end, limitEnd, limits.maxHeaders, MODE_REQUEST);
  if (headEnd < 0) return null;
  const text = materializeFields(buf, lineStart, headEnd, MODE_REQUEST);
  const method = internMethod(buf, lineStart, methodEnd, text);
  const target = text.substring(targetStart - lineStart, targetEnd - lineStart);

  // The whole head is in: judge what it says.
  let chunked = false;
  if (scan.transferEncoding !== undefined) {
    if (versionMinor === 0) {
      // RFC 9112 §6.1: an HTTP/1.0 recipient could not have understood it; its framing is faulty.
      throw fail("HPE_INVALID_TRANSFER_ENCODING", 400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    chunked = checkTransferEncoding(scan.transferEncoding, MODE_REQUEST);
    if (scan.contentLength >= 0) {
      throw fail("HPE_UNEXPECTED_CONTENT_LENGTH", 400, "both Content-Length and Transfer-Encoding");
    }
  }

  const hostField = scan.host;
  if (hostField === undefined) {
    if (versionMinor === 1) throw fail("HPE_MISSING_HOST", 400, "HTTP/1.1 request without Host");
  } else if (!isValidAuthority(hostField, false, true)) {
    throw fail("HPE_INVALID_HOST", 400, "Host is not a valid authority");
  }

  let targetForm: TargetForm;
  let path = target;
  let host = hostField;
  const first = buf[targetStart];
  if (method === "CONNECT") {
    // authority-form only (RFC 9112 §3.2.3), port required.
    if (!isValidAuthority(target, true, false)) {
      throw fail("HPE_INVALID_URL", 400, "CONNECT needs an authority-form target (host:port)");
    }
    targetForm = "authority";
    host = target;
  } else if (first === 0x2f) {
    targetForm = "origin";
  } else if (first === 0x2a) {
    if (targetEnd - targetStart !== 1 || method !== "OPTIONS") {
      throw fail("HPE_INVALID_URL", 400, "asterisk-form is for OPTIONS only");
    }
    targetForm = "asterisk";
  } else {
    // absolute-form: "http://" or "https://" authority [path-abempty] ["?" query].
    const authorityStart = schemePrefixLength(target);
    if (authorityStart < 0) throw fail("HPE_INVALID_URL", 400, "request-target is in no valid form");
    let authorityEnd = authorityStart;
    while (authorityEnd < target.length) {
      const c = target.charCodeAt(authorityEnd);
      if (c === 0x2f || c === 0x3f) break;
      authorityEnd++;
    }
    host = target.slice(authorityStart, authorityEnd);
    if (!isValidAuthority(host, false, false)) throw fail("HPE_INVALID_URL", 400, "invalid authority in target");
    if (authorityEnd === target.length) path = "/";
    else if (target.charCodeAt(authorityEnd) === 0x3f) path = "/" + target.slice(authorityEnd);
    else path = target.slice(authorityEnd);
    targetForm = "absolute";
  }

  parseConnection(scan.connection, MODE_REQUEST);
  const keepAlive = !connection.close && (versionMinor === 1 || connection.keepAlive);
  const upgrade =
    versionMinor === 1 && connection.upgrade && scan.upgrade !== undefined
      ? firstUpgradeProtocol(scan.upgrade)
      : undefined;
  const expect = scan.expect;
  const expectContinue =
    versionMinor === 1 && expect !== undefined && expect.length === 12 && expect.toLowerCase() === "100-continue";

  return new RequestHead(
    method,
    target,
    targetForm,
    path,
    versionMinor,
    new Headers(scan.list),
    host,
    chunked ? -1 : scan.contentLength,
    chunked,
    keepAlive,
    upgrade,
    expectContinue,
    connection.others,
    headEnd - start,
  );
}
