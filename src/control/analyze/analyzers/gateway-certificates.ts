// Istio's gateway.CertificateAnalyzer: two gateways on the same workloads (one's selector within the other's)
// serving the same certificate let a browser reuse an HTTP/2 connection across them and get 404s (IST0138).

import type { GatewayServer, ServerTLSSettings } from "../../../api/resources/types.ts";
import { type AnalysisContext, labelsWithin } from "../context.ts";
import { MESSAGES } from "../messages.ts";

export function analyzeGatewayCertificates(ctx: AnalysisContext): void {
  for (const gateway of ctx.gateways) {
    const self = `${gateway.metadata.namespace}/${gateway.metadata.name}`;
    for (const other of ctx.gateways) {
      if (other === gateway || !labelsWithin(gateway.spec.selector, other.spec.selector)) continue;
      if (!gateway.spec.servers.some((a) => other.spec.servers.some((b) => sameCertificate(a, b)))) continue;
      ctx.report(
        MESSAGES.GatewayDuplicateCertificate,
        gateway,
        `Duplicate certificate in multiple gateways [${self} ${other.metadata.namespace}/${other.metadata.name}] may cause 404s if clients re-use HTTP2 connections.`,
        "metadata.name",
      );
    }
  }
}

function sameCertificate(a: GatewayServer, b: GatewayServer): boolean {
  const x: ServerTLSSettings | undefined = a.tls;
  const y: ServerTLSSettings | undefined = b.tls;
  if (x === undefined || y === undefined) return false;
  if (x.credentialName && y.credentialName) return x.credentialName === y.credentialName;
  if (x.credentialName || y.credentialName) return false;
  return (
    !!x.serverCertificate &&
    x.serverCertificate === y.serverCertificate &&
    !!x.privateKey &&
    x.privateKey === y.privateKey
  );
}
