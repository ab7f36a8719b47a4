// HTTP filters, registered by the type URL of their typed_config (as Envoy's are) and composed once, when
// configuration arrives: each factory parses its own config and returns a Layer around the next handler.

import type { Clock } from "../../api/clock.ts";
import { ConfigError } from "../../api/errors.ts";
import { fail, type Result } from "../../api/result.ts";
import type { FilterConfigOverride, HttpFilter } from "../../api/xds/types.ts";
import type { CompiledRoute, RouteMiss } from "../router/types.ts";
import type { StatsStore } from "../../telemetry/stats.ts";
import type { Exchange, Handler, Layer } from "./exchange.ts";

export interface FilterContext {
  /** The filter's name in http_filters (the key of its typed_per_filter_config entries). */
  filterName: string;
  /** The route matched for the exchange (resolved once and cached in ex.info.route; the router uses the same). */
  routeOf(ex: Exchange): CompiledRoute | RouteMiss;
  clock: Clock;
  /** Uniform in [0, 1): percentages (faults); tests pass a seeded generator. */
  random: () => number;
  store: StatsStore;
  statPrefix: string;
}

export interface FilterFactory<C> {
  typeUrl: string;
  parse(raw: Record<string, unknown>): Result<C, string[]>;
  /**
   * Parses a typed_per_filter_config entry of this type (a route's or virtual host's override); what it returns is
   * what the filter reads through route.perFilterConfig(filterName). Absent: the filter takes no per-route config.
   */
  parsePerRoute?(raw: Record<string, unknown>): Result<unknown, string[]>;
  /** The type of those entries when it is not the filter's own (CORS: CorsPolicy per route, Cors for the filter). */
  perRouteTypeUrl?: string;
  create(config: C, context: FilterContext): Layer;
}

const registry = new Map<string, FilterFactory<unknown>>();
/** Factories by the type of their typed_per_filter_config entries. */
const perRouteRegistry = new Map<string, FilterFactory<unknown>>();

export function registerFilter<C>(factory: FilterFactory<C>): void {
  registry.set(factory.typeUrl, factory as FilterFactory<unknown>);
  if (factory.parsePerRoute !== undefined)
    perRouteRegistry.set(factory.perRouteTypeUrl ?? factory.typeUrl, factory as FilterFactory<unknown>);
}

/** Validates a typed_per_filter_config entry with the factory of its type (route table compilation calls this). */
export function compilePerRouteFilterConfig(
  filterName: string,
  override: FilterConfigOverride,
): Result<unknown, string[]> {
  const factory = perRouteRegistry.get(override.typeUrl);
  if (factory === undefined) {
    if (registry.has(override.typeUrl))
      return fail([`filter "${filterName}" (${override.typeUrl}) takes no per-route configuration`]);
    return fail([
      `filter "${filterName}": per-route type ${override.typeUrl} is not supported by this proxy; supported: ${[...perRouteRegistry.keys()].join(", ") || "none"}`,
    ]);
  }
  return factory.parsePerRoute!(override.config);
}

/** Composes the configured filters in order around the router; an unknown filter is a configuration error. */
export function buildFilterChain(
  filters: readonly HttpFilter[],
  router: Handler,
  shared: Omit<FilterContext, "filterName">,
): Handler {
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
    layers.push(factory.create(parsed.value, { ...shared, filterName: f.name }));
  });
  if (issues.length > 0) throw new ConfigError(`http_connection_manager ${shared.statPrefix}`, issues);
  let handler = router;
  for (let i = layers.length - 1; i >= 0; i--) handler = layers[i]!(handler);
  return handler;
}
