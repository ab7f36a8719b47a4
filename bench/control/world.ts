// The benchmark's mesh: one sidecar configuration for S services (per service one EDS cluster, its load
// assignment and a virtual host in the shared outbound-http route), as translate() would emit it. Every proxy gets
// the same objects, as a translation that memoises equal inputs would give them; a change builds a new route
// configuration object once (a VirtualService edit that every proxy sees).

import { TYPE_URL } from "../../src/api/xds/wire/codec.ts";
import { byName, edsCluster, loadAssignment, rdsListener } from "../../src/control/xds/testing-resources.ts";
import type { Snapshot } from "../../src/control/xds/types.ts";

export function serviceName(i: number): string {
  return `outbound|80||svc-${i}.default.svc.cluster.local`;
}

function routes(services: number, revision: number): Record<string, unknown> {
  return {
    name: "outbound-http",
    virtual_hosts: Array.from({ length: services }, (_, i) => {
      const host = `svc-${i}.default.svc.cluster.local`;
      return {
        name: `${host}:80`,
        domains: [host, `${host}:80`, `svc-${i}.default`, `svc-${i}`],
        routes: [
          {
            match: { prefix: "/" },
            route: {
              cluster: serviceName(i),
              timeout: "15s",
              // The edit: service 0's retries change with each revision.
              retry_policy: { retry_on: "5xx", num_retries: i === 0 ? 2 + revision : 2 },
            },
          },
        ],
      };
    }),
  };
}

export class BenchWorld {
  private snapshot: Snapshot;
  private revision = 0;

  constructor(readonly services: number) {
    this.snapshot = this.build();
  }

  private build(): Snapshot {
    const names = Array.from({ length: this.services }, (_, i) => serviceName(i));
    const prev = this.snapshot as Snapshot | undefined;
    return new Map([
      [
        TYPE_URL.listener,
        prev?.get(TYPE_URL.listener) ?? byName([rdsListener("outbound-http", 15001, "outbound-http")]),
      ],
      [TYPE_URL.routeConfiguration, byName([routes(this.services, this.revision)])],
      [TYPE_URL.cluster, prev?.get(TYPE_URL.cluster) ?? byName(names.map((n) => edsCluster(n)))],
      [
        TYPE_URL.clusterLoadAssignment,
        prev?.get(TYPE_URL.clusterLoadAssignment) ??
          byName(
            names.map((n, i) => loadAssignment(n, [[`10.0.${(i >> 8) & 255}.${i & 255}`, 15006]])),
            "cluster_name",
          ),
      ],
    ]);
  }

  /** A VirtualService edit: one route changes, the route configuration every proxy shares is rebuilt. */
  change(): void {
    this.revision++;
    this.snapshot = this.build();
  }

  current(): Snapshot {
    return this.snapshot;
  }

  clusterNames(): string[] {
    return Array.from({ length: this.services }, (_, i) => serviceName(i));
  }
}
