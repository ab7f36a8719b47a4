// When the next check of an endpoint runs, as Envoy's HealthCheckerImplBase::interval decides it: a cluster that
// has never made an upstream connection is checked at the slow no_traffic_interval (nobody needs fresh news of it
// yet); otherwise the interval follows the endpoint's state, and a change still short of its threshold uses the
// edge interval so that it is confirmed (or refuted) sooner. Jitter spreads the checks of many proxies apart.

import type { HealthCheck } from "../../../api/xds/types.ts";

/** Which way the last check went, and whether it moved the endpoint (Envoy's HealthTransition). */
export type CheckOutcome = "healthy" | "unhealthy";
export type Transition = "unchanged" | "changed" | "pending";

export function nextIntervalMs(
  hc: HealthCheck,
  outcome: CheckOutcome,
  transition: Transition,
  hasTraffic: boolean,
  random: () => number,
): number {
  let base: number;
  if (!hasTraffic) {
    base = outcome === "healthy" && transition !== "pending" ? hc.noTrafficHealthyIntervalMs : hc.noTrafficIntervalMs;
  } else if (outcome === "unhealthy") {
    base = transition === "pending" ? hc.unhealthyEdgeIntervalMs : hc.unhealthyIntervalMs;
  } else {
    base = transition === "pending" ? hc.healthyEdgeIntervalMs : hc.intervalMs;
  }
  return withJitter(base, hc.intervalJitterMs, hc.intervalJitterPercent, random);
}

/** Envoy's intervalWithJitter: + [0, percent × base / 100) + [0, jitter), never below 1 ms. */
export function withJitter(baseMs: number, jitterMs: number, jitterPercent: number, random: () => number): number {
  let ms = baseMs;
  const percentSpan = Math.floor((jitterPercent * baseMs) / 100);
  if (percentSpan > 0) ms += Math.floor(random() * percentSpan);
  if (jitterMs > 0) ms += Math.floor(random() * jitterMs);
  return Math.max(1, ms);
}

/** The first check of a new endpoint: at once, or after a random [0, initial_jitter). */
export function initialDelayMs(hc: HealthCheck, random: () => number): number {
  return hc.initialJitterMs > 0 ? Math.floor(random() * hc.initialJitterMs) : 0;
}
