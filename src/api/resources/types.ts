// Istio's resources as Trellis reads them: the Kubernetes-style envelope and the spec of each kind, with Istio's
// camelCase field names so a user's YAML and these types read the same. Readers (one file per kind) validate and
// normalise into these shapes; two things differ from the YAML on purpose:
//   - durations ("1s", "100ms", "1h") are numbers of milliseconds (the field names stay Istio's);
//   - deprecated spellings (fault `percent`, outlierDetection `consecutiveErrors`, `mirrorPercent`, corsPolicy
//     `allowOrigin`) are gone: they are normalised into today's fields, with a warning.
// Optional fields are absent when the user did not write them: defaults are translation's business, not ours.

import type {
  GatewayClassSpec,
  GRPCRouteSpec,
  HTTPRouteSpec,
  KubernetesGatewaySpec,
  ReferenceGrantSpec,
  TCPRouteSpec,
  TLSRouteSpec,
} from "./gateway-api/types.ts";

/** Milliseconds, read from an Istio duration string ("1s", "1.5s", "100ms", "1h", "1m30s"). */
export type Milliseconds = number;

export const NETWORKING_KINDS = [
  "VirtualService",
  "DestinationRule",
  "ServiceEntry",
  "Gateway",
  "Sidecar",
  "WorkloadEntry",
] as const;
export const SECURITY_KINDS = ["PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication"] as const;
export const TELEMETRY_KINDS = ["Telemetry"] as const;
/** The Kubernetes Gateway API's kinds (gateway.networking.k8s.io); its Gateway is "KubernetesGateway" inside Trellis. */
export const GATEWAY_API_KINDS = [
  "GatewayClass",
  "KubernetesGateway",
  "HTTPRoute",
  "GRPCRoute",
  "TLSRoute",
  "TCPRoute",
  "ReferenceGrant",
] as const;
export const RESOURCE_KINDS = [
  ...NETWORKING_KINDS,
  ...SECURITY_KINDS,
  ...TELEMETRY_KINDS,
  ...GATEWAY_API_KINDS,
] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export interface ObjectMeta {
  /** A DNS-1123 subdomain. */
  name: string;
  /** "default" when not written. */
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Set by the store on every write; absent in files. */
  resourceVersion?: string;
}

export interface ResourceOf<K extends ResourceKind, S> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec: S;
}

export type VirtualService = ResourceOf<"VirtualService", VirtualServiceSpec>;
export type DestinationRule = ResourceOf<"DestinationRule", DestinationRuleSpec>;
export type ServiceEntry = ResourceOf<"ServiceEntry", ServiceEntrySpec>;
export type Gateway = ResourceOf<"Gateway", GatewaySpec>;
export type Sidecar = ResourceOf<"Sidecar", SidecarSpec>;
export type WorkloadEntry = ResourceOf<"WorkloadEntry", WorkloadEntrySpec>;
export type PeerAuthentication = ResourceOf<"PeerAuthentication", PeerAuthenticationSpec>;
export type AuthorizationPolicy = ResourceOf<"AuthorizationPolicy", AuthorizationPolicySpec>;
export type RequestAuthentication = ResourceOf<"RequestAuthentication", RequestAuthenticationSpec>;
export type Telemetry = ResourceOf<"Telemetry", TelemetrySpec>;
export type GatewayClass = ResourceOf<"GatewayClass", GatewayClassSpec>;
/** The Gateway API's Gateway (gateway.networking.k8s.io), not Istio's: its documents say `kind: Gateway`. */
export type KubernetesGateway = ResourceOf<"KubernetesGateway", KubernetesGatewaySpec>;
/** The Gateway API's HTTPRoute (not Istio's VirtualService HTTPRoute message, which is the type `HTTPRoute`). */
export type KubernetesHTTPRoute = ResourceOf<"HTTPRoute", HTTPRouteSpec>;
export type GRPCRoute = ResourceOf<"GRPCRoute", GRPCRouteSpec>;
/** The Gateway API's TLSRoute (not Istio's VirtualService TLSRoute message, which is the type `TLSRoute`). */
export type KubernetesTLSRoute = ResourceOf<"TLSRoute", TLSRouteSpec>;
/** The Gateway API's TCPRoute (not Istio's VirtualService TCPRoute message, which is the type `TCPRoute`). */
export type KubernetesTCPRoute = ResourceOf<"TCPRoute", TCPRouteSpec>;
export type ReferenceGrant = ResourceOf<"ReferenceGrant", ReferenceGrantSpec>;

export type Resource =
  | VirtualService
  | DestinationRule
  | ServiceEntry
  | Gateway
  | Sidecar
  | WorkloadEntry
  | PeerAuthentication
  | AuthorizationPolicy
  | RequestAuthentication
  | Telemetry
  | GatewayClass
  | KubernetesGateway
  | KubernetesHTTPRoute
  | GRPCRoute
  | KubernetesTLSRoute
  | KubernetesTCPRoute
  | ReferenceGrant;

/** Something accepted but worth telling the user: an unknown field, a deprecated spelling. */
export interface ResourceWarning {
  file: string;
  /** 0-based index of the document in the file (a List's items share its index; their paths start items[i]). */
  document: number;
  /** `Kind/namespace/name` when known. */
  resource?: string;
  path: string;
  message: string;
  /** 1-based line of the field (or of the document) in the file, when it was text. */
  line?: number;
}

// --- shared ----------------------------------------------------------------------------------------------------

/** Exactly one of exact, prefix, regex (RE2 syntax); none at all only in a header match, where it means "present". */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface Percent {
  /** 0–100, fractions allowed. */
  value: number;
}

export interface PortSelector {
  number: number;
}

export interface WorkloadSelector {
  labels: Record<string, string>;
}

/** Kubernetes' label selector as the security and telemetry kinds spell it. */
export interface LabelSelector {
  matchLabels: Record<string, string>;
}

export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

// --- VirtualService ----------------------------------------------------------------------------------------------

export interface VirtualServiceSpec {
  hosts: string[];
  gateways: string[];
  http: HTTPRoute[];
  tls: TLSRoute[];
  tcp: TCPRoute[];
  exportTo: string[];
}

export interface HTTPRoute {
  name?: string;
  match: HTTPMatchRequest[];
  /** Exactly one of route, redirect, directResponse, delegate is set (delegate only in a root VirtualService). */
  route?: HTTPRouteDestination[];
  redirect?: HTTPRedirect;
  directResponse?: HTTPDirectResponse;
  rewrite?: HTTPRewrite;
  timeout?: Milliseconds;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  mirrorPercentage?: Percent;
  mirrors: HTTPMirrorPolicy[];
  corsPolicy?: CorsPolicy;
  headers?: Headers;
  delegate?: Delegate;
}

/** A delegate VirtualService (one without hosts) whose http routes stand in for this route. */
export interface Delegate {
  name: string;
  /** Default: the root VirtualService's namespace. */
  namespace?: string;
}

export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers: Record<string, StringMatch>;
  withoutHeaders: Record<string, StringMatch>;
  queryParams: Record<string, StringMatch>;
  port?: number;
  sourceLabels: Record<string, string>;
  gateways: string[];
  ignoreUriCase: boolean;
  sourceNamespace?: string;
  statPrefix?: string;
}

export interface Destination {
  host: string;
  subset?: string;
  port?: PortSelector;
}

export interface HTTPRouteDestination {
  destination: Destination;
  /** 0–100; when absent and the route has one destination, it takes all the traffic. */
  weight?: number;
  headers?: Headers;
}

export interface RouteDestination {
  destination: Destination;
  weight?: number;
}

export interface HTTPRedirect {
  uri?: string;
  authority?: string;
  port?: number;
  derivePort?: "FROM_PROTOCOL_DEFAULT" | "FROM_REQUEST_PORT";
  scheme?: string;
  /** 301 when absent (Istio's default). */
  redirectCode?: number;
}

export interface HTTPDirectResponse {
  status: number;
  body?: { string?: string; bytes?: string };
}

export interface HTTPRewrite {
  uri?: string;
  authority?: string;
  uriRegexRewrite?: { match: string; rewrite: string };
}

export interface HTTPRetry {
  attempts: number;
  perTryTimeout?: Milliseconds;
  /** Comma-separated Envoy retry conditions and status codes, as Istio writes them ("5xx,connect-failure,503"). */
  retryOn?: string;
  retryRemoteLocalities?: boolean;
}

export interface HTTPFaultInjection {
  delay?: { fixedDelay: Milliseconds; percentage?: Percent };
  abort?: { httpStatus?: number; grpcStatus?: string; percentage?: Percent };
}

export interface HTTPMirrorPolicy {
  destination: Destination;
  percentage?: Percent;
}

export interface CorsPolicy {
  allowOrigins: StringMatch[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAge?: Milliseconds;
  allowCredentials?: boolean;
  unmatchedPreflights?: "UNSPECIFIED" | "FORWARD" | "IGNORE";
}

export interface HeaderOperations {
  set: Record<string, string>;
  add: Record<string, string>;
  remove: string[];
}

export interface Headers {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

export interface L4MatchAttributes {
  destinationSubnets: string[];
  port?: number;
  sourceLabels: Record<string, string>;
  gateways: string[];
  sourceNamespace?: string;
}

export interface TCPRoute {
  match: L4MatchAttributes[];
  route: RouteDestination[];
}

export interface TLSMatchAttributes extends L4MatchAttributes {
  sniHosts: string[];
}

export interface TLSRoute {
  match: TLSMatchAttributes[];
  route: RouteDestination[];
}

// --- DestinationRule ---------------------------------------------------------------------------------------------

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets: Subset[];
  exportTo: string[];
  workloadSelector?: WorkloadSelector;
}

export interface Subset {
  name: string;
  labels: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  portLevelSettings: PortTrafficPolicy[];
}

export interface PortTrafficPolicy {
  port: PortSelector;
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

export const SIMPLE_LOAD_BALANCERS = [
  "UNSPECIFIED",
  "RANDOM",
  "PASSTHROUGH",
  "ROUND_ROBIN",
  "LEAST_REQUEST",
  "LEAST_CONN",
] as const;
export type SimpleLoadBalancer = (typeof SIMPLE_LOAD_BALANCERS)[number];

export interface LoadBalancerSettings {
  /** Exactly one of simple and consistentHash, or neither (then Istio's default, LEAST_REQUEST). */
  simple?: SimpleLoadBalancer;
  consistentHash?: ConsistentHashLB;
  localityLbSetting?: LocalityLoadBalancerSetting;
  /** Deprecated in Istio for `warmup`, which wins when both are set. */
  warmupDurationSecs?: Milliseconds;
  warmup?: WarmupConfiguration;
}

/** Envoy's slow start, as Istio spells it: the ramp's length, floor (percent of the weight) and curve. */
export interface WarmupConfiguration {
  duration?: Milliseconds;
  /** 0-100; Istio's default 10. */
  minimumPercent?: number;
  /** > 0; Istio's default 1.0 (a linear ramp). */
  aggression?: number;
}

export interface ConsistentHashLB {
  /** Exactly one of the hash keys. */
  httpHeaderName?: string;
  httpCookie?: { name: string; path?: string; ttl?: Milliseconds };
  useSourceIp?: boolean;
  httpQueryParameterName?: string;
  /** At most one of ringHash and maglev; `minimumRingSize` (deprecated) is normalised into ringHash. */
  ringHash?: { minimumRingSize?: number };
  maglev?: { tableSize?: number };
}

export interface LocalityLoadBalancerSetting {
  distribute: { from: string; to: Record<string, number> }[];
  failover: { from: string; to: string }[];
  failoverPriority: string[];
  enabled?: boolean;
}

export interface ConnectionPoolSettings {
  tcp?: {
    maxConnections?: number;
    connectTimeout?: Milliseconds;
    tcpKeepalive?: { probes?: number; time?: Milliseconds; interval?: Milliseconds };
    maxConnectionDuration?: Milliseconds;
    idleTimeout?: Milliseconds;
  };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: Milliseconds;
    h2UpgradePolicy?: "DEFAULT" | "DO_NOT_UPGRADE" | "UPGRADE";
    useClientProtocol?: boolean;
    maxConcurrentStreams?: number;
  };
}

export interface OutlierDetection {
  splitExternalLocalOriginErrors?: boolean;
  consecutiveLocalOriginFailures?: number;
  consecutiveGatewayErrors?: number;
  consecutive5xxErrors?: number;
  interval?: Milliseconds;
  baseEjectionTime?: Milliseconds;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export const CLIENT_TLS_MODES = ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] as const;

export interface ClientTLSSettings {
  mode: (typeof CLIENT_TLS_MODES)[number];
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
  caCrl?: string;
}

// --- ServiceEntry, WorkloadEntry ---------------------------------------------------------------------------------

/** Istio's port protocols (case-insensitive in files, upper case here). */
export const PROTOCOLS = [
  "HTTP",
  "HTTPS",
  "GRPC",
  "GRPC-WEB",
  "HTTP2",
  "MONGO",
  "MYSQL",
  "REDIS",
  "TCP",
  "TLS",
  "UDP",
] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface ServicePort {
  number: number;
  /** Absent: neither written nor named by the port's name; detected per connection (protocol sniffing). */
  protocol?: Protocol;
  name: string;
  targetPort?: number;
}

/** A Gateway server's port: its protocol is required. */
export type GatewayPort = ServicePort & { protocol: Protocol };

export interface ServiceEntrySpec {
  hosts: string[];
  addresses: string[];
  ports: ServicePort[];
  location: "MESH_EXTERNAL" | "MESH_INTERNAL";
  resolution: "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN" | "DYNAMIC_DNS";
  endpoints: WorkloadEntrySpec[];
  workloadSelector?: WorkloadSelector;
  exportTo: string[];
  subjectAltNames: string[];
}

export interface WorkloadEntrySpec {
  /** An IP, a hostname or a unix:// socket path; may be empty in a ServiceEntry endpoint with a network. */
  address?: string;
  /** Port name → port number on this workload. */
  ports: Record<string, number>;
  labels: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

// --- Gateway -----------------------------------------------------------------------------------------------------

export interface GatewaySpec {
  selector: Record<string, string>;
  servers: GatewayServer[];
}

export interface GatewayServer {
  port: GatewayPort;
  bind?: string;
  hosts: string[];
  tls?: ServerTLSSettings;
  name?: string;
  defaultEndpoint?: string;
}

export const SERVER_TLS_MODES = [
  "PASSTHROUGH",
  "SIMPLE",
  "MUTUAL",
  "AUTO_PASSTHROUGH",
  "ISTIO_MUTUAL",
  "OPTIONAL_MUTUAL",
] as const;

export interface ServerTLSSettings {
  httpsRedirect?: boolean;
  mode?: (typeof SERVER_TLS_MODES)[number];
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames: string[];
  minProtocolVersion?: string;
  maxProtocolVersion?: string;
  cipherSuites: string[];
  verifyCertificateSpki: string[];
  verifyCertificateHash: string[];
  /** Several credentials (e.g. RSA and ECDSA); not with credentialName. */
  credentialNames: string[];
  caCrl?: string;
}

// --- Sidecar -----------------------------------------------------------------------------------------------------

export interface SidecarPort {
  number: number;
  protocol?: Protocol;
  name?: string;
  targetPort?: number;
}

export interface SidecarSpec {
  workloadSelector?: WorkloadSelector;
  ingress: {
    port: SidecarPort;
    bind?: string;
    captureMode?: "DEFAULT" | "IPTABLES" | "NONE";
    defaultEndpoint?: string;
    connectionPool?: ConnectionPoolSettings;
  }[];
  egress: {
    port?: SidecarPort;
    bind?: string;
    captureMode?: "DEFAULT" | "IPTABLES" | "NONE";
    /** `namespace/dnsName`, `*` and `.` (the sidecar's namespace) allowed on both sides. */
    hosts: string[];
  }[];
  outboundTrafficPolicy?: { mode: "REGISTRY_ONLY" | "ALLOW_ANY"; egressProxy?: Destination };
  inboundConnectionPool?: ConnectionPoolSettings;
}

// --- security ----------------------------------------------------------------------------------------------------

export type MutualTlsMode = "UNSET" | "DISABLE" | "PERMISSIVE" | "STRICT";

export interface PeerAuthenticationSpec {
  selector?: LabelSelector;
  mtls?: { mode: MutualTlsMode };
  /** Port number → mode; only meaningful with a selector. */
  portLevelMtls: Record<number, { mode: MutualTlsMode }>;
}

export interface AuthorizationPolicySpec {
  selector?: LabelSelector;
  targetRefs: PolicyTargetReference[];
  rules: AuthorizationRule[];
  action: "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";
  /** Required when action is CUSTOM. */
  provider?: { name: string };
}

export interface AuthorizationRule {
  from: { source: AuthorizationSource }[];
  to: { operation: AuthorizationOperation }[];
  when: { key: string; values: string[]; notValues: string[] }[];
}

export interface AuthorizationSource {
  principals: string[];
  notPrincipals: string[];
  requestPrincipals: string[];
  notRequestPrincipals: string[];
  namespaces: string[];
  notNamespaces: string[];
  /** `sa` or `namespace/sa` (Istio 1.2x); not with principals or namespaces. */
  serviceAccounts: string[];
  notServiceAccounts: string[];
  /** Trust domains, a `*` allowed at the start or end. */
  trustDomains: string[];
  notTrustDomains: string[];
  ipBlocks: string[];
  notIpBlocks: string[];
  remoteIpBlocks: string[];
  notRemoteIpBlocks: string[];
}

export interface AuthorizationOperation {
  hosts: string[];
  notHosts: string[];
  ports: string[];
  notPorts: string[];
  methods: string[];
  notMethods: string[];
  paths: string[];
  notPaths: string[];
}

export interface RequestAuthenticationSpec {
  selector?: LabelSelector;
  targetRefs: PolicyTargetReference[];
  jwtRules: JWTRule[];
}

export interface JWTRule {
  issuer: string;
  audiences: string[];
  /** At most one of jwksUri and jwks. */
  jwksUri?: string;
  jwks?: string;
  fromHeaders: { name: string; prefix?: string }[];
  fromParams: string[];
  fromCookies: string[];
  outputPayloadToHeader?: string;
  outputClaimToHeaders: { header: string; claim: string }[];
  forwardOriginalToken?: boolean;
  timeout?: Milliseconds;
}

// --- Telemetry ---------------------------------------------------------------------------------------------------

export interface ProviderRef {
  name: string;
}

export interface CustomTag {
  literal?: { value: string };
  environment?: { name: string; defaultValue?: string };
  header?: { name: string; defaultValue?: string };
}

export type WorkloadMode = "CLIENT_AND_SERVER" | "CLIENT" | "SERVER";

export interface TelemetrySpec {
  selector?: LabelSelector;
  targetRefs: PolicyTargetReference[];
  tracing: {
    match?: { mode: WorkloadMode };
    providers: ProviderRef[];
    randomSamplingPercentage?: number;
    disableSpanReporting?: boolean;
    /** Tag name → where its value comes from (exactly one of literal, environment, header). */
    customTags: Record<string, CustomTag>;
  }[];
  metrics: {
    providers: ProviderRef[];
    overrides: {
      match?: { metric?: string; customMetric?: string; mode?: WorkloadMode };
      disabled?: boolean;
      tagOverrides: Record<string, { operation?: "UPSERT" | "REMOVE"; value?: string }>;
    }[];
    reportingInterval?: Milliseconds;
  }[];
  accessLogging: {
    match?: { mode: WorkloadMode };
    providers: ProviderRef[];
    disabled?: boolean;
    filter?: { expression: string };
  }[];
}
