// The one way the proxy answers a request by itself (no route, no healthy upstream, overflow, timeout, fault,
// RBAC…). Every such answer says why — a response flag and a detail, in headers, in the body and in StreamInfo
// for the access log — as Envoy's local replies and response code details do. The flags header carries every
// flag of the exchange (a delayed, then aborted request says "DI,FI"), as the access log does. A gRPC client gets
// a gRPC answer (HTTP 200, trailers-only, grpc-status), because it cannot read an HTTP error page.

import { Headers } from "./headers.ts";
import type { Exchange } from "./exchange.ts";
import { encodeGrpcMessage, grpcStatusForLocalReply } from "./grpc-status.ts";

export const SERVER_NAME = "trellis";
export const FLAGS_HEADER = "x-trellis-response-flags";
export const DETAILS_HEADER = "x-trellis-details";

/** Whether a request is gRPC: content-type application/grpc, optionally "+proto" / ";…" (as Envoy decides). */
export function isGrpcRequest(headers: Headers): boolean {
  const ct = headers.get("content-type");
  if (ct === undefined || !ct.startsWith("application/grpc")) return false;
  if (ct.length === 16) return true;
  const next = ct[16];
  return next === "+" || next === ";";
}

/**
 * Answers `ex` from the proxy itself with `status`, recording `flag` (Envoy-style, e.g. "UH") and `details`
 * (e.g. "no_healthy_upstream:outbound|9080||reviews") in ex.info. `body` defaults to the details and a newline.
 * If the response head is already out, no reply can be made: the stream is reset instead (the flag is kept).
 * `grpcStatus` is what a gRPC caller gets when the cause has a gRPC status of its own (a fault filter's
 * grpc_status abort); without it the status is mapped from `status`. Others get `status` either way.
 */
export function sendLocalReply(
  ex: Exchange,
  status: number,
  flag: string,
  details: string,
  body?: string,
  extraHeaders?: Headers,
  grpcStatus?: number,
): void {
  const info = ex.info;
  info.responseFlags = info.responseFlags === "" ? flag : info.responseFlags + "," + flag;
  info.details = details;
  const response = ex.response;
  if (response.headSent) {
    response.reset();
    return;
  }
  const safeDetails = headerSafe(details);
  if (isGrpcRequest(ex.headers)) {
    // local_reply_config applies here too, as in Envoy: a mapped status gives the gRPC status, the body the message.
    let message = details;
    let grpcRewritten: ReturnType<NonNullable<typeof info.localReply>["rewrite"]> | undefined;
    if (info.localReply !== undefined) {
      grpcRewritten = info.localReply.rewrite(ex, status, body ?? "");
      status = grpcRewritten.status;
      if (grpcRewritten.body !== "") message = grpcRewritten.body;
    }
    info.responseCode = 200;
    const headers = new Headers([
      "content-type",
      "application/grpc",
      "grpc-status",
      String(grpcStatus ?? grpcStatusForLocalReply(status, info.responseFlags)),
      "grpc-message",
      encodeGrpcMessage(message),
      FLAGS_HEADER,
      info.responseFlags,
      DETAILS_HEADER,
      safeDetails,
      "server",
      SERVER_NAME,
    ]);
    applyExtra(headers, extraHeaders);
    grpcRewritten?.addHeaders(headers);
    // Head carrying grpc-status, then end with no data: the codec sends one HEADERS frame with END_STREAM
    // (gRPC's Trailers-Only form).
    response.head(200, headers);
    response.end();
    return;
  }
  let text = body ?? details + "\n";
  let contentType = "text/plain";
  const rewritten = info.localReply?.rewrite(ex, status, text);
  if (rewritten !== undefined) {
    status = rewritten.status;
    text = rewritten.body;
    if (rewritten.contentType !== undefined) contentType = rewritten.contentType;
  }
  info.responseCode = status;
  const payload = Buffer.from(text, "utf8");
  // As Envoy's: content-type text/plain only with a body; an empty one is just "content-length: 0".
  const headers =
    payload.length === 0
      ? new Headers([
          "content-length",
          "0",
          FLAGS_HEADER,
          info.responseFlags,
          DETAILS_HEADER,
          safeDetails,
          "server",
          SERVER_NAME,
        ])
      : new Headers([
          "content-type",
          contentType,
          "content-length",
          String(payload.length),
          FLAGS_HEADER,
          info.responseFlags,
          DETAILS_HEADER,
          safeDetails,
          "server",
          SERVER_NAME,
        ]);
  applyExtra(headers, extraHeaders);
  rewritten?.addHeaders(headers);
  response.head(status, headers);
  // A HEAD answer announces the length but carries no body (RFC 9110 §9.3.2).
  if (payload.length > 0 && ex.method !== "HEAD") response.data(payload);
  response.end();
}

function applyExtra(headers: Headers, extra: Headers | undefined): void {
  if (extra === undefined) return;
  // Extra headers replace defaults of the same name; repeated extra values (set-cookie) all stay.
  const l = extra.list;
  for (let i = 0; i < l.length; i += 2) headers.remove(l[i]!);
  for (let i = 0; i < l.length; i += 2) headers.add(l[i]!, l[i + 1]!);
}

/** Details come from resource names; anything a header value cannot carry (controls, non-Latin-1) becomes "_". */
function headerSafe(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 9) || c === 0x7f || c > 0xff) return value.replace(/[^\t\x20-\x7e\x80-\xff]/g, "_");
  }
  return value;
}
