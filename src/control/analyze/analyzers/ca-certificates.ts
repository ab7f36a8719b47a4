// Istio's destinationrule.CaCertificateAnalyzer: TLS origination (SIMPLE or MUTUAL) without caCertificates does
// not verify the server it talks to: IST0128 for the rule's traffic policy, IST0129 per port-level setting. A
// credentialName (whose secret carries the CA) or an explicit insecureSkipVerify is a choice, not an oversight.

import type { ClientTLSSettings } from "../../../api/resources/types.ts";
import type { AnalysisContext } from "../context.ts";
import { MESSAGES } from "../messages.ts";

const unverified = (tls: ClientTLSSettings | undefined): tls is ClientTLSSettings =>
  tls !== undefined &&
  (tls.mode === "SIMPLE" || tls.mode === "MUTUAL") &&
  !tls.caCertificates &&
  !tls.credentialName &&
  tls.insecureSkipVerify !== true;

export function analyzeCaCertificates(ctx: AnalysisContext): void {
  for (const dr of ctx.destinationRules) {
    const { name, namespace } = dr.metadata;
    const policy = dr.spec.trafficPolicy;
    if (unverified(policy?.tls))
      ctx.report(
        MESSAGES.NoServerCertificateVerificationDestinationLevel,
        dr,
        `DestinationRule ${name} in namespace ${namespace} has TLS mode set to ${policy.tls.mode} but no caCertificates are set to validate server identity for host: ${dr.spec.host}`,
        "spec.trafficPolicy.tls",
      );
    (policy?.portLevelSettings ?? []).forEach((p, i) => {
      if (unverified(p.tls))
        ctx.report(
          MESSAGES.NoServerCertificateVerificationPortLevel,
          dr,
          `DestinationRule ${name} in namespace ${namespace} has TLS mode set to ${p.tls.mode} but no caCertificates are set to validate server identity for host: ${dr.spec.host} at port ${p.port.number}`,
          `spec.trafficPolicy.portLevelSettings[${i}].tls`,
        );
    });
  }
}
