// The request head of RFC 9112 §3, parsed strictly: anything a front end and a back end could read two ways (the
// raw material of request smuggling) is refused rather than guessed at. Pure function over a Buffer.

import { CR, LF, SP, TARGET_CHAR, TOKEN_LOWER } from "./chars.ts";
import { Http1ParseError, type Http1ErrorCode } from "./errors.ts";
import { MODE_REQUEST, SPAN, materializeFields, parseFieldLines, scan } from "./fields.ts";
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

/**
 * Bytes the request-head parser has been asked to examine, over the process's life: a work counter, so a test can
 * prove that a head arriving in many small reads costs work linear in its size (one add per call, not per byte).
 */
export const headParseWork = { bytes: 0 };

/**
 * Where the parse of an incomplete head stopped, so that the next read resumes there: the request line and the
 * complete field lines are not examined again, and nothing is parsed at all until a read brings a line end (LF) or
 * crosses a size limit. A head arriving in many small reads then costs work linear in its size. Offsets are relative
 * to the head's start, so the connection may move the bytes (join reads) between calls. One per connection.
 */
export class HeadProgress {
  /** Bytes of the head already looked at (for a LF); 0 = nothing parsed yet. */
  seen = 0;
  /** Where the request line starts (after any leading empty lines already skipped). */
  lineStart = 0;
  /** Just past the request line's CRLF; 0 while the request line is incomplete. */
  fieldsStart = 0;
  methodEnd = 0;
  targetStart = 0;
  targetEnd = 0;
  versionMinor: 0 | 1 = 1;
  /** The first incomplete field line. */
  resumeAt = 0;
  /** The complete field lines: their count, spans (offsets relative, slot as is) and the framing they recorded. */
  count = 0;
  spans: Int32Array = new Int32Array(0);
  contentLength = -1;
  hostSeen = false;

  reset(): void {
    this.seen = 0;
    this.lineStart = 0;
    this.fieldsStart = 0;
    this.count = 0;
    this.contentLength = -1;
    this.hostSeen = false;
  }

  /** Keeps what parseFieldLines recorded in `scan` (absolute offsets) for a head starting at `start`. */
  save(start: number): void {
    const n = scan.count * SPAN;
    if (this.spans.length < n) this.spans = new Int32Array(Math.max(n, this.spans.length * 2));
    const from = scan.spans;
    const to = this.spans;
    for (let i = 0; i < n; i += SPAN) {
      to[i] = from[i]! - start;
      to[i + 1] = from[i + 1]! - start;
      to[i + 2] = from[i + 2]! < 0 ? -1 : from[i + 2]! - start;
      to[i + 3] = from[i + 3]! < 0 ? -1 : from[i + 3]! - start;
      to[i + 4] = from[i + 4]!;
    }
    this.count = scan.count;
    this.contentLength = scan.contentLength;
    this.hostSeen = scan.hostSeen;
    this.resumeAt = scan.resumeAt - start;
  }

  /** Puts the saved field lines back into `scan`, for a head now starting at `start`. */
  restore(start: number): void {
    const n = this.count * SPAN;
    if (scan.spans.length < n) scan.spans = new Int32Array(Math.max(n, scan.spans.length * 2));
    const from = this.spans;
    const to = scan.spans;
    for (let i = 0; i < n; i += SPAN) {
      to[i] = from[i]! + start;
      to[i + 1] = from[i + 1]! + start;
      to[i + 2] = from[i + 2]! < 0 ? -1 : from[i + 2]! + start;
      to[i + 3] = from[i + 3]! < 0 ? -1 : from[i + 3]! + start;
      to[i + 4] = from[i + 4]!;
    }
    scan.count = this.count;
    scan.contentLength = this.contentLength;
    scan.hostSeen = this.hostSeen;
  }
}

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
    /**
     * Lower-cased first protocol of Upgrade, only when Connection lists "upgrade" (HTTP/1.1 only). An h2c offer
     * (`curl --http2`) is not an upgrade: as Envoy does, the request is served as plain HTTP/1.1 (Upgrade and
     * HTTP2-Settings are hop-by-hop and go no further).
     */
    readonly upgrade: string | undefined,
    /** The request asked for 100 Continue and is HTTP/1.1 (RFC 9110 §10.1.1: ignored from HTTP/1.0). */
    readonly expectContinue: boolean,
    /** Expect is exactly "100-continue", whatever the version: the proxy handles it, so it is not forwarded. */
    readonly expect100: boolean,
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
function lineOutOfBytes(
  scanEnd: number,
  lineLimit: number,
  limitEnd: number,
  progress: HeadProgress | undefined,
  start: number,
  end: number,
  lineStart: number,
): null {
  if (scanEnd >= lineLimit) throw fail("HPE_URI_TOO_LONG", 414, "request-line too long", scanEnd);
  if (scanEnd >= limitEnd) tooLarge(scanEnd);
  return incompleteLine(progress, start, end, lineStart);
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
  /** The connection's progress on this head: resumes where the last call stopped (see HeadProgress). */
  progress?: HeadProgress,
): RequestHead | null {
  const limitEnd = start + limits.maxHeadBytes;
  let pos = start;
  let lineStart: number;
  let methodEnd: number;
  let targetStart: number;
  let targetEnd: number;
  let versionMinor: 0 | 1;
  let headEnd: number;
  if (progress !== undefined && progress.seen > 0) {
    // Resumed: unless the new bytes end a line or cross a limit, the verdict cannot have changed.
    const from = start + progress.seen;
    progress.seen = end - start;
    const limit =
      progress.fieldsStart > 0
        ? limits.maxHeadBytes
        : Math.min(progress.lineStart + limits.maxRequestLineBytes, limits.maxHeadBytes);
    if (end - start < limit) {
      const lf = buf.indexOf(LF, from);
      if (lf < 0 || lf >= end) return null;
    }
    if (progress.fieldsStart > 0) {
      lineStart = start + progress.lineStart;
      methodEnd = start + progress.methodEnd;
      targetStart = start + progress.targetStart;
      targetEnd = start + progress.targetEnd;
      versionMinor = progress.versionMinor;
      pos = start + progress.resumeAt;
      headParseWork.bytes += end - pos;
      progress.restore(start);
      headEnd = parseFieldLines(buf, pos, end, limitEnd, limits.maxHeaders, MODE_REQUEST, true);
      if (headEnd < 0) {
        progress.save(start);
        return null;
      }
      return judgeHead(buf, start, lineStart, methodEnd, targetStart, targetEnd, versionMinor, headEnd);
    }
    pos = start + progress.lineStart;
  }
  headParseWork.bytes += end - pos;

  // RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) received before the request-line.
  while (pos < end && buf[pos] === CR) {
    if (pos + 1 >= end) return pos + 1 >= limitEnd ? tooLarge(pos + 1) : incompleteLine(progress, start, end, pos);
    if (buf[pos + 1] !== LF) throw fail("HPE_LF_EXPECTED", 400, "CR not followed by LF", pos + 1);
    pos += 2;
    if (pos >= limitEnd) throw tooLarge(pos);
  }

  // request-line = method SP request-target SP HTTP-version CRLF, nothing more and nothing less.
  lineStart = pos;
  const lineLimit = lineStart + limits.maxRequestLineBytes;
  let scanEnd = end;
  if (lineLimit < scanEnd) scanEnd = lineLimit;
  if (limitEnd < scanEnd) scanEnd = limitEnd;

  const tokenLower = TOKEN_LOWER; // local aliases: module imports are live bindings, re-read on every use
  const targetChar = TARGET_CHAR;
  while (pos < scanEnd && tokenLower[buf[pos]!] !== 0) pos++;
  if (pos >= scanEnd) return lineOutOfBytes(scanEnd, lineLimit, limitEnd, progress, start, end, lineStart);
  methodEnd = pos;
  if (buf[pos] !== SP || methodEnd === lineStart) {
    throw fail("HPE_INVALID_METHOD", 400, "invalid method or separator after it", pos);
  }
  targetStart = ++pos;
  while (pos < scanEnd && targetChar[buf[pos]!] !== 0) pos++;
  if (pos >= scanEnd) return lineOutOfBytes(scanEnd, lineLimit, limitEnd, progress, start, end, lineStart);
  targetEnd = pos;
  if (buf[pos] !== SP || targetEnd === targetStart) {
    throw fail("HPE_INVALID_URL", 400, "invalid byte in request-target or separator after it", pos);
  }
  pos++;
  const versionStart = pos;
  for (let i = 0; i < VERSION_PATTERN.length; i++, pos++) {
    if (pos >= scanEnd) return lineOutOfBytes(scanEnd, lineLimit, limitEnd, progress, start, end, lineStart);
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
  versionMinor = minor === 1 ? 1 : 0;

  headEnd = parseFieldLines(buf, pos, end, limitEnd, limits.maxHeaders, MODE_REQUEST);
  if (headEnd < 0) {
    if (progress !== undefined) {
      progress.seen = end - start;
      progress.lineStart = lineStart - start;
      progress.fieldsStart = pos - start;
      progress.methodEnd = methodEnd - start;
      progress.targetStart = targetStart - start;
      progress.targetEnd = targetEnd - start;
      progress.versionMinor = versionMinor;
      progress.save(start);
    }
    return null;
  }
  return judgeHead(buf, start, lineStart, methodEnd, targetStart, targetEnd, versionMinor, headEnd);
}

/** The request line is incomplete: remembered (where it starts) for a resumed parse. */
function incompleteLine(progress: HeadProgress | undefined, start: number, end: number, lineStart: number): null {
  if (progress !== undefined) {
    progress.seen = end - start;
    progress.lineStart = lineStart - start;
  }
  return null;
}

/** The whole head is in buf[start, headEnd) and its field lines are in `scan`: judge what it says. */
function judgeHead(
  buf: Buffer,
  start: number,
  lineStart: number,
  methodEnd: number,
  targetStart: number,
  targetEnd: number,
  versionMinor: 0 | 1,
  headEnd: number,
): RequestHead {
  const text = materializeFields(buf, lineStart, headEnd, MODE_REQUEST);
  const method = internMethod(buf, lineStart, methodEnd, text);
  const target = text.substring(targetStart - lineStart, targetEnd - lineStart);

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
  let upgrade =
    versionMinor === 1 && connection.upgrade && scan.upgrade !== undefined
      ? firstUpgradeProtocol(scan.upgrade)
      : undefined;
  if (upgrade === "h2c") upgrade = undefined;
  const expect = scan.expect;
  const expect100 = expect !== undefined && expect.length === 12 && expect.toLowerCase() === "100-continue";

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
    expect100 && versionMinor === 1,
    expect100,
    connection.others,
    headEnd - start,
  );
}
