// Istio's virtualservice.DestinationHostAnalyzer: every destination (route or mirror) names a service the mesh
// knows (IST0101 "host" / "mirror host"), on one of its ports when a port is given (IST0101 "host:port"), and
// names the port when the service has several (IST0112). A wildcard ServiceEntry host covers the names under it.

import type { VirtualService } from "../../../api/resources/types.ts";
import type { AnalysisContext } from "../context.ts";
import { MESSAGES } from "../messages.ts";
import { destinationsOf } from "./destinations.ts";

/** `virtualServices`: what routes (delegates merged into their roots); `exact`: those whose paths are as written. */
export function analyzeDestinationHosts(
  ctx: AnalysisContext,
  virtualServices: readonly VirtualService[],
  exact: ReadonlySet<VirtualService>,
): void {
  for (const vs of virtualServices) {
    const at = (path: string) => (exact.has(vs) ? path : undefined);
    for (const { destination: d, role, path } of destinationsOf(vs)) {
      const service = ctx.findService(d.host, vs.metadata.namespace);
      if (service === undefined) {
        ctx.report(
          MESSAGES.ReferencedResourceNotFound,
          vs,
          `Referenced ${role} not found: ${JSON.stringify(d.host)} (no service, Kubernetes Service or ServiceEntry the mesh knows has this name: requests routed there fail)`,
          at(`${path}.host`),
        );
        continue;
      }
      const ports = service.ports.map((p) => p.number);
      if (d.port !== undefined) {
        if (ports.length > 0 && !ports.includes(d.port.number))
          ctx.report(
            MESSAGES.ReferencedResourceNotFound,
            vs,
            `Referenced host:port not found: "${d.host}:${d.port.number}" (${service.hostname} has ports ${ports.join(", ")})`,
            at(`${path}.port`),
          );
      } else if (ports.length > 1)
        ctx.report(
          MESSAGES.VirtualServiceDestinationPortSelectorRequired,
          vs,
          `This VirtualService routes to a service ${JSON.stringify(d.host)} that exposes multiple ports [${ports.join(" ")}]. Specifying a port in the destination is required to disambiguate.`,
          at(`${path}.host`),
        );
    }
  }
}
