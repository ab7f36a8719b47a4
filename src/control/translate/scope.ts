// Which services a proxy receives: those exported to its namespace and, when a Sidecar applies to it, only those
// its egress hosts name ("ns/host" with "*" and "." on either side, "~" for none). Istio's Sidecar scoping.

import type { Sidecar } from "../../api/resources/types.ts";
import { hostMatches } from "./hosts.ts";
import type { Problems } from "./problems.ts";
import type { ProxyIdentity } from "./proxy-identity.ts";
import type { World } from "./world-index.ts";
import type { ServiceModel } from "./world.ts";

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
  const patterns: { ns: string; host: string }[] = [];
  for (const e of egress) {
    if (e.port !== undefined)
      problems.add(`${where}: egress port ${e.port.number} is not supported; its hosts apply to every port`);
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
  return visible.filter((s) =>
    patterns.some((p) => p.ns !== "~" && (p.ns === "*" || p.ns === s.namespace) && hostMatches(p.host, s.hostname)),
  );
}
