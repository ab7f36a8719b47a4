// Reading a TLS ClientHello from the first bytes of a connection, without terminating TLS: record layer (RFC 8446
// §5.1, reassembling a hello split over several handshake records), handshake header, then the hello itself —
// version, random, session id, cipher suites, compression methods — and its extensions, of which server_name (0,
// RFC 6066 §3) and application_layer_protocol_negotiation (16, RFC 7301 §3.1) are kept. Every length is checked
// against what is left before it is used, so bytes from the network can only give an answer, never an exception.

/** Envoy's tls_inspector gives up on a ClientHello larger than this (TLS_MAX_CLIENT_HELLO, 16 KiB). */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024;

const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
const CONTENT_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const SNI_HOST_NAME = 0;
/** RFC 8446 §5.1: a record's plaintext fragment is at most 2^14 bytes (a little more is tolerated for TLS 1.2). */
const MAX_RECORD_PAYLOAD = (1 << 14) + 2048;

export type ClientHelloResult =
  /** Still a possible ClientHello: wait for more bytes. */
  | { kind: "incomplete" }
  /** Not TLS, or a malformed ClientHello (Envoy's tls_not_found: the connection goes on as raw_buffer). */
  | { kind: "not_tls" }
  /** A ClientHello that does not fit in `MAX_CLIENT_HELLO_BYTES` (Envoy's client_hello_too_large: closed). */
  | { kind: "too_large" }
  | { kind: "tls"; serverName: string; alpn: string[] };

const INCOMPLETE: ClientHelloResult = { kind: "incomplete" };
const NOT_TLS: ClientHelloResult = { kind: "not_tls" };
const TOO_LARGE: ClientHelloResult = { kind: "too_large" };

/** Looks at everything read so far (`data` starts at the connection's first byte). */
export function parseClientHello(data: Buffer, maxBytes = MAX_CLIENT_HELLO_BYTES): ClientHelloResult {
  const hello = reassemble(data, maxBytes);
  if (hello === "not_tls") return NOT_TLS;
  if (hello === "too_large") return TOO_LARGE;
  if (hello === "incomplete") return data.length >= maxBytes ? TOO_LARGE : INCOMPLETE;
  return parseHello(hello) ?? NOT_TLS;
}

/** The ClientHello body from the handshake records at the start of `data`. */
function reassemble(data: Buffer, maxBytes: number): Buffer | "incomplete" | "not_tls" | "too_large" {
  const fragments: Buffer[] = [];
  let handshakeBytes = 0;
  let bodyLength = -1;
  let at = 0;
  for (;;) {
    // A byte at a time, so the first bytes of a plain-text protocol are told apart at once.
    if (at >= data.length) return "incomplete";
    if (data[at] !== CONTENT_HANDSHAKE) return "not_tls";
    if (at + 1 >= data.length) return "incomplete";
    if (data[at + 1] !== 0x03) return "not_tls"; // record version major: SSL 3.0 to TLS 1.3 all say 3
    if (at + RECORD_HEADER > data.length) return "incomplete";
    const length = data.readUInt16BE(at + 3);
    if (length === 0 || length > MAX_RECORD_PAYLOAD) return "not_tls";
    const complete = at + RECORD_HEADER + length <= data.length;
    const fragment = data.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length);
    // The handshake header is judged as soon as its 4 bytes are there, even inside an unfinished record, so a
    // hello announcing more than the limit is refused at once. Copies happen twice at most (the header, the whole
    // hello), however the records are cut.
    if (bodyLength < 0 && handshakeBytes + fragment.length >= HANDSHAKE_HEADER) {
      const head = Buffer.concat([...fragments, fragment]);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return "not_tls";
      bodyLength = head.readUIntBE(1, 3);
      if (HANDSHAKE_HEADER + bodyLength > maxBytes) return "too_large";
    }
    if (!complete) return "incomplete";
    fragments.push(fragment);
    handshakeBytes += length;
    at += RECORD_HEADER + length;
    if (bodyLength < 0 || handshakeBytes < HANDSHAKE_HEADER + bodyLength) continue;
    const handshake = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, handshakeBytes);
    return handshake.subarray(HANDSHAKE_HEADER, HANDSHAKE_HEADER + bodyLength);
  }
}

/** A bounds-checked reader over one buffer: every read past the end makes `ok` false and returns nothing useful. */
class Cursor {
  ok = true;
  constructor(
    private readonly buf: Buffer,
    private at = 0,
    private readonly end = buf.length,
  ) {}

  get remaining(): number {
    return this.end - this.at;
  }

  skip(n: number): void {
    if (n > this.remaining) this.ok = false;
    else this.at += n;
  }

  u8(): number {
    if (this.remaining < 1) return this.fail();
    return this.buf[this.at++]!;
  }

  u16(): number {
    if (this.remaining < 2) return this.fail();
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }

  /** A sub-reader over the next `n` bytes (an empty, failed one when they are not there). */
  take(n: number): Cursor {
    if (n > this.remaining) {
      this.ok = false;
      return new Cursor(this.buf, 0, 0);
    }
    const sub = new Cursor(this.buf, this.at, this.at + n);
    this.at += n;
    return sub;
  }

  bytes(n: number): Buffer {
    if (n > this.remaining) {
      this.ok = false;
      return Buffer.alloc(0);
    }
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  private fail(): number {
    this.ok = false;
    return 0;
  }
}

function parseHello(body: Buffer): ClientHelloResult | undefined {
  const c = new Cursor(body);
  c.skip(2 + 32); // legacy_version, random
  const sessionIdLength = c.u8();
  if (sessionIdLength > 32) return undefined;
  c.skip(sessionIdLength);
  const cipherSuitesLength = c.u16();
  if (cipherSuitesLength < 2 || cipherSuitesLength % 2 !== 0) return undefined;
  c.skip(cipherSuitesLength);
  const compressionLength = c.u8();
  if (compressionLength < 1) return undefined;
  c.skip(compressionLength);
  if (!c.ok) return undefined;
  let serverName = "";
  let alpn: string[] = [];
  // Extensions are optional (an SSL 3.0-style hello ends here).
  if (c.remaining === 0) return { kind: "tls", serverName, alpn };
  const extensions = c.take(c.u16());
  if (!c.ok || c.remaining !== 0) return undefined;
  const seen = new Set<number>();
  while (extensions.remaining > 0) {
    const type = extensions.u16();
    const data = extensions.take(extensions.u16());
    if (!extensions.ok) return undefined;
    if (seen.has(type)) return undefined; // RFC 8446 §4.2: at most one extension of each type
    seen.add(type);
    if (type === EXT_SERVER_NAME) {
      const name = readServerName(data);
      if (name === undefined) return undefined;
      serverName = name;
    } else if (type === EXT_ALPN) {
      const protocols = readAlpn(data);
      if (protocols === undefined) return undefined;
      alpn = protocols;
    }
  }
  return { kind: "tls", serverName, alpn };
}

/** server_name_list: the host_name entry (one at most, RFC 6066 §3); a zero-length name is malformed. */
function readServerName(data: Cursor): string | undefined {
  const list = data.take(data.u16());
  if (!data.ok || data.remaining !== 0 || list.remaining === 0) return undefined;
  let host: string | undefined;
  while (list.remaining > 0) {
    const type = list.u8();
    const name = list.bytes(list.u16());
    if (!list.ok) return undefined;
    if (type !== SNI_HOST_NAME) continue;
    if (name.length === 0 || host !== undefined) return undefined;
    host = name.toString("latin1");
  }
  return host ?? "";
}

/** protocol_name_list: non-empty, each name 1..255 bytes. */
function readAlpn(data: Cursor): string[] | undefined {
  const list = data.take(data.u16());
  if (!data.ok || data.remaining !== 0 || list.remaining === 0) return undefined;
  const out: string[] = [];
  while (list.remaining > 0) {
    const length = list.u8();
    if (length === 0) return undefined;
    const name = list.bytes(length);
    if (!list.ok) return undefined;
    out.push(name.toString("latin1"));
  }
  return out;
}
