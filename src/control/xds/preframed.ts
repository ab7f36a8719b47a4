// Responses framed for gRPC once, for every stream that sends them. grpc-js frames each message it sends (a 5-byte
// prefix) by allocating a new buffer and copying the message into it: for a 0.5 MB route table pushed to 2000
// proxies that is a gigabyte of copies and allocations per change — measured at about 40 % of the control plane's
// time for such a push, most of it garbage collection. So the shared response is framed here, once, and grpc-js's
// framing step passes buffers framed here through unchanged.
//
// That step (BaseServerInterceptingCall.serializeMessage) is internal to grpc-js; it is wrapped only when it is
// there, and only buffers this module framed bypass it. Where it is not there (another grpc-js version),
// `preframing` is false and responses are written unframed, as before: an optimisation, never a requirement.

import * as interceptors from "@grpc/grpc-js/build/src/server-interceptors.js";

const framed = new WeakSet<Buffer>();

type SerializeMessage = (this: unknown, value: unknown) => Buffer;

function install(): boolean {
  const proto = (interceptors as unknown as { BaseServerInterceptingCall?: { prototype: Record<string, unknown> } })
    .BaseServerInterceptingCall?.prototype;
  const original = proto?.serializeMessage as SerializeMessage | undefined;
  if (proto === undefined || typeof original !== "function") return false;
  if ((original as { trellisPreframed?: boolean }).trellisPreframed) return true;
  const wrapped: SerializeMessage = function (this: unknown, value: unknown): Buffer {
    return Buffer.isBuffer(value) && framed.has(value) ? value : original.call(this, value);
  };
  (wrapped as { trellisPreframed?: boolean }).trellisPreframed = true;
  proto.serializeMessage = wrapped;
  return true;
}

/** Whether responses can be framed here (grpc-js's framing step was found and wrapped). */
export const preframing = install();

/** `message` with gRPC's 5-byte length prefix (uncompressed): a gRPC message as it goes on an HTTP/2 stream. */
export function grpcFrame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(message.length + 5);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** `message` framed (grpcFrame) and marked to go out through grpc-js as it is. */
export function frameForGrpc(message: Buffer): Buffer {
  const out = grpcFrame(message);
  framed.add(out);
  return out;
}
