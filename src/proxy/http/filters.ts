// HTTP filters, registered by the type URL of their typed_config (as Envoy's are) and composed once, when
// configuration arrives: each factory parses its own config and returns a Layer around the next handler.

import type { Clock } from "../../api/clock.ts";
import { ConfigError } from "../../api/errors.ts";
import type { Result } from "../../api/result.ts";
import type { HttpFilter } from "../../api/xds/types.ts";
import type { StatsStore } from "../../telemetry/stats.ts";
import type { Handler, Layer } from "./exchange.ts";

export interface FilterContext {
  clock: Clock;
  /** Uniform in [0, 1): percentages (faults); tests pass a seeded generator. */
  random: () => number;
  store: StatsStore;
  statPrefix: string;
}

export interface FilterFactory<C> {
  typeUrl: string;
  parse(raw: Record<string, unknown>): Result<C, string[]>;
  create(config: C, context: FilterContext): Layer;
}

const registry = new Map<string, FilterFactory<unknown>>();

export function registerFilter<C>(factory: FilterFactory<C>): void {
  registry.set(factory.typeUrl, factory as FilterFactory<unknown>);
}

/** Composes the configured filters in order around the router; an unknown filter is a configuration error. */
export function buildFilterChain(filters: readonly HttpFilter[], router: Handler, context: FilterContext): Handler {
  const layers: Layer[] = [];
  const issues: { path: string; message: string }[] = [];
  filters.forEach((f, i) => {
    const factory = registry.get(f.typeUrl);
    if (factory === undefined) {
      issues.push({
        path: `http_filters[${i}]`,
        message: `filter "${f.name}" (${f.typeUrl || "no typed_config"}) is not supported by this proxy; supported: ${[...registry.keys()].join(", ") || "none yet"}`,
      });
      return;
    }
    const parsed = factory.parse(f.config);
    if (!parsed.ok) {
      for (const message of parsed.error) issues.push({ path: `http_filters[${i}].typed_config`, message });
      return;
    }
    layers.push(factory.create(parsed.value, context));
  });
  if (issues.length > 0) throw new ConfigError(`http_connection_manager ${context.statPrefix}`, issues);
  let handler = router;
  for (let i = layers.length - 1; i >= 0; i--) handler = layers[i]!(handler);
  return handler;
}
