// google.protobuf.Duration in its two spellings — the JSON string ("1.5s", "0.250s", "10s": decimal seconds with
// an "s") and the message form ({seconds, nanos}) — turned into milliseconds. Negative durations mean nothing for
// a timeout, so they are refused rather than clamped.

import { fail, ok } from "../../result.ts";
import type { Result } from "../../result.ts";
import { describe, isPlainObject } from "./context.ts";

/** protobuf's limit: ±10,000 years. */
const MAX_SECONDS = 315_576_000_000;
const DURATION_STRING = /^(\d+)(?:\.(\d{1,9}))?s$/;
const EXPECTED = 'expected a duration like "1.5s" or {seconds, nanos}';

/** Milliseconds (fractions kept: "0.0005s" is 0.5 ms, not 0, which would read as "disabled"). */
export function parseDurationMs(value: unknown): Result<number, string> {
  if (typeof value === "string") return parseDurationString(value);
  if (isPlainObject(value)) return parseDurationObject(value);
  return fail(`${EXPECTED}, got ${describe(value)}`);
}

function parseDurationString(text: string): Result<number, string> {
  const trimmed = text.trim();
  if (trimmed.startsWith("-")) return fail(`expected a duration that is not negative, got ${describe(text)}`);
  const match = DURATION_STRING.exec(trimmed);
  if (match === null) return fail(`${EXPECTED}, got ${describe(text)}`);
  const seconds = Number(match[1]);
  const nanos = match[2] === undefined ? 0 : Number(match[2].padEnd(9, "0"));
  return toMilliseconds(seconds, nanos, text);
}

function parseDurationObject(value: Record<string, unknown>): Result<number, string> {
  for (const key of Object.keys(value)) {
    if (key !== "seconds" && key !== "nanos") return fail(`${EXPECTED}; unknown field ${JSON.stringify(key)}`);
  }
  const seconds = integerOf(value.seconds ?? 0);
  const nanos = integerOf(value.nanos ?? 0);
  if (seconds === undefined) return fail(`expected seconds to be an integer, got ${describe(value.seconds)}`);
  if (nanos === undefined) return fail(`expected nanos to be an integer, got ${describe(value.nanos)}`);
  if (seconds < 0 || nanos < 0) return fail("expected a duration that is not negative");
  if (nanos > 999_999_999) return fail(`expected nanos 0-999999999, got ${nanos}`);
  return toMilliseconds(seconds, nanos, value);
}

function toMilliseconds(seconds: number, nanos: number, original: unknown): Result<number, string> {
  if (seconds > MAX_SECONDS) return fail(`duration too long (at most ${MAX_SECONDS}s), got ${describe(original)}`);
  return ok(seconds * 1000 + nanos / 1_000_000);
}

/** int64 arrives as a number or, in protobuf's JSON mapping, as a decimal string. */
function integerOf(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) ? value : undefined;
  if (typeof value === "string" && /^-?\d+$/.test(value.trim())) return Number(value);
  return undefined;
}
