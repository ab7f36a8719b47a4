import { test } from "node:test";
import assert from "node:assert/strict";
import { formatGrpcTimeoutMs, parseGrpcTimeoutMs } from "./grpc-timeout.ts";

test("grpc-timeout: every unit, rounding up, malformed values refused", () => {
  assert.equal(parseGrpcTimeoutMs("1H"), 3_600_000);
  assert.equal(parseGrpcTimeoutMs("2M"), 120_000);
  assert.equal(parseGrpcTimeoutMs("3S"), 3000);
  assert.equal(parseGrpcTimeoutMs("250m"), 250);
  assert.equal(parseGrpcTimeoutMs("1500u"), 2);
  assert.equal(parseGrpcTimeoutMs("1n"), 1);
  assert.equal(parseGrpcTimeoutMs("99999999m"), 99_999_999);
  for (const bad of ["", "m", "10", "10x", "-1S", "1.5S", "123456789S", " 1S"])
    assert.equal(parseGrpcTimeoutMs(bad), undefined, bad);
  assert.equal(formatGrpcTimeoutMs(249.2), "250m");
});
