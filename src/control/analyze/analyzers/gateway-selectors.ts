// Istio's gateway.IngressGatewayPortAnalyzer, its first half: a Gateway whose selector matches no workload the mesh
// runs configures nothing (IST0101 "Referenced selector not found", at the selector's first label). Workloads are
// known only live (registry instances and connected proxies, in any namespace, as Istio looks at every pod);
// offline nothing is said. The second half (the gateway's ports against its Service's) needs Kubernetes Services
// that select gateway pods, which Trellis does not have.

import { labelsMatch } from "../../translate/labels.ts";
import type { AnalysisContext } from "../context.ts";
import { MESSAGES } from "../messages.ts";

export function analyzeGatewaySelectors(ctx: AnalysisContext): void {
  const workloads = ctx.workloads;
  if (workloads === undefined) return;
  for (const gateway of ctx.gateways) {
    const selector = gateway.spec.selector ?? {};
    if (workloads.some((w) => labelsMatch(selector, w.labels))) continue;
    // Written as Kubernetes writes a label selector: key=value pairs sorted by key, joined by commas.
    const keys = Object.keys(selector).sort();
    const text = keys.map((k) => `${k}=${selector[k]}`).join(",");
    ctx.report(
      MESSAGES.ReferencedResourceNotFound,
      gateway,
      `Referenced selector not found: ${JSON.stringify(text)}`,
      keys.length > 0 ? `spec.selector.${keys[0]}` : "spec.selector",
    );
  }
}
