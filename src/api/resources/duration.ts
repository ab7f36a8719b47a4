// Durations as Istio's YAML writes them — Go's syntax ("1h", "1m30s", "100ms", "1.5s", "250us") which protobuf's
// JSON form ("0.250s") is a case of — into milliseconds. Istio refuses sub-millisecond precision
// (validation.ValidateDuration), and so do we: Envoy could not honour it in most places anyway.

import type { Result } from "../result.ts";
import { fail, ok } from "../result.ts";
import { describe } from "../xds/parse/context.ts";

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 1e-6 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)/y;
const EXPECTED = 'expected a duration like "1s", "100ms", "1.5s" or "1h"';

/** Whole milliseconds, never negative. */
export function parseIstioDuration(value: unknown): Result<number, string> {
  if (typeof value !== "string") return fail(`${EXPECTED}, got ${describe(value)}`);
  const text = value.trim();
  if (text.startsWith("-")) return fail(`expected a duration that is not negative, got ${describe(value)}`);
  if (text === "0") return ok(0);
  let total = 0;
  PART.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    PART.lastIndex = at;
    const match = PART.exec(text);
    if (match === null) return fail(`${EXPECTED}, got ${describe(value)}`);
    total += Number(match[1]) * UNIT_MS[match[2]];
    at = PART.lastIndex;
  }
  if (text.length === 0) return fail(`${EXPECTED}, got ${describe(value)}`);
  const rounded = Math.round(total * 1e6) / 1e6;
  if (!Number.isInteger(rounded)) {
    return fail(`expected a duration in whole milliseconds (Istio's precision), got ${describe(value)}`);
  }
  return ok(rounded);
}

/** Milliseconds back into the shortest string Istio reads the same way ("1h", "90s", "100ms", "1500ms"). */
export function formatIstioDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
