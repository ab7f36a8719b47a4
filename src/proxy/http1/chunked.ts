// The chunked transfer coding (RFC 9112 §7.1), decoded incrementally and strictly: the chunk-size line is exactly
// 1–16 hex digits, optional well-formed extensions, CRLF; nothing lenient that a peer could read another way
// (no whitespace, no "0x", no bare LF, no missing CRLF after the data). Data is handed on as views of the input,
// never copied.

import { CR, HEX_VALUE, HTAB, LF, QDTEXT, SP, TOKEN_LOWER } from "./chars.ts";
import { Http1ParseError, type Http1ErrorCode } from "./errors.ts";
import { MODE_TRAILERS, materializeFields, parseFieldLines, scan } from "./fields.ts";
import { Headers } from "../http/headers.ts";

export interface ChunkSink {
  data(chunk: Buffer): void;
}

/** Node caps chunk extensions at 16 KiB per chunk-size line since CVE-2024-22019; so do we. */
const MAX_EXTENSION_BYTES = 16 * 1024;
const MAX_SIZE_DIGITS = 16;
const MAX_TRAILER_FIELDS = 100;

// Decoder states.
const SIZE_FIRST = 0; // expecting the first hex digit of a chunk-size
const SIZE = 1; // more hex digits, ';' or CR
const EXT_NAME_FIRST = 2; // after ';': the first tchar of a name
const EXT_NAME = 3; // more tchars, '=', ';' or CR
const EXT_VALUE_FIRST = 4; // after '=': a tchar or '"'
const EXT_TOKEN = 5; // more tchars, ';' or CR
const EXT_QUOTED = 6; // inside a quoted-string
const EXT_QUOTED_ESCAPE = 7; // after '\' inside a quoted-string
const EXT_QUOTED_END = 8; // after the closing '"': ';' or CR
const SIZE_LF = 9; // after the CR of the size line
const DATA = 10;
const DATA_CR = 11;
const DATA_LF = 12;
const TRAILER_LINE_START = 13; // at the start of a trailer line (or the final CRLF)
const TRAILER_LINE = 14; // inside a trailer line, until its LF
const FINAL_LF = 15; // after the CR of the final CRLF
const DONE = 16;

const CRLF = Buffer.from("\r\n", "latin1");

export class ChunkedDecoder {
  private state = SIZE_FIRST;
  private size = 0;
  private digits = 0;
  private extensionBytes = 0;
  private remaining = 0;
  private trailerParts: Buffer[] | undefined = undefined;
  private trailerBytes = 0;
  private trailerHeaders: Headers | undefined = undefined;

  constructor(
    private readonly maxTrailerBytes = 16384,
    /** Status of the errors thrown: 400 for a request body, 502 for an upstream response's. */
    private readonly errorStatus = 400,
  ) {}

  /** The last chunk and any trailer section have been read. */
  get done(): boolean {
    return this.state === DONE;
  }

  /** The trailer fields, once done; undefined when there were none. */
  get trailers(): Headers | undefined {
    return this.trailerHeaders;
  }

  /** Makes the decoder ready for the next message, so one per connection can be reused. */
  reset(): void {
    this.state = SIZE_FIRST;
    this.size = 0;
    this.digits = 0;
    this.extensionBytes = 0;
    this.remaining = 0;
    this.trailerParts = undefined;
    this.trailerBytes = 0;
    this.trailerHeaders = undefined;
  }

  private error(code: Http1ErrorCode, message: string, offset: number): Http1ParseError {
    return new Http1ParseError(code, this.errorStatus, message, offset);
  }

  /**
   * Decodes buf[start, end): calls sink.data with views of the chunk data and returns how many bytes it used. It
   * stops right after the final CRLF of the body; bytes after that belong to the next message. Throws
   * Http1ParseError on malformed framing.
   */
  push(buf: Buffer, start: number, end: number, sink: ChunkSink): number {
    let pos = start;
    let state = this.state;
    while (pos < end && state !== DONE) {
      if (state === DATA) {
        const n = end - pos < this.remaining ? end - pos : this.remaining;
        sink.data(buf.subarray(pos, pos + n));
        pos += n;
        this.remaining -= n;
        if (this.remaining === 0) state = DATA_CR;
        continue;
      }
      const c = buf[pos]!;
      switch (state) {
        case SIZE_FIRST: {
          const v = HEX_VALUE[c]!;
          if (v < 0) throw this.error("HPE_INVALID_CHUNK_SIZE", "chunk-size must start with a hex digit", pos);
          this.size = v;
          this.digits = 1;
          this.extensionBytes = 0;
          state = SIZE;
          break;
        }
        case SIZE: {
          const v = HEX_VALUE[c]!;
          if (v >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) {
              throw this.error("HPE_INVALID_CHUNK_SIZE", "chunk-size has too many digits", pos);
            }
            this.size = this.size * 16 + v;
            if (this.size > Number.MAX_SAFE_INTEGER) {
              throw this.error("HPE_INVALID_CHUNK_SIZE", "chunk-size too large", pos);
            }
          } else if (c === CR) state = SIZE_LF;
          else if (c === 0x3b) state = EXT_NAME_FIRST;
          else throw this.error("HPE_INVALID_CHUNK_SIZE", `invalid byte 0x${c.toString(16)} after chunk-size`, pos);
          break;
        }
        case EXT_NAME_FIRST:
          this.countExtension(pos);
          if (TOKEN_LOWER[c] === 0) throw this.error("HPE_INVALID_CHUNK_EXTENSION", "chunk-ext without a name", pos);
          state = EXT_NAME;
          break;
        case EXT_NAME:
        case EXT_TOKEN:
          this.countExtension(pos);
          if (TOKEN_LOWER[c] !== 0) break;
          if (c === 0x3d && state === EXT_NAME) state = EXT_VALUE_FIRST;
          else if (c === 0x3b) state = EXT_NAME_FIRST;
          else if (c === CR) state = SIZE_LF;
          else throw this.error("HPE_INVALID_CHUNK_EXTENSION", "invalid byte in chunk-ext", pos);
          break;
        case EXT_VALUE_FIRST:
          this.countExtension(pos);
          if (c === 0x22) state = EXT_QUOTED;
          else if (TOKEN_LOWER[c] !== 0) state = EXT_TOKEN;
          else throw this.error("HPE_INVALID_CHUNK_EXTENSION", "chunk-ext value is neither token nor quoted", pos);
          break;
        case EXT_QUOTED:
          this.countExtension(pos);
          if (c === 0x22) state = EXT_QUOTED_END;
          else if (c === 0x5c) state = EXT_QUOTED_ESCAPE;
          else if (QDTEXT[c] === 0)
            throw this.error("HPE_INVALID_CHUNK_EXTENSION", "invalid byte in quoted-string", pos);
          break;
        case EXT_QUOTED_ESCAPE:
          this.countExtension(pos);
          // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
          if (c !== HTAB && c !== SP && QDTEXT[c] === 0 && c !== 0x22 && c !== 0x5c) {
            throw this.error("HPE_INVALID_CHUNK_EXTENSION", "invalid quoted-pair", pos);
          }
          state = EXT_QUOTED;
          break;
        case EXT_QUOTED_END:
          this.countExtension(pos);
          if (c === 0x3b) state = EXT_NAME_FIRST;
          else if (c === CR) state = SIZE_LF;
          else throw this.error("HPE_INVALID_CHUNK_EXTENSION", "invalid byte after quoted-string", pos);
          break;
        case SIZE_LF:
          if (c !== LF) throw this.error("HPE_LF_EXPECTED", "chunk-size line must end with CRLF", pos);
          if (this.size === 0) state = TRAILER_LINE_START;
          else {
            this.remaining = this.size;
            state = DATA;
          }
          break;
        case DATA_CR:
          if (c !== CR) throw this.error("HPE_INVALID_CHUNK_DATA", "chunk data not followed by CRLF", pos);
          state = DATA_LF;
          break;
        case DATA_LF:
          if (c !== LF) throw this.error("HPE_LF_EXPECTED", "chunk data not followed by CRLF", pos);
          state = SIZE_FIRST;
          break;
        case TRAILER_LINE_START:
          if (c !== CR) {
            state = TRAILER_LINE; // this byte starts a trailer line: handled in that state
            continue;
          }
          state = FINAL_LF;
          break;
        case TRAILER_LINE: {
          // Collect the line through its LF; the whole section is validated by the field parser once complete.
          const lf = buf.indexOf(LF, pos);
          if (lf < 0 || lf >= end) {
            this.collectTrailer(buf, pos, end);
            pos = end;
          } else {
            this.collectTrailer(buf, pos, lf + 1);
            pos = lf + 1;
            state = TRAILER_LINE_START;
          }
          continue;
        }
        case FINAL_LF:
          if (c !== LF) throw this.error("HPE_LF_EXPECTED", "CR not followed by LF at the end of the body", pos);
          state = DONE;
          this.finishTrailers(pos);
          break;
      }
      pos++;
    }
    this.state = state;
    return pos - start;
  }

  private countExtension(pos: number): void {
    if (++this.extensionBytes > MAX_EXTENSION_BYTES) {
      throw this.error("HPE_CHUNK_EXTENSIONS_OVERFLOW", "chunk extensions too long", pos);
    }
  }

  private collectTrailer(buf: Buffer, start: number, end: number): void {
    this.trailerBytes += end - start;
    if (this.trailerBytes > this.maxTrailerBytes) {
      throw this.error("HPE_TRAILER_OVERFLOW", "trailer section too large", end);
    }
    // A copy: trailers are rare and small, and the caller's buffer is only lent for this call.
    (this.trailerParts ??= []).push(Buffer.from(buf.subarray(start, end)));
  }

  private finishTrailers(pos: number): void {
    const parts = this.trailerParts;
    if (parts === undefined) return;
    parts.push(CRLF);
    const section = Buffer.concat(parts);
    this.trailerParts = undefined;
    let parsedTo: number;
    try {
      parsedTo = parseFieldLines(section, 0, section.length, section.length + 1, MAX_TRAILER_FIELDS, MODE_TRAILERS);
    } catch (err) {
      if (err instanceof Http1ParseError) throw this.error(err.code as Http1ErrorCode, `trailer: ${err.message}`, pos);
      throw err;
    }
    if (parsedTo !== section.length) throw this.error("HPE_INVALID_HEADER_TOKEN", "malformed trailer section", pos);
    materializeFields(section, 0, parsedTo, MODE_TRAILERS);
    const list = scan.list;
    let w = 0;
    for (let r = 0; r < list.length; r += 2) {
      if (isForbiddenTrailer(list[r]!)) continue;
      list[w] = list[r]!;
      list[w + 1] = list[r + 1]!;
      w += 2;
    }
    list.length = w;
    this.trailerHeaders = w === 0 ? undefined : new Headers(list);
  }
}

/**
 * Fields a trailer section must not carry (RFC 9110 §6.5.1), in this order below: those that frame the message,
 * route it or are hop-by-hop; request modifiers (controls, conditionals); authentication and state; content format
 * and response controls. They are
 * dropped, never forwarded: a recipient that merged them into the header section would read the message another
 * way than we did.
 */
export function isForbiddenTrailer(name: string): boolean {
  switch (name) {
    case "content-length":
    case "transfer-encoding":
    case "host":
    case "connection":
    case "keep-alive":
    case "proxy-connection":
    case "te":
    case "trailer":
    case "upgrade":
    case "http2-settings":
    case "expect":
    case "max-forwards":
    case "cache-control":
    case "pragma":
    case "range":
    case "if-match":
    case "if-none-match":
    case "if-modified-since":
    case "if-unmodified-since":
    case "if-range":
    case "authorization":
    case "proxy-authorization":
    case "www-authenticate":
    case "proxy-authenticate":
    case "cookie":
    case "set-cookie":
    case "content-type":
    case "content-encoding":
    case "content-range":
    case "age":
    case "expires":
    case "date":
    case "location":
    case "retry-after":
    case "vary":
    case "warning":
      return true;
    default:
      return false;
  }
}
