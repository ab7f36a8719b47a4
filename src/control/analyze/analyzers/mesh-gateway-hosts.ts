// Istio's virtualservice.ConflictingMeshGatewayHostsAnalyzer: two VirtualServices bound to the mesh (no gateways,
// or "mesh") for one host, seen from a common namespace (exportTo), make which one applies undefined; every one
// of them is flagged (IST0109), naming them all. VirtualServices exported to disjoint namespaces do not conflict.

import type { VirtualService } from "../../../api/resources/types.ts";
import { resolveHost } from "../../translate/hosts.ts";
import type { AnalysisContext } from "../context.ts";
import { MESSAGES } from "../messages.ts";

export function analyzeMeshGatewayHosts(ctx: AnalysisContext): void {
  const byHost = new Map<string, { vs: VirtualService; scopes: Set<string> }[]>();
  for (const vs of ctx.virtualServices) {
    const gateways = vs.spec.gateways;
    if (gateways.length > 0 && !gateways.includes("mesh")) continue;
    const scopes = exportScopes(vs);
    if (scopes.size === 0) continue; // exportTo ["~"]: seen by no namespace
    for (const h of new Set(vs.spec.hosts.map((h) => resolveHost(h, vs.metadata.namespace)))) {
      const list = byHost.get(h) ?? [];
      list.push({ vs, scopes });
      byHost.set(h, list);
    }
  }
  for (const [host, list] of byHost) {
    for (const entry of list) {
      const conflicting = list.filter((other) => other !== entry && intersect(entry.scopes, other.scopes));
      if (conflicting.length === 0) continue;
      const names = [entry, ...conflicting]
        .map((e) => `${e.vs.metadata.namespace}/${e.vs.metadata.name}`)
        .sort()
        .join(",");
      ctx.report(
        MESSAGES.ConflictingMeshGatewayVirtualServiceHosts,
        entry.vs,
        `The VirtualServices ${names} associated with mesh gateway define the same host ${host} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`,
        "metadata.name",
      );
    }
  }
}

/** The namespaces a VirtualService is visible in: "*" for all. */
function exportScopes(vs: VirtualService): Set<string> {
  const exportTo = vs.spec.exportTo;
  if (exportTo.length === 0 || exportTo.includes("*")) return new Set(["*"]);
  return new Set(exportTo.filter((e) => e !== "~").map((e) => (e === "." ? vs.metadata.namespace : e)));
}

function intersect(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.has("*") || b.has("*")) return true;
  for (const x of a) if (b.has(x)) return true;
  return false;
}
