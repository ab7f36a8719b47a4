// The NameTable of a capture-mode sidecar (Istio's NDS, istio.networking.nds.v1.NameTable): every service host the
// proxy can see (exportTo, Sidecar egress: the same services its outbound listeners are built from) with the
// addresses its DNS proxy answers for it — the service's VIPs (vips.ts, or a ServiceEntry's own addresses).
// Registry services carry `shortname` and `namespace` (the DNS proxy answers name and name.namespace from them),
// as Istio's do for Kubernetes services; ServiceEntry hosts, wildcards included, are listed by their host. A host
// without an address (resolution NONE with none listed) is left out: the application resolves it upstream and its
// connection is passed to the address it resolved. Keys are in hostname order, so the table hashes the same for
// the same world.

import type { Json } from "./envoy.ts";
import type { World } from "./world-index.ts";
import { CLUSTER_DOMAIN, type ServiceModel } from "./world.ts";

/** Istio's registry names (serviceregistry/provider): a Kubernetes Service, or a ServiceEntry's host. */
const REGISTRY = "Kubernetes";
const EXTERNAL = "External";

export function nameTable(world: World, services: readonly ServiceModel[]): Json {
  const table: Record<string, Json> = {};
  const sorted = [...services].sort((a, b) => a.hostname.localeCompare(b.hostname));
  for (const service of sorted) {
    const ips = world.vipsOf(service);
    if (ips.length === 0) continue;
    const host = service.hostname.toLowerCase();
    const info: Json = { ips: [...ips] };
    const suffix = `.${service.namespace}.${CLUSTER_DOMAIN}`;
    if (service.source === undefined) {
      info.registry = REGISTRY;
      if (host.endsWith(suffix)) {
        info.shortname = host.slice(0, -suffix.length);
        info.namespace = service.namespace;
      }
    } else {
      info.registry = EXTERNAL;
    }
    table[host] = info;
  }
  return { table };
}
