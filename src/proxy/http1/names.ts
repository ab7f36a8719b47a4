// Interned lower-case names for the header fields seen on almost every request and response. The parser hashes the
// name bytes while it validates them, then looks the hash up here: a hit costs no string allocation and no
// lower-casing, and the fields that decide framing get a small numeric id to switch on.

import { TOKEN_LOWER } from "./chars.ts";

/** Ids of the fields the codec interprets; every other field is FIELD_OTHER. */
export const FIELD_OTHER = 0;
export const FIELD_HOST = 1;
export const FIELD_CONTENT_LENGTH = 2;
export const FIELD_TRANSFER_ENCODING = 3;
export const FIELD_CONNECTION = 4;
export const FIELD_UPGRADE = 5;
export const FIELD_EXPECT = 6;

const SEMANTIC: Record<string, number> = {
  host: FIELD_HOST,
  "content-length": FIELD_CONTENT_LENGTH,
  "transfer-encoding": FIELD_TRANSFER_ENCODING,
  connection: FIELD_CONNECTION,
  upgrade: FIELD_UPGRADE,
  expect: FIELD_EXPECT,
};

const COMMON = [
  "accept",
  "accept-charset",
  "accept-encoding",
  "accept-language",
  "accept-ranges",
  "access-control-allow-origin",
  "age",
  "allow",
  "authorization",
  "cache-control",
  "content-encoding",
  "content-language",
  "content-location",
  "content-range",
  "content-type",
  "cookie",
  "date",
  "etag",
  "expires",
  "forwarded",
  "grpc-encoding",
  "grpc-accept-encoding",
  "grpc-message",
  "grpc-status",
  "grpc-timeout",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "keep-alive",
  "last-modified",
  "link",
  "location",
  "origin",
  "pragma",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "range",
  "referer",
  "retry-after",
  "sec-websocket-accept",
  "sec-websocket-extensions",
  "sec-websocket-key",
  "sec-websocket-protocol",
  "sec-websocket-version",
  "server",
  "set-cookie",
  "strict-transport-security",
  "te",
  "trailer",
  "traceparent",
  "tracestate",
  "user-agent",
  "vary",
  "via",
  "www-authenticate",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-spanid",
  "x-b3-traceid",
  "x-envoy-attempt-count",
  "x-envoy-expected-rq-timeout-ms",
  "x-envoy-upstream-service-time",
  "x-forwarded-client-cert",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-powered-by",
  "x-request-id",
  "b3",
];

/** The hash step the parser applies per (lower-cased) name byte, starting from 0. */
export function nameHashStep(h: number, lowerByte: number): number {
  return (Math.imul(h, 31) + lowerByte) | 0;
}

const SLOTS = 512; // a power of two, well above twice the entries, so probes are short
const slotName: (string | undefined)[] = new Array<string | undefined>(SLOTS).fill(undefined);
const slotHash = new Int32Array(SLOTS);
const slotId = new Uint8Array(SLOTS);

function slotOf(hash: number): number {
  return (hash ^ (hash >>> 9)) & (SLOTS - 1);
}

for (const name of [...Object.keys(SEMANTIC), ...COMMON]) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = nameHashStep(h, name.charCodeAt(i));
  let s = slotOf(h);
  while (slotName[s] !== undefined) s = (s + 1) & (SLOTS - 1);
  slotName[s] = name;
  slotHash[s] = h;
  slotId[s] = SEMANTIC[name] ?? FIELD_OTHER;
}

/** Slot → interned name and field id, for the slot that findKnownName returns. */
export const KNOWN_NAME: readonly (string | undefined)[] = slotName;
export const KNOWN_ID: Uint8Array = slotId;

/**
 * The slot of the known name whose bytes are buf[start, end) (any case) and whose hash is `hash`, or -1. The
 * caller reads KNOWN_NAME[slot] and KNOWN_ID[slot].
 */
export function findKnownName(buf: Buffer, start: number, end: number, hash: number): number {
  const len = end - start;
  const tokenLower = TOKEN_LOWER;
  for (let s = slotOf(hash); ; s = (s + 1) & (SLOTS - 1)) {
    const name = slotName[s];
    if (name === undefined) return -1;
    if (slotHash[s] !== hash || name.length !== len) continue;
    let i = 0;
    while (i < len && tokenLower[buf[start + i]!] === name.charCodeAt(i)) i++;
    if (i === len) return s;
  }
}
