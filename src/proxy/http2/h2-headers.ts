// Header conversion between node:http2 and our flat Headers. HTTP/2 forbids connection-specific fields (RFC 9113
// §8.2.2) and node throws ERR_HTTP2_INVALID_CONNECTION_HEADERS when asked to send one, so both directions drop
// them here, once, instead of trusting every layer above to have done it.

import { CAUSES, type Cause } from "../http/rescue.ts";
import type { OutgoingHttpHeaders } from "node:http2";
import { Headers } from "../http/headers.ts";

/** Names that may never appear in an HTTP/2 message (`te` is handled apart: only "trailers" is allowed). */
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/** Whether `name: value` may be carried by an HTTP/2 message (names lower-case, no pseudo-headers). */
export function isH2Allowed(name: string, value: string): boolean {
  if (CONNECTION_SPECIFIC.has(name)) return false;
  if (name === "te") return value.trim().toLowerCase() === "trailers";
  return name.charCodeAt(0) !== 58; // ':' — pseudo-headers are built from the exchange's own fields
}

/**
 * Request headers received from node (`rawHeaders`, flat and already lower-case: HTTP/2 forbids upper case) →
 * our Headers, without pseudo-headers, `host` or connection-specific fields. Several `cookie` fields are joined
 * with "; " as RFC 9113 §8.2.3 requires before the request can go to a non-HTTP/2 hop (Envoy does the same).
 * Undefined when the decoded list — names and values, pseudo-headers included, as Envoy's max_request_headers_kb
 * counts them — is larger than `maxBytes`: node applies SETTINGS_MAX_HEADER_LIST_SIZE only once the client has
 * acknowledged our SETTINGS, so this is the limit that holds from the first stream.
 */
export function requestHeadersFromRaw(raw: readonly string[], maxBytes = Infinity): Headers | undefined {
  const list: string[] = [];
  let cookieAt = -1;
  let bytes = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    bytes += name.length + value.length;
    if (name === "host" || !isH2Allowed(name, value)) continue;
    if (name === "cookie") {
      if (cookieAt >= 0) {
        list[cookieAt] += "; " + value;
        continue;
      }
      cookieAt = list.length + 1;
    }
    list.push(name, value);
  }
  return bytes > maxBytes ? undefined : new Headers(list);
}

/**
 * Why a request's target cannot be forwarded (a cause whose detail is Envoy's), or undefined when it can. nghttp2
 * checks the pseudo-headers' presence and order, not their contents; an HTTP/1.1 upstream would refuse (or read
 * differently) a path with a fragment, a space or raw non-ASCII bytes, and RFC 9113 §8.3.1 forbids userinfo in
 * :authority. `path` is "" for CONNECT, which has none.
 */
export function invalidTarget(path: string, authority: string): Cause | undefined {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    // Visible ASCII only, and no '#': a fragment is never part of a request target (RFC 9110 §7.1).
    if (c <= 0x20 || c >= 0x7f || c === 0x23) return CAUSES.invalidPath;
  }
  if (path.length > 0 && path.charCodeAt(0) !== 0x2f && path !== "*") return CAUSES.invalidPath;
  for (let i = 0; i < authority.length; i++) {
    const c = authority.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x40 /* @: userinfo */) return CAUSES.invalidAuthority;
  }
  return undefined;
}

/** Response headers or trailers received from node (`rawHeaders`) → our Headers, without pseudo-headers. */
export function headersFromRaw(raw: readonly string[]): Headers {
  const list: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 58) continue;
    list.push(name, raw[i + 1]!);
  }
  return new Headers(list);
}

/** Node's trailers object (values may be arrays) → our Headers. */
export function headersFromObject(obj: Record<string, string | string[] | number | undefined>): Headers {
  const list: string[] = [];
  for (const name of Object.keys(obj)) {
    if (name.charCodeAt(0) === 58) continue;
    const v = obj[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const one of v) list.push(name, one);
    else list.push(name, String(v));
  }
  return new Headers(list);
}

/**
 * Our Headers → node's outgoing object, into `out` (which already holds the pseudo-headers). Repeated names
 * become arrays, which node sends as separate fields.
 */
export function toOutgoing(headers: Headers | undefined, out: OutgoingHttpHeaders): OutgoingHttpHeaders {
  if (headers === undefined) return out;
  const l = headers.list;
  for (let i = 0; i < l.length; i += 2) {
    const name = l[i]!;
    const value = l[i + 1]!;
    if (name === "host" || !isH2Allowed(name, value)) continue;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [String(prev), value];
  }
  return out;
}

/** Content-Length as a number, or -1 when absent or not a plain non-negative integer. */
export function contentLength(headers: Headers): number {
  const v = headers.get("content-length");
  if (v === undefined || v.length === 0 || v.length > 15) return -1;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  return Number(v);
}
