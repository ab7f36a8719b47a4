import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { median, percentile, sortedNumbers, summarize } from "./stats.ts";
import { latencySample } from "./runner.ts";

describe("percentile (nearest rank)", () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100

  test("on 1..100 the p-th percentile is p", () => {
    assert.equal(percentile(hundred, 50), 50);
    assert.equal(percentile(hundred, 90), 90);
    assert.equal(percentile(hundred, 99), 99);
    assert.equal(percentile(hundred, 100), 100);
  });

  test("is always a measured value, never interpolated", () => {
    const sorted = [10, 20, 30, 40];
    assert.equal(percentile(sorted, 50), 20);
    assert.equal(percentile(sorted, 51), 30);
    assert.equal(percentile(sorted, 99), 40);
    assert.equal(percentile([7], 1), 7);
  });

  test("refuses no values and percentiles outside (0, 100]", () => {
    assert.throws(() => percentile([], 50), RangeError);
    assert.throws(() => percentile([1], 0), RangeError);
    assert.throws(() => percentile([1], 101), RangeError);
  });
});

describe("median and summaries", () => {
  test("sortedNumbers sorts numerically, not as strings", () => {
    assert.deepEqual(sortedNumbers([10, 9, 100, 1]), [1, 9, 10, 100]);
  });

  test("median of odd and even counts", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  test("summarize gives median, range and relative range, skipping missing values", () => {
    assert.deepEqual(summarize([100, 90, Number.NaN, 110]), {
      median: 100,
      min: 90,
      max: 110,
      relativeRange: 0.2,
      count: 3,
    });
    assert.equal(summarize([Number.NaN]), undefined);
  });
});

describe("latencySample", () => {
  test("percentiles in ms from µs durations, in any order", () => {
    // 1000 durations: 1..1000 µs, shuffled deterministically (a fixed stride coprime with 1000).
    const durations = Array.from({ length: 1000 }, (_, i) => ((i * 377) % 1000) + 1);
    const s = latencySample(durations, 998.5, 0, [0.05, 0.04]);
    assert.equal(s.p50Ms, 0.5);
    assert.equal(s.p90Ms, 0.9);
    assert.equal(s.p99Ms, 0.99);
    assert.equal(s.requests, 1000);
    assert.deepEqual(s.vcpuPer1000Rps, [0.05, 0.04]);
  });
});
