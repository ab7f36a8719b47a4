// The field-line section shared by request heads, response heads and chunked trailers (RFC 9112 §5): one pass over
// the bytes that validates, lower-cases and slices each line, and records the fields that decide framing. Errors
// are raised in byte order, so parsing a prefix of the input fails the same way as parsing all of it (the fuzz test
// holds us to that): a verdict never depends on how the bytes were split across reads.

import { COLON, CR, FIELD_VALUE, HTAB, LF, SP, TOKEN_LOWER, VALUE_OWS, asciiLower, latin1 } from "./chars.ts";
import { Http1ParseError, type Http1ErrorCode } from "./errors.ts";
import {
  FIELD_CONNECTION,
  FIELD_CONTENT_LENGTH,
  FIELD_EXPECT,
  FIELD_HOST,
  FIELD_OTHER,
  FIELD_TRANSFER_ENCODING,
  FIELD_UPGRADE,
  KNOWN_ID,
  KNOWN_NAME,
  findKnownName,
  nameHashStep,
} from "./names.ts";

/** Who is parsing: decides the status of errors and which fields get interpreted. */
export const MODE_REQUEST = 0;
export const MODE_RESPONSE = 1;
export const MODE_TRAILERS = 2;

/**
 * What the last parseFieldLines / materializeFields pair saw. One module-level instance, reset per call: parsing is
 * synchronous and never re-entered, so the head parsers read it right after the call and no per-message object is
 * needed.
 */
class FieldScan {
  /** Fields found by the byte pass. */
  count = 0;
  /** Per field: name start, name end, value start (-1 when empty), value end, known-name slot (-1 if none). */
  spans = new Int32Array(SPAN * 128);
  contentLength = -1;
  hostSeen = false;
  /** When parseFieldLines returned -1: where the incomplete line starts (every line before it is validated). */
  resumeAt = 0;
  // Filled by materializeFields:
  list: string[] = [];
  /** Transfer-Encoding values joined with ", " (RFC 9110 §5.3), undefined if absent. */
  transferEncoding: string | undefined = undefined;
  connection: string | undefined = undefined;
  upgrade: string | undefined = undefined;
  host: string | undefined = undefined;
  expect: string | undefined = undefined;
}

export const SPAN = 5;
export const scan = new FieldScan();

/** The error for `mode`: a bad upstream response is the proxy's 502 whatever the fault. */
export function http1Error(
  mode: number,
  code: Http1ErrorCode,
  requestStatus: number,
  message: string,
  offset = -1,
): Http1ParseError {
  return new Http1ParseError(code, mode === MODE_RESPONSE ? 502 : requestStatus, message, offset);
}

/**
 * Ran out of bytes at `scanEnd`. If the scan was cut short by the size limit, the head is too large (431);
 * otherwise it is merely incomplete (-1).
 */
function outOfBytes(scanEnd: number, limitEnd: number, mode: number): number {
  if (scanEnd >= limitEnd) {
    throw http1Error(
      mode,
      mode === MODE_TRAILERS ? "HPE_TRAILER_OVERFLOW" : "HPE_HEADER_OVERFLOW",
      431,
      "header section too large",
      scanEnd,
    );
  }
  return -1;
}

/** Out of bytes inside the line starting at `line`: remembered for a resumed parse, then as outOfBytes. */
function incomplete(line: number, scanEnd: number, limitEnd: number, mode: number): number {
  scan.resumeAt = line;
  return outOfBytes(scanEnd, limitEnd, mode);
}

function nameError(mode: number, buf: Buffer, nameStart: number, pos: number): Http1ParseError {
  const c = buf[pos]!;
  if (c === COLON) return http1Error(mode, "HPE_INVALID_HEADER_TOKEN", 400, "empty field name", pos);
  if (c === SP || c === HTAB) {
    return http1Error(mode, "HPE_INVALID_HEADER_TOKEN", 400, "whitespace between field name and colon", pos);
  }
  if (c === LF) return http1Error(mode, "HPE_CR_EXPECTED", 400, "bare LF line ending", pos);
  if (c === CR) return http1Error(mode, "HPE_INVALID_HEADER_TOKEN", 400, "field line without a colon", pos);
  return http1Error(
    mode,
    "HPE_INVALID_HEADER_TOKEN",
    400,
    pos === nameStart ? "invalid field name" : `invalid byte 0x${c.toString(16)} in field name`,
    pos,
  );
}

/**
 * The byte pass: validates field lines from `pos` up to and including the empty line that ends the section, and
 * records where each name and value lies. Returns the offset just past that CRLF, or -1 when more bytes are
 * needed. Only bytes before min(end, limitEnd) are read; needing a byte at or past limitEnd means the section is
 * too large. No string is made here, so an incomplete head costs no allocation: materializeFields does that once
 * the section is complete. Throws Http1ParseError.
 */
export function parseFieldLines(
  buf: Buffer,
  pos: number,
  end: number,
  limitEnd: number,
  maxFields: number,
  mode: number,
  /** Continue a section whose earlier lines are already in `scan` (count, spans, contentLength, hostSeen). */
  resume = false,
): number {
  if (!resume) {
    scan.count = 0;
    scan.contentLength = -1;
    scan.hostSeen = false;
  }
  // Local aliases: a module import is a live binding, re-read on every use; a local is a register.
  const tokenLower = TOKEN_LOWER;
  const fieldValue = FIELD_VALUE;
  const scanEnd = end < limitEnd ? end : limitEnd;
  for (;;) {
    const line = pos;
    if (pos >= scanEnd) return incomplete(line, scanEnd, limitEnd, mode);
    let c = buf[pos]!;
    if (c === CR) {
      if (pos + 1 >= scanEnd) return incomplete(line, scanEnd, limitEnd, mode);
      if (buf[pos + 1] !== LF) throw http1Error(mode, "HPE_LF_EXPECTED", 400, "CR not followed by LF", pos + 1);
      return pos + 2;
    }
    if (c === SP || c === HTAB) {
      throw http1Error(mode, "HPE_OBS_FOLD", 400, "line folding (obs-fold) or whitespace before a field name", pos);
    }

    // field-name = token, hashed (lower-cased) in the same pass for the known-name lookup.
    const nameStart = pos;
    let hash = 0;
    for (;;) {
      const t = tokenLower[c]!;
      if (t === 0) break;
      hash = nameHashStep(hash, t);
      if (++pos >= scanEnd) return incomplete(line, scanEnd, limitEnd, mode);
      c = buf[pos]!;
    }
    if (c !== COLON || pos === nameStart) throw nameError(mode, buf, nameStart, pos);
    const nameEnd = pos++;

    // field-value: leading and trailing OWS are not part of it. Skip the leading OWS, run to the first byte that
    // cannot be in a value (one table load per byte), then trim trailing OWS backwards.
    for (;;) {
      if (pos >= scanEnd) return incomplete(line, scanEnd, limitEnd, mode);
      c = buf[pos]!;
      if (c !== SP && c !== HTAB) break;
      pos++;
    }
    let valueStart = pos;
    while (pos < scanEnd && fieldValue[buf[pos]!] !== 0) pos++;
    if (pos >= scanEnd) return incomplete(line, scanEnd, limitEnd, mode);
    let valueEnd = pos;
    while (valueEnd > valueStart && fieldValue[buf[valueEnd - 1]!] === VALUE_OWS) valueEnd--;
    if (valueEnd === valueStart) valueStart = valueEnd = -1;
    c = buf[pos]!;
    if (c !== CR) {
      if (c === LF) throw http1Error(mode, "HPE_CR_EXPECTED", 400, "bare LF line ending", pos);
      throw http1Error(mode, "HPE_INVALID_HEADER_VALUE", 400, `invalid byte 0x${c.toString(16)} in field value`, pos);
    }
    if (pos + 1 >= scanEnd) return incomplete(line, scanEnd, limitEnd, mode);
    if (buf[pos + 1] !== LF) throw http1Error(mode, "HPE_LF_EXPECTED", 400, "CR not followed by LF", pos + 1);
    pos += 2;

    const i = scan.count;
    if (i >= maxFields) {
      throw http1Error(mode, "HPE_TOO_MANY_HEADERS", 431, `more than ${maxFields} header fields`, nameStart);
    }
    const slot = findKnownName(buf, nameStart, nameEnd, hash);
    if (slot >= 0 && mode !== MODE_TRAILERS) {
      const id = KNOWN_ID[slot]!;
      if (id === FIELD_CONTENT_LENGTH) recordContentLength(buf, valueStart, valueEnd, mode, nameStart);
      else if (id === FIELD_HOST && mode === MODE_REQUEST) {
        if (scan.hostSeen) throw http1Error(mode, "HPE_DUPLICATE_HOST", 400, "more than one Host", nameStart);
        scan.hostSeen = true;
      }
    }
    let spans = scan.spans;
    if ((i + 1) * SPAN > spans.length) {
      const grown = new Int32Array(spans.length * 2);
      grown.set(spans);
      scan.spans = spans = grown;
    }
    const o = i * SPAN;
    spans[o] = nameStart;
    spans[o + 1] = nameEnd;
    spans[o + 2] = valueStart;
    spans[o + 3] = valueEnd;
    spans[o + 4] = slot;
    scan.count = i + 1;
  }
}

/**
 * The string pass, once the section is complete: makes one latin1 string of buf[base, sectionEnd) and cuts names
 * and values out of it (a substring is far cheaper than a Buffer-to-string call per field), fills scan.list and
 * the interpreted fields, and returns that string so the caller can cut its start-line pieces from it too.
 */
export function materializeFields(buf: Buffer, base: number, sectionEnd: number, mode: number): string {
  const text = latin1(buf, base, sectionEnd);
  const n = scan.count;
  const spans = scan.spans;
  const list: string[] = new Array<string>(n * 2);
  scan.transferEncoding = undefined;
  scan.connection = undefined;
  scan.upgrade = undefined;
  scan.host = undefined;
  scan.expect = undefined;
  for (let i = 0, o = 0; i < n; i++, o += SPAN) {
    const slot = spans[o + 4]!;
    const valueStart = spans[o + 2]!;
    const value = valueStart < 0 ? "" : text.substring(valueStart - base, spans[o + 3]! - base);
    let name: string;
    if (slot >= 0) {
      name = KNOWN_NAME[slot]!;
      if (mode !== MODE_TRAILERS) {
        const id = KNOWN_ID[slot]!;
        if (id !== FIELD_OTHER) recordField(id, value);
      }
    } else {
      name = asciiLower(text.substring(spans[o]! - base, spans[o + 1]! - base));
    }
    list[i * 2] = name;
    list[i * 2 + 1] = value;
  }
  scan.list = list;
  return text;
}

function recordField(id: number, value: string): void {
  switch (id) {
    case FIELD_TRANSFER_ENCODING:
      scan.transferEncoding = scan.transferEncoding === undefined ? value : scan.transferEncoding + ", " + value;
      return;
    case FIELD_CONNECTION:
      scan.connection = scan.connection === undefined ? value : scan.connection + ", " + value;
      return;
    case FIELD_UPGRADE:
      if (scan.upgrade === undefined) scan.upgrade = value;
      return;
    case FIELD_EXPECT:
      if (scan.expect === undefined) scan.expect = value;
      return;
    case FIELD_HOST:
      scan.host = value;
      return;
  }
}

function recordContentLength(buf: Buffer, valueStart: number, valueEnd: number, mode: number, lineStart: number): void {
  if (scan.contentLength >= 0) {
    // Even an equal repeat is refused (stricter than RFC 9112 §6.3, as Envoy is): two framing fields is what a
    // smuggling attempt looks like, and nothing legitimate needs it.
    throw http1Error(mode, "HPE_UNEXPECTED_CONTENT_LENGTH", 400, "repeated Content-Length", lineStart);
  }
  scan.contentLength = parseContentLength(buf, valueStart, valueEnd, mode, lineStart);
}

/** Content-Length = 1*DIGIT (RFC 9110 §8.6): no sign, no inner spaces, no list, at most MAX_SAFE_INTEGER. */
function parseContentLength(buf: Buffer, start: number, end: number, mode: number, lineStart: number): number {
  if (start < 0) throw http1Error(mode, "HPE_INVALID_CONTENT_LENGTH", 400, "empty Content-Length", lineStart);
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) {
      throw http1Error(mode, "HPE_INVALID_CONTENT_LENGTH", 400, "Content-Length is not 1*DIGIT", i);
    }
    n = n * 10 + d;
    if (n > Number.MAX_SAFE_INTEGER) {
      throw http1Error(mode, "HPE_INVALID_CONTENT_LENGTH", 400, "Content-Length too large", i);
    }
  }
  return n;
}
