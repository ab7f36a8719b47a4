// FractionalPercent ({numerator, denominator: HUNDRED | TEN_THOUSAND | MILLION}) and RuntimeFractionalPercent
// ({default_value: FractionalPercent, runtime_key}) as a probability in [0, 1]. There is no runtime here: a
// runtime_key is accepted and its default value used.

import { describe } from "./context.ts";
import type { Fields } from "./fields.ts";

const DENOMINATORS = ["HUNDRED", "TEN_THOUSAND", "MILLION"] as const;
const DENOMINATOR_VALUE = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as const;

const PERCENT_SPEC = { handled: ["value"] } as const;
const FRACTIONAL_PERCENT_SPEC = { handled: ["numerator", "denominator"] } as const;
const RUNTIME_FRACTIONAL_PERCENT_SPEC = { handled: ["default_value"], ignored: ["runtime_key"] } as const;

/** A FractionalPercent message at `fields.<name>` as a probability; a numerator above the denominator is 100 %. */
export function readFractionalPercent(fields: Fields, name: string): number {
  const percent = fields.message(name, FRACTIONAL_PERCENT_SPEC);
  const numerator = percent.integer("numerator", 0);
  const denominator = percent.enumValue("denominator", DENOMINATORS, "HUNDRED");
  return Math.min(1, numerator / DENOMINATOR_VALUE[denominator]);
}

/** A RuntimeFractionalPercent at `fields.<name>`; `fallback` when the field is absent. */
export function readRuntimeFractionalPercent(fields: Fields, name: string, fallback: number): number {
  if (!fields.has(name)) return fallback;
  const runtime = fields.message(name, RUNTIME_FRACTIONAL_PERCENT_SPEC);
  return runtime.has("default_value") ? readFractionalPercent(runtime, "default_value") : 0;
}

/**
 * An envoy.type.v3.Percent ({value: 0-100}, a double) at `fields.<name>`; `fallback` when the field is absent or
 * wrong (reported). Proto3: a message without `value` is 0.
 */
export function readPercent(fields: Fields, name: string, fallback: number): number {
  if (!fields.has(name)) return fallback;
  const percent = fields.message(name, PERCENT_SPEC);
  if (percent.broken) return fallback;
  const value = percent.raw("value") ?? 0;
  if (typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= 100) return value;
  percent.report("value", `expected a percentage 0-100, got ${describe(value)}`);
  return fallback;
}
