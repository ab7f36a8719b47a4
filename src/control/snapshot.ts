// One proxy's snapshot: translate(world, proxy) packed by type URL and name, as the ADS server serves it.

import { TYPE_URL } from "../api/xds/wire/codec.ts";
import type { TranslationResult } from "./translate/index.ts";
import type { Snapshot } from "./xds/types.ts";

type Json = Record<string, unknown>;

function byName(resources: readonly Json[], nameOf: (r: Json) => unknown): Map<string, Json> {
  return new Map(resources.map((r) => [String(nameOf(r)), r]));
}

export function snapshotOf(result: TranslationResult): Snapshot {
  return new Map([
    [TYPE_URL.listener, byName(result.listeners, (r) => r.name)],
    [TYPE_URL.routeConfiguration, byName(result.routes, (r) => r.name)],
    [TYPE_URL.cluster, byName(result.clusters, (r) => r.name)],
    [TYPE_URL.clusterLoadAssignment, byName(result.endpoints, (r) => r.cluster_name)],
  ]);
}

/** The short names `trellis proxy-config` uses for the four types. */
export const CONFIG_TYPES: Record<string, string> = {
  listeners: TYPE_URL.listener,
  routes: TYPE_URL.routeConfiguration,
  clusters: TYPE_URL.cluster,
  endpoints: TYPE_URL.clusterLoadAssignment,
};
