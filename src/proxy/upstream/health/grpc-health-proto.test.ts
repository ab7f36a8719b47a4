import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeHealthCheckResponse, encodeHealthCheckRequest } from "./grpc-health-proto.ts";

function frame(message: number[]): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(out, 5);
  return out;
}

describe("grpc.health.v1 messages", () => {
  test("HealthCheckRequest: field 1 as a length-delimited string, in a gRPC frame", () => {
    assert.deepEqual([...encodeHealthCheckRequest("")], [0, 0, 0, 0, 0]);
    assert.deepEqual([...encodeHealthCheckRequest("ab")], [0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62]);
    const long = encodeHealthCheckRequest("x".repeat(200));
    assert.deepEqual([...long.subarray(0, 8)], [0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01]);
  });

  test("HealthCheckResponse: the status, unknown fields skipped, an empty message is UNKNOWN", () => {
    assert.deepEqual(decodeHealthCheckResponse(frame([0x08, 1])), { status: 1 });
    assert.deepEqual(decodeHealthCheckResponse(frame([0x08, 2])), { status: 2 });
    assert.deepEqual(decodeHealthCheckResponse(frame([])), { status: 0 });
    assert.deepEqual(decodeHealthCheckResponse(frame([0x12, 1, 0x41, 0x08, 1, 0x1d, 0, 0, 0, 0])), { status: 1 });
  });

  test("malformed answers are errors, never exceptions", () => {
    assert.deepEqual(decodeHealthCheckResponse(Buffer.alloc(0)), { error: "no response message" });
    assert.deepEqual(decodeHealthCheckResponse(Buffer.from([1, 0, 0, 0, 0])), { error: "compressed response message" });
    assert.deepEqual(decodeHealthCheckResponse(Buffer.concat([frame([0x08, 1]), frame([0x08, 1])])), {
      error: "expected exactly one response message",
    });
    assert.deepEqual(decodeHealthCheckResponse(frame([0x08])), { error: "malformed response message" });
    assert.deepEqual(decodeHealthCheckResponse(frame([0x12, 5, 1])), { error: "malformed response message" });
    assert.deepEqual(decodeHealthCheckResponse(frame([0x0b])), { error: "malformed response message" });
  });
});
