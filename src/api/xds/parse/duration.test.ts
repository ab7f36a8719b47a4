import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseDurationMs } from "./duration.ts";

function ms(value: unknown): number {
  const result = parseDurationMs(value);
  assert.ok(result.ok, `expected ${JSON.stringify(value)} to parse`);
  return result.value;
}

function error(value: unknown): string {
  const result = parseDurationMs(value);
  assert.ok(!result.ok, `expected ${JSON.stringify(value)} to be refused`);
  return result.error;
}

describe("parseDurationMs", () => {
  test("protobuf JSON strings: decimal seconds with an s", () => {
    assert.equal(ms("10s"), 10_000);
    assert.equal(ms("1.5s"), 1_500);
    assert.equal(ms("0.250s"), 250);
    assert.equal(ms("0s"), 0);
    assert.equal(ms("0.000000001s"), 0.000001);
    assert.equal(ms("0.0005s"), 0.5);
    assert.equal(ms("3600s"), 3_600_000);
  });

  test("the message form {seconds, nanos}, with int64 seconds as a string too", () => {
    assert.equal(ms({ seconds: 5 }), 5_000);
    assert.equal(ms({ seconds: 1, nanos: 500_000_000 }), 1_500);
    assert.equal(ms({ nanos: 250_000_000 }), 250);
    assert.equal(ms({ seconds: "7" }), 7_000);
    assert.equal(ms({}), 0);
  });

  test("negative durations are refused", () => {
    assert.equal(error("-1s"), 'expected a duration that is not negative, got "-1s"');
    assert.equal(error({ seconds: -1 }), "expected a duration that is not negative");
    assert.equal(error({ seconds: 0, nanos: -5 }), "expected a duration that is not negative");
  });

  test("garbage is refused with what was expected", () => {
    assert.equal(error("5m"), 'expected a duration like "1.5s" or {seconds, nanos}, got "5m"');
    assert.equal(error("1.5"), 'expected a duration like "1.5s" or {seconds, nanos}, got "1.5"');
    assert.equal(error("s"), 'expected a duration like "1.5s" or {seconds, nanos}, got "s"');
    assert.equal(error("1.1234567891s"), 'expected a duration like "1.5s" or {seconds, nanos}, got "1.1234567891s"');
    assert.equal(error(5), 'expected a duration like "1.5s" or {seconds, nanos}, got 5');
    assert.equal(error(true), 'expected a duration like "1.5s" or {seconds, nanos}, got true');
    assert.equal(error(["1s"]), 'expected a duration like "1.5s" or {seconds, nanos}, got a list');
    assert.equal(error({ seconds: "x" }), 'expected seconds to be an integer, got "x"');
    assert.equal(error({ seconds: 1.5 }), "expected seconds to be an integer, got 1.5");
    assert.equal(error({ nanos: 1_000_000_000 }), "expected nanos 0-999999999, got 1000000000");
    assert.equal(error({ minutes: 1 }), 'expected a duration like "1.5s" or {seconds, nanos}; unknown field "minutes"');
    assert.match(error("315576000001s"), /^duration too long/);
  });
});
