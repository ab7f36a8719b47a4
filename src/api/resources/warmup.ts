// A DestinationRule loadBalancer's `warmup` (Istio's WarmupConfiguration, the successor of warmupDurationSecs):
// Envoy's slow start for ROUND_ROBIN and LEAST_REQUEST. minimumPercent and aggression are DoubleValues, written as
// plain numbers.

import type { WarmupConfiguration } from "./types.ts";
import type { SpecFields } from "./fields.ts";
import { describe } from "../xds/parse/context.ts";

export function readWarmup(f: SpecFields): WarmupConfiguration {
  const out: WarmupConfiguration = {};
  // As warmupDurationSecs: at least 1 ms (Envoy turns a 0 window into "no slow start", which is not a warmup).
  const duration = f.duration("duration", 1);
  if (duration !== undefined) out.duration = duration;
  // Istio requires it ("duration is required"): a warmup without a window does nothing.
  else if (!f.has("duration") && !f.broken) f.error("duration", "required: slow start needs a window");
  const minimumPercent = f.number("minimumPercent", 0, 100);
  if (minimumPercent !== undefined) out.minimumPercent = minimumPercent;
  // Istio's schema allows 0, but Envoy discards an aggression that is not above 0 (and uses 1.0), so 0 is refused
  // here rather than silently meaning "linear".
  if (f.has("aggression")) {
    const aggression = f.raw("aggression");
    if (typeof aggression === "number" && Number.isFinite(aggression) && aggression > 0) out.aggression = aggression;
    else f.error("aggression", `expected a number greater than 0, got ${describe(aggression)}`);
  }
  return out;
}
