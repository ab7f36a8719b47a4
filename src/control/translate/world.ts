// The services a mesh knows, in one shape whatever their source: the registry (workloads that registered), and
// ServiceEntry (+ WorkloadEntry). Translation reads only this model, never the sources, so a new source (Kubernetes
// Services) adds a converter here and nothing else changes.

import type { ServiceEntry, WorkloadEntry, WorkloadEntrySpec } from "../../api/resources/types.ts";
import { labelsMatch } from "./labels.ts";
import { isHttpProtocol } from "./names.ts";
import { AUTO_PROTOCOL } from "./sniffing.ts";
import { Problems, refOf, type Problem, type ProblemAbout, type ResourceRef } from "./problems.ts";

export interface ServicePortModel {
  name: string;
  number: number;
  /** Istio's protocol names, upper case: HTTP, HTTP2, GRPC, GRPC-WEB, TCP, TLS, HTTPS, … */
  protocol: string;
}

/** Where one instance listens for one service port. */
export interface InstancePort {
  /** The application's own port. */
  appPort: number;
  /** The sidecar's inbound port in front of it (registry-recorded); absent without a sidecar. */
  sidecarPort?: number;
}

export interface ServiceInstance {
  /** An IP address; for DNS resolution, a host name. */
  address: string;
  /** Keyed by the service port's name, or by its number written as a string. */
  ports: Record<string, InstancePort>;
  labels: Record<string, string>;
  /** load_balancing_weight, ≥ 1. */
  weight: number;
  /** "region/zone/subZone" as Istio writes it. */
  locality?: string;
  /** Traffic goes sidecar to sidecar: an instance with a sidecar is reached at its sidecarPort. */
  hasSidecar: boolean;
  /** The node id of the instance's sidecar, when the registry recorded it (ties a proxy to its own instance). */
  nodeId?: string;
}

export interface ServiceModel {
  /** The FQDN: name.namespace.svc.cluster.local for registered services, the host as written for ServiceEntry. */
  hostname: string;
  namespace: string;
  ports: ServicePortModel[];
  /**
   * STATIC: instances are IPs (EDS); DNS: instances are host names (STRICT_DNS); DYNAMIC_DNS: no instances, each
   * request goes to its own host, resolved per request (a dynamic forward proxy cluster); NONE: not routable here.
   */
  resolution: "STATIC" | "DNS" | "DYNAMIC_DNS" | "NONE";
  instances: ServiceInstance[];
  /** Istio's exportTo; empty = everywhere. */
  exportTo: string[];
  /** The service's own addresses (a ServiceEntry's `addresses`: VIPs, single IPs only); HTTP virtual hosts answer to them. */
  addresses?: string[];
  /** A ServiceEntry's `addresses` that are wider CIDRs ("10.1.0.0/16"): capture mode matches them by prefix_ranges. */
  cidrs?: string[];
  /** The ServiceEntry that defines it; absent for a registered service (no stored resource defines it). */
  source?: ResourceRef;
}

/**
 * A problem about a service, said of what defines it: its ServiceEntry (the resource, and `path` inside it, so the
 * entry's status and analyze name it) or the registry ("registered service HOST", about no stored resource).
 * `portIndex` is the port's index in `service.ports`, which is the ServiceEntry's `spec.ports` order.
 */
export function addServiceProblem(problems: Problems, service: ServiceModel, what: string, portIndex?: number): void {
  const src = service.source;
  if (src === undefined) {
    problems.add(`registered service ${service.hostname}: ${what}`);
    return;
  }
  const message = `host ${service.hostname}: ${what}`;
  const about: ProblemAbout = {
    resource: src,
    message,
    ...(portIndex !== undefined && portIndex >= 0 && { path: `spec.ports[${portIndex}]` }),
  };
  problems.add(`${src.kind} ${src.namespace}/${src.name} ${message}`, about);
}

export const CLUSTER_DOMAIN = "svc.cluster.local";

/** How a registered service is named: name.namespace.svc.cluster.local. */
export function serviceFqdn(name: string, namespace: string): string {
  return `${name}.${namespace}.${CLUSTER_DOMAIN}`;
}

/** The instance's entry for a service port (by name, else by number), or undefined when it does not serve it. */
export function instancePort(instance: ServiceInstance, port: ServicePortModel): InstancePort | undefined {
  return instance.ports[port.name] ?? instance.ports[String(port.number)];
}

export interface BuiltServices {
  services: ServiceModel[];
  /** Structured: each names its ServiceEntry and the field, or the registered service. */
  problems: Problem[];
  /**
   * Those of `problems` that only explicit-mode proxies have: capture-mode ones (INTERCEPTION_MODE REDIRECT) know
   * each connection's original destination, so resolution NONE works for them (docs/translation.md).
   */
  explicitOnly: ReadonlySet<Problem>;
}

/**
 * ServiceEntry and WorkloadEntry → ServiceModel, then the registry's services. A host defined twice keeps its first
 * definition (ServiceEntries in the order given, then the registry) and the rest is reported, never thrown.
 */
export function buildServices(
  serviceEntries: readonly ServiceEntry[],
  workloadEntries: readonly WorkloadEntry[],
  registered: readonly ServiceModel[],
): BuiltServices {
  const problems = new Problems();
  const byHost = new Map<string, ServiceModel>();
  const add = (service: ServiceModel, hostIndex?: number): void => {
    const key = service.hostname.toLowerCase();
    if (byHost.has(key)) {
      const what = "is already defined; this definition is ignored";
      const src = service.source;
      if (src === undefined) problems.add(`registered service ${service.hostname}: host ${what}`);
      else {
        const message = `host ${service.hostname} ${what}`;
        problems.add(`ServiceEntry ${src.namespace}/${src.name}: ${message}`, {
          resource: src,
          message,
          ...(hostIndex !== undefined && { path: `spec.hosts[${hostIndex}]` }),
        });
      }
      return;
    }
    byHost.set(key, service);
  };
  for (const entry of serviceEntries) {
    fromServiceEntry(entry, workloadEntries, problems).forEach((service, i) => add(service, i));
  }
  for (const service of registered) add(service);
  const explicitOnly = new Set(problems.items.filter((p) => p.text.endsWith(NONE_UNSUPPORTED)));
  return { services: [...byHost.values()], problems: problems.items, explicitOnly };
}

function fromServiceEntry(
  entry: ServiceEntry,
  workloadEntries: readonly WorkloadEntry[],
  problems: Problems,
): ServiceModel[] {
  const spec = entry.spec;
  const source = refOf(entry);
  const where = `ServiceEntry ${entry.metadata.namespace}/${entry.metadata.name}`;
  const report = (path: string, message: string): void =>
    problems.add(`${where} ${path.replace(/^spec\./, "")}: ${message}`, { resource: source, path, message });
  const ports: ServicePortModel[] = (spec.ports ?? []).map((p) => ({
    name: p.name,
    number: p.number,
    protocol: (p.protocol ?? AUTO_PROTOCOL).toUpperCase(),
  }));
  let resolution: ServiceModel["resolution"];
  switch (spec.resolution) {
    case "STATIC":
      resolution = "STATIC";
      break;
    case "DNS":
    case "DNS_ROUND_ROBIN":
      resolution = "DNS";
      break;
    case "DYNAMIC_DNS":
      resolution = "DYNAMIC_DNS";
      // Envoy's HTTP dynamic forward proxy reads the host from each request; TLS would need it read from the SNI.
      ports.forEach((p, i) => {
        if (!isHttpProtocol(p.protocol))
          report(
            `spec.ports[${i}]`,
            `${p.protocol} port ${p.number} with resolution DYNAMIC_DNS is not supported (only HTTP ports are ` +
              "forwarded by their requests' host); left out",
          );
      });
      break;
    default:
      resolution = "NONE";
      report("spec.resolution", `${spec.resolution ?? "NONE"}${NONE_UNSUPPORTED}`);
  }
  const selected =
    spec.workloadSelector === undefined
      ? []
      : workloadEntries
          .filter((we) => we.metadata.namespace === entry.metadata.namespace)
          .filter((we) => labelsMatch(spec.workloadSelector?.labels ?? {}, we.spec.labels ?? {}))
          .map((we) => we.spec);
  const addresses = singleAddresses(spec.addresses ?? []);
  const cidrs = (spec.addresses ?? []).filter((a) => a.includes("/") && !singleAddresses([a]).length);
  const endpoints = spec.endpoints ?? [];
  return (spec.hosts ?? []).map((host) => {
    const workloads = [...endpoints, ...selected];
    let instances = (resolution === "DYNAMIC_DNS" ? [] : workloads).flatMap((w, i) => {
      const instance = fromWorkload(w, ports);
      if (instance === undefined) {
        // An endpoint of the entry, or a selected WorkloadEntry (whose own problem this is not: said of the entry).
        report(
          i < endpoints.length ? `spec.endpoints[${i}]` : "spec.workloadSelector",
          "an endpoint without an address is skipped",
        );
      }
      return instance === undefined ? [] : [instance];
    });
    // DNS without endpoints: the host itself is resolved (Istio's behaviour).
    if (resolution === "DNS" && workloads.length === 0) {
      instances = [
        {
          address: host,
          ports: Object.fromEntries(ports.map((p) => [p.name, { appPort: p.number }])),
          labels: {},
          weight: 1,
          hasSidecar: false,
        },
      ];
    }
    return {
      hostname: host,
      namespace: entry.metadata.namespace,
      ports,
      resolution,
      instances,
      exportTo: spec.exportTo ?? [],
      ...(addresses.length > 0 ? { addresses } : {}),
      ...(cidrs.length > 0 ? { cidrs } : {}),
      source,
    };
  });
}

const NONE_UNSUPPORTED = " (passthrough to the original destination) is not supported";

/** A ServiceEntry's addresses that name one IP ("10.0.0.1", "10.0.0.1/32"); a wider CIDR is no HTTP name. */
function singleAddresses(addresses: readonly string[]): string[] {
  return addresses.flatMap((a) => {
    const [ip, bits] = a.split("/");
    if (ip === undefined || ip === "") return [];
    if (bits === undefined || bits === (ip.includes(":") ? "128" : "32")) return [ip.toLowerCase()];
    return [];
  });
}

/** A WorkloadEntry (or a ServiceEntry endpoint) as an instance of a service with these ports. */
function fromWorkload(w: WorkloadEntrySpec, ports: ServicePortModel[]): ServiceInstance | undefined {
  if (w.address === undefined || w.address === "") return undefined;
  const instancePorts: Record<string, InstancePort> = {};
  for (const p of ports) {
    // A workload's ports map names to its own numbers; unmapped, the service port's number (Istio's rule).
    instancePorts[p.name] = { appPort: w.ports?.[p.name] ?? p.number };
  }
  return {
    address: w.address,
    ports: instancePorts,
    labels: w.labels ?? {},
    weight: w.weight !== undefined && w.weight > 0 ? w.weight : 1,
    ...(w.locality !== undefined ? { locality: w.locality } : {}),
    // WorkloadEntry has no field for a sidecar port: such workloads are reached at their application ports.
    hasSidecar: false,
  };
}
