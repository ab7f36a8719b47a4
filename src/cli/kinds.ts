// The kind names the CLI accepts, as kubectl and istioctl users type them: singular, plural, short, any case, and
// kubectl's fully qualified `plural.group` / `singular.group`. Two kinds are named Gateway: Istio's
// (networking.istio.io) and the Kubernetes Gateway API's (gateway.networking.k8s.io, "KubernetesGateway" inside
// Trellis). `gateway`, `gateways` and `gw` name Istio's, as istioctl users expect (kubectl with both CRDs installed
// picks the Gateway API's for `gateway`; `gw` is Istio's short name there too); the Gateway API's is
// `gateways.gateway.networking.k8s.io` or its short name `gtw` (docs/resources.md).

import { internalKind } from "../api/resources/envelope.ts";

const KINDS: Record<string, string[]> = {
  VirtualService: ["virtualservice", "virtualservices", "vs"],
  DestinationRule: ["destinationrule", "destinationrules", "dr"],
  ServiceEntry: ["serviceentry", "serviceentries", "se"],
  Gateway: ["gateway", "gateways", "gw", "gateway.networking.istio.io", "gateways.networking.istio.io"],
  Sidecar: ["sidecar", "sidecars"],
  WorkloadEntry: ["workloadentry", "workloadentries", "we"],
  PeerAuthentication: ["peerauthentication", "peerauthentications", "pa"],
  AuthorizationPolicy: ["authorizationpolicy", "authorizationpolicies", "ap"],
  RequestAuthentication: ["requestauthentication", "requestauthentications", "ra"],
  Telemetry: ["telemetry", "telemetries"],
  KubernetesGateway: [
    "gtw",
    "gateway.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
    "kubernetesgateway",
    "kubernetesgateways",
  ],
  GatewayClass: ["gatewayclass", "gatewayclasses", "gc", "gatewayclasses.gateway.networking.k8s.io"],
  HTTPRoute: ["httproute", "httproutes", "httproutes.gateway.networking.k8s.io"],
  GRPCRoute: ["grpcroute", "grpcroutes", "grpcroutes.gateway.networking.k8s.io"],
  TLSRoute: ["tlsroute", "tlsroutes", "tlsroutes.gateway.networking.k8s.io"],
  TCPRoute: ["tcproute", "tcproutes", "tcproutes.gateway.networking.k8s.io"],
  ReferenceGrant: ["referencegrant", "referencegrants", "refgrant", "referencegrants.gateway.networking.k8s.io"],
};

/** How messages name a kind, kubectl's way: lower case, the Gateway API's Gateway with its group. */
export function displayKind(kind: string): string {
  return kind === "KubernetesGateway" ? "gateway.gateway.networking.k8s.io" : kind.toLowerCase();
}

/** The stored kind of a document (its kind and apiVersion), or undefined when it is not one Trellis stores. */
export function kindOfDocument(kind: string, apiVersion: unknown): string | undefined {
  const stored = internalKind(kind, typeof apiVersion === "string" ? apiVersion : "");
  return stored === "KubernetesGateway" ? stored : kindOf(kind);
}

/** The canonical kind for what a user typed, or undefined. */
export function kindOf(typed: string): string | undefined {
  const lower = typed.toLowerCase();
  for (const [kind, names] of Object.entries(KINDS)) if (names.includes(lower)) return kind;
  return undefined;
}

export function knownKinds(): string {
  return Object.entries(KINDS)
    .map(
      ([kind, names]) => `${kind === "KubernetesGateway" ? "Gateway of the Gateway API" : kind} (${names.join(", ")})`,
    )
    .join("; ");
}
