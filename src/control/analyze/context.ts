// What every analyzer reads: the resources by kind, where each came from, the services the mesh knows, and a
// report() that turns an Istio message type into a finding with the resource's file and line.

import type { ResourceOrigin } from "../../api/resources/load.ts";
import type {
  DestinationRule,
  Gateway,
  RequestAuthentication,
  Resource,
  ServiceEntry,
  VirtualService,
} from "../../api/resources/types.ts";
import { exportedTo, hostMatches, resolveHost } from "../translate/hosts.ts";
import type { Finding, MessageType } from "./messages.ts";

/** A service the mesh knows: registered, from a Kubernetes Service in the files, or a ServiceEntry host. */
export interface KnownService {
  /** FQDN, or a ServiceEntry host as written (may be a wildcard: *.eu.bookinfo.com). */
  hostname: string;
  namespace: string;
  ports: readonly { number: number; name?: string; protocol?: string }[];
  /** Istio's exportTo; empty = everywhere. */
  exportTo?: readonly string[];
}

/** A workload the mesh runs: a registered instance or a connected proxy. */
export interface Workload {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

export const keyOf = (r: Resource): string => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;

export class AnalysisContext {
  readonly virtualServices: VirtualService[];
  readonly destinationRules: DestinationRule[];
  readonly serviceEntries: ServiceEntry[];
  readonly gateways: Gateway[];
  readonly requestAuthentications: RequestAuthentication[];
  readonly services: KnownService[];
  readonly findings: Finding[] = [];

  constructor(
    readonly resources: readonly Resource[],
    services: readonly KnownService[],
    private readonly origins: ReadonlyMap<string, ResourceOrigin>,
    /** The labels of every workload the mesh runs (live analysis); undefined offline, where none are known. */
    readonly workloads?: readonly Workload[],
  ) {
    const of = <K extends Resource["kind"]>(kind: K) =>
      resources.filter((r): r is Extract<Resource, { kind: K }> => r.kind === kind);
    this.virtualServices = of("VirtualService");
    this.destinationRules = of("DestinationRule");
    this.serviceEntries = of("ServiceEntry");
    this.gateways = of("Gateway");
    this.requestAuthentications = of("RequestAuthentication");
    this.services = [
      ...services,
      ...this.serviceEntries.flatMap((se) =>
        se.spec.hosts.map((h) => ({
          hostname: resolveHost(h, se.metadata.namespace),
          namespace: se.metadata.namespace,
          ports: se.spec.ports,
          exportTo: se.spec.exportTo,
        })),
      ),
    ];
  }

  /** Where a resource came from (file and line), when it came from a file. */
  originOf(resource: Resource): ResourceOrigin | undefined {
    return this.origins.get(keyOf(resource));
  }

  /** Reports `type` on `resource`, at the line of `path` in it when known (else the resource's first line). */
  report(type: MessageType, resource: Resource, message: string, path?: string): void {
    const origin = this.originOf(resource);
    const line = (path === undefined ? undefined : origin?.lineOf?.(path)) ?? origin?.line;
    this.findings.push({
      level: type.level,
      code: type.code,
      name: type.name,
      resource: keyOf(resource),
      message,
      ...(origin === undefined ? {} : { file: origin.file }),
      ...(line === undefined ? {} : { line }),
    });
  }

  /**
   * The service a host written in `namespace` names, as seen from there (Istio's util.GetDestinationHost): the
   * FQDN matched exactly, or covered by a wildcard ServiceEntry host (*.eu.bookinfo.com covers reviews.eu.bookinfo.com);
   * only services exported to `namespace` count.
   */
  findService(host: string, namespace: string): KnownService | undefined {
    const fqdn = resolveHost(host, namespace);
    const visible = this.services.filter((s) => exportedTo(s.exportTo, s.namespace, namespace));
    return (
      visible.find((s) => s.hostname.toLowerCase() === fqdn) ??
      visible.find((s) => hostMatches(s.hostname, fqdn)) ??
      // a wildcard host written by the user (a DestinationRule for *.example.com) names the services it covers
      (fqdn.startsWith("*") ? visible.find((s) => hostMatches(fqdn, s.hostname)) : undefined)
    );
  }

  /** The Gateway a VirtualService names ("name" in its namespace, "ns/name", or the legacy "name.ns"). */
  findGateway(reference: string, namespace: string): Gateway | undefined {
    const [ns, name] = gatewayName(reference, namespace);
    return this.gateways.find((g) => g.metadata.namespace === ns && g.metadata.name === name);
  }
}

/** [namespace, name] of a gateway reference. */
export function gatewayName(reference: string, namespace: string): [string, string] {
  const slash = reference.indexOf("/");
  if (slash >= 0) return [reference.slice(0, slash), reference.slice(slash + 1)];
  const dot = reference.indexOf(".");
  if (dot >= 0) return [reference.slice(dot + 1).split(".")[0]!, reference.slice(0, dot)];
  return [namespace, reference];
}

/** Whether two host names (either may be a wildcard) have a name in common (Istio's host.Name.Matches). */
export function hostsOverlap(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x === y || x === "*" || y === "*") return true;
  if (x.startsWith("*.") && y.startsWith("*.")) return x.endsWith(y.slice(1)) || y.endsWith(x.slice(1));
  if (x.startsWith("*.")) return y.endsWith(x.slice(1));
  if (y.startsWith("*.")) return x.endsWith(y.slice(1));
  return false;
}

/** `app=istio-ingressgateway,istio=ingressgateway`: a label selector as Kubernetes prints it (sorted keys). */
export function selectorString(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");
}

/** Whether every label of `subset` is in `labels` with the same value. */
export function labelsWithin(
  subset: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(subset).every(([k, v]) => labels[k] === v);
}
