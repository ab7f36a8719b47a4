// Istio's virtualservice.DestinationRuleAnalyzer: a destination's subset is defined by a DestinationRule for its
// host that the VirtualService's namespace sees (IST0101 "host+subset in destinationrule"). The subsets of every
// such rule count: rules for one host merge, as Istio merges them.

import type { VirtualService } from "../../../api/resources/types.ts";
import { exportedTo, hostMatches, resolveHost } from "../../translate/hosts.ts";
import type { AnalysisContext } from "../context.ts";
import { MESSAGES } from "../messages.ts";
import { destinationsOf } from "./destinations.ts";

export function analyzeSubsets(
  ctx: AnalysisContext,
  virtualServices: readonly VirtualService[],
  exact: ReadonlySet<VirtualService>,
): void {
  for (const vs of virtualServices) {
    const ns = vs.metadata.namespace;
    for (const { destination: d, path } of destinationsOf(vs)) {
      if (d.subset === undefined) continue;
      const host = resolveHost(d.host, ns);
      const rules = ctx.destinationRules.filter(
        (dr) =>
          hostMatches(resolveHost(dr.spec.host, dr.metadata.namespace), host) &&
          exportedTo(dr.spec.exportTo, dr.metadata.namespace, ns),
      );
      if (rules.some((dr) => dr.spec.subsets.some((s) => s.name === d.subset))) continue;
      const defined = rules.flatMap((dr) => dr.spec.subsets.map((s) => s.name));
      const why =
        rules.length === 0
          ? `no DestinationRule for ${host} is visible in namespace ${ns}`
          : `${rules.map((dr) => `DestinationRule ${dr.metadata.namespace}/${dr.metadata.name}`).join(", ")} define${rules.length === 1 ? "s" : ""} ${defined.length === 0 ? "no subsets" : `only ${defined.join(", ")}`}`;
      ctx.report(
        MESSAGES.ReferencedResourceNotFound,
        vs,
        `Referenced host+subset in destinationrule not found: "${d.host}+${d.subset}" (${why}: requests routed there fail with 503 NC)`,
        exact.has(vs) ? `${path}.subset` : undefined,
      );
    }
  }
}
