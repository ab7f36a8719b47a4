import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseLocalRateLimit, parseLocalRateLimitPerRoute, type LocalRateLimitConfig } from "./config.ts";

const BUCKET = { max_tokens: 10, tokens_per_fill: 2, fill_interval: "1s" };
const ALL = { default_value: { numerator: 100, denominator: "HUNDRED" }, runtime_key: "ignored" };

function good(raw: Record<string, unknown>): LocalRateLimitConfig {
  const r = parseLocalRateLimit(raw);
  assert.ok(r.ok, r.ok ? "" : r.error.join("\n"));
  return r.value;
}

function errors(raw: Record<string, unknown>, perRoute = false): string[] {
  const r = perRoute ? parseLocalRateLimitPerRoute(raw) : parseLocalRateLimit(raw);
  assert.ok(!r.ok, "expected errors");
  return r.error;
}

describe("local_ratelimit config", () => {
  test("Envoy's defaults: 429, enabled and enforced 0 %, no headers, shared bucket, tokens_per_fill 1", () => {
    const c = good({ stat_prefix: "rl", token_bucket: { max_tokens: 3, fill_interval: "0.05s" } });
    assert.deepEqual(c.tokenBucket, { maxTokens: 3, tokensPerFill: 1, fillIntervalMs: 50 });
    assert.equal(c.status, 429);
    assert.equal(c.enabled, 0);
    assert.equal(c.enforced, 0);
    assert.equal(c.responseHeaders, undefined);
    assert.equal(c.perConnection, false);
    assert.equal(c.xRateLimitHeaders, false);
    assert.equal(c.alwaysConsumeDefaultTokenBucket, true);
    assert.equal(c.rateLimitedAsResourceExhausted, false);
  });

  test("every supported field, in snake_case and camelCase", () => {
    const c = good({
      statPrefix: "rl",
      tokenBucket: { maxTokens: 10, tokensPerFill: { value: 2 }, fillInterval: { seconds: 2 } },
      status: { code: "ServiceUnavailable" },
      filter_enabled: ALL,
      filter_enforced: { default_value: { numerator: 25, denominator: "TEN_THOUSAND" } },
      response_headers_to_add: [{ append_action: "OVERWRITE_IF_EXISTS_OR_ADD", header: { key: "x-rl", value: "1" } }],
      request_headers_to_add_when_not_enforced: [{ header: { key: "x-over", value: "yes" } }],
      local_rate_limit_per_downstream_connection: true,
      enable_x_ratelimit_headers: "DRAFT_VERSION_03",
      always_consume_default_token_bucket: false,
      rate_limited_as_resource_exhausted: true,
      stage: 0,
    });
    assert.deepEqual(c.tokenBucket, { maxTokens: 10, tokensPerFill: 2, fillIntervalMs: 2000 });
    assert.equal(c.status, 503);
    assert.equal(c.enabled, 1);
    assert.equal(c.enforced, 0.0025);
    assert.ok(c.responseHeaders !== undefined && c.requestHeadersWhenNotEnforced !== undefined);
    assert.equal(c.perConnection, true);
    assert.equal(c.xRateLimitHeaders, true);
    assert.equal(c.alwaysConsumeDefaultTokenBucket, false);
    assert.equal(c.rateLimitedAsResourceExhausted, true);
  });

  test("a status below 400 becomes 429 (Envoy's toErrorCode); a numerator above the denominator is 100 %", () => {
    const c = good({ stat_prefix: "rl", status: { code: 200 }, filter_enabled: { default_value: { numerator: 500 } } });
    assert.equal(c.status, 429);
    assert.equal(c.enabled, 1);
  });

  test("the listener level may leave token_bucket out; a per-route entry may not", () => {
    assert.equal(good({ stat_prefix: "rl" }).tokenBucket, undefined);
    assert.deepEqual(errors({ stat_prefix: "rl" }, true), [
      "token_bucket: required in a per-route configuration (Envoy refuses a per-route limit without one)",
    ]);
  });

  test("errors name the field and what was expected", () => {
    assert.deepEqual(
      errors({
        token_bucket: { max_tokens: 0, tokens_per_fill: 0, fill_interval: "0.01s" },
        status: { code: "Teapot" },
        filter_enabled: { runtime_key: "k" },
        enable_x_ratelimit_headers: "DRAFT_VERSION_99",
        response_headers_to_add: [{ header: { key: ":path", value: "x" } }],
        bogus: 1,
      }),
      [
        'bogus: unknown field "bogus"',
        "stat_prefix: required",
        "token_bucket.max_tokens: expected an integer 1-4294967295, got 0",
        "token_bucket.tokens_per_fill: expected an integer 1-4294967295, got 0",
        "token_bucket.fill_interval: must be at least 50ms (as in Envoy), got 10ms",
        'status.code: expected an HTTP status code (e.g. 429 or "TooManyRequests"), got "Teapot"',
        "filter_enabled.default_value: required",
        'response_headers_to_add[0].header.key: ":path": pseudo-headers and host may not be modified by header edits',
        'enable_x_ratelimit_headers: expected one of OFF, DRAFT_VERSION_03, got "DRAFT_VERSION_99"',
      ],
    );
    assert.deepEqual(errors({ stat_prefix: "rl", token_bucket: { max_tokens: 1, fill_interval: "0.01s" } }), [
      "token_bucket.fill_interval: must be at least 50ms (as in Envoy), got 10ms",
    ]);
    assert.deepEqual(errors({ stat_prefix: "rl", token_bucket: { max_tokens: 1 } }), [
      "token_bucket.fill_interval: required",
    ]);
  });

  test("descriptors and the fields that feed them are refused by name", () => {
    const out = errors({
      stat_prefix: "rl",
      descriptors: [{ entries: [{ key: "k", value: "v" }], token_bucket: BUCKET }],
      vh_rate_limits: "INCLUDE",
    });
    assert.equal(out.length, 2);
    assert.match(out[0]!, /^vh_rate_limits: "vh_rate_limits" is not supported yet/);
    assert.match(out[1]!, /^descriptors: local rate limit descriptors .* are not supported/);
    // An empty list asks for nothing and is accepted.
    good({ stat_prefix: "rl", descriptors: [] });
  });
});
