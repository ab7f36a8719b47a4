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
