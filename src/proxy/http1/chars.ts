// Byte-class tables for the HTTP/1.1 grammar (RFC 9110 §5.6, RFC 9112), built once at load. The parsers index them
// with the byte at hand instead of comparing ranges or running a regex: one array load per byte.

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;

const TCHAR_SYMBOLS = "!#$%&'*+-.^_`|~";

/** tchar → its lower-case code; any other byte → 0. One load both validates a name byte and lower-cases it. */
export const TOKEN_LOWER = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TOKEN_LOWER[c] = c;
for (let c = 0x61; c <= 0x7a; c++) TOKEN_LOWER[c] = c;
for (let c = 0x41; c <= 0x5a; c++) TOKEN_LOWER[c] = c + 0x20;
for (const ch of TCHAR_SYMBOLS) TOKEN_LOWER[ch.charCodeAt(0)] = ch.charCodeAt(0);

/** Field-value bytes: VALUE_VISIBLE for VCHAR and obs-text, VALUE_OWS for SP and HTAB, 0 for CTLs, DEL, CR, LF. */
export const VALUE_VISIBLE = 1;
export const VALUE_OWS = 2;
export const FIELD_VALUE = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) FIELD_VALUE[c] = VALUE_VISIBLE;
for (let c = 0x80; c <= 0xff; c++) FIELD_VALUE[c] = VALUE_VISIBLE;
FIELD_VALUE[SP] = VALUE_OWS;
FIELD_VALUE[HTAB] = VALUE_OWS;

/**
 * Bytes allowed in a request-target: visible ASCII and obs-text (raw UTF-8 paths are common in practice, and Envoy
 * forwards them), never SP, CTLs or DEL, and not '#': a fragment is not part of a request-target (Envoy refuses it).
 */
export const TARGET_CHAR = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET_CHAR[c] = 1;
for (let c = 0x80; c <= 0xff; c++) TARGET_CHAR[c] = 1;
TARGET_CHAR[0x23] = 0;

/** reg-name bytes of an authority (RFC 3986 §3.2.2): unreserved, sub-delims and '%' of pct-encoded. */
export const REG_NAME_CHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) REG_NAME_CHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) REG_NAME_CHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) REG_NAME_CHAR[c] = 1;
for (const ch of "-._~!$&'()*+,;=%") REG_NAME_CHAR[ch.charCodeAt(0)] = 1;

/** Hex digit → value; any other byte → -1. */
export const HEX_VALUE = new Int8Array(256).fill(-1);
for (let c = 0; c <= 9; c++) HEX_VALUE[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX_VALUE[0x41 + c] = 10 + c;
  HEX_VALUE[0x61 + c] = 10 + c;
}

/** qdtext of a quoted-string (RFC 9110 §5.6.4): HTAB, SP, VCHAR except '"' and '\', obs-text. */
export const QDTEXT = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) QDTEXT[c] = 1;
for (let c = 0x80; c <= 0xff; c++) QDTEXT[c] = 1;
QDTEXT[SP] = 1;
QDTEXT[HTAB] = 1;
QDTEXT[0x22] = 0;
QDTEXT[0x5c] = 0;

interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}

/**
 * The bytes [start, end) as a one-byte string. `latin1Slice` is what `toString("latin1", …)` ends up calling,
 * without the encoding switch and argument checks; it is on every Node Buffer but not in @types/node.
 */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as Latin1Slicer).latin1Slice(start, end);
}

/** True when every char of `s` is a tchar (and s is not empty). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TOKEN_LOWER[c] === 0) return false;
  }
  return true;
}

/** True when `s` may be sent as a field value: VCHAR, obs-text, SP and HTAB only, no leading or trailing OWS. */
export function isValidFieldValue(s: string): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || FIELD_VALUE[c] === 0) return false;
  }
  return (
    n === 0 || (FIELD_VALUE[s.charCodeAt(0)] === VALUE_VISIBLE && FIELD_VALUE[s.charCodeAt(n - 1)] === VALUE_VISIBLE)
  );
}

/** Lower-cases ASCII letters only: header names and tokens are case-insensitive in ASCII, and toLowerCase alone
 * would also fold Latin-1 letters (0xC0–0xDE) of obs-text. */
export function asciiLower(s: string): string {
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return asciiLowerSlow(s);
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  return upper ? s.toLowerCase() : s;
}

function asciiLowerSlow(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 0x20) : s[i];
  }
  return out;
}
