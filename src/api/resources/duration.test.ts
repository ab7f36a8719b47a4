import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { formatIstioDuration, parseIstioDuration } from "./duration.ts";

describe("Istio durations", () => {
  test("Go's syntax, as Istio's YAML writes it, into milliseconds", () => {
    const cases: [string, number][] = [
      ["1s", 1000],
      ["100ms", 100],
      ["1h", 3_600_000],
      ["1m30s", 90_000],
      ["1.5s", 1500],
      ["0.250s", 250],
      ["2000us", 2],
      ["0s", 0],
      ["0", 0],
      ["7s", 7000],
    ];
    for (const [text, ms] of cases) assert.deepEqual(parseIstioDuration(text), { ok: true, value: ms }, text);
  });

  test("refuses what Istio refuses: no unit, negative, sub-millisecond, not a string", () => {
    for (const bad of ["5", "-1s", "1.5", "500us", "1 s", "", "1d", 5, null]) {
      const parsed = parseIstioDuration(bad);
      assert.equal(parsed.ok, false, String(bad));
    }
    assert.deepEqual(parseIstioDuration("500us"), {
      ok: false,
      error: 'expected a duration in whole milliseconds (Istio\'s precision), got "500us"',
    });
    assert.deepEqual(parseIstioDuration(5), {
      ok: false,
      error: 'expected a duration like "1s", "100ms", "1.5s" or "1h", got 5',
    });
  });

  test("formats back to the shortest form that reads the same", () => {
    const cases: [number, string][] = [
      [0, "0s"],
      [100, "100ms"],
      [1500, "1500ms"],
      [7000, "7s"],
      [90_000, "90s"],
      [300_000, "5m"],
      [7_200_000, "2h"],
    ];
    for (const [ms, text] of cases) {
      assert.equal(formatIstioDuration(ms), text);
      assert.deepEqual(parseIstioDuration(text), { ok: true, value: ms });
    }
  });
});
