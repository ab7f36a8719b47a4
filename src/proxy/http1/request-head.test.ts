import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseRequestHead } from "./request-head.ts";
import { Http1ParseError } from "./errors.ts";
import { DEFAULT_HTTP1_LIMITS, DEFAULT_LIMITS, type Http1Limits } from "./limits.ts";

function parse(s: string, limits: Http1Limits = DEFAULT_HTTP1_LIMITS) {
  const b = Buffer.from(s, "latin1");
  return parseRequestHead(b, 0, b.length, limits);
}

function parseError(s: string, limits: Http1Limits = DEFAULT_HTTP1_LIMITS): { code: string; status: number } {
  try {
    parse(s, limits);
  } catch (err) {
    assert.ok(err instanceof Http1ParseError, `not an Http1ParseError: ${String(err)}`);
    return { code: err.code, status: err.status };
  }
  assert.fail("expected an Http1ParseError");
}

const GET =
  "GET /api/items?id=42 HTTP/1.1\r\nHost: Backend.svc:8080\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\nX-Custom-Thing:  hello  world \t\r\n\r\n";

describe("parseRequestHead", () => {
  test("default limits are Envoy's: 60 KiB head, 16 KiB request line, 100 fields", () => {
    assert.deepEqual({ ...DEFAULT_HTTP1_LIMITS }, { maxHeadBytes: 61440, maxRequestLineBytes: 16384, maxHeaders: 100 });
    assert.equal(DEFAULT_LIMITS, DEFAULT_HTTP1_LIMITS);
  });

  test("a typical GET, every field exactly", () => {
    const h = parse(GET)!;
    assert.equal(h.method, "GET");
    assert.equal(h.target, "/api/items?id=42");
    assert.equal(h.targetForm, "origin");
    assert.equal(h.path, "/api/items?id=42");
    assert.equal(h.versionMinor, 1);
    assert.deepEqual(h.headers.list, [
      "host",
      "Backend.svc:8080",
      "user-agent",
      "curl/8.0",
      "accept",
      "*/*",
      "x-custom-thing",
      "hello  world",
    ]);
    assert.equal(h.host, "Backend.svc:8080");
    assert.equal(h.contentLength, -1);
    assert.equal(h.chunked, false);
    assert.equal(h.keepAlive, true);
    assert.equal(h.upgrade, undefined);
    assert.equal(h.expectContinue, false);
    assert.equal(h.connectionTokens, undefined);
    assert.equal(h.headBytes, Buffer.byteLength(GET));
  });

  test("returns null for every proper prefix of a valid head", () => {
    for (let n = 0; n < GET.length; n++) assert.equal(parse(GET.slice(0, n)), null, `prefix of ${n} bytes`);
  });

  test("parses at an offset and stops at `end`, leaving the body and later bytes alone", () => {
    const msg = "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
    const b = Buffer.from("junk" + msg + "GET / HTTP/1.1\r\n", "latin1");
    const h = parseRequestHead(b, 4, 4 + msg.length, DEFAULT_HTTP1_LIMITS)!;
    assert.equal(h.headBytes, msg.length - 3);
    assert.equal(h.contentLength, 3);
    assert.equal(parseRequestHead(b, 4, 4 + 20, DEFAULT_HTTP1_LIMITS), null);
  });

  test("field names lower-cased, values trimmed of OWS, empty and obs-text values kept", () => {
    const h = parse(
      "GET / HTTP/1.1\r\nHOST: a\r\nX-MiXeD_Name: \t v \r\nX-Empty:\r\nX-Blank:   \r\nX-Latin: caf\xe9\r\n\r\n",
    )!;
    assert.deepEqual(h.headers.list, [
      "host",
      "a",
      "x-mixed_name",
      "v",
      "x-empty",
      "",
      "x-blank",
      "",
      "x-latin",
      "caf\xe9",
    ]);
  });

  test("Content-Length: leading zeros allowed; chunked is case-insensitive", () => {
    assert.equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n")!.contentLength, 7);
    assert.equal(
      parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9007199254740991\r\n\r\n")!.contentLength,
      2 ** 53 - 1,
    );
    const c = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n")!;
    assert.equal(c.chunked, true);
    assert.equal(c.contentLength, -1);
  });

  test("keep-alive by version and Connection; extra Connection tokens lower-cased", () => {
    assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")!.keepAlive, false);
    assert.equal(parse("GET / HTTP/1.0\r\n\r\n")!.keepAlive, false);
    assert.equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")!.keepAlive, true);
    assert.equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")!.keepAlive, false);
    const h = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Foo, keep-alive\r\nConnection: ,Bar\r\n\r\n")!;
    assert.equal(h.keepAlive, true);
    assert.deepEqual(h.connectionTokens, ["x-foo", "bar"]);
    assert.deepEqual(parseError("GET / HTTP/1.1\r\nHost: a\r\nConnection: a b\r\n\r\n"), {
      code: "HPE_INVALID_CONNECTION",
      status: 400,
    });
  });

  test("upgrade only when Connection lists it, lower-cased first protocol, HTTP/1.1 only", () => {
    const ws = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket, h2c\r\nConnection: keep-alive, Upgrade\r\n\r\n";
    assert.equal(parse(ws)!.upgrade, "websocket");
    assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")!.upgrade, undefined);
    assert.equal(parse("GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n")!.upgrade, undefined);
  });

  test("Expect: 100-continue, any case, HTTP/1.1 only", () => {
    assert.equal(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n")!.expectContinue, true);
    assert.equal(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n")!.expectContinue, false);
    assert.equal(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue-ish\r\n\r\n")!.expectContinue, false);
  });

  test("target forms: absolute (its authority wins over Host), authority for CONNECT, asterisk for OPTIONS", () => {
    const abs = parse("GET HTTP://Example.com:8080?q=1 HTTP/1.1\r\nHost: other\r\n\r\n")!;
    assert.deepEqual(
      [abs.targetForm, abs.host, abs.path, abs.target],
      ["absolute", "Example.com:8080", "/?q=1", "HTTP://Example.com:8080?q=1"],
    );
    assert.equal(parse("GET https://a/x/y HTTP/1.1\r\nHost: a\r\n\r\n")!.path, "/x/y");
    assert.equal(parse("GET http://a HTTP/1.1\r\nHost: a\r\n\r\n")!.path, "/");
    const c = parse("CONNECT [::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n")!;
    assert.deepEqual([c.targetForm, c.host, c.path], ["authority", "[::1]:443", "[::1]:443"]);
    const o = parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")!;
    assert.deepEqual([o.targetForm, o.path], ["asterisk", "*"]);
    assert.equal(parseError("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
  });

  test("methods: common ones interned, any token accepted, case kept", () => {
    assert.equal(parse("PATCH / HTTP/1.1\r\nHost: a\r\n\r\n")!.method, "PATCH");
    assert.equal(parse("M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n")!.method, "M-SEARCH");
    assert.equal(parse("get / HTTP/1.1\r\nHost: a\r\n\r\n")!.method, "get");
  });

  test("leading empty lines are skipped and counted", () => {
    const h = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")!;
    assert.equal(h.headBytes, 4 + 27);
    assert.equal(parse("\r\n"), null);
    assert.equal(parseError("\r\rGET").code, "HPE_LF_EXPECTED");
  });

  test("errors carry llhttp's codes and the status to answer", () => {
    const cases: [string, string, number][] = [
      ["GET / HTTP/1.1\r\nHost: a\r\nX: a\x00\r\n\r\n", "HPE_INVALID_HEADER_VALUE", 400],
      ["GET / HTTP/1.1\r\nHost: a\r\nX : a\r\n\r\n", "HPE_INVALID_HEADER_TOKEN", 400],
      ["GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", "HPE_OBS_FOLD", 400],
      ["GET / HTTP/1.1\nHost: a\r\n\r\n", "HPE_CR_EXPECTED", 400],
      ["GET / HTTP/1.1\r\nHost: a\r\n\rx", "HPE_LF_EXPECTED", 400],
      ["GET / HTTP/1.1\r\n\r\n", "HPE_MISSING_HOST", 400],
      ["GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "HPE_DUPLICATE_HOST", 400],
      ["GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "HPE_INVALID_HOST", 400],
      [
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        "HPE_UNEXPECTED_CONTENT_LENGTH",
        400,
      ],
      ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1a\r\n\r\n", "HPE_INVALID_CONTENT_LENGTH", 400],
      ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9007199254740992\r\n\r\n", "HPE_INVALID_CONTENT_LENGTH", 400],
      ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br\r\n\r\n", "HPE_UNKNOWN_TRANSFER_ENCODING", 501],
      ["POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "HPE_INVALID_TRANSFER_ENCODING", 400],
      [
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HPE_UNEXPECTED_CONTENT_LENGTH",
        400,
      ],
      ["GET / HTTP/3.0\r\nHost: a\r\n\r\n", "HPE_INVALID_VERSION", 505],
      ["GET / HTTP/1.x\r\nHost: a\r\n\r\n", "HPE_INVALID_VERSION", 400],
      ["GET / HTTX/1.1\r\n", "HPE_INVALID_CONSTANT", 400],
      [" GET / HTTP/1.1\r\n", "HPE_INVALID_METHOD", 400],
      ["GET /\x7f HTTP/1.1\r\n", "HPE_INVALID_URL", 400],
      ["GET a HTTP/1.1\r\nHost: a\r\n\r\n", "HPE_INVALID_URL", 400],
    ];
    for (const [raw, code, status] of cases) assert.deepEqual(parseError(raw), { code, status }, JSON.stringify(raw));
  });

  test("errors are found as soon as the bad byte arrives, before the head is complete", () => {
    assert.equal(parseError("GET / HTTP/1.1\r\nHost: a\r\nX: \x00").code, "HPE_INVALID_HEADER_VALUE");
    assert.equal(parseError("GET / HTTP/1.1\nHo").code, "HPE_CR_EXPECTED");
  });

  test("size limits: 414 for the request line, 431 for the head and the field count, also while incomplete", () => {
    const limits = { maxHeadBytes: 64, maxRequestLineBytes: 24, maxHeaders: 2 };
    assert.deepEqual(parseError("GET /" + "a".repeat(30), limits), { code: "HPE_URI_TOO_LONG", status: 414 });
    assert.deepEqual(parseError("GET /" + "a".repeat(30) + " HTTP/1.1\r\n", limits), {
      code: "HPE_URI_TOO_LONG",
      status: 414,
    });
    // Request line of exactly 24 bytes including CRLF is fine.
    assert.equal(parse("GET /aaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n", limits)!.target, "/aaaaaaaa");
    const slow = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: " + "s".repeat(40);
    assert.deepEqual(parseError(slow, limits), { code: "HPE_HEADER_OVERFLOW", status: 431 });
    assert.deepEqual(parseError("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits), {
      code: "HPE_TOO_MANY_HEADERS",
      status: 431,
    });
    // A head of exactly maxHeadBytes is accepted; one byte more is not.
    const exact = "GET / HTTP/1.1\r\nHost: a\r\nX: " + "v".repeat(64 - 32) + "\r\n\r\n";
    assert.equal(exact.length, 64);
    assert.equal(parse(exact, limits)!.headBytes, 64);
    assert.equal(parseError(exact.replace("X: ", "X: v"), limits).status, 431);
  });
});
