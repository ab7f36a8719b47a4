// One xDS response's resources (Envoy JSON, decoded from the wire) → typed resources, all of them or none: every
// problem of every resource is collected before the update is refused.

import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from "../../api/xds/types.ts";
import {
  parseCluster,
  parseClusterLoadAssignment,
  parseListener,
  parseRouteConfiguration,
} from "../../api/xds/parse/index.ts";
import { problemOf } from "./errors.ts";

export interface ParsedResource<T> {
  name: string;
  value: T;
  /** As received: shown by /config_dump, compared to tell a changed resource from an unchanged one. */
  raw: Record<string, unknown>;
  /** JSON of raw, computed once. */
  fingerprint: string;
}

type Parser<T> = (raw: unknown, path?: string) => T;

function parseAll<T>(
  raws: readonly Record<string, unknown>[],
  parse: Parser<T>,
  nameOf: (value: T) => string,
  kind: string,
  problems: string[],
): ParsedResource<T>[] {
  const out: ParsedResource<T>[] = [];
  const seen = new Set<string>();
  raws.forEach((raw, i) => {
    let value: T;
    try {
      value = parse(raw);
    } catch (err) {
      problems.push(problemOf(err));
      return;
    }
    const name = nameOf(value);
    if (name === "") problems.push(`resources[${i}]: a ${kind} needs a name`);
    else if (seen.has(name)) problems.push(`${kind} ${name}: sent twice in one response`);
    seen.add(name);
    out.push({ name, value, raw, fingerprint: JSON.stringify(raw) });
  });
  return out;
}

export const parseClusters = (raws: readonly Record<string, unknown>[], problems: string[]) =>
  parseAll<Cluster>(raws, parseCluster, (c) => c.name, "cluster", problems);
export const parseListeners = (raws: readonly Record<string, unknown>[], problems: string[]) =>
  parseAll<Listener>(raws, parseListener, (l) => l.name, "listener", problems);
export const parseRouteConfigurations = (raws: readonly Record<string, unknown>[], problems: string[]) =>
  parseAll<RouteConfiguration>(raws, parseRouteConfiguration, (r) => r.name, "route configuration", problems);
export const parseAssignments = (raws: readonly Record<string, unknown>[], problems: string[]) =>
  parseAll<ClusterLoadAssignment>(
    raws,
    parseClusterLoadAssignment,
    (a) => a.clusterName,
    "cluster load assignment",
    problems,
  );
