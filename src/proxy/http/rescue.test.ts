import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Headers } from "./headers.ts";
import { GrpcStatus } from "./grpc-status.ts";
import { CAUSES, rescue } from "./rescue.ts";
import { recordingExchange } from "./test-exchange.ts";

/** Envoy's response flags (plus Trellis's UPG for a refused upgrade, which Envoy leaves without one). */
const ENVOY_FLAGS = new Set([
  "DPE",
  "SI",
  "NR",
  "UPG",
  "UT",
  "UMSDR",
  "FI",
  "RL",
  "NC",
  "UH",
  "UO",
  "UF",
  "UC",
  "UR",
  "UPE",
  "DF",
]);

describe("the rescue table", () => {
  const causes = Object.values(CAUSES);

  test("every cause has its own stable code, an Envoy flag, a stage and an error status", () => {
    assert.equal(new Set(causes.map((c) => c.code)).size, causes.length);
    for (const c of causes) {
      assert.match(c.code, /^TRELLIS_[A-Z_]+$/, c.code);
      assert.ok(ENVOY_FLAGS.has(c.flag), `${c.code}: flag ${c.flag}`);
      assert.ok(["downstream", "route", "backend", "endpoint"].includes(c.stage), c.code);
      assert.ok(c.status >= 400 && c.status <= 599, `${c.code}: status ${c.status}`);
      assert.ok(Object.isFrozen(c));
    }
  });

  test("a cause becomes status, flag and details naming the resource", () => {
    const ex = recordingExchange("GET", new Headers());
    rescue(ex, CAUSES.noHealthyUpstream, "outbound|9080||reviews");
    assert.equal(ex.response.status, 503);
    assert.equal(ex.response.headers?.get("x-trellis-response-flags"), "UH");
    assert.equal(ex.response.headers?.get("x-trellis-details"), "no_healthy_upstream:outbound|9080||reviews");
    assert.equal(ex.info.details, "no_healthy_upstream:outbound|9080||reviews");
  });

  test("options: a configured status, a message after the details, extra headers", () => {
    const ex = recordingExchange("GET", new Headers());
    rescue(ex, CAUSES.faultAbort, "r1", { status: 418, message: "because", headers: Headers.of({ "x-a": "1" }) });
    assert.equal(ex.response.status, 418);
    assert.equal(ex.info.details, "fault_filter_abort:r1: because");
    assert.equal(ex.response.headers?.get("x-a"), "1");
  });

  test("gRPC callers: the table's gRPC status where it has one, the canonical mapping otherwise", () => {
    const grpc = () => recordingExchange("POST", Headers.of({ "content-type": "application/grpc" }));
    const timeout = grpc();
    rescue(timeout, CAUSES.perTryTimeout, "c/1.2.3.4:80");
    assert.equal(timeout.response.headers?.get("grpc-status"), String(GrpcStatus.DEADLINE_EXCEEDED));
    const unavailable = grpc();
    rescue(unavailable, CAUSES.connectRefused, "c/1.2.3.4:80");
    assert.equal(unavailable.response.headers?.get("grpc-status"), String(GrpcStatus.UNAVAILABLE));
    const notFound = grpc();
    rescue(notFound, CAUSES.noRoute, "vh");
    assert.equal(notFound.response.headers?.get("grpc-status"), String(GrpcStatus.UNIMPLEMENTED));
  });
});

// What Envoy answers for each cause: status, body (source/common/router/router.cc, the fault and local rate limit
// filters, the connection manager's timeouts), and whether the reply carries content-type text/plain (Envoy adds it
// only to a non-empty body). Trellis keeps its own x-trellis-details and response flags beside them.
const RESET = "upstream connect error or disconnect/reset before headers. reset reason: ";
const ENVOY_REPLIES: readonly [keyof typeof CAUSES, number, string][] = [
  ["requestTimeout", 408, "request timeout"],
  ["streamIdleTimeout", 408, "stream timeout"],
  ["noVirtualHost", 404, ""],
  ["noRoute", 404, ""],
  ["routeConfigNotReceived", 404, ""],
  ["upgradeRefused", 403, ""],
  ["routeTimeout", 504, "upstream request timeout"],
  ["grpcDeadline", 504, "upstream request timeout"],
  ["perTryTimeout", 504, "upstream request timeout"],
  ["maxStreamDuration", 408, "upstream max stream duration reached"],
  ["faultAbort", 503, "fault filter abort"],
  ["rateLimited", 429, "local_rate_limited"],
  ["clusterNotFound", 503, ""],
  ["noHealthyUpstream", 503, "no healthy upstream"],
  ["overflow", 503, RESET + "overflow"],
  ["dnsResolutionFailed", 503, "DNS resolution failure"],
  ["dnsCacheOverflow", 503, "DNS cache overflow"],
  ["dnsPendingOverflow", 503, "Dynamic forward proxy pending request overflow"],
  ["connectFailure", 503, RESET + "connection failure"],
  ["connectRefused", 503, RESET + "connection failure, transport failure reason: delayed connect error: 111"],
  ["connectTimeout", 503, RESET + "connection timeout"],
  ["connectionTermination", 503, RESET + "connection termination"],
  ["remoteReset", 503, RESET + "remote reset"],
  ["upstreamProtocolError", 502, RESET + "protocol error"],
];

describe("local replies as Envoy makes them", () => {
  for (const [name, status, body] of ENVOY_REPLIES) {
    test(`${name}: ${status} ${JSON.stringify(body)}`, () => {
      const ex = recordingExchange("GET", new Headers());
      rescue(ex, CAUSES[name], "subject");
      const r = ex.response;
      assert.equal(r.status, status);
      assert.equal(r.body, body);
      assert.equal(r.headers?.get("content-length"), String(Buffer.byteLength(body)));
      assert.equal(r.headers?.get("content-type"), body === "" ? undefined : "text/plain");
      // Trellis' own account stays beside Envoy's.
      assert.equal(r.headers?.get("x-trellis-details"), `${CAUSES[name].detail}:subject`);
      assert.equal(r.headers?.get("x-trellis-response-flags"), CAUSES[name].flag);
    });
  }

  test("a reset after retries says so, as Envoy's does", () => {
    const ex = recordingExchange("GET", new Headers());
    ex.info.attempts = 3;
    rescue(ex, CAUSES.connectionTermination, "c/1.2.3.4:80");
    assert.equal(
      ex.response.body,
      "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection termination",
    );
  });

  test("a rate limited reply says x-envoy-ratelimited: true", () => {
    const ex = recordingExchange("GET", new Headers());
    rescue(ex, CAUSES.rateLimited, "r1");
    assert.equal(ex.response.headers?.get("x-envoy-ratelimited"), "true");
  });

  test("every cause the proxy can rescue has Envoy's reply in the table", () => {
    const listed = new Set(ENVOY_REPLIES.map(([name]) => name));
    const downstreamCodec = new Set([
      "malformedRequest",
      "invalidPath",
      "invalidAuthority",
      "bodyDisallowed",
      "requestNotEncodable",
    ]);
    for (const name of Object.keys(CAUSES))
      if (!downstreamCodec.has(name)) assert.ok(listed.has(name as keyof typeof CAUSES), name);
  });
});
