// Istio's virtualservice.JWTClaimRouteAnalyzer: routing on a JWT claim (a header match on "@request.auth.claims.…")
// at a gateway needs a RequestAuthentication for that gateway's workloads — in the gateway's namespace or the root
// namespace (istio-system), with no selector or one within the gateway's selector — or the claims are never there
// to match (IST0149).

import type { Gateway, RequestAuthentication, VirtualService } from "../../../api/resources/types.ts";
import { type AnalysisContext, labelsWithin, selectorString } from "../context.ts";
import { MESSAGES } from "../messages.ts";

const CLAIM = "@request.auth.claims";
const ROOT_NAMESPACE = "istio-system";

export function analyzeJwtClaimRoutes(ctx: AnalysisContext): void {
  for (const vs of ctx.virtualServices) {
    const key = claimKey(vs);
    if (key === undefined) continue;
    vs.spec.gateways.forEach((reference, i) => {
      if (reference === "mesh") return;
      const gateway = ctx.findGateway(reference, vs.metadata.namespace);
      if (gateway === undefined) return; // reported by the gateway analyzer
      if (ctx.requestAuthentications.some((ra) => authenticates(ra, gateway))) return;
      const selector = selectorString(gateway.spec.selector);
      ctx.report(
        MESSAGES.JwtClaimBasedRoutingWithoutRequestAuthN,
        vs,
        `The virtual service uses the JWT claim based routing (key: ${key}) but found no request authentication for the gateway (${gateway.metadata.namespace}/${gateway.metadata.name}) pod (workloads with ${selector || "any labels"}). The request authentication must first be applied for the gateway pods to validate the JWT token and make the claims available for routing.`,
        `spec.gateways[${i}]`,
      );
    });
  }
}

function claimKey(vs: VirtualService): string | undefined {
  for (const route of vs.spec.http)
    for (const match of route.match)
      for (const key of [...Object.keys(match.headers), ...Object.keys(match.withoutHeaders)])
        if (key.startsWith(CLAIM)) return key;
  return undefined;
}

function authenticates(ra: RequestAuthentication, gateway: Gateway): boolean {
  const ns = ra.metadata.namespace;
  if (ns !== gateway.metadata.namespace && ns !== ROOT_NAMESPACE) return false;
  if (ra.spec.targetRefs.length > 0)
    return ra.spec.targetRefs.some(
      (t) =>
        t.kind === "Gateway" && t.name === gateway.metadata.name && (t.namespace ?? ns) === gateway.metadata.namespace,
    );
  return labelsWithin(ra.spec.selector?.matchLabels ?? {}, gateway.spec.selector);
}
