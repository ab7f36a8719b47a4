// Which services a proxy receives: those exported to its namespace and, when a Sidecar applies to it, only those
// its egress hosts name ("ns/host" with "*" and "." on either side, "~" for none). Istio's Sidecar scoping.
// An egress listener with a port scopes that port only: a service port P is reachable when the hosts of the egress
// listeners for port P name the service, or — when no listener names port P — the catch-all's (the one without a
// port) do. A service keeps only its reachable ports; one with none is left out.

import type { Sidecar } from "../../api/resources/types.ts";
import { hostMatches } from "./hosts.ts";
import type { Problems } from "./problems.ts";
import type { ProxyIdentity } from "./proxy-identity.ts";
import type { World } from "./world-index.ts";
import type { ServiceModel } from "./world.ts";

interface HostPattern {
  ns: string;
  host: string;
}

export function reachableServices(
  world: World,
  proxy: ProxyIdentity,
  sidecar: Sidecar | undefined,
  problems: Problems,
): ServiceModel[] {
  const visible = world.servicesVisibleTo(proxy.namespace);
  const egress = sidecar?.spec.egress ?? [];
  if (sidecar === undefined || egress.length === 0) return visible;
  const where = `Sidecar ${sidecar.metadata.namespace}/${sidecar.metadata.name}`;
  /** Port number → the hosts of its egress listeners; undefined key = the catch-all. */
  const byPort = new Map<number | undefined, HostPattern[]>();
  for (const e of egress) {
    const patterns = byPort.get(e.port?.number) ?? [];
    byPort.set(e.port?.number, patterns);
    for (const h of e.hosts ?? []) {
      const slash = h.indexOf("/");
      if (slash < 0) {
        problems.add(`${where}: egress host "${h}" is not of the form namespace/host; ignored`);
        continue;
      }
      const ns = h.slice(0, slash);
      patterns.push({ ns: ns === "." ? sidecar.metadata.namespace : ns, host: h.slice(slash + 1) });
    }
  }
  const named = (patterns: readonly HostPattern[] | undefined, s: ServiceModel): boolean =>
    (patterns ?? []).some(
      (p) => p.ns !== "~" && (p.ns === "*" || p.ns === s.namespace) && hostMatches(p.host, s.hostname),
    );
  const out: ServiceModel[] = [];
  for (const s of visible) {
    if (s.ports.length === 0) {
      if (named(byPort.get(undefined), s)) out.push(s);
      continue;
    }
    const ports = s.ports.filter((port) => named(byPort.get(byPort.has(port.number) ? port.number : undefined), s));
    if (ports.length === s.ports.length) out.push(s);
    else if (ports.length > 0) out.push({ ...s, ports });
  }
  return out;
}
