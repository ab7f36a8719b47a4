// grpc.health.v1 messages, encoded by hand (two tiny messages do not justify a protobuf library in src/):
//   message HealthCheckRequest  { string service = 1; }
//   message HealthCheckResponse { ServingStatus status = 1; }   // UNKNOWN 0, SERVING 1, NOT_SERVING 2, SERVICE_UNKNOWN 3
// and gRPC's length-prefixed framing (1 byte compressed flag, 4 bytes big-endian length, the message).

export const HEALTH_CHECK_PATH = "/grpc.health.v1.Health/Check";
export const SERVING = 1;
const STATUS_NAMES = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

export function servingStatusName(status: number): string {
  return STATUS_NAMES[status] ?? String(status);
}

/** A HealthCheckRequest for `service`, framed for the wire. */
export function encodeHealthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, "utf8");
  const message = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** The status of the one framed HealthCheckResponse in `body`, or why it cannot be read. */
export function decodeHealthCheckResponse(body: Buffer): { status: number } | { error: string } {
  if (body.length < 5) return { error: "no response message" };
  if (body.readUInt8(0) !== 0) return { error: "compressed response message" };
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) return { error: "expected exactly one response message" };
  return readStatus(body.subarray(5));
}

function readStatus(message: Buffer): { status: number } | { error: string } {
  let status = 0; // proto3: an absent field is its default, UNKNOWN
  let at = 0;
  while (at < message.length) {
    const tag = readVarint(message, at);
    if (tag === undefined) return { error: "malformed response message" };
    at = tag.next;
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    if (wireType === 0) {
      const value = readVarint(message, at);
      if (value === undefined) return { error: "malformed response message" };
      at = value.next;
      if (field === 1) status = value.value;
    } else if (wireType === 2) {
      const length = readVarint(message, at);
      if (length === undefined || length.next + length.value > message.length) {
        return { error: "malformed response message" };
      }
      at = length.next + length.value;
    } else if (wireType === 1 || wireType === 5) {
      at += wireType === 1 ? 8 : 4;
      if (at > message.length) return { error: "malformed response message" };
    } else return { error: "malformed response message" };
  }
  return { status };
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n >= 0x80) {
    bytes.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/** A varint (up to 10 bytes; values past 2^53 lose precision, which no health status comes near). */
function readVarint(buf: Buffer, start: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = start; i < buf.length && i < start + 10; i++) {
    const byte = buf[i]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
    scale *= 0x80;
  }
  return undefined;
}
