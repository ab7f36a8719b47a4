// The field values that decide how a message is framed and routed: Transfer-Encoding, Connection and Host. Judged
// once the whole head is in, after parseFieldLines has validated every byte.

import { HTAB, REG_NAME_CHAR, SP, TOKEN_LOWER } from "./chars.ts";
import { http1Error } from "./fields.ts";

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

/** ASCII case-insensitive equality of s[start, end) and a lower-case literal. */
function equalsLower(s: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const c = s.charCodeAt(start + i);
    if ((c >= 0x41 && c <= 0x5a ? c + 0x20 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Transfer-Encoding, all its fields joined. Accepted only when it says exactly "chunked" (any case), as Envoy does:
 * the proxy re-frames bodies and strips Transfer-Encoding as hop-by-hop, so any other coding ("gzip, chunked")
 * would be silently lost on the way. An unknown or unsupported coding is 501 (RFC 9112 §6.1); bad syntax, an empty
 * element, or "chunked" twice is 400. Returns true (the message is chunked) or throws.
 */
export function checkTransferEncoding(value: string, mode: number): true {
  if (equalsLower(value, 0, value.length, "chunked")) return true;
  let chunkedSeen = false;
  let unsupported = false;
  let i = 0;
  const n = value.length;
  for (;;) {
    while (i < n && isOws(value.charCodeAt(i))) i++;
    const tokenStart = i;
    while (i < n && value.charCodeAt(i) <= 0xff && TOKEN_LOWER[value.charCodeAt(i)] !== 0) i++;
    const tokenEnd = i;
    while (i < n && isOws(value.charCodeAt(i))) i++;
    if (tokenStart === tokenEnd) {
      throw http1Error(mode, "HPE_INVALID_TRANSFER_ENCODING", 400, "empty or malformed Transfer-Encoding element");
    }
    if (i < n && value.charCodeAt(i) === 0x3b) {
      // transfer-parameters (";q=…"): well-formed enough to be a coding we do not implement.
      unsupported = true;
      while (i < n && value.charCodeAt(i) !== 0x2c) i++;
    } else if (equalsLower(value, tokenStart, tokenEnd, "chunked")) {
      if (chunkedSeen) {
        throw http1Error(mode, "HPE_INVALID_TRANSFER_ENCODING", 400, "chunked applied more than once");
      }
      chunkedSeen = true;
    } else {
      unsupported = true;
    }
    if (i >= n) break;
    if (value.charCodeAt(i) !== 0x2c) {
      throw http1Error(mode, "HPE_INVALID_TRANSFER_ENCODING", 400, "malformed Transfer-Encoding");
    }
    i++;
  }
  if (chunkedSeen && !unsupported) return true;
  throw http1Error(
    mode,
    "HPE_UNKNOWN_TRANSFER_ENCODING",
    unsupported ? 501 : 400,
    'Transfer-Encoding other than exactly "chunked"',
  );
}

/** What a Connection field says; module-level scratch, read right after parseConnection. */
export const connection = {
  close: false,
  keepAlive: false,
  upgrade: false,
  /** Other lower-cased tokens: fields the sender nominated as hop-by-hop. */
  others: undefined as string[] | undefined,
};

/** Parses Connection (all fields joined) into `connection`. Empty list elements are allowed (RFC 9110 §5.6.1). */
export function parseConnection(value: string | undefined, mode: number): void {
  connection.close = false;
  connection.keepAlive = false;
  connection.upgrade = false;
  connection.others = undefined;
  if (value === undefined) return;
  if (equalsLower(value, 0, value.length, "keep-alive")) {
    connection.keepAlive = true;
    return;
  }
  if (equalsLower(value, 0, value.length, "close")) {
    connection.close = true;
    return;
  }
  const n = value.length;
  let i = 0;
  while (i <= n) {
    while (i < n && isOws(value.charCodeAt(i))) i++;
    const start = i;
    while (i < n && value.charCodeAt(i) <= 0xff && TOKEN_LOWER[value.charCodeAt(i)] !== 0) i++;
    const end = i;
    while (i < n && isOws(value.charCodeAt(i))) i++;
    if (i < n && value.charCodeAt(i) !== 0x2c) {
      throw http1Error(mode, "HPE_INVALID_CONNECTION", 400, "Connection is not a list of tokens");
    }
    i++; // past the comma (or the end)
    if (start === end) continue;
    if (equalsLower(value, start, end, "close")) connection.close = true;
    else if (equalsLower(value, start, end, "keep-alive")) connection.keepAlive = true;
    else if (equalsLower(value, start, end, "upgrade")) connection.upgrade = true;
    else (connection.others ??= []).push(value.slice(start, end).toLowerCase());
  }
}

/** The first protocol of an Upgrade field, lower-cased ("websocket"), or undefined when it names none. */
export function firstUpgradeProtocol(value: string): string | undefined {
  let end = value.indexOf(",");
  if (end < 0) end = value.length;
  let start = 0;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return start === end ? undefined : value.slice(start, end).toLowerCase();
}

/**
 * authority = host [":" port] (RFC 3986 §3.2) as Host or an absolute-form / authority-form target carries it:
 * a reg-name, IPv4 or bracketed IPv6 literal; no userinfo ('@'), no spaces, no path. The port, when present,
 * is 1–5 digits ≤ 65535 and is required when `requirePort` (CONNECT). Empty is allowed only when `allowEmpty`.
 */
export function isValidAuthority(s: string, requirePort: boolean, allowEmpty: boolean): boolean {
  const n = s.length;
  if (n === 0) return allowEmpty;
  let i = 0;
  if (s.charCodeAt(0) === 0x5b) {
    // IP-literal: hex digits, ':' and '.' (an embedded IPv4), at least one ':'.
    i = 1;
    let colons = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x5d) break;
      if (c === 0x3a) colons++;
      else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) || c === 0x2e)) {
        return false;
      }
    }
    if (i >= n || colons < 2) return false;
    i++;
  } else {
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x3a) break;
      if (c > 0xff || REG_NAME_CHAR[c] === 0) return false;
    }
    if (i === 0) return false;
  }
  if (i === n) return !requirePort;
  if (s.charCodeAt(i) !== 0x3a) return false;
  const portStart = ++i;
  let port = 0;
  for (; i < n; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return false;
    port = port * 10 + d;
  }
  const digits = n - portStart;
  return digits >= 1 && digits <= 5 && port <= 65535;
}
