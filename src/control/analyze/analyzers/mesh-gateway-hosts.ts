// Istio's virtualservice.ConflictingMeshGatewayHostsAnalyzer: two VirtualServices bound to the mesh (no gateways,
// or "mesh") for one host, seen from a common namespace (exportTo), make which one applies undefined; every one of
// them is flagged once (IST0109), naming them all. As in Istio, a VirtualService exported to some namespaces also
// conflicts with one exported everywhere whose host overlaps its own through a wildcard (`*.example.com` and
// `reviews.example.com`); two exported everywhere conflict on the same host only (the more specific name wins).

import type { VirtualService } from "../../../api/resources/types.ts";
import { resolveHost } from "../../translate/hosts.ts";
import { type AnalysisContext, hostsOverlap } from "../context.ts";
import { MESSAGES } from "../messages.ts";

interface Entry {
  vs: VirtualService;
  /** The namespaces it is visible in; "*" for all. */
  scopes: Set<string>;
  hosts: string[];
}

export function analyzeMeshGatewayHosts(ctx: AnalysisContext): void {
  const entries: Entry[] = [];
  for (const vs of ctx.virtualServices) {
    const gateways = vs.spec.gateways;
    if (gateways.length > 0 && !gateways.includes("mesh")) continue;
    const scopes = exportScopes(vs);
    if (scopes.size === 0) continue; // exportTo ["~"]: seen by no namespace
    entries.push({ vs, scopes, hosts: [...new Set(vs.spec.hosts.map((h) => resolveHost(h, vs.metadata.namespace)))] });
  }
  for (const entry of entries) {
    for (const host of entry.hosts) {
      const conflicting = entries.filter(
        (other) => other !== entry && other.hosts.some((h) => conflict(entry, host, other, h)),
      );
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
      break; // each VirtualService once
    }
  }
}

function conflict(a: Entry, hostA: string, b: Entry, hostB: string): boolean {
  if (!intersect(a.scopes, b.scopes)) return false;
  if (hostA === hostB) return true;
  const allA = a.scopes.has("*");
  const allB = b.scopes.has("*");
  return allA !== allB && hostsOverlap(hostA, hostB);
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
