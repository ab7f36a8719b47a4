import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseResponseHead } from "./response-head.ts";
import { Http1ParseError } from "./errors.ts";
import { DEFAULT_HTTP1_LIMITS, type Http1Limits } from "./limits.ts";

function parse(s: string, method = "GET", limits: Http1Limits = DEFAULT_HTTP1_LIMITS) {
  const b = Buffer.from(s, "latin1");
  return parseResponseHead(b, 0, b.length, limits, method);
}

function parseError(s: string, method = "GET", limits: Http1Limits = DEFAULT_HTTP1_LIMITS): string {
  try {
    parse(s, method, limits);
  } catch (err) {
    assert.ok(err instanceof Http1ParseError);
    assert.equal(err.status, 502, "a bad upstream response is always the proxy's 502");
    return err.code;
  }
  assert.fail("expected an Http1ParseError");
}

describe("parseResponseHead", () => {
  test("a 200 with Content-Length, every field exactly", () => {
    const raw =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: keep-alive, X-Hop\r\n\r\n";
    const h = parse(raw + "hello")!;
    assert.equal(h.versionMinor, 1);
    assert.equal(h.status, 200);
    assert.equal(h.reason, "OK");
    assert.deepEqual(h.headers.list, [
      "content-type",
      "text/plain",
      "content-length",
      "5",
      "connection",
      "keep-alive, X-Hop",
    ]);
    assert.equal(h.contentLength, 5);
    assert.equal(h.chunked, false);
    assert.equal(h.keepAlive, true);
    assert.equal(h.noBody, false);
    assert.equal(h.readUntilClose, false);
    assert.equal(h.upgrade, undefined);
    assert.deepEqual(h.connectionTokens, ["x-hop"]);
    assert.equal(h.headBytes, raw.length);
    for (let n = 0; n < raw.length; n++) assert.equal(parse(raw.slice(0, n)), null);
  });

  test("reason phrase may be empty, with or without the SP before it, and may hold spaces and obs-text", () => {
    assert.equal(parse("HTTP/1.1 404 \r\n\r\n")!.reason, "");
    assert.equal(parse("HTTP/1.1 404\r\n\r\n")!.reason, "");
    assert.equal(parse("HTTP/1.1 404 Not  Found \xe9\r\n\r\n")!.reason, "Not  Found \xe9");
  });

  test("no body: HEAD, 1xx, 204, 304, 2xx to CONNECT; the Content-Length is still reported", () => {
    const head = parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "HEAD")!;
    assert.deepEqual([head.noBody, head.contentLength, head.readUntilClose, head.keepAlive], [true, 100, false, true]);
    assert.equal(parse("HTTP/1.1 100 Continue\r\n\r\n")!.noBody, true);
    assert.equal(parse("HTTP/1.1 204 No Content\r\n\r\n")!.noBody, true);
    assert.equal(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")!.noBody, true);
    const tunnel = parse("HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT")!;
    assert.deepEqual([tunnel.noBody, tunnel.readUntilClose], [true, false]);
    assert.equal(parse("HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n", "CONNECT")!.noBody, false);
  });

  test("read until close without framing; keep-alive rules by version", () => {
    const h = parse("HTTP/1.1 200 OK\r\n\r\n")!;
    assert.deepEqual([h.readUntilClose, h.keepAlive, h.contentLength], [true, false, -1]);
    assert.equal(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")!.keepAlive, false);
    assert.equal(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")!.keepAlive, true);
    assert.equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")!.keepAlive, false);
    const c = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")!;
    assert.deepEqual([c.chunked, c.contentLength, c.readUntilClose, c.keepAlive], [true, -1, false, true]);
  });

  test("101 with Upgrade", () => {
    const h = parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n")!;
    assert.deepEqual([h.status, h.upgrade, h.noBody], [101, "websocket", true]);
  });

  test("malformed or ambiguous responses are refused with 502", () => {
    assert.equal(
      parseError("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"),
      "HPE_UNEXPECTED_CONTENT_LENGTH",
    );
    assert.equal(
      parseError("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
      "HPE_UNEXPECTED_CONTENT_LENGTH",
    );
    assert.equal(parseError("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), "HPE_UNKNOWN_TRANSFER_ENCODING");
    assert.equal(parseError("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), "HPE_INVALID_TRANSFER_ENCODING");
    assert.equal(
      parseError("HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"),
      "HPE_UNEXPECTED_CONTENT_LENGTH",
    );
    assert.equal(parseError("HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n"), "HPE_UNEXPECTED_CONTENT_LENGTH");
    assert.equal(parse("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")!.noBody, true);
    assert.equal(parseError("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), "HPE_INVALID_CONTENT_LENGTH");
    assert.equal(parseError("HTTP/2.0 200 OK\r\n\r\n"), "HPE_INVALID_VERSION");
    assert.equal(parseError("HTTP/1.1 20 OK\r\n\r\n"), "HPE_INVALID_STATUS");
    assert.equal(parseError("HTTP/1.1 099 OK\r\n\r\n"), "HPE_INVALID_STATUS");
    assert.equal(parseError("HTTP/1.1 200 O\x00K\r\n\r\n"), "HPE_INVALID_STATUS");
    assert.equal(parseError("HTTP/1.1 200 OK\nX: y\r\n\r\n"), "HPE_CR_EXPECTED");
    assert.equal(parseError("HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n"), "HPE_INVALID_HEADER_VALUE");
    assert.equal(parseError("HTTP/1.1 200 OK\r\n X: a\r\n\r\n"), "HPE_OBS_FOLD");
    assert.equal(parseError("ICY 200 OK\r\n\r\n"), "HPE_INVALID_VERSION");
  });

  test("a head over the limit is refused even while incomplete", () => {
    const limits = { maxHeadBytes: 40, maxRequestLineBytes: 40, maxHeaders: 10 };
    assert.equal(parseError("HTTP/1.1 200 OK\r\nX: " + "x".repeat(30), "GET", limits), "HPE_HEADER_OVERFLOW");
  });
});
