// A small HTTP/2 client for hostile-input tests: frames written by hand (RFC 9113 §4, §6), header blocks encoded as
// HPACK literals without indexing (RFC 7541 §6.2.2), and a reader that splits what the peer sends into frames and
// decodes its header blocks (static and dynamic table, Huffman), so a test can assert the exact GOAWAY or
// RST_STREAM code or response a proxy answered with. Nothing here refuses to send a malformed frame: that is the
// point.

import net from "node:net";

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export const T = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const F = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export const E = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  SETTINGS_TIMEOUT: 4,
  STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7,
  CANCEL: 8,
  COMPRESSION_ERROR: 9,
  CONNECT_ERROR: 10,
  ENHANCE_YOUR_CALM: 11,
} as const;

export const S = {
  HEADER_TABLE_SIZE: 1,
  ENABLE_PUSH: 2,
  MAX_CONCURRENT_STREAMS: 3,
  INITIAL_WINDOW_SIZE: 4,
  MAX_FRAME_SIZE: 5,
  MAX_HEADER_LIST_SIZE: 6,
} as const;

export type Field = readonly [string, string];

// ---- writing ----

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([head, payload]);
}

export function settings(params: readonly (readonly [number, number])[] = [], ack = false): Buffer {
  const p = Buffer.alloc(params.length * 6);
  params.forEach(([id, value], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return frame(T.SETTINGS, ack ? F.ACK : 0, 0, p);
}

export const settingsAck = (): Buffer => frame(T.SETTINGS, F.ACK, 0);

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1); `high` = the bits above the prefix in the first byte. */
export function hpackInt(value: number, prefixBits: number, high = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([high | value]);
  const out = [high | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}

function hpackString(s: string | Buffer): Buffer {
  const b = typeof s === "string" ? Buffer.from(s, "latin1") : s;
  return Buffer.concat([hpackInt(b.length, 7, 0), b]);
}

/** Header fields as literals without indexing, new names, no Huffman (RFC 7541 §6.2.2). */
export function hpack(fields: readonly Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) parts.push(Buffer.from([0]), hpackString(name), hpackString(value));
  return Buffer.concat(parts);
}

export function requestFields(
  path = "/",
  extra: readonly Field[] = [],
  method = "GET",
  authority = "example.test",
): Field[] {
  return [[":method", method], [":scheme", "http"], [":path", path], [":authority", authority], ...extra];
}

export interface HeadersOptions {
  endStream?: boolean;
  endHeaders?: boolean;
  /** A PRIORITY section: [dependency, weight (1-256), exclusive]. */
  priority?: readonly [number, number, boolean];
}

/** A HEADERS frame carrying `block` (already HPACK-encoded) or the fields encoded as literals. */
export function headers(streamId: number, fields: readonly Field[] | Buffer, options: HeadersOptions = {}): Buffer {
  let block = Buffer.isBuffer(fields) ? fields : hpack(fields);
  let flags = (options.endStream ? F.END_STREAM : 0) | (options.endHeaders === false ? 0 : F.END_HEADERS);
  if (options.priority) {
    const [dep, weight, exclusive] = options.priority;
    const p = Buffer.alloc(5);
    p.writeUInt32BE(((exclusive ? 0x80000000 : 0) | dep) >>> 0);
    p[4] = weight - 1;
    block = Buffer.concat([p, block]);
    flags |= F.PRIORITY;
  }
  return frame(T.HEADERS, flags, streamId, block);
}

export const continuation = (streamId: number, block: Buffer, endHeaders = true): Buffer =>
  frame(T.CONTINUATION, endHeaders ? F.END_HEADERS : 0, streamId, block);

export const data = (streamId: number, payload: Buffer | string, endStream = false): Buffer =>
  frame(T.DATA, endStream ? F.END_STREAM : 0, streamId, Buffer.from(payload));

export function rstStream(streamId: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code >>> 0);
  return frame(T.RST_STREAM, 0, streamId, p);
}

export const ping = (payload: Buffer = Buffer.alloc(8), ack = false, streamId = 0): Buffer =>
  frame(T.PING, ack ? F.ACK : 0, streamId, payload);

export function goaway(lastStreamId: number, code: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastStreamId >>> 0);
  p.writeUInt32BE(code >>> 0, 4);
  return frame(T.GOAWAY, 0, 0, p);
}

export function windowUpdate(streamId: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment >>> 0);
  return frame(T.WINDOW_UPDATE, 0, streamId, p);
}

export function priority(streamId: number, dependency: number, weight = 16, exclusive = false): Buffer {
  const p = Buffer.alloc(5);
  p.writeUInt32BE(((exclusive ? 0x80000000 : 0) | dependency) >>> 0);
  p[4] = weight - 1;
  return frame(T.PRIORITY, 0, streamId, p);
}

/** The client connection preface and an empty SETTINGS frame. */
export const hello = (params: readonly (readonly [number, number])[] = []): Buffer =>
  Buffer.concat([PREFACE, settings(params)]);

// ---- reading ----

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
  /** HEADERS (with its CONTINUATIONs): the decoded fields. */
  fields?: Field[];
}

const STATIC_TABLE: readonly Field[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

// RFC 7541 Appendix B: the code of each byte value, and its length in bits.
const HUFFMAN_CODES = [
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7, 0xfffffe8, 0xffffea, 0x3ffffffc,
  0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec, 0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1,
  0xffffff2, 0x3ffffffe, 0xffffff3, 0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa,
  0xffffffb, 0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa, 0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18,
  0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc, 0x1ffa, 0x21, 0x5d,
  0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70,
  0x71, 0x72, 0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22, 0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26,
  0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7, 0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7ffe,
  0x7fc, 0x3ffd, 0x1ffd, 0xffffffc, 0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9,
  0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf, 0xffffec, 0xffffed, 0x3fffd7,
  0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3, 0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6,
  0x7fffe7, 0xffffef, 0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde, 0x7fffea, 0x3fffdd,
  0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec, 0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed,
  0x3fffe1, 0x7fffee, 0x7fffef, 0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
  0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec, 0x3ffffe2, 0x3ffffe3, 0x3ffffe4,
  0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed, 0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7,
  0x7ffffe2, 0xfffff2, 0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5, 0xfffec,
  0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3, 0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef,
  0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4, 0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9,
  0x7ffffea, 0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee,
];
const HUFFMAN_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28,
  28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6,
  5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23,
  22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22,
  23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26,
  20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27,
  27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27,
  27, 27, 27, 26,
];

/** length → code → symbol */
const HUFFMAN_DECODE = new Map<number, Map<number, number>>();
for (let sym = 0; sym < 256; sym++) {
  const len = HUFFMAN_LENGTHS[sym]!;
  let byLen = HUFFMAN_DECODE.get(len);
  if (byLen === undefined) HUFFMAN_DECODE.set(len, (byLen = new Map()));
  byLen.set(HUFFMAN_CODES[sym]!, sym);
}

/** Huffman-encodes `s` (RFC 7541 §5.2), padded with the EOS prefix. */
export function huffmanEncode(s: string): Buffer {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const byte of Buffer.from(s, "latin1")) {
    const code = HUFFMAN_CODES[byte]!;
    const len = HUFFMAN_LENGTHS[byte]!;
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff);
  return Buffer.from(out);
}

export function huffmanDecode(b: Buffer): string {
  const out: number[] = [];
  let code = 0;
  let len = 0;
  for (const byte of b) {
    for (let i = 7; i >= 0; i--) {
      code = code * 2 + ((byte >> i) & 1);
      len++;
      const sym = HUFFMAN_DECODE.get(len)?.get(code);
      if (sym !== undefined) {
        out.push(sym);
        code = 0;
        len = 0;
      } else if (len > 30) throw new Error("bad Huffman code");
    }
  }
  if (len > 7 || code !== 2 ** len - 1) throw new Error("bad Huffman padding");
  return Buffer.from(out).toString("latin1");
}

/** A strict HPACK decoder for what a peer sends (RFC 7541 §6). */
export class HpackDecoder {
  private table: Field[] = [];
  private size = 0;
  maxSize = 4096;

  decode(block: Buffer): Field[] {
    const fields: Field[] = [];
    let i = 0;
    const int = (prefixBits: number): number => {
      const max = (1 << prefixBits) - 1;
      let v = block[i++]! & max;
      if (v < max) return v;
      let m = 0;
      let b: number;
      do {
        if (i >= block.length) throw new Error("truncated integer");
        b = block[i++]!;
        v += (b & 127) * 2 ** m;
        m += 7;
      } while (b & 128);
      return v;
    };
    const str = (): string => {
      const huffman = (block[i]! & 0x80) !== 0;
      const len = int(7);
      if (i + len > block.length) throw new Error("truncated string");
      const raw = block.subarray(i, i + len);
      i += len;
      return huffman ? huffmanDecode(raw) : raw.toString("latin1");
    };
    while (i < block.length) {
      const b = block[i]!;
      if (b & 0x80) {
        fields.push(this.at(int(7)));
      } else if (b & 0x40) {
        const index = int(6);
        const name = index === 0 ? str() : this.at(index)[0];
        const field: Field = [name, str()];
        fields.push(field);
        this.insert(field);
      } else if (b & 0x20) {
        this.maxSize = int(5);
        this.evict();
      } else {
        const index = int(4);
        const name = index === 0 ? str() : this.at(index)[0];
        fields.push([name, str()]);
      }
    }
    return fields;
  }

  private at(index: number): Field {
    if (index === 0) throw new Error("index 0");
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const f = this.table[index - STATIC_TABLE.length - 1];
    if (f === undefined) throw new Error(`index ${index} beyond the table`);
    return f;
  }

  private insert(f: Field): void {
    this.table.unshift(f);
    this.size += f[0].length + f[1].length + 32;
    this.evict();
  }

  private evict(): void {
    while (this.size > this.maxSize) {
      const f = this.table.pop()!;
      this.size -= f[0].length + f[1].length + 32;
    }
  }
}

/** What became of one stream, as far as the peer told. */
export interface StreamOutcome {
  /** :status of the final response head, if one came. */
  status?: number;
  fields?: Field[];
  body: Buffer;
  /** RST_STREAM's error code, if the stream was reset. */
  rst?: number;
  /** The connection ended (GOAWAY or close) before the stream did. */
  connectionEnded?: boolean;
}

/**
 * A raw HTTP/2 client connection: everything written is sent as is; every frame received is kept in `frames` (header
 * blocks decoded) and the peer's SETTINGS and PINGs are acknowledged as a well-behaved client would, unless
 * `autoAck` is off.
 */
export class H2Client {
  readonly frames: Frame[] = [];
  closed = false;
  autoAck = true;
  private buf: Buffer = Buffer.alloc(0);
  /** DATA bytes sent by sendWithinWindows, against the connection's flow-control window. */
  private dataSent = 0;
  private readonly decoder = new HpackDecoder();
  private pending: { frame: Frame; parts: Buffer[] } | undefined;
  private readonly wakers = new Set<() => void>();

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  static connect(port: number, host = "127.0.0.1"): Promise<H2Client> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      socket.once("connect", () => resolve(new H2Client(socket)));
      socket.once("error", reject);
    });
  }

  /** Connects and writes the preface with a SETTINGS frame (and `then`, in the same write). */
  static async open(port: number, then: Buffer = Buffer.alloc(0)): Promise<H2Client> {
    const c = await H2Client.connect(port);
    c.write(Buffer.concat([hello(), then]));
    return c;
  }

  write(...bufs: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(bufs));
  }

  close(): void {
    this.socket.destroy();
  }

  /** Resolves with the first frame received (from the start) that matches; rejects after `limitMs`. */
  frame(match: (f: Frame) => boolean, limitMs = 10_000): Promise<Frame> {
    return this.until(() => this.frames.find(match), limitMs);
  }

  /** The GOAWAY the peer sent: its last stream id and error code. */
  async goaway(limitMs = 10_000): Promise<{ lastStreamId: number; code: number }> {
    const f = await this.frame((f) => f.type === T.GOAWAY, limitMs);
    return { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) };
  }

  /** Sends a PING and waits for its ACK: every frame sent before it has been processed. */
  async roundTrip(limitMs = 10_000): Promise<void> {
    const payload = Buffer.alloc(8);
    payload.writeDoubleBE(Math.random());
    this.write(ping(payload));
    await this.frame((f) => f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(payload), limitMs);
  }

  /** Waits until the stream ends, is reset, or the connection ends. */
  stream(id: number, limitMs = 10_000): Promise<StreamOutcome> {
    return this.until(() => {
      const out: StreamOutcome = { body: Buffer.alloc(0) };
      const body: Buffer[] = [];
      for (const f of this.frames) {
        if (f.type === T.GOAWAY && (f.payload.readUInt32BE(0) & 0x7fffffff) < id) out.connectionEnded = true;
        if (f.streamId !== id) continue;
        if (f.type === T.HEADERS && f.fields !== undefined) {
          const status = f.fields.find(([n]) => n === ":status");
          if (status !== undefined && !status[1].startsWith("1")) {
            out.status = Number(status[1]);
            out.fields = f.fields;
          }
        } else if (f.type === T.DATA) body.push(f.payload);
        else if (f.type === T.RST_STREAM) {
          out.rst = f.payload.readUInt32BE(0);
          break;
        }
        if ((f.type === T.HEADERS || f.type === T.DATA) && f.flags & F.END_STREAM && out.status !== undefined) break;
      }
      out.body = Buffer.concat(body);
      const ended =
        out.rst !== undefined ||
        out.connectionEnded === true ||
        this.closed ||
        this.frames.some((f) => f.streamId === id && f.flags & F.END_STREAM && (f.type === 0 || f.type === 1));
      return ended ? out : undefined;
    }, limitMs);
  }

  /**
   * Sends up to `total` bytes of DATA on `streamId` as fast as the peer's flow-control windows allow (connection and
   * stream, from its SETTINGS and WINDOW_UPDATEs), and stops when the body is sent, the stream is reset, or the peer
   * has stopped granting credit: `stallRounds` PING round trips in a row with no WINDOW_UPDATE in between. Returns
   * the bytes sent — which is what the peer accepted to hold.
   */
  async sendWithinWindows(streamId: number, total: number, stallRounds = 3): Promise<number> {
    await this.frame((f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0);
    let streamWindow = this.peerSetting(S.INITIAL_WINDOW_SIZE) ?? 65535;
    let seen = 0;
    let sent = 0;
    const chunk = Buffer.alloc(16384, 0x61);
    for (let stalled = 0; sent < total && stalled < stallRounds;) {
      let connectionCredit = 65535;
      for (let i = 0; i < this.frames.length; i++) {
        const f = this.frames[i]!;
        if (f.type !== T.WINDOW_UPDATE && !(f.type === T.RST_STREAM && f.streamId === streamId)) continue;
        if (f.type === T.RST_STREAM) return sent;
        const inc = f.payload.readUInt32BE(0) & 0x7fffffff;
        if (f.streamId === 0) connectionCredit += inc;
        else if (f.streamId === streamId && i >= seen) streamWindow += inc;
        if (i >= seen) stalled = 0;
      }
      seen = this.frames.length;
      // The connection window is shared by every stream this client sent DATA on through this method.
      const n = Math.min(connectionCredit - this.dataSent, streamWindow, chunk.length, total - sent);
      if (n > 0) {
        this.write(data(streamId, chunk.subarray(0, n)));
        this.dataSent += n;
        streamWindow -= n;
        sent += n;
        // Let the socket drain now and then, so the peer's answers are read while sending.
        if (sent % (1 << 20) < n) await new Promise((r) => setImmediate(r));
        continue;
      }
      await this.roundTrip();
      stalled++;
    }
    return sent;
  }

  /** A value from the peer's first SETTINGS frame. */
  peerSetting(id: number): number | undefined {
    const f = this.frames.find((f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0);
    if (f === undefined) return undefined;
    let value: number | undefined;
    for (let i = 0; i + 6 <= f.payload.length; i += 6)
      if (f.payload.readUInt16BE(i) === id) value = f.payload.readUInt32BE(i + 2);
    return value;
  }

  /** Resolves when the peer has closed the connection. */
  whenClosed(limitMs = 10_000): Promise<true> {
    return this.until(() => (this.closed ? true : undefined), limitMs);
  }

  private until<R>(get: () => R | undefined, limitMs: number): Promise<R> {
    const now = get();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const waker = (): void => {
        const v = get();
        if (v !== undefined) {
          this.wakers.delete(waker);
          clearTimeout(timer);
          resolve(v);
        } else if (this.closed) {
          this.wakers.delete(waker);
          clearTimeout(timer);
          reject(new Error(`connection closed first; frames: ${this.describe()}`));
        }
      };
      const timer = setTimeout(() => {
        this.wakers.delete(waker);
        reject(new Error(`not seen in ${limitMs} ms; frames: ${this.describe()}`));
      }, limitMs);
      this.wakers.add(waker);
    });
  }

  /** The frames received, one line (for failure messages). */
  describe(): string {
    const names = Object.fromEntries(Object.entries(T).map(([k, v]) => [v, k]));
    return this.frames
      .map((f) => {
        let extra = "";
        if (f.type === T.GOAWAY || f.type === T.RST_STREAM)
          extra = ` code=${f.payload.readUInt32BE(f.type === T.GOAWAY ? 4 : 0)}`;
        if (f.fields) extra = " " + f.fields.map(([n, v]) => `${n}=${v}`).join(",");
        return `${names[f.type] ?? f.type}#${f.streamId}/${f.flags}${extra}`;
      })
      .join(" ");
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f: Frame = {
        type: this.buf[3]!,
        flags: this.buf[4]!,
        streamId: this.buf.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.buf.subarray(9, 9 + len)),
      };
      this.buf = this.buf.subarray(9 + len);
      this.onFrame(f);
    }
    this.wake();
  }

  private onFrame(f: Frame): void {
    if (f.type === T.SETTINGS && !(f.flags & F.ACK) && this.autoAck) this.write(settingsAck());
    if (f.type === T.PING && !(f.flags & F.ACK) && f.streamId === 0 && this.autoAck) this.write(ping(f.payload, true));
    if (f.type === T.HEADERS) {
      let block = f.payload;
      let start = 0;
      let end = block.length;
      if (f.flags & F.PADDED) {
        start = 1;
        end -= block[0]!;
      }
      if (f.flags & F.PRIORITY) start += 5;
      block = block.subarray(start, end);
      if (f.flags & F.END_HEADERS) f.fields = this.decoder.decode(block);
      else this.pending = { frame: f, parts: [block] };
    } else if (f.type === T.CONTINUATION && this.pending !== undefined) {
      this.pending.parts.push(f.payload);
      if (f.flags & F.END_HEADERS) {
        this.pending.frame.fields = this.decoder.decode(Buffer.concat(this.pending.parts));
        this.pending = undefined;
      }
    } else if (f.type === T.DATA && f.flags & F.PADDED) {
      f.payload = f.payload.subarray(1, f.payload.length - f.payload[0]!);
    }
    this.frames.push(f);
  }
}
