import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  compileAccessLogFormat,
  compileJsonAccessLogFormat,
  DEFAULT_ACCESS_LOG_FORMAT,
  type AccessLogEntry,
  type HeaderLookup,
  type TcpAccessLogEntry,
} from "./access-log-format.ts";
import { TrellisError } from "../api/errors.ts";

/** A minimal header lookup (the proxy passes its Headers; names lower-case). */
function headers(pairs: Record<string, string>): HeaderLookup {
  return { get: (name) => pairs[name] };
}

// 2023-11-14T22:13:20.123Z
const START = 1_700_000_000_123;

function entry(overrides: Partial<AccessLogEntry> = {}): AccessLogEntry {
  return {
    startWallMs: START,
    method: "GET",
    path: "/api/v1?x=1",
    scheme: "http",
    authority: "backend.local",
    protocol: "HTTP/1.1",
    responseCode: 200,
    responseFlags: "",
    responseCodeDetails: "via_upstream",
    bytesReceived: 12,
    bytesSent: 1024,
    durationMs: 7.9,
    upstreamServiceTimeMs: 5.4,
    requestHeaders: headers({
      "x-forwarded-for": "10.0.0.9",
      "user-agent": "curl/8.0",
      "x-request-id": "abc-123",
      "x-long": "0123456789",
    }),
    responseHeaders: headers({ "content-type": "text/plain" }),
    upstreamHost: "127.0.0.1:8080",
    upstreamCluster: "backend",
    routeName: "default",
    attempts: 1,
    downstreamRemoteAddress: "10.0.0.9:51000",
    downstreamLocalAddress: "10.0.0.2:15001",
    ...overrides,
  };
}

const fmt = (format: string, e: AccessLogEntry = entry()) => compileAccessLogFormat(format)(e);

describe("compileAccessLogFormat: the default format", () => {
  test("an HTTP request", () => {
    assert.equal(
      fmt(DEFAULT_ACCESS_LOG_FORMAT),
      '[2023-11-14T22:13:20.123Z] "GET /api/v1?x=1 HTTP/1.1" 200 - 12 1024 7 5 "10.0.0.9" "curl/8.0" "abc-123" ' +
        '"backend.local" "127.0.0.1:8080"\n',
    );
  });

  test("a local reply: flags, no upstream", () => {
    const e = entry({
      responseCode: 503,
      responseFlags: "UH",
      upstreamHost: undefined,
      upstreamServiceTimeMs: undefined,
      originalPath: "/before-rewrite",
    });
    assert.equal(
      fmt(DEFAULT_ACCESS_LOG_FORMAT, e),
      '[2023-11-14T22:13:20.123Z] "GET /before-rewrite HTTP/1.1" 503 UH 12 1024 7 - "10.0.0.9" "curl/8.0" "abc-123" ' +
        '"backend.local" "-"\n',
    );
  });

  test("a TCP connection prints - for HTTP fields and 0 for the code", () => {
    const tcp: TcpAccessLogEntry = {
      startWallMs: START,
      responseCode: 0,
      responseFlags: "",
      bytesReceived: 100,
      bytesSent: 200,
      durationMs: 1500,
      upstreamHost: "127.0.0.1:5432",
      upstreamCluster: "db",
    };
    assert.equal(
      fmt(DEFAULT_ACCESS_LOG_FORMAT, tcp),
      '[2023-11-14T22:13:20.123Z] "- - -" 0 - 100 200 1500 - "-" "-" "-" "-" "127.0.0.1:5432"\n',
    );
  });
});

describe("compileAccessLogFormat: operators", () => {
  const cases: [string, string, Partial<AccessLogEntry>?][] = [
    ["%PROTOCOL%", "HTTP/1.1"],
    ["%RESPONSE_CODE%", "200"],
    ["%RESPONSE_FLAGS%", "NR,URX", { responseFlags: "NR,URX" }],
    ["%RESPONSE_CODE_DETAILS%", "via_upstream"],
    ["%BYTES_RECEIVED% %BYTES_SENT%", "12 1024"],
    ["%DURATION%", "7"],
    ["%UPSTREAM_HOST%", "127.0.0.1:8080"],
    ["%UPSTREAM_CLUSTER%", "backend"],
    ["%ROUTE_NAME%", "default"],
    ["%ROUTE_NAME%", "-", { routeName: undefined }],
    ["%UPSTREAM_REQUEST_ATTEMPT_COUNT%", "3", { attempts: 3 }],
    ["%UPSTREAM_REQUEST_ATTEMPT_COUNT%", "0", { attempts: undefined }],
    ["%DOWNSTREAM_REMOTE_ADDRESS%", "10.0.0.9:51000"],
    ["%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", "10.0.0.9"],
    ["%DOWNSTREAM_LOCAL_ADDRESS%", "10.0.0.2:15001"],
    ["%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%", "::1", { downstreamLocalAddress: "[::1]:15001" }],
    ["%REQUESTED_SERVER_NAME%", "-"],
    ["%REQUESTED_SERVER_NAME%", "api.example.com", { requestedServerName: "api.example.com" }],
    ["%REQ(:METHOD)% %REQ(:PATH)% %REQ(:AUTHORITY)% %REQ(:SCHEME)%", "GET /api/v1?x=1 backend.local http"],
    ["%REQ(HOST)%", "backend.local"],
    ["%REQ(User-Agent)%", "curl/8.0"],
    ["%REQ(X-MISSING)%", "-"],
    ["%REQ(X-MISSING?USER-AGENT)%", "curl/8.0"],
    ["%REQ(X-LONG):4%", "0123"],
    ["%REQ(X-LONG?USER-AGENT):100%", "0123456789"],
    ["%REQUEST_HEADER(X-REQUEST-ID)%", "abc-123"],
    ["%RESP(CONTENT-TYPE)% %RESPONSE_HEADER(content-type):4%", "text/plain text"],
    ["%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", "5"],
    ["%RESP(:STATUS)%", "200"],
    ["%TRAILER(GRPC-MESSAGE)%", "-"],
    ["%TRAILER(GRPC-MESSAGE)%", "boom", { responseTrailers: headers({ "grpc-message": "boom" }) }],
    ["%GRPC_STATUS% %GRPC_STATUS_NUMBER%", "Unavailable 14", { responseTrailers: headers({ "grpc-status": "14" }) }],
    ["%START_TIME(%Y/%m/%dT%H:%M:%S%z %s)%", "2023/11/14T22:13:20+0000 1700000000"],
    ["%START_TIME(%F %T.%3f)%", "2023-11-14 22:13:20.123"],
    ["%START_TIME(%s.%6f)%", "1700000000.123000"],
    ["%CONNECTION_ID% %DYNAMIC_METADATA(istio.mixer:status)%", "- -"],
    ["100%% sure", "100% sure"],
    ["no operators at all", "no operators at all"],
  ];
  for (const [format, expected, overrides] of cases) {
    test(`${format} → ${expected}`, () => assert.equal(fmt(format, entry(overrides)), expected));
  }

  test("the upstream service time header wins over the recorded number", () => {
    const e = entry({ responseHeaders: headers({ "x-envoy-upstream-service-time": "42" }) });
    assert.equal(fmt("%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", e), "42");
  });

  test("omit_empty_values prints missing values as nothing", () => {
    const f = compileAccessLogFormat("[%ROUTE_NAME%][%REQ(X-NONE)%]", { omitEmptyValues: true });
    assert.equal(f(entry({ routeName: undefined })), "[][]");
  });

  test("unknown operators and broken syntax are refused with a stable code", () => {
    for (const bad of ["%NOPE%", "%REQ%", "%REQ()%", "%REQ(A?B?C)%", "50% off", "%PROTOCOL(x)%", "%REQ(X"]) {
      assert.throws(
        () => compileAccessLogFormat(bad),
        (e: unknown) => e instanceof TrellisError && e.code === "TRELLIS_ACCESS_LOG_FORMAT",
        bad,
      );
    }
  });
});

describe("compileJsonAccessLogFormat", () => {
  test("one object per line; lone operators keep their type; missing is null", () => {
    const f = compileJsonAccessLogFormat({
      start: "%START_TIME%",
      method: "%REQ(:METHOD)%",
      code: "%RESPONSE_CODE%",
      bytes: "%BYTES_SENT%",
      route: "%ROUTE_NAME%",
      request: "%REQ(:METHOD)% %REQ(:PATH)% via %ROUTE_NAME%",
      upstream: { host: "%UPSTREAM_HOST%", cluster: "%UPSTREAM_CLUSTER%" },
      constant: 7,
      'quote"key': "%REQ(X-QUOTE)%",
    });
    const line = f(entry({ routeName: undefined, requestHeaders: headers({ "x-quote": 'say "hi"\n' }) }));
    assert.ok(line.endsWith("}\n"));
    assert.equal(line.indexOf("\n"), line.length - 1);
    assert.deepEqual(JSON.parse(line), {
      start: "2023-11-14T22:13:20.123Z",
      method: "GET",
      code: 200,
      bytes: 1024,
      route: null,
      request: "GET /api/v1?x=1 via -",
      upstream: { host: "127.0.0.1:8080", cluster: "backend" },
      constant: 7,
      'quote"key': 'say "hi"\n',
    });
  });

  test("header values stay strings even when they look like numbers", () => {
    const f = compileJsonAccessLogFormat({ id: "%REQ(X-ID)%" });
    assert.deepEqual(JSON.parse(f(entry({ requestHeaders: headers({ "x-id": "123" }) }))), { id: "123" });
  });

  test("omit_empty_values leaves keys out", () => {
    const f = compileJsonAccessLogFormat(
      { a: "%ROUTE_NAME%", b: "%RESPONSE_CODE%", c: "%UPSTREAM_HOST%" },
      { omitEmptyValues: true },
    );
    assert.equal(f(entry({ routeName: undefined, upstreamHost: undefined })), '{"b":200}\n');
    assert.equal(f(entry({ responseCode: 0, routeName: "r" })), '{"a":"r","b":0,"c":"127.0.0.1:8080"}\n');
  });

  test("bad values are refused", () => {
    assert.throws(
      () => compileJsonAccessLogFormat({ a: ["%PROTOCOL%"] } as never),
      (e: unknown) => e instanceof TrellisError && e.code === "TRELLIS_ACCESS_LOG_FORMAT",
    );
    assert.throws(() => compileJsonAccessLogFormat({ a: { b: "%NOPE%" } }), /NOPE/);
  });
});

test("%LOCAL_REPLY_BODY%: an empty body is an empty string, in text and JSON (a missing one is still - / null)", () => {
  const entry: AccessLogEntry = {
    startWallMs: 0,
    responseCode: 404,
    responseFlags: "NR",
    bytesReceived: 0,
    bytesSent: 0,
    durationMs: 0,
  };
  assert.equal(compileAccessLogFormat("[%LOCAL_REPLY_BODY%]")({ ...entry, localReplyBody: "" }), "[]");
  assert.equal(compileAccessLogFormat("[%LOCAL_REPLY_BODY%]")(entry), "[-]");
  assert.equal(compileAccessLogFormat("[%LOCAL_REPLY_BODY%]")({ ...entry, localReplyBody: "no route" }), "[no route]");
  const json = compileJsonAccessLogFormat({ b: "%LOCAL_REPLY_BODY%", m: "x%LOCAL_REPLY_BODY%" });
  assert.equal(json({ ...entry, localReplyBody: "" }), '{"b":"","m":"x"}\n');
});
