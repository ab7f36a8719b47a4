// The Kubernetes Gateway API (gateway.networking.k8s.io) as Trellis reads it: GatewayClass, Gateway and HTTPRoute,
// with the API's own field names. Inside Trellis the Gateway API's Gateway is the kind "KubernetesGateway" (Istio's
// own internal name for it, gvk.KubernetesGateway), so it never collides with Istio's Gateway in the store, in
// maps keyed by kind, or in the typed union; in every document a user sees or writes it is `kind: Gateway`.
// Durations are milliseconds, as everywhere in the typed resources.

import type { Milliseconds } from "../types.ts";

export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";
/** The internal kind of the Gateway API's Gateway (its documents say `kind: Gateway`). */
export const KUBERNETES_GATEWAY = "KubernetesGateway";

/** The controllers whose GatewayClasses Trellis implements: Istio's (so Istio's manifests apply as they are) and ours. */
export const CONTROLLER_NAMES = ["istio.io/gateway-controller", "trellis.dev/gateway-controller"] as const;
/** The controller name Trellis writes into HTTPRoute.status.parents[].controllerName. */
export const CONTROLLER_NAME = "istio.io/gateway-controller";

export interface GatewayClassSpec {
  controllerName: string;
  description?: string;
}

export const LISTENER_PROTOCOLS = ["HTTP", "HTTPS", "TLS", "TCP"] as const;
export type ListenerProtocol = (typeof LISTENER_PROTOCOLS)[number];

export interface SecretObjectReference {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface GatewayTLSConfig {
  mode: "Terminate" | "Passthrough";
  certificateRefs: SecretObjectReference[];
}

export interface RouteGroupKind {
  group: string;
  kind: string;
}

export interface AllowedRoutes {
  namespaces: { from: "All" | "Same" | "Selector"; selector?: { matchLabels: Record<string, string> } };
  kinds: RouteGroupKind[];
}

export interface Listener {
  name: string;
  hostname?: string;
  port: number;
  protocol: ListenerProtocol;
  tls?: GatewayTLSConfig;
  allowedRoutes: AllowedRoutes;
}

export interface KubernetesGatewaySpec {
  gatewayClassName: string;
  listeners: Listener[];
}

export interface ParentReference {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
  sectionName?: string;
  port?: number;
}

export interface HTTPPathMatch {
  type: "Exact" | "PathPrefix" | "RegularExpression";
  value: string;
}

export interface HTTPValueMatch {
  type: "Exact" | "RegularExpression";
  name: string;
  value: string;
}

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"] as const;

export interface HTTPRouteMatch {
  path: HTTPPathMatch;
  headers: HTTPValueMatch[];
  queryParams: HTTPValueMatch[];
  method?: (typeof HTTP_METHODS)[number];
}

export interface HTTPHeaderFilter {
  set: { name: string; value: string }[];
  add: { name: string; value: string }[];
  remove: string[];
}

/** The API's spelling: the value is in the field the type names. */
export type HTTPPathModifier =
  { type: "ReplaceFullPath"; replaceFullPath: string } | { type: "ReplacePrefixMatch"; replacePrefixMatch: string };

export interface HTTPRequestRedirectFilter {
  scheme?: "http" | "https";
  hostname?: string;
  path?: HTTPPathModifier;
  port?: number;
  statusCode: number;
}

export interface HTTPURLRewriteFilter {
  hostname?: string;
  path?: HTTPPathModifier;
}

export interface BackendObjectReference {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
  port?: number;
}

export interface HTTPRequestMirrorFilter {
  backendRef: BackendObjectReference;
  /** 0–100; at most one of percent and fraction; neither: every request. */
  percent?: number;
  fraction?: { numerator: number; denominator: number };
}

export const HTTP_FILTER_TYPES = [
  "RequestHeaderModifier",
  "ResponseHeaderModifier",
  "RequestMirror",
  "RequestRedirect",
  "URLRewrite",
] as const;

export type HTTPRouteFilter =
  | { type: "RequestHeaderModifier"; requestHeaderModifier: HTTPHeaderFilter }
  | { type: "ResponseHeaderModifier"; responseHeaderModifier: HTTPHeaderFilter }
  | { type: "RequestMirror"; requestMirror: HTTPRequestMirrorFilter }
  | { type: "RequestRedirect"; requestRedirect: HTTPRequestRedirectFilter }
  | { type: "URLRewrite"; urlRewrite: HTTPURLRewriteFilter };

export interface HTTPBackendRef extends BackendObjectReference {
  /** 0–1000000; 1 when not written. */
  weight: number;
}

export interface HTTPRouteRule {
  name?: string;
  matches: HTTPRouteMatch[];
  filters: HTTPRouteFilter[];
  backendRefs: HTTPBackendRef[];
  timeouts?: { request?: Milliseconds; backendRequest?: Milliseconds };
}

export interface HTTPRouteSpec {
  parentRefs: ParentReference[];
  hostnames: string[];
  rules: HTTPRouteRule[];
}

/** A gRPC method: at least one of service and method; RegularExpression matches each part on its own. */
export interface GRPCMethodMatch {
  type: "Exact" | "RegularExpression";
  service?: string;
  method?: string;
}

export interface GRPCRouteMatch {
  method?: GRPCMethodMatch;
  headers: HTTPValueMatch[];
}

/** The filters a GRPCRoute may have (the API's: no redirect, no rewrite). */
export type GRPCRouteFilter = Extract<
  HTTPRouteFilter,
  { type: "RequestHeaderModifier" | "ResponseHeaderModifier" | "RequestMirror" }
>;

export interface GRPCRouteRule {
  name?: string;
  matches: GRPCRouteMatch[];
  filters: GRPCRouteFilter[];
  backendRefs: HTTPBackendRef[];
}

export interface GRPCRouteSpec {
  parentRefs: ParentReference[];
  hostnames: string[];
  rules: GRPCRouteRule[];
}

/** A backend of a TCPRoute or TLSRoute (the API's BackendRef: no filters). */
export type L4BackendRef = HTTPBackendRef;

/** A rule of a TCPRoute or TLSRoute (v1alpha2): no matches; every connection goes to the weighted backends. */
export interface L4RouteRule {
  name?: string;
  backendRefs: L4BackendRef[];
}

/** TCPRoute (v1alpha2): attaches to TCP listeners. */
export interface TCPRouteSpec {
  parentRefs: ParentReference[];
  rules: L4RouteRule[];
}

/** TLSRoute (v1alpha2): attaches to TLS listeners of mode Passthrough, routed by SNI (its hostnames). */
export interface TLSRouteSpec {
  parentRefs: ParentReference[];
  hostnames: string[];
  rules: L4RouteRule[];
}

/** ReferenceGrant (v1beta1): lets resources of `from` refer to resources of `to` in the grant's own namespace. */
export interface ReferenceGrantSpec {
  from: { group: string; kind: string; namespace: string }[];
  /** name absent: every resource of the group and kind. */
  to: { group: string; kind: string; name?: string }[];
}
