import { test } from "node:test";
import assert from "node:assert/strict";
import * as interceptors from "@grpc/grpc-js/build/src/server-interceptors.js";
import { frameForGrpc, preframing } from "./preframed.ts";

test("grpc-js's framing step is found and wrapped (this grpc-js version)", () => {
  assert.equal(preframing, true);
});

test("a framed response is the message with gRPC's 5-byte prefix, and grpc-js passes it through unchanged", () => {
  const message = Buffer.from("hello");
  const framed = frameForGrpc(message);
  assert.deepEqual([...framed.subarray(0, 5)], [0, 0, 0, 0, 5]);
  assert.equal(framed.subarray(5).toString(), "hello");
  const proto = (interceptors as unknown as { BaseServerInterceptingCall: { prototype: Record<string, unknown> } })
    .BaseServerInterceptingCall.prototype;
  const serialize = proto.serializeMessage as (this: unknown, v: unknown) => Buffer;
  // A call whose handler serializes by passing buffers through, as the ADS service's does.
  const call = { handler: { serialize: (v: Buffer) => v } };
  assert.equal(serialize.call(call, framed), framed, "framed here: sent as it is");
  const other = serialize.call(call, message);
  assert.deepEqual([...other.subarray(0, 5)], [0, 0, 0, 0, 5], "anything else is framed by grpc-js as before");
  assert.equal(other.subarray(5).toString(), "hello");
});
