// FractionalPercent decisions: the edges decide without drawing, the middle draws once, and header percentages
// are capped by the configured numerator.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FractionalPercent, parseUnsigned } from "./percentage.ts";

function counting(values: number[]): { random: () => number; draws: () => number } {
  let i = 0;
  return { random: () => values[i++ % values.length]!, draws: () => i };
}

describe("FractionalPercent", () => {
  test("0 % and 100 % never draw", () => {
    const r = counting([0.5]);
    assert.equal(new FractionalPercent(0, 100).sample(r.random), false);
    assert.equal(new FractionalPercent(100, 100).sample(r.random), true);
    assert.equal(new FractionalPercent(2_000_000, 1_000_000).sample(r.random), true);
    assert.equal(r.draws(), 0);
  });

  test("in between: one draw, compared against numerator/denominator", () => {
    const p = new FractionalPercent(30, 100);
    const r = counting([0.29, 0.3, 0.0, 0.99]);
    assert.deepEqual(
      [p.sample(r.random), p.sample(r.random), p.sample(r.random), p.sample(r.random)],
      [true, false, true, false],
    );
    assert.equal(r.draws(), 4);
    const fine = new FractionalPercent(1, 1_000_000);
    assert.equal(
      fine.sample(() => 0.0000009),
      true,
    );
    assert.equal(
      fine.sample(() => 0.000001),
      false,
    );
  });

  test("a header percentage replaces the numerator, capped by the configured one; a bad header is ignored", () => {
    const p = new FractionalPercent(50, 100);
    assert.equal(
      p.sampleWithHeader("100", () => 0.7),
      false,
      "capped at 50 %",
    );
    assert.equal(
      p.sampleWithHeader("10", () => 0.2),
      false,
    );
    assert.equal(
      p.sampleWithHeader("10", () => 0.05),
      true,
    );
    assert.equal(
      p.sampleWithHeader("0", () => 0),
      false,
    );
    assert.equal(
      p.sampleWithHeader("x", () => 0.4),
      true,
      "not a number: the configured 50 %",
    );
    assert.equal(
      p.sampleWithHeader(undefined, () => 0.6),
      false,
    );
  });

  test("parseUnsigned reads decimal digits only", () => {
    assert.equal(parseUnsigned("250"), 250);
    assert.equal(parseUnsigned(" 7 "), 7);
    assert.equal(parseUnsigned("+3"), 3);
    for (const bad of ["", " ", "-1", "1.5", "12a", "0x10", "99999999999999999999"])
      assert.equal(parseUnsigned(bad), -1, bad);
  });
});
