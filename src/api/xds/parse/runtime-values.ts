// Envoy's runtime-backed values (envoy.config.core.v3.RuntimeFractionalPercent, RuntimeFeatureFlag). Trellis has
// no runtime layer: runtime_key is accepted (configurations written for Envoy and Istio carry it) and ignored, and
// the default value is the value.

import type { Fields } from "./fields.ts";

const RUNTIME_FRACTION_SPEC = { handled: ["default_value", "runtime_key"] } as const;
const FRACTIONAL_PERCENT_SPEC = { handled: ["numerator", "denominator"] } as const;
const FEATURE_FLAG_SPEC = { handled: ["default_value", "runtime_key"] } as const;

const DENOMINATORS = ["HUNDRED", "TEN_THOUSAND", "MILLION"] as const;
const DENOMINATOR_VALUE = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as const;

/**
 * A RuntimeFractionalPercent at `name` as a probability in [0, 1]; `fallback` when absent. A numerator above the
 * denominator means 100 %, as Envoy reads it.
 */
export function readRuntimeFraction(parent: Fields, name: string, fallback: number): number {
  if (!parent.has(name)) return fallback;
  const fraction = parent.message(name, RUNTIME_FRACTION_SPEC);
  if (fraction.broken) return fallback;
  fraction.string("runtime_key");
  if (!fraction.requireField("default_value")) return fallback;
  const percent = fraction.message("default_value", FRACTIONAL_PERCENT_SPEC);
  const numerator = percent.integer("numerator", 0);
  const denominator = DENOMINATOR_VALUE[percent.enumValue("denominator", DENOMINATORS, "HUNDRED")];
  return Math.min(1, numerator / denominator);
}

/** A RuntimeFeatureFlag at `name` (default_value is a BoolValue, required, as in Envoy); `fallback` when absent. */
export function readRuntimeFeatureFlag(parent: Fields, name: string, fallback: boolean): boolean {
  if (!parent.has(name)) return fallback;
  const flag = parent.message(name, FEATURE_FLAG_SPEC);
  if (flag.broken) return fallback;
  flag.string("runtime_key");
  if (!flag.requireField("default_value")) return fallback;
  return flag.bool("default_value", fallback);
}
