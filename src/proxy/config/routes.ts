// RDS: route configurations by name, each compiled once into a route table, and the connection managers that route
// with them. An update compiles every table first (a bad one refuses the whole update), then hands each manager its
// new table; exchanges already started keep the table they started with.

import type { RouteConfiguration } from "../../api/xds/types.ts";
import { compilePerRouteFilterConfig } from "../http/filters.ts";
import type { HttpConnectionManagerRuntime, RouteTableSource } from "../http/connection-manager.ts";
import { compileRouteTable } from "../router/route-table.ts";
import type { RouteTable } from "../router/types.ts";
import { problemOf } from "./errors.ts";
import type { ParsedResource } from "./parse-update.ts";
import type { DynamicRecord } from "./records.ts";

interface RouteEntry {
  table: RouteTable;
  record: DynamicRecord;
}

export class RouteConfigRegistry implements RouteTableSource {
  private readonly entries = new Map<string, RouteEntry>();
  private readonly users = new Set<HttpConnectionManagerRuntime>();

  constructor(private readonly random: () => number) {}

  table(name: string): RouteTable | undefined {
    return this.entries.get(name)?.table;
  }

  /** An RDS connection manager now in service: it gets every later version of its route configuration. */
  attach(hcm: HttpConnectionManagerRuntime): void {
    if (hcm.rdsName !== undefined) this.users.add(hcm);
  }

  detach(hcm: HttpConnectionManagerRuntime): void {
    this.users.delete(hcm);
  }

  /** The route configuration names the managers in service use: what the xDS client subscribes to. */
  referencedNames(): string[] {
    const names = new Set<string>();
    for (const hcm of this.users) names.add(hcm.rdsName!);
    return [...names].sort();
  }

  records(): DynamicRecord[] {
    return [...this.entries.values()].map((e) => e.record);
  }

  /** Compiles each route configuration (problems go to `problems`); returns the swap to run when all succeeded. */
  prepare(
    updates: readonly ParsedResource<RouteConfiguration>[],
    record: (r: ParsedResource<RouteConfiguration>) => DynamicRecord,
    problems: string[],
  ): () => void {
    const compiled: [string, RouteEntry][] = [];
    for (const u of updates) {
      if (this.entries.get(u.name)?.record.fingerprint === u.fingerprint) continue; // unchanged: keep its table
      try {
        const table = compileRouteTable(u.value, {
          random: this.random,
          compileFilterConfig: compilePerRouteFilterConfig,
        });
        compiled.push([u.name, { table, record: record(u) }]);
      } catch (err) {
        problems.push(`route configuration ${u.name}: ${problemOf(err)}`);
      }
    }
    return () => {
      for (const [name, entry] of compiled) this.entries.set(name, entry);
      for (const hcm of this.users) {
        const entry = this.entries.get(hcm.rdsName!);
        if (entry !== undefined) hcm.useRouteTable(entry.table);
      }
    };
  }

  /** Route configurations no listener uses any more are forgotten (Envoy drops unsubscribed resources too). */
  prune(): void {
    const used = new Set(this.referencedNames());
    for (const name of this.entries.keys()) if (!used.has(name)) this.entries.delete(name);
  }
}
