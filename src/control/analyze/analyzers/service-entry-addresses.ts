// Istio's serviceentry.ProtocolAddressesAnalyzer: a ServiceEntry without addresses cannot be told apart by
// destination address on a TCP port (or one whose protocol is left to sniffing): IST0134, one per such port.

import type { AnalysisContext } from "../context.ts";
import { MESSAGES } from "../messages.ts";

export function analyzeServiceEntryAddresses(ctx: AnalysisContext): void {
  for (const se of ctx.serviceEntries) {
    if (se.spec.addresses.length > 0) continue;
    se.spec.ports.forEach((port, i) => {
      const protocol = (port.protocol as string | undefined) ?? "";
      if (protocol !== "" && protocol.toUpperCase() !== "TCP") return;
      ctx.report(
        MESSAGES.ServiceEntryAddressesRequired,
        se,
        `ServiceEntry addresses are required for this protocol (port ${port.number}${port.name ? ` "${port.name}"` : ""} is ${protocol === "" ? "of an unset protocol" : "TCP"}: without an address, the mesh cannot tell which host a connection is for).`,
        `spec.ports[${i}]`,
      );
    });
  }
}
