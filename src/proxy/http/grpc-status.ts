// gRPC status codes and the HTTP → gRPC mapping a proxy uses when it answers a gRPC request itself. The mapping is
// gRPC's own ("doc/http-grpc-status-mapping.md"), which Envoy also applies (Grpc::Utility::httpToGrpcStatus).

import { GrpcStatus, type GrpcStatusCode } from "../../api/grpc-status.ts";

export { GrpcStatus, type GrpcStatusCode };

/** The gRPC status a client should see for an HTTP status (gRPC's canonical table). */
export function httpToGrpcStatus(httpStatus: number): GrpcStatusCode {
  switch (httpStatus) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/**
 * The gRPC status for a reply the proxy makes itself: the canonical mapping, except that the proxy's own request
 * timeout (504 with flag UT) is DEADLINE_EXCEEDED, as Envoy answers it — the client's deadline logic, not its
 * retry-on-UNAVAILABLE logic, is what should see it.
 */
export function grpcStatusForLocalReply(httpStatus: number, flags: string): GrpcStatusCode {
  if (httpStatus === 504 && hasFlag(flags, "UT")) return GrpcStatus.DEADLINE_EXCEEDED;
  return httpToGrpcStatus(httpStatus);
}

function hasFlag(flags: string, flag: string): boolean {
  if (flags === flag) return true;
  return flags.split(",").includes(flag);
}

/**
 * Percent-encodes a grpc-message value as the gRPC wire spec asks: UTF-8, then every byte outside printable
 * ASCII (0x20–0x7E) and "%" itself becomes %XX.
 */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    if (byte < 0x20 || byte > 0x7e || byte === 0x25)
      out += "%" + (byte < 16 ? "0" : "") + byte.toString(16).toUpperCase();
    else out += String.fromCharCode(byte);
  }
  return out;
}
