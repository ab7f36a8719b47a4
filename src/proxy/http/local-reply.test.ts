import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { ManualClock } from "../../api/clock.ts";
import { recordingExchange as exchange } from "./test-exchange.ts";
import { Headers } from "./headers.ts";
import { isGrpcRequest, sendLocalReply } from "./local-reply.ts";
import { encodeGrpcMessage, grpcStatusForLocalReply, httpToGrpcStatus } from "./grpc-status.ts";
import { createH2Downstream } from "../http2/downstream.ts";
import { listenWith } from "../http2/test-support.ts";

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

describe("sendLocalReply", () => {
  test("plain request: status, flag and details in headers, body and StreamInfo", () => {
    const ex = exchange("GET", new Headers());
    sendLocalReply(ex, 503, "UH", "no_healthy_upstream:outbound|9080||reviews");
    const r = ex.response;
    assert.deepEqual(r.calls, ["head", "data", "end"]);
    assert.equal(r.status, 503);
    assert.equal(r.headers?.get("x-trellis-response-flags"), "UH");
    assert.equal(r.headers?.get("x-trellis-details"), "no_healthy_upstream:outbound|9080||reviews");
    assert.equal(r.headers?.get("content-type"), "text/plain");
    assert.equal(r.headers?.get("server"), "trellis");
    assert.equal(r.body, "no_healthy_upstream:outbound|9080||reviews\n");
    assert.equal(r.headers?.get("content-length"), String(Buffer.byteLength(r.body)));
    assert.equal(ex.info.responseCode, 503);
    assert.equal(ex.info.responseFlags, "UH");
    assert.equal(ex.info.details, "no_healthy_upstream:outbound|9080||reviews");
  });

  test("a custom body, extra headers replacing defaults, flags appended with a comma", () => {
    const ex = exchange("GET", new Headers());
    ex.info.responseFlags = "URX";
    sendLocalReply(
      ex,
      403,
      "RBAC",
      "rbac_access_denied",
      "RBAC: access denied",
      Headers.of({ "content-type": "text/html", "x-extra": ["1", "2"] }),
    );
    const r = ex.response;
    assert.equal(r.body, "RBAC: access denied");
    assert.equal(r.headers?.getAll("content-type").join(), "text/html");
    assert.deepEqual(r.headers?.getAll("x-extra"), ["1", "2"]);
    assert.equal(ex.info.responseFlags, "URX,RBAC");
  });

  test("HEAD: content-length announced, no body bytes", () => {
    const ex = exchange("HEAD", new Headers());
    sendLocalReply(ex, 404, "NR", "route_not_found");
    assert.deepEqual(ex.response.calls, ["head", "end"]);
    assert.equal(ex.response.headers?.get("content-length"), "16");
  });

  test("head already sent: the stream is reset and the flag still recorded", () => {
    const ex = exchange("GET", new Headers());
    ex.response.head(200, new Headers());
    sendLocalReply(ex, 504, "UT", "upstream_response_timeout:r");
    assert.deepEqual(ex.response.calls, ["head", "reset"]);
    assert.equal(ex.info.responseFlags, "UT");
    assert.equal(ex.info.details, "upstream_response_timeout:r");
  });

  test("gRPC request: HTTP 200, application/grpc, grpc-status and percent-encoded grpc-message, no body", () => {
    const ex = exchange("POST", Headers.of({ "content-type": "application/grpc+proto" }));
    sendLocalReply(ex, 503, "UF", "upstream_connect_failure: 100% down\nnow");
    const r = ex.response;
    assert.deepEqual(r.calls, ["head", "end"]);
    assert.equal(r.status, 200);
    assert.equal(r.headers?.get("content-type"), "application/grpc");
    assert.equal(r.headers?.get("grpc-status"), "14");
    assert.equal(r.headers?.get("grpc-message"), "upstream_connect_failure: 100%25 down%0Anow");
    assert.equal(r.headers?.get("x-trellis-response-flags"), "UF");
    assert.equal(r.headers?.get("x-trellis-details"), "upstream_connect_failure: 100% down_now");
    assert.equal(ex.info.responseCode, 200);
  });

  test("an explicit gRPC status replaces the mapped one; the flags header carries every flag of the exchange", () => {
    const ex = exchange("POST", Headers.of({ "content-type": "application/grpc" }));
    ex.info.responseFlags = "DI";
    sendLocalReply(ex, 200, "FI", "fault_filter_abort:r", undefined, undefined, 8);
    assert.equal(ex.response.status, 200);
    assert.equal(ex.response.headers?.get("grpc-status"), "8");
    assert.equal(ex.response.headers?.get("x-trellis-response-flags"), "DI,FI");
    const plain = exchange("GET", new Headers());
    sendLocalReply(plain, 200, "FI", "fault_filter_abort:r", undefined, undefined, 8);
    assert.equal(plain.response.status, 200, "a non-gRPC caller gets the HTTP status");
    assert.equal(plain.response.headers?.get("grpc-status"), undefined);
  });

  test("isGrpcRequest follows Envoy: application/grpc, +suffix or ;params, not grpc-web", () => {
    const is = (ct?: string) => isGrpcRequest(ct === undefined ? new Headers() : Headers.of({ "content-type": ct }));
    assert.equal(is("application/grpc"), true);
    assert.equal(is("application/grpc+proto"), true);
    assert.equal(is("application/grpc;charset=utf-8"), true);
    assert.equal(is("application/grpc-web"), false);
    assert.equal(is("application/json"), false);
    assert.equal(is(undefined), false);
  });
});

describe("grpc-status mapping", () => {
  test("the canonical HTTP → gRPC table, and UT timeouts as DEADLINE_EXCEEDED", () => {
    const table: [number, number][] = [
      [400, 13],
      [401, 16],
      [403, 7],
      [404, 12],
      [429, 14],
      [502, 14],
      [503, 14],
      [504, 14],
      [500, 2],
      [408, 2],
    ];
    for (const [http, grpc] of table) assert.equal(httpToGrpcStatus(http), grpc, String(http));
    assert.equal(grpcStatusForLocalReply(504, "UT"), 4);
    assert.equal(grpcStatusForLocalReply(504, "URX,UT"), 4);
    assert.equal(grpcStatusForLocalReply(504, "UF"), 14);
  });

  test("grpc-message encoding keeps printable ASCII and encodes the rest as UTF-8 %XX", () => {
    assert.equal(encodeGrpcMessage("plain text: ok"), "plain text: ok");
    assert.equal(encodeGrpcMessage("é%"), "%C3%A9%25");
  });
});

describe("local replies over the HTTP/2 downstream", () => {
  async function h2(status: number, flag: string, details: string) {
    const d = createH2Downstream((ex) => sendLocalReply(ex, status, flag, details), {
      clock: new ManualClock(),
      streamIdleTimeoutMs: 0,
    });
    const { port, server } = await listenWith(d);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    cleanups.push(() => {
      client.destroy();
      d.close();
      server.close();
    });
    return client;
  }

  function send(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders) {
    return new Promise<{ headers: http2.IncomingHttpHeaders; flags: number; body: string; trailers: unknown }>(
      (resolve, reject) => {
        const req = client.request(headers, { endStream: true });
        let head: http2.IncomingHttpHeaders = {};
        let flags = 0;
        let trailers: unknown;
        let body = "";
        req.on("response", (h, f) => ((head = h), (flags = f)));
        req.on("trailers", (t) => (trailers = t));
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => resolve({ headers: head, flags, body, trailers }));
        req.on("error", reject);
      },
    );
  }

  test("plain h2 request: status, headers and the details as body", async () => {
    const client = await h2(404, "NR", "route_not_found:reviews");
    const r = await send(client, { ":method": "GET", ":path": "/" });
    assert.equal(r.headers[":status"], 404);
    assert.equal(r.headers["x-trellis-response-flags"], "NR");
    assert.equal(r.headers["x-trellis-details"], "route_not_found:reviews");
    assert.equal(r.body, "route_not_found:reviews\n");
  });

  test("gRPC h2 request: one HEADERS frame with END_STREAM carrying grpc-status (Trailers-Only)", async () => {
    const client = await h2(503, "NC", "cluster_not_found:reviews");
    const r = await send(client, {
      ":method": "POST",
      ":path": "/pkg.S/M",
      "content-type": "application/grpc",
      te: "trailers",
    });
    assert.equal(r.headers[":status"], 200);
    assert.ok((r.flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0);
    assert.equal(r.headers["grpc-status"], "14");
    assert.equal(r.headers["grpc-message"], "cluster_not_found:reviews");
    assert.equal(r.headers["x-trellis-response-flags"], "NC");
    assert.equal(r.body, "");
    assert.equal(r.trailers, undefined);
  });
});
