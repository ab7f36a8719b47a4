// HTTPFault parsing: every supported field, Envoy's defaults, and refusals that name the field path and what was
// expected (unknown fields, response_rate_limit, out-of-range statuses, a missing fault kind).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseFaultConfig } from "./config.ts";
import type { FaultSettings } from "./config.ts";

function parsed(raw: Record<string, unknown>): FaultSettings {
  const r = parseFaultConfig(raw);
  assert.ok(r.ok, r.ok ? "" : r.error.join("\n"));
  return r.value;
}

function errors(raw: Record<string, unknown>): string[] {
  const r = parseFaultConfig(raw);
  assert.ok(!r.ok, "expected a refusal");
  return r.error;
}

describe("HTTPFault config", () => {
  test("fixed delay and HTTP abort with percentages; defaults for everything else", () => {
    const s = parsed({
      delay: { fixed_delay: "1.5s", percentage: { numerator: 25 } },
      abort: { http_status: 503, percentage: { numerator: 30, denominator: "TEN_THOUSAND" } },
    });
    assert.deepEqual(s.delay?.kind, "fixed");
    assert.equal(s.delay?.fixedMs, 1500);
    assert.equal(s.delay?.percentage.numerator, 25);
    assert.equal(s.delay?.percentage.denominator, 100);
    assert.equal(s.abort?.kind, "http");
    assert.equal(s.abort?.httpStatus, 503);
    assert.equal(s.abort?.percentage.denominator, 10_000);
    assert.equal(s.upstreamCluster, undefined);
    assert.equal(s.downstreamNodes, undefined);
    assert.equal(s.maxActiveFaults, Infinity);
    assert.equal(s.disableDownstreamClusterStats, false);
    assert.deepEqual(s.headers, []);
  });

  test("header-controlled faults, gRPC abort, camelCase keys, wrappers and the other fields", () => {
    const s = parsed({
      delay: { headerDelay: {}, percentage: { numerator: 100 } },
      abort: { grpcStatus: 14, percentage: { numerator: 5, denominator: 2 } },
      upstreamCluster: "reviews",
      headers: [{ name: "x-fault", exact_match: "yes" }],
      downstream_nodes: ["a", "b"],
      max_active_faults: { value: 3 },
      disable_downstream_cluster_stats: true,
      delay_percent_runtime: "fault.delay",
      abort_percent_runtime: "fault.abort",
      filter_metadata: { k: "v" },
    });
    assert.equal(s.delay?.kind, "header");
    assert.equal(s.abort?.kind, "grpc");
    assert.equal(s.abort?.grpcStatus, 14);
    assert.equal(s.abort?.percentage.denominator, 1_000_000);
    assert.equal(s.upstreamCluster, "reviews");
    assert.deepEqual([...(s.downstreamNodes ?? [])], ["a", "b"]);
    assert.equal(s.maxActiveFaults, 3);
    assert.equal(s.disableDownstreamClusterStats, true);
    assert.equal(s.headers.length, 1);
    assert.equal(parsed({ abort: { header_abort: {} } }).abort?.kind, "header");
  });

  test("an absent percentage is 0 % (Envoy's protobuf default); numerator above the denominator is 100 %", () => {
    assert.equal(parsed({ abort: { http_status: 500 } }).abort?.percentage.numerator, 0);
    const over = parsed({ abort: { http_status: 500, percentage: { numerator: 250 } } });
    assert.equal(over.abort?.percentage.numerator, 100);
  });

  test("an empty HTTPFault is valid and injects nothing", () => {
    const s = parsed({});
    assert.equal(s.delay, undefined);
    assert.equal(s.abort, undefined);
  });

  test("refusals name the field path and what was expected", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ bogus: 1 }, /^bogus: unknown field "bogus"/],
      [{ response_rate_limit: { fixed_limit: { limit_kbps: 1 } } }, /^response_rate_limit: .*not supported/],
      [{ delay: { percentage: { numerator: 1 } } }, /^delay: one of fixed_delay, header_delay is required/],
      [{ delay: { fixed_delay: "1s", header_delay: {} } }, /^delay: only one of fixed_delay, header_delay/],
      [{ delay: { fixed_delay: "0s" } }, /^delay\.fixed_delay: expected a duration above 0/],
      [{ delay: { fixed_delay: "soon" } }, /^delay\.fixed_delay: expected a duration/],
      [{ delay: { fixed_delay: "1s", type: "FIXED" } }, /^delay\.type: unknown field/],
      [{ delay: { header_delay: { x: 1 } } }, /^delay\.header_delay\.x: unknown field/],
      [{ abort: {} }, /^abort: one of http_status, grpc_status, header_abort is required/],
      [{ abort: { http_status: 700 } }, /^abort\.http_status: expected an integer 200-599, got 700/],
      [{ abort: { http_status: 199 } }, /^abort\.http_status: expected an integer 200-599/],
      [{ abort: { grpc_status: -1 } }, /^abort\.grpc_status: expected an integer/],
      [
        { abort: { http_status: 500, percentage: { numerator: 1, denominator: "THOUSAND" } } },
        /^abort\.percentage\.denominator: expected one of HUNDRED, TEN_THOUSAND, MILLION, got "THOUSAND"/,
      ],
      [{ abort: { http_status: 500, percentage: { numerator: -5 } } }, /^abort\.percentage\.numerator: expected/],
      [{ headers: [{ name: "x", safe_regex_match: { regex: "(" } }] }, /^headers\[0\]\.safe_regex_match\.regex/],
      [{ headers: [{}] }, /^headers\[0\]\.name: required/],
      [{ downstream_nodes: "a" }, /^downstream_nodes: expected a list/],
      [{ max_active_faults: "many" }, /^max_active_faults: expected an integer/],
      [{ upstream_cluster: 5 }, /^upstream_cluster: expected a string/],
    ];
    for (const [raw, expected] of cases) {
      const errs = errors(raw);
      assert.ok(
        errs.some((e) => expected.test(e)),
        `${JSON.stringify(raw)}: ${errs.join(" | ")} !~ ${expected}`,
      );
    }
  });

  test("every problem is reported at once", () => {
    const errs = errors({ bogus: 1, abort: { http_status: 1000 }, delay: {} });
    assert.equal(errs.length, 3, errs.join("\n"));
  });
});
