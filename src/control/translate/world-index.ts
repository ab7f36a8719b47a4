// World: one immutable snapshot of what the mesh knows (services and Istio resources), indexed once so that
// translating for each of many proxies only does lookups. Short host names are resolved here, in the namespace of
// the resource that wrote them; exportTo is applied at lookup, where the asking proxy's namespace is known.

import type { MeshAccessLog } from "../../api/resources/mesh-config.ts";
import type {
  DestinationRule,
  Gateway,
  LocalityLoadBalancerSetting,
  Resource,
  ServiceEntry,
  Sidecar,
  VirtualService,
  WorkloadEntry,
} from "../../api/resources/types.ts";
import { mergeDelegates } from "./delegation.ts";
import { DestinationRuleIndex } from "./destination-rules.ts";
import { exportedTo, hostMatches, resolveHost } from "./hosts.ts";
import { labelsMatch } from "./labels.ts";
import { failoverPriorityKeys, labelPriorityKey, localityLbSettingsOf, proxyLocality } from "./locality.ts";
import { problemOf, type Problem } from "./problems.ts";
import { convertGatewayApi } from "../gateway-api/convert.ts";
import type { ProxyIdentity } from "./proxy-identity.ts";
import { buildServices } from "./world.ts";
import { allocateVips, DEFAULT_VIP_RANGE } from "../vips.ts";
import type { ServiceModel } from "./world.ts";

export type OutboundTrafficPolicyMode = "ALLOW_ANY" | "REGISTRY_ONLY";

export interface WorldInput {
  /** Services from the registry (workloads that registered), already in the model's shape. */
  registered?: readonly ServiceModel[];
  serviceEntries?: readonly ServiceEntry[];
  workloadEntries?: readonly WorkloadEntry[];
  virtualServices?: readonly VirtualService[];
  destinationRules?: readonly DestinationRule[];
  sidecars?: readonly Sidecar[];
  /** Istio Gateways: what router proxies (`trellis gateway`) listen for (gateway.ts). */
  gateways?: readonly Gateway[];
  /** The TLS secrets the control plane stores (names, hosts, expiry; never keys): what credentialName refers to. */
  secrets?: readonly SecretSummary[];
  /** MeshConfig.outboundTrafficPolicy.mode; Istio's default ALLOW_ANY. A Sidecar's own setting wins. */
  outboundTrafficPolicy?: OutboundTrafficPolicyMode;
  /** Where mesh-wide Sidecars and DestinationRules live; Istio's default istio-system. */
  rootNamespace?: string;
  /** MeshConfig.protocolDetectionTimeout in ms: sniffed ports' listener_filters_timeout; 0 (default) is none. */
  protocolDetectionTimeoutMs?: number;
  /** MeshConfig.localityLbSetting: what a destination whose DestinationRule has none inherits. */
  localityLbSetting?: LocalityLoadBalancerSetting;
  /** MeshConfig's access logs: every sidecar listener's HTTP connection manager and tcp_proxy writes them. */
  accessLogs?: readonly MeshAccessLog[];
}

/** The WorldInput fields that come from MeshConfig (control/mesh-config.ts builds them). */
export type MeshWorldInput = Pick<
  WorldInput,
  "outboundTrafficPolicy" | "rootNamespace" | "localityLbSetting" | "accessLogs" | "protocolDetectionTimeoutMs"
>;

/** A stored TLS secret as translation sees it: no key material, only what a reference to it needs. */
export interface SecretSummary {
  namespace: string;
  name: string;
  /** The certificate's DNS SANs. */
  hosts: readonly string[];
  /** The certificate's notAfter, ISO 8601. */
  notAfter: string;
  /** It holds CA certificates (`ca.crt`) for checking client certificates (MUTUAL). */
  hasCa?: boolean;
}

/** A VirtualService with its hosts resolved to FQDNs (or wildcards). */
export interface IndexedVirtualService {
  resource: VirtualService;
  hosts: string[];
}

export interface IndexedDestinationRule {
  resource: DestinationRule;
  host: string;
}

const key = (r: { metadata: { namespace: string; name: string } }): string =>
  `${r.metadata.namespace}/${r.metadata.name}`;

export class World {
  readonly services: readonly ServiceModel[];
  /** What could not be turned into services (reported by every translation that uses this world). */
  readonly problems: readonly Problem[];
  /** `problems` as a capture-mode proxy has them: without those only explicit mode has (world.ts). */
  readonly captureProblems: readonly Problem[];
  readonly outboundTrafficPolicy: OutboundTrafficPolicyMode;
  readonly rootNamespace: string;
  /** MeshConfig.protocolDetectionTimeout in ms (0: no timeout, Istio's default). */
  readonly protocolDetectionTimeoutMs: number;
  readonly meshLocalityLbSetting: LocalityLoadBalancerSetting | undefined;
  readonly accessLogs: readonly MeshAccessLog[];
  private readonly byHost = new Map<string, ServiceModel>();
  private vipTable: Map<string, string> | undefined;
  private readonly virtualServices: IndexedVirtualService[];
  /** What delegation could not merge, per merged root VirtualService. */
  private readonly delegationProblems: ReadonlyMap<VirtualService, readonly string[]>;
  private readonly destinationRules: IndexedDestinationRule[];
  /** DestinationRules merged and looked up as Istio does (destination-rules.ts). */
  private readonly destinationRuleIndex: DestinationRuleIndex;
  private readonly sidecars: readonly Sidecar[];
  readonly gateways: readonly Gateway[];
  readonly secrets: readonly SecretSummary[];
  /** VirtualServices bound to at least one gateway (merged with their delegates), in the order given. */
  readonly gatewayVirtualServices: readonly IndexedVirtualService[];
  /**
   * Every distinct label selector that makes translation depend on a proxy's labels: Sidecar and DestinationRule
   * workloadSelectors, VirtualService sourceLabels. A proxy's labels matter only through which of these select it.
   */
  private readonly proxySelectors: readonly Record<string, string>[];
  /**
   * Some DestinationRule has outlier detection (locality failover) or localityLbSetting.distribute: endpoints'
   * priorities or weights then depend on the proxy's locality.
   */
  private readonly localitySensitive: boolean;
  /** The proxy labels the DestinationRules' localityLbSetting.failoverPriority lists (their values matter). */
  private readonly failoverPriorityKeys: readonly string[];

  constructor(input: WorldInput) {
    const built = buildServices(input.serviceEntries ?? [], input.workloadEntries ?? [], input.registered ?? []);
    this.services = [...built.services].sort((a, b) => a.hostname.localeCompare(b.hostname));
    for (const s of this.services) this.byHost.set(s.hostname.toLowerCase(), s);
    this.outboundTrafficPolicy = input.outboundTrafficPolicy ?? "ALLOW_ANY";
    this.rootNamespace = input.rootNamespace ?? "istio-system";
    this.protocolDetectionTimeoutMs = input.protocolDetectionTimeoutMs ?? 0;
    this.meshLocalityLbSetting = input.localityLbSetting;
    this.accessLogs = input.accessLogs ?? [];
    this.destinationRuleIndex = new DestinationRuleIndex(input.destinationRules ?? [], this.rootNamespace);
    this.problems = [...built.problems, ...this.destinationRuleIndex.problems.map((p) => problemOf(p))];
    this.captureProblems = this.problems.filter((p) => !built.explicitOnly.has(p));
    // Only VirtualServices bound to the mesh (no gateways, or "mesh" among them) apply to sidecars.
    // Delegates are merged into their roots first (a delegate has no gateways of its own; its root's decide).
    const merged = mergeDelegates(input.virtualServices ?? []);
    this.delegationProblems = merged.problems;
    this.gateways = input.gateways ?? [];
    this.secrets = input.secrets ?? [];
    this.gatewayVirtualServices = merged.virtualServices
      .filter((vs) => (vs.spec.gateways ?? []).some((g) => g !== "mesh"))
      .map((vs) => ({ resource: vs, hosts: (vs.spec.hosts ?? []).map((h) => resolveHost(h, vs.metadata.namespace)) }));
    this.virtualServices = merged.virtualServices
      .filter((vs) => (vs.spec.gateways ?? []).length === 0 || vs.spec.gateways.includes("mesh"))
      .map((vs) => ({ resource: vs, hosts: (vs.spec.hosts ?? []).map((h) => resolveHost(h, vs.metadata.namespace)) }));
    this.destinationRules = (input.destinationRules ?? []).map((dr) => ({
      resource: dr,
      host: resolveHost(dr.spec.host ?? "", dr.metadata.namespace),
    }));
    this.sidecars = input.sidecars ?? [];
    this.proxySelectors = distinctSelectors(this.sidecars, this.destinationRules, this.virtualServices);
    const localitySettings = this.destinationRules.flatMap((d) => localityLbSettingsOf(d.resource));
    if (input.localityLbSetting !== undefined && input.localityLbSetting.enabled !== false) {
      localitySettings.push(input.localityLbSetting);
    }
    this.localitySensitive =
      this.destinationRules.some((d) => hasOutlierDetection(d.resource)) ||
      localitySettings.some((s) => (s.distribute ?? []).length > 0);
    const priorityKeys = localitySettings.flatMap((s) => failoverPriorityKeys(s.failoverPriority ?? []));
    this.failoverPriorityKeys = [...new Set(priorityKeys)].sort();
  }

  /**
   * What translateOutbound reads of a proxy, as a string: proxies with the same key get the same outbound
   * configuration. Labels enter only as one bit per selector of the world, so a thousand workloads with a
   * thousand different `app` labels still share one key when no rule selects by label.
   */
  outboundKey(proxy: ProxyIdentity): string {
    let selected = "";
    for (const selector of this.proxySelectors) selected += labelsMatch(selector, proxy.labels) ? "1" : "0";
    // The proxy's locality matters only where locality failover or distribute can apply, its labels' values only
    // where failoverPriority lists them (locality.ts).
    const locality = this.localitySensitive ? (proxyLocality(this, proxy) ?? "") : "";
    const keys = this.failoverPriorityKeys;
    const priorityLabels = keys.length === 0 ? "" : labelPriorityKey(this, proxy, keys);
    return JSON.stringify([
      proxy.namespace,
      proxy.outboundPort,
      proxy.tcpOutboundAddress,
      proxy.tcpOutboundListeners !== false,
      // `trellis run --outbound`: each run's listeners are on its own local ports (run-outbound.ts).
      (proxy.runOutbounds ?? []).map((o) => `${o.host}:${o.port}=${o.localPort}`).join(","),
      proxy.httpProxy === true,
      proxy.proxyless === true,
      proxy.interceptionMode ?? "",
      // A router's configuration depends on which Gateways select it and where it binds their ports.
      proxy.router === true ? [proxy.labels, proxy.gatewayPorts ?? {}, proxy.gatewayAddress ?? ""] : null,
      selected,
      locality,
      priorityLabels,
    ]);
  }

  /** Splits a list of resources of any kind by kind (kinds translation does not read are left out). */
  static fromResources(
    resources: readonly Resource[],
    registered: readonly ServiceModel[] = [],
    options: MeshWorldInput & Pick<WorldInput, "secrets"> = {},
  ): World {
    // The Gateway API's resources become Istio Gateways and VirtualServices (control/gateway-api), read as any other.
    const converted = convertGatewayApi(resources);
    const all =
      converted.gateways.length + converted.virtualServices.length === 0
        ? resources
        : [...resources, ...converted.gateways, ...converted.virtualServices];
    const of = <K extends Resource["kind"]>(kind: K) =>
      all.filter((r): r is Extract<Resource, { kind: K }> => r.kind === kind);
    return new World({
      ...options,
      registered,
      serviceEntries: of("ServiceEntry"),
      workloadEntries: of("WorkloadEntry"),
      virtualServices: of("VirtualService"),
      destinationRules: of("DestinationRule"),
      sidecars: of("Sidecar"),
      gateways: of("Gateway"),
    });
  }

  /**
   * The service's virtual IPs (vips.ts): its ServiceEntry's own single addresses, else one allocated from
   * 240.240.0.0/16 — except for resolution NONE without addresses (callers resolve its real address and reach it
   * through the original destination) and for a service with CIDR addresses only.
   */
  vipsOf(service: ServiceModel): string[] {
    if (service.addresses !== undefined && service.addresses.length > 0) return service.addresses;
    if (service.resolution === "NONE" || (service.cidrs ?? []).length > 0) return [];
    this.vipTable ??= allocateVips(
      this.services
        .filter((s) => s.resolution !== "NONE" && (s.addresses ?? []).length === 0 && (s.cidrs ?? []).length === 0)
        .map((s) => s.hostname),
      DEFAULT_VIP_RANGE,
      this.services.flatMap((s) => s.addresses ?? []),
    );
    const vip = this.vipTable.get(service.hostname.toLowerCase());
    return vip === undefined ? [] : [vip];
  }

  service(hostname: string): ServiceModel | undefined {
    return this.byHost.get(hostname.toLowerCase());
  }

  /** Services whose exportTo lets `namespace` see them. */
  servicesVisibleTo(namespace: string): ServiceModel[] {
    return this.services.filter((s) => exportedTo(s.exportTo, s.namespace, namespace));
  }

  /**
   * The VirtualServices visible to `namespace` that apply to `hostname`, best first: exact hosts before wildcards
   * (longer wildcards first), then in the order given. Istio uses the first for a sidecar; translate reports others.
   */
  virtualServicesFor(hostname: string, namespace: string): IndexedVirtualService[] {
    const scored: { vs: IndexedVirtualService; score: number; order: number }[] = [];
    this.virtualServices.forEach((vs, order) => {
      if (!exportedTo(vs.resource.spec.exportTo, vs.resource.metadata.namespace, namespace)) return;
      const score = bestHostScore(vs.hosts, hostname);
      if (score >= 0) scored.push({ vs, score, order });
    });
    scored.sort((a, b) => b.score - a.score || a.order - b.order);
    return scored.map((s) => s.vs);
  }

  /** What could not be merged into this (root) VirtualService from its delegates. */
  delegationProblemsOf(vs: VirtualService): readonly string[] {
    return this.delegationProblems.get(vs) ?? [];
  }

  /**
   * The DestinationRule for `hostname` as seen from a proxy, merged as Istio merges rules of one namespace for one
   * host: the proxy's namespace first, then the service's, then the root namespace (destination-rules.ts).
   */
  destinationRuleFor(
    hostname: string,
    proxy: { namespace: string; labels: Record<string, string> },
  ): DestinationRule | undefined {
    return this.destinationRuleIndex.lookup(hostname, this.service(hostname)?.namespace, proxy)?.rule;
  }

  /**
   * The Sidecar that configures a proxy: one in its namespace whose workloadSelector selects it, else the one in
   * its namespace without a selector, else the root namespace's. Several candidates: the first given (reported
   * by translate through `sidecarConflicts`).
   */
  sidecarFor(proxy: { namespace: string; labels: Record<string, string> }): Sidecar | undefined {
    const inNs = this.sidecars.filter((s) => s.metadata.namespace === proxy.namespace);
    const selecting = inNs.find(
      (s) => s.spec.workloadSelector !== undefined && labelsMatch(s.spec.workloadSelector.labels ?? {}, proxy.labels),
    );
    if (selecting !== undefined) return selecting;
    const plain = inNs.find((s) => s.spec.workloadSelector === undefined);
    if (plain !== undefined) return plain;
    return this.sidecars.find(
      (s) => s.metadata.namespace === this.rootNamespace && s.spec.workloadSelector === undefined,
    );
  }

  /** "namespace/name" of a resource, for messages. */
  static nameOf(r: { metadata: { namespace: string; name: string } }): string {
    return key(r);
  }
}

function hasOutlierDetection(dr: DestinationRule): boolean {
  const policies = [dr.spec.trafficPolicy, ...(dr.spec.subsets ?? []).map((s) => s.trafficPolicy)];
  return policies.some(
    (p) =>
      p !== undefined &&
      (p.outlierDetection !== undefined || (p.portLevelSettings ?? []).some((l) => l.outlierDetection !== undefined)),
  );
}

function distinctSelectors(
  sidecars: readonly Sidecar[],
  destinationRules: readonly IndexedDestinationRule[],
  virtualServices: readonly IndexedVirtualService[],
): Record<string, string>[] {
  const all: (Record<string, string> | undefined)[] = [
    ...sidecars.map((s) => s.spec.workloadSelector?.labels),
    ...destinationRules.map((d) => d.resource.spec.workloadSelector?.labels),
  ];
  for (const { resource } of virtualServices) {
    const spec = resource.spec;
    for (const route of spec.http ?? []) for (const m of route.match ?? []) all.push(m.sourceLabels);
    for (const route of spec.tcp ?? []) for (const m of route.match ?? []) all.push(m.sourceLabels);
    for (const route of spec.tls ?? []) for (const m of route.match ?? []) all.push(m.sourceLabels);
  }
  const byKey = new Map<string, Record<string, string>>();
  for (const labels of all) {
    if (labels === undefined || Object.keys(labels).length === 0) continue; // selects every proxy: no information
    const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    byKey.set(JSON.stringify(entries), labels);
  }
  return [...byKey.values()];
}

/** -1 when no host covers `hostname`; else a score: exact beats any wildcard, a longer wildcard beats a shorter. */
function bestHostScore(hosts: readonly string[], hostname: string): number {
  let best = -1;
  for (const h of hosts) {
    if (!hostMatches(h, hostname)) continue;
    const score = h.includes("*") ? h.length : 100_000;
    if (score > best) best = score;
  }
  return best;
}
