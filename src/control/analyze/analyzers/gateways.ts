// Istio's virtualservice.GatewayAnalyzer: each gateway a VirtualService binds to exists (IST0101 "gateway"), and
// at least one of the VirtualService's hosts is among the hosts that gateway serves to its namespace (IST0132).

import type { Gateway } from "../../../api/resources/types.ts";
import { type AnalysisContext, hostsOverlap } from "../context.ts";
import { MESSAGES } from "../messages.ts";

export function analyzeGateways(ctx: AnalysisContext): void {
  for (const vs of ctx.virtualServices) {
    const ns = vs.metadata.namespace;
    vs.spec.gateways.forEach((reference, i) => {
      if (reference === "mesh") return;
      const gateway = ctx.findGateway(reference, ns);
      if (gateway === undefined) {
        ctx.report(
          MESSAGES.ReferencedResourceNotFound,
          vs,
          `Referenced gateway not found: ${JSON.stringify(reference)}`,
          `spec.gateways[${i}]`,
        );
        return;
      }
      // A delegate has no hosts of its own: its root's hosts are checked.
      if (vs.spec.hosts.length === 0) return;
      const served = hostsServedTo(gateway, ns);
      if (!served.some((g) => vs.spec.hosts.some((h) => hostsOverlap(g, h))))
        ctx.report(
          MESSAGES.VirtualServiceHostNotFoundInGateway,
          vs,
          `one or more host [${vs.spec.hosts.join(" ")}] defined in VirtualService ${ns}/${vs.metadata.name} not found in Gateway ${gateway.metadata.namespace}/${gateway.metadata.name}.`,
          `spec.gateways[${i}]`,
        );
    });
  }
}

/**
 * The hosts a gateway's servers offer to VirtualServices of `namespace`: "ns/host" only to ns ("." is the gateway's
 * own namespace, "*" every namespace), a bare host to all.
 */
export function hostsServedTo(gateway: Gateway, namespace: string): string[] {
  return gateway.spec.servers.flatMap((server) =>
    server.hosts.flatMap((h) => {
      const slash = h.indexOf("/");
      if (slash < 0) return [h];
      const scope = h.slice(0, slash);
      const host = h.slice(slash + 1);
      const ns = scope === "." ? gateway.metadata.namespace : scope;
      return ns === "*" || ns === namespace ? [host] : [];
    }),
  );
}
