// The messages `trellis analyze` reports: Istio's codes, names and levels (istio/istio
// pkg/config/analysis/msg/messages.yaml), so a finding reads, searches and filters as istioctl's would. Only the
// messages for what Trellis holds are here; a code is never reused for another meaning.

export type Level = "Error" | "Warning" | "Info";

export interface MessageType {
  code: string;
  name: string;
  level: Level;
}

const message = (code: string, name: string, level: Level): MessageType => ({ code, name, level });

export const MESSAGES = {
  InternalError: message("IST0001", "InternalError", "Error"),
  Deprecated: message("IST0002", "Deprecated", "Warning"),
  ReferencedResourceNotFound: message("IST0101", "ReferencedResourceNotFound", "Error"),
  SchemaValidationError: message("IST0106", "SchemaValidationError", "Error"),
  ConflictingMeshGatewayVirtualServiceHosts: message("IST0109", "ConflictingMeshGatewayVirtualServiceHosts", "Error"),
  MultipleSidecarsWithoutWorkloadSelectors: message("IST0111", "MultipleSidecarsWithoutWorkloadSelectors", "Error"),
  VirtualServiceDestinationPortSelectorRequired: message(
    "IST0112",
    "VirtualServiceDestinationPortSelectorRequired",
    "Error",
  ),
  NoServerCertificateVerificationDestinationLevel: message(
    "IST0128",
    "NoServerCertificateVerificationDestinationLevel",
    "Warning",
  ),
  NoServerCertificateVerificationPortLevel: message("IST0129", "NoServerCertificateVerificationPortLevel", "Warning"),
  VirtualServiceUnreachableRule: message("IST0130", "VirtualServiceUnreachableRule", "Warning"),
  VirtualServiceIneffectiveMatch: message("IST0131", "VirtualServiceIneffectiveMatch", "Info"),
  VirtualServiceHostNotFoundInGateway: message("IST0132", "VirtualServiceHostNotFoundInGateway", "Warning"),
  IngressRouteRulesNotAffected: message("IST0140", "IngressRouteRulesNotAffected", "Warning"),
  SchemaWarning: message("IST0133", "SchemaWarning", "Warning"),
  ServiceEntryAddressesRequired: message("IST0134", "ServiceEntryAddressesRequired", "Warning"),
  GatewayDuplicateCertificate: message("IST0138", "GatewayDuplicateCertificate", "Warning"),
  ConflictingGateways: message("IST0145", "ConflictingGateways", "Error"),
  JwtClaimBasedRoutingWithoutRequestAuthN: message("IST0149", "JwtClaimBasedRoutingWithoutRequestAuthN", "Error"),
  MultipleTelemetriesWithoutWorkloadSelectors: message(
    "IST0160",
    "MultipleTelemetriesWithoutWorkloadSelectors",
    "Error",
  ),
  UnknownDestinationRuleHost: message("IST0174", "UnknownDestinationRuleHost", "Warning"),
} as const satisfies Record<string, MessageType>;

/** One thing `analyze` found. */
export interface Finding {
  level: Level;
  /** Istio's code: IST0101. */
  code: string;
  /** Istio's message name: ReferencedResourceNotFound. */
  name: string;
  /** `Kind/namespace/name` of the resource the finding is about ("" for a document that could not be read). */
  resource: string;
  message: string;
  /** The file the resource (or document) came from, and the 1-based line of the field at fault or of the document. */
  file?: string;
  line?: number;
}
