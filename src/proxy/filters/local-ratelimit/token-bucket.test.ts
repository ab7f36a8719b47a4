import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../../api/clock.ts";
import { TokenBucket } from "./token-bucket.ts";

function drain(bucket: TokenBucket): number {
  let n = 0;
  while (bucket.tryConsume()) n++;
  return n;
}

describe("TokenBucket", () => {
  test("starts full and admits exactly max_tokens", () => {
    const bucket = new TokenBucket({ maxTokens: 5, tokensPerFill: 2, fillIntervalMs: 1000 }, new ManualClock());
    assert.equal(bucket.remaining(), 5);
    assert.equal(drain(bucket), 5);
    assert.equal(bucket.tryConsume(), false);
    assert.equal(bucket.remaining(), 0);
  });

  test("adds tokens_per_fill at each whole fill_interval, not before", () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ maxTokens: 5, tokensPerFill: 2, fillIntervalMs: 1000 }, clock);
    drain(bucket);
    clock.advance(999);
    assert.equal(bucket.tryConsume(), false);
    clock.advance(1);
    assert.equal(drain(bucket), 2);
    clock.advance(1000);
    assert.equal(drain(bucket), 2);
  });

  test("several intervals at once add several fills, never above max_tokens", () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ maxTokens: 5, tokensPerFill: 2, fillIntervalMs: 1000 }, clock);
    drain(bucket);
    clock.advance(2000);
    assert.equal(bucket.remaining(), 4);
    clock.advance(60_000);
    assert.equal(bucket.remaining(), 5);
    assert.equal(drain(bucket), 5);
  });

  test("fills keep their schedule: a late look does not move the next fill", () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ maxTokens: 3, tokensPerFill: 1, fillIntervalMs: 1000 }, clock);
    drain(bucket);
    clock.advance(1500); // one fill due at 1000
    assert.equal(drain(bucket), 1);
    clock.advance(500); // the next at 2000, not 2500
    assert.equal(drain(bucket), 1);
  });

  test("a full bucket wastes its fills (the timer keeps ticking, as Envoy's does)", () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1000 }, clock);
    clock.advance(5000);
    assert.equal(drain(bucket), 2);
    clock.advance(1000);
    assert.equal(drain(bucket), 1);
  });

  test("resetSeconds counts whole seconds to the next fill, truncated as Envoy does", () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 60_000 }, clock);
    assert.equal(bucket.resetSeconds(), 60);
    clock.advance(10_500);
    assert.equal(bucket.resetSeconds(), 49);
    clock.advance(49_500);
    assert.equal(bucket.resetSeconds(), 60);
  });
});
