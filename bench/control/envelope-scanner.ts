// Reads DiscoveryResponse envelopes (version_info, type_url, nonce) straight off a gRPC response stream's bytes,
// as they arrive, without assembling the message: a 0.5 MB route table is skipped in place. The simulated sidecars
// of bench:control share the control plane's 2 cores, so what they spend per response is taken from it; a real
// Envoy decodes on its own machine.

export interface Envelope {
  version_info: string;
  type_url: string;
  nonce: string;
}

const enum Phase {
  Prefix,
  Field,
  Skip,
  Collect,
}

/** DiscoveryResponse fields kept: 1 version_info, 4 type_url, 5 nonce (all strings). */
const KEPT = new Set([1, 4, 5]);

export class EnvelopeScanner {
  private phase = Phase.Prefix;
  /** Bytes of a prefix or a field header that straddled chunks (at most a few dozen). */
  private small: Buffer = Buffer.alloc(0);
  /** Bytes of the current message not yet consumed. */
  private messageLeft = 0;
  private skipLeft = 0;
  private collectField = 0;
  private collectLeft = 0;
  private collected: Buffer[] = [];
  private envelope: Envelope = { version_info: "", type_url: "", nonce: "" };

  constructor(private readonly onEnvelope: (e: Envelope) => void) {}

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.phase) {
        case Phase.Prefix: {
          const take = Math.min(5 - this.small.length, chunk.length - pos);
          this.small = Buffer.concat([this.small, chunk.subarray(pos, pos + take)]);
          pos += take;
          if (this.small.length < 5) return;
          if (this.small[0] !== 0) throw new Error("compressed gRPC messages are not expected");
          this.messageLeft = this.small.readUInt32BE(1);
          this.small = Buffer.alloc(0);
          this.envelope = { version_info: "", type_url: "", nonce: "" };
          this.afterField();
          break;
        }
        case Phase.Field: {
          // A field header is a tag and, for length-delimited fields, a length: at most 20 bytes.
          const want = Math.min(20, this.messageLeft) - this.small.length;
          const take = Math.min(want, chunk.length - pos);
          this.small = Buffer.concat([this.small, chunk.subarray(pos, pos + take)]);
          pos += take;
          const header = readFieldHeader(this.small);
          if (header === undefined) {
            if (this.small.length >= Math.min(20, this.messageLeft)) throw new Error("malformed field header");
            return; // more bytes needed
          }
          const rest = this.small.subarray(header.size);
          this.small = Buffer.alloc(0);
          this.messageLeft -= header.size;
          if (header.length === 0 && !(header.wire === 2 && KEPT.has(header.field))) {
            this.afterField();
            this.pushBody(rest);
            break;
          }
          if (header.wire === 2 && KEPT.has(header.field)) {
            this.phase = Phase.Collect;
            this.collectField = header.field;
            this.collectLeft = header.length;
            this.collected = [];
            if (header.length === 0) this.finishCollect();
          } else {
            this.phase = Phase.Skip;
            this.skipLeft = header.length;
          }
          this.pushBody(rest);
          break;
        }
        case Phase.Skip: {
          const n = Math.min(this.skipLeft, chunk.length - pos);
          pos += n;
          this.skipLeft -= n;
          this.messageLeft -= n;
          if (this.skipLeft === 0) this.afterField();
          break;
        }
        case Phase.Collect: {
          const n = Math.min(this.collectLeft, chunk.length - pos);
          this.collected.push(chunk.subarray(pos, pos + n));
          pos += n;
          this.collectLeft -= n;
          this.messageLeft -= n;
          if (this.collectLeft === 0) this.finishCollect();
          break;
        }
      }
    }
  }

  /** Bytes already taken into `small` that belong after a field header: fed back through the state machine. */
  private pushBody(rest: Buffer): void {
    if (rest.length > 0) this.push(Buffer.from(rest));
  }

  private finishCollect(): void {
    const text = Buffer.concat(this.collected).toString("utf8");
    if (this.collectField === 1) this.envelope.version_info = text;
    else if (this.collectField === 4) this.envelope.type_url = text;
    else this.envelope.nonce = text;
    this.collected = [];
    this.afterField();
  }

  private afterField(): void {
    if (this.messageLeft > 0) {
      this.phase = Phase.Field;
      return;
    }
    this.phase = Phase.Prefix;
    this.onEnvelope(this.envelope);
  }
}

/** A field's tag and length (bytes to skip or collect after the header); undefined when `buf` is too short. */
function readFieldHeader(buf: Buffer): { field: number; wire: number; length: number; size: number } | undefined {
  const tag = readVarint(buf, 0);
  if (tag === undefined) return undefined;
  const field = Math.floor(tag.value / 8);
  const wire = tag.value & 7;
  if (wire === 2) {
    const len = readVarint(buf, tag.size);
    if (len === undefined) return undefined;
    return { field, wire, length: len.value, size: tag.size + len.size };
  }
  if (wire === 0) {
    const v = readVarint(buf, tag.size);
    if (v === undefined) return undefined;
    return { field, wire, length: 0, size: tag.size + v.size };
  }
  if (wire === 1) return { field, wire, length: 8, size: tag.size };
  if (wire === 5) return { field, wire, length: 4, size: tag.size };
  throw new Error(`unexpected wire type ${wire}`);
}

function readVarint(buf: Buffer, at: number): { value: number; size: number } | undefined {
  let value = 0;
  let shift = 0;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return { value, size: i - at + 1 };
    shift += 7;
  }
  return undefined;
}
