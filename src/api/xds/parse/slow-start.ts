// Cluster.SlowStartConfig, the slow_start_config of round_robin_lb_config and least_request_lb_config: a new
// endpoint's weight ramps up over slow_start_window (Envoy's "slow start mode"). Only the config of the cluster's
// own policy takes effect, as in Envoy (the two configs are a oneof there; a config for another policy is unused).

import type { Cluster, LbPolicy, SlowStartConfig } from "../types.ts";
import { describe } from "./context.ts";
import type { Fields } from "./fields.ts";
import { readPercent } from "./percent.ts";

/** Envoy's defaults: a linear ramp (aggression 1.0) that starts at 10 % of the weight. */
export const DEFAULT_SLOW_START_AGGRESSION = 1;
export const DEFAULT_SLOW_START_MIN_WEIGHT_PERCENT = 10;

export const ROUND_ROBIN_SPEC = { handled: ["slow_start_config"] } as const;
const SLOW_START_SPEC = { handled: ["slow_start_window", "aggression", "min_weight_percent"] } as const;
// RuntimeDouble: there is no runtime here, so the key is accepted and the default value is the value.
const RUNTIME_DOUBLE_SPEC = { handled: ["default_value", "runtime_key"] } as const;

/**
 * The slow start of the cluster's policy: `roundRobin` and `leastRequest` are the opened round_robin_lb_config and
 * least_request_lb_config messages. Both are checked; the one of the policy is used. Undefined when the policy has
 * none or its window is 0 (Envoy turns slow start off then).
 */
export function readSlowStart(
  lbPolicy: LbPolicy,
  roundRobin: Fields,
  leastRequest: Fields,
): Pick<Cluster, "slowStart"> {
  const fromRoundRobin = readSlowStartConfig(roundRobin);
  const fromLeastRequest = readSlowStartConfig(leastRequest);
  const config =
    lbPolicy === "ROUND_ROBIN" ? fromRoundRobin : lbPolicy === "LEAST_REQUEST" ? fromLeastRequest : undefined;
  return config === undefined ? {} : { slowStart: config };
}

function readSlowStartConfig(parent: Fields): SlowStartConfig | undefined {
  if (!parent.has("slow_start_config")) return undefined;
  const f = parent.message("slow_start_config", SLOW_START_SPEC);
  const windowMs = f.durationMs("slow_start_window") ?? 0;
  const aggression = readAggression(f);
  const minWeightPercent = readMinWeightPercent(f);
  return windowMs > 0 ? { windowMs, aggression, minWeightPercent } : undefined;
}

/**
 * aggression: a RuntimeDouble. Envoy logs and falls back to 1.0 when the value it reads is not above 0; with no
 * runtime to change it, such a default_value can only be a mistake, so it is refused here.
 */
function readAggression(f: Fields): number {
  if (!f.has("aggression")) return DEFAULT_SLOW_START_AGGRESSION;
  const runtime = f.message("aggression", RUNTIME_DOUBLE_SPEC);
  if (runtime.broken) return DEFAULT_SLOW_START_AGGRESSION;
  runtime.string("runtime_key");
  // proto3: an unset default_value is 0, which Envoy would not use either.
  const value = runtime.raw("default_value") ?? 0;
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  runtime.report("default_value", `expected a number greater than 0, got ${describe(value)}`);
  return DEFAULT_SLOW_START_AGGRESSION;
}

/** min_weight_percent: a Percent; proto3's unset value 0 means no floor. */
function readMinWeightPercent(f: Fields): number {
  return readPercent(f, "min_weight_percent", DEFAULT_SLOW_START_MIN_WEIGHT_PERCENT);
}
