// Istio's virtualservice.DestinationHostAnalyzer, its subset half: a gateway's VirtualService that routes to a host
// without a subset sends ingress traffic to every version, whatever the mesh's VirtualService for that host says
// with its subsets (IST0140: those subset rules have no effect on requests through the gateway).

import type { VirtualService } from "../../../api/resources/types.ts";
import { resolveHost } from "../../translate/hosts.ts";
import type { AnalysisContext } from "../context.ts";
import { MESSAGES } from "../messages.ts";

export function analyzeIngressSubsets(ctx: AnalysisContext): void {
  // Hosts that a VirtualService routes to its own subsets of.
  const subsetted = new Map<string, VirtualService[]>();
  for (const vs of ctx.virtualServices) {
    const ns = vs.metadata.namespace;
    const own = new Set(vs.spec.hosts.map((h) => resolveHost(h, ns)));
    for (const route of vs.spec.http)
      for (const d of route.route ?? []) {
        const host = resolveHost(d.destination.host, ns);
        if (d.destination.subset === undefined || !own.has(host)) continue;
        const list = subsetted.get(host) ?? [];
        if (!list.includes(vs)) subsetted.set(host, [...list, vs]);
      }
  }
  for (const vs of ctx.virtualServices) {
    if (vs.spec.gateways.every((g) => g === "mesh")) continue;
    const ns = vs.metadata.namespace;
    vs.spec.http.forEach((route, i) =>
      (route.route ?? []).forEach((d, j) => {
        if (d.destination.subset !== undefined) return;
        for (const other of subsetted.get(resolveHost(d.destination.host, ns)) ?? [])
          ctx.report(
            MESSAGES.IngressRouteRulesNotAffected,
            vs,
            `Subset in virtual service ${other.metadata.namespace}/${other.metadata.name} has no effect on ingress gateway ${ns}/${vs.metadata.name} requests`,
            `spec.http[${i}].route[${j}].destination.host`,
          );
      }),
    );
  }
}
