// Istio's gateway.ConflictingGatewayAnalyzer: two gateways with the same selector listening on the same port for
// overlapping hosts leave which server answers undefined (IST0145), reported on each of them.

import { type AnalysisContext, hostsOverlap, selectorString } from "../context.ts";
import { MESSAGES } from "../messages.ts";

export function analyzeConflictingGateways(ctx: AnalysisContext): void {
  for (const gateway of ctx.gateways) {
    const selector = selectorString(gateway.spec.selector);
    gateway.spec.servers.forEach((server, i) => {
      const conflicting = ctx.gateways.filter(
        (other) =>
          other !== gateway &&
          selectorString(other.spec.selector) === selector &&
          other.spec.servers.some(
            (s) =>
              s.port.number === server.port.number &&
              s.hosts.some((h) => server.hosts.some((mine) => hostsOverlap(bare(h), bare(mine)))),
          ),
      );
      if (conflicting.length === 0) return;
      ctx.report(
        MESSAGES.ConflictingGateways,
        gateway,
        `Conflict with gateways ${conflicting.map((g) => `${g.metadata.namespace}/${g.metadata.name}`).join(",")} (workload selector ${selector}, port ${server.port.number}, hosts ${server.hosts.join(",")}).`,
        `spec.servers[${i}]`,
      );
    });
  }
}

/** A server host without its "namespace/" part. */
const bare = (host: string): string => host.slice(host.indexOf("/") + 1);
