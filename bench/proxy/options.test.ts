import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { OptionsError, parseOptions } from "./options.ts";

describe("parseOptions", () => {
  test("defaults: 5 repetitions of 10 s, every row", () => {
    const o = parseOptions([]);
    assert.equal(o.reps, 5);
    assert.equal(o.durationSeconds, 10);
    assert.equal(o.quick, false);
    assert.deepEqual(o.rows, [
      "direct",
      "nginx",
      "haproxy",
      "trellis",
      "trellis-transparent",
      "trellis-policy",
      "direct-h2c",
      "nginx-h2c",
      "trellis-h2c",
      "trellis-h2c-e2e",
    ]);
  });

  test("--only trellis-policy brings the plain Trellis chain (its baseline) and direct", () => {
    assert.deepEqual(parseOptions(["--only", "trellis-policy"]).rows, ["direct", "trellis", "trellis-policy"]);
  });

  test("--quick is 1 × 3 s unless reps or duration are given", () => {
    assert.deepEqual([parseOptions(["--quick"]).reps, parseOptions(["--quick"]).durationSeconds], [1, 3]);
    assert.equal(parseOptions(["--quick", "--reps", "2"]).reps, 2);
    assert.equal(parseOptions(["--duration=7", "--quick"]).durationSeconds, 7);
  });

  test("--only keeps the canonical order and adds direct as the latency baseline", () => {
    assert.deepEqual(parseOptions(["--only", "haproxy,nginx"]).rows, ["direct", "nginx", "haproxy"]);
    assert.deepEqual(parseOptions(["--only=nginx-h2c,direct-h2c"]).rows, ["direct-h2c", "nginx-h2c"]);
  });

  test("--baseline adds the baseline's chains right after their counterparts", () => {
    const o = parseOptions(["--only", "trellis-policy", "--baseline", "HEAD~2"]);
    assert.equal(o.baseline, "HEAD~2");
    assert.deepEqual(o.rows, ["direct", "trellis", "trellis-baseline", "trellis-policy", "trellis-policy-baseline"]);
    assert.deepEqual(parseOptions(["--only=trellis", "--baseline=main"]).rows, [
      "direct",
      "trellis",
      "trellis-baseline",
    ]);
    assert.equal(parseOptions([]).baseline, undefined);
  });

  test("--baseline needs a commit and a Trellis row; baseline rows are not named by --only", () => {
    assert.throws(() => parseOptions(["--baseline"]), /needs a git commit/);
    assert.throws(() => parseOptions(["--baseline", "--quick"]), /needs a git commit/);
    assert.throws(() => parseOptions(["--only", "nginx", "--baseline", "main"]), /names neither/);
    assert.throws(() => parseOptions(["--only", "trellis-baseline"]), OptionsError);
  });

  test("refuses unknown rows, bad numbers and unknown flags", () => {
    assert.throws(() => parseOptions(["--only", "nginx,envoy"]), OptionsError);
    assert.throws(() => parseOptions(["--reps", "0"]), /positive integer/);
    assert.throws(() => parseOptions(["--duration"]), /positive integer/);
    assert.throws(() => parseOptions(["--fast"]), /unknown argument --fast/);
  });
});
