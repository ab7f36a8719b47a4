// RFC 1035 messages, by hand: the header, questions and resource records of a query or a response. Reading follows
// compression pointers (RFC 1035 §4.1.4) with bounds checks everywhere: a pointer may only point backwards (so a
// loop is impossible) and at most MAX_POINTERS are followed per name; a label past the end, a name over 255 octets,
// a reserved label type (0x40, 0x80) or counts that claim more records than the packet holds throw DnsFormatError,
// which the server answers FORMERR (or drops, when even the header is short). Writing compresses names against
// those already written. Only what the DNS proxy needs is typed: A, AAAA, CNAME rdata and the EDNS OPT record.

import { isIPv4, isIPv6 } from "node:net";
import { TrellisError } from "../../api/errors.ts";

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, OPT: 41, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const OPCODE_QUERY = 0;

export const HEADER_SIZE = 12;
/** RFC 1035's UDP limit, for a query without EDNS. */
export const MIN_UDP_SIZE = 512;
const MAX_NAME_OCTETS = 255;
const MAX_POINTERS = 64;

/** A packet that is not a well-formed DNS message; `offset` is where reading stopped. */
export class DnsFormatError extends TrellisError {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super("TRELLIS_DNS_FORMAT", `malformed DNS message at byte ${offset}: ${message}`);
  }
}

export interface DnsHeader {
  id: number;
  /** QR: a response. */
  response: boolean;
  opcode: number;
  /** AA */
  authoritative: boolean;
  /** TC */
  truncated: boolean;
  /** RD */
  recursionDesired: boolean;
  /** RA */
  recursionAvailable: boolean;
  /** AD and CD (RFC 4035), kept as they came. */
  authenticData: boolean;
  checkingDisabled: boolean;
  rcode: number;
}

export interface DnsQuestion {
  /** As it came, without the final dot (the root is ""). */
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  /** For OPT: the requestor's UDP payload size. */
  class: number;
  /** For OPT: extended rcode, version and flags. */
  ttl: number;
  /** The rdata as on the wire (names inside it may be compressed against the message it came in). */
  data: Uint8Array;
}

export interface DnsMessage {
  header: DnsHeader;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

// ---- reading ----------------------------------------------------------------------------------------------------

/** The header alone (12 bytes); undefined for a packet too short to carry one (it cannot even be answered). */
export function readHeader(buf: Uint8Array): DnsHeader | undefined {
  if (buf.length < HEADER_SIZE) return undefined;
  const flags = (buf[2]! << 8) | buf[3]!;
  return {
    id: (buf[0]! << 8) | buf[1]!,
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    authoritative: (flags & 0x0400) !== 0,
    truncated: (flags & 0x0200) !== 0,
    recursionDesired: (flags & 0x0100) !== 0,
    recursionAvailable: (flags & 0x0080) !== 0,
    authenticData: (flags & 0x0020) !== 0,
    checkingDisabled: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
  };
}

/** Reads a (possibly compressed) name at `offset`: the name and the offset just after it in the message. */
export function readName(buf: Uint8Array, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let octets = 1; // the root label
  let pos = offset;
  let next = -1;
  let pointers = 0;
  for (;;) {
    if (pos >= buf.length) throw new DnsFormatError("name runs past the end of the message", pos);
    const len = buf[pos]!;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsFormatError("compression pointer cut short", pos);
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      // Only backwards, to a label that starts before this pointer: no loop can be built from such pointers.
      if (target >= pos) throw new DnsFormatError(`compression pointer to ${target} does not point backwards`, pos);
      if (++pointers > MAX_POINTERS) throw new DnsFormatError("too many compression pointers", pos);
      if (next < 0) next = pos + 2;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsFormatError(`reserved label type 0x${(len & 0xc0).toString(16)}`, pos);
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if (pos + 1 + len > buf.length) throw new DnsFormatError("label runs past the end of the message", pos);
    octets += len + 1;
    if (octets > MAX_NAME_OCTETS) throw new DnsFormatError("name longer than 255 octets", pos);
    labels.push(labelText(buf.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
  return { name: labels.join("."), next };
}

/** A label as text: printable ASCII as is, a dot, a backslash and other octets escaped (\. \\ \DDD), as dig shows. */
function labelText(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    if (b === 0x2e || b === 0x5c) s += "\\" + String.fromCharCode(b);
    else if (b > 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += "\\" + String(b).padStart(3, "0");
  }
  return s;
}

function u16(buf: Uint8Array, pos: number): number {
  if (pos + 2 > buf.length) throw new DnsFormatError("field runs past the end of the message", pos);
  return (buf[pos]! << 8) | buf[pos + 1]!;
}

function u32(buf: Uint8Array, pos: number): number {
  return u16(buf, pos) * 0x10000 + u16(buf, pos + 2);
}

/** Parses a whole message; throws DnsFormatError (never anything else) on a malformed one. */
export function parseMessage(buf: Uint8Array): DnsMessage {
  const header = readHeader(buf);
  if (header === undefined) throw new DnsFormatError("shorter than the 12-byte header", buf.length);
  const counts = [u16(buf, 4), u16(buf, 6), u16(buf, 8), u16(buf, 10)] as const;
  // Every question takes at least 5 octets and every record at least 11: counts beyond that cannot be honest.
  const least = counts[0] * 5 + (counts[1] + counts[2] + counts[3]) * 11;
  if (HEADER_SIZE + least > buf.length)
    throw new DnsFormatError(`counts (${counts.join(", ")}) claim more than the ${buf.length}-byte message holds`, 4);
  let pos = HEADER_SIZE;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, next } = readName(buf, pos);
    questions.push({ name, type: u16(buf, next), class: u16(buf, next + 2) });
    pos = next + 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const { name, next } = readName(buf, pos);
      const type = u16(buf, next);
      const cls = u16(buf, next + 2);
      const ttl = u32(buf, next + 4);
      const rdlength = u16(buf, next + 8);
      const start = next + 10;
      if (start + rdlength > buf.length) throw new DnsFormatError("rdata runs past the end of the message", start);
      sections[s]!.push({ name, type, class: cls, ttl, data: buf.subarray(start, start + rdlength) });
      pos = start + rdlength;
    }
  }
  return { header, questions, answers: sections[0]!, authorities: sections[1]!, additionals: sections[2]! };
}

/** The EDNS OPT record of a message, if any (RFC 6891). */
export function optRecord(m: DnsMessage): DnsRecord | undefined {
  return m.additionals.find((r) => r.type === TYPE.OPT);
}

/** The largest UDP response the sender of `query` accepts: its EDNS payload size (at least 512), else 512. */
export function udpSizeOf(query: DnsMessage): number {
  const opt = optRecord(query);
  return opt === undefined ? MIN_UDP_SIZE : Math.max(MIN_UDP_SIZE, Math.min(opt.class, 65535));
}

/** An A or AAAA record's address as text. */
export function addressOf(r: DnsRecord): string | undefined {
  if (r.type === TYPE.A && r.data.length === 4) return [...r.data].join(".");
  if (r.type === TYPE.AAAA && r.data.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((r.data[i]! << 8) | r.data[i + 1]!).toString(16));
    return groups.join(":");
  }
  return undefined;
}

// ---- writing ----------------------------------------------------------------------------------------------------

/** A record to write: typed rdata for A/AAAA (address), CNAME (target), or raw bytes. */
export type OutRecord =
  | { name: string; type: typeof TYPE.A | typeof TYPE.AAAA; ttl: number; address: string }
  | { name: string; type: typeof TYPE.CNAME; ttl: number; target: string }
  | { name: string; type: number; class: number; ttl: number; data: Uint8Array };

export interface OutMessage {
  header: Partial<DnsHeader> & { id: number };
  questions: DnsQuestion[];
  answers?: OutRecord[];
  authorities?: OutRecord[];
  additionals?: OutRecord[];
}

class Writer {
  private buf = new Uint8Array(512);
  length = 0;
  private readonly names = new Map<string, number>();

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v & 0xff;
  }
  u16(v: number): void {
    this.u8(v >> 8);
    this.u8(v);
  }
  u32(v: number): void {
    this.u16(Math.floor(v / 0x10000) & 0xffff);
    this.u16(v & 0xffff);
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  setU16(at: number, v: number): void {
    this.buf[at] = (v >> 8) & 0xff;
    this.buf[at + 1] = v & 0xff;
  }
  /** A name, compressed against the names already written (case-insensitively, as RFC 1035 compares names). */
  name(name: string): void {
    const labels = splitLabels(name);
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels
        .slice(i)
        .map((l) => [...l].map((b) => String.fromCharCode(b)).join(""))
        .join("\u0000")
        .toLowerCase();
      const at = this.names.get(suffix);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.length < 0x4000) this.names.set(suffix, this.length);
      this.u8(labels[i]!.length);
      this.bytes(labels[i]!);
    }
    this.u8(0);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** A name's labels as octets, reading the escapes labelText writes (\. \\ \DDD). Throws on a label over 63 octets. */
export function splitLabels(name: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  let cur: number[] = [];
  const text = name.endsWith(".") && !name.endsWith("\\.") ? name.slice(0, -1) : name;
  if (text === "") return out;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c && i + 1 < text.length) {
      const d = text.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(d)) {
        cur.push(Number(d) & 0xff);
        i += 3;
      } else {
        cur.push(text.charCodeAt(i + 1) & 0xff);
        i += 1;
      }
    } else if (c === 0x2e) {
      out.push(Uint8Array.from(cur));
      cur = [];
    } else cur.push(c & 0xff);
  }
  out.push(Uint8Array.from(cur));
  for (const l of out)
    if (l.length === 0 || l.length > 63) throw new RangeError(`"${name}": a label must be 1-63 octets`);
  return out;
}

function ipBytes(type: number, address: string): Uint8Array {
  if (type === TYPE.A) {
    if (!isIPv4(address)) throw new RangeError(`"${address}" is not an IPv4 address`);
    return Uint8Array.from(address.split(".").map(Number));
  }
  if (!isIPv6(address)) throw new RangeError(`"${address}" is not an IPv6 address`);
  let text = address;
  // A trailing dotted IPv4 part (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ":" + ((c << 8) | d).toString(16);
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

function writeRecord(w: Writer, r: OutRecord): void {
  w.name(r.name);
  w.u16(r.type);
  w.u16("class" in r ? r.class : CLASS_IN);
  w.u32(r.ttl);
  const lengthAt = w.length;
  w.u16(0);
  if ("address" in r) w.bytes(ipBytes(r.type, r.address));
  else if ("target" in r) w.name(r.target);
  else w.bytes(r.data);
  w.setU16(lengthAt, w.length - lengthAt - 2);
}

/** Builds a message (names compressed). */
export function buildMessage(m: OutMessage): Uint8Array {
  const h = m.header;
  const w = new Writer();
  w.u16(h.id);
  let flags = ((h.opcode ?? 0) & 0xf) << 11;
  if (h.response) flags |= 0x8000;
  if (h.authoritative) flags |= 0x0400;
  if (h.truncated) flags |= 0x0200;
  if (h.recursionDesired) flags |= 0x0100;
  if (h.recursionAvailable) flags |= 0x0080;
  if (h.authenticData) flags |= 0x0020;
  if (h.checkingDisabled) flags |= 0x0010;
  flags |= (h.rcode ?? 0) & 0xf;
  w.u16(flags);
  const answers = m.answers ?? [];
  const authorities = m.authorities ?? [];
  const additionals = m.additionals ?? [];
  w.u16(m.questions.length);
  w.u16(answers.length);
  w.u16(authorities.length);
  w.u16(additionals.length);
  for (const q of m.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const r of [...answers, ...authorities, ...additionals]) writeRecord(w, r);
  return w.result();
}

/** A copy of `packet` with its ID replaced (a forwarded query, a relayed response). */
export function withId(packet: Uint8Array, id: number): Uint8Array {
  const out = Uint8Array.from(packet);
  out[0] = (id >> 8) & 0xff;
  out[1] = id & 0xff;
  return out;
}
