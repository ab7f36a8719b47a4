// Istio's destinationrule PodNotSelectedAnalyzer, its host half: a DestinationRule whose host matches no service
// the mesh knows (as seen from the rule's namespace) applies to nothing (IST0174, a warning).

import type { AnalysisContext } from "../context.ts";
import { MESSAGES } from "../messages.ts";

export function analyzeDestinationRuleHosts(ctx: AnalysisContext): void {
  for (const dr of ctx.destinationRules) {
    if (ctx.findService(dr.spec.host, dr.metadata.namespace) !== undefined) continue;
    ctx.report(
      MESSAGES.UnknownDestinationRuleHost,
      dr,
      `The host ${dr.spec.host} defined in the DestinationRule does not match any services in the mesh.`,
      "spec.host",
    );
  }
}
