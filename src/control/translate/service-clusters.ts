// A service's outbound clusters: one per port and one per subset of its DestinationRule, each with its merged
// traffic policy and, for EDS clusters, its endpoints. Sidecars and proxyless gRPC clients start from the same list.

import type { Json } from "./envoy.ts";
import { outboundCluster } from "./clusters.ts";
import { clusterLoadAssignment, localityEndpoints } from "./endpoints.ts";
import { enableLocalityWeighting, localityLbPlan, proxyTopology } from "./locality.ts";
import { isHttpProtocol, outboundClusterName } from "./names.ts";
import { Problems } from "./problems.ts";
import { isCaptureMode, type ProxyIdentity } from "./proxy-identity.ts";
import type { EffectivePolicy } from "./traffic-policy.ts";
import { effectivePolicy } from "./traffic-policy.ts";
import type { World } from "./world-index.ts";
import { addServiceProblem, type ServiceModel, type ServicePortModel } from "./world.ts";

export interface ServiceCluster {
  port: ServicePortModel;
  cluster: Json;
  /** The ClusterLoadAssignment of an EDS cluster. */
  endpoints?: Json;
  policy: EffectivePolicy;
}

export function serviceClusters(
  service: ServiceModel,
  base: { world: World; proxy: ProxyIdentity; problems: Problems },
): ServiceCluster[] {
  const out: ServiceCluster[] = [];
  const capture = isCaptureMode(base.proxy);
  if (capture) service = withoutLoopback(service, base.problems);
  const rule = base.world.destinationRuleFor(service.hostname, base.proxy);
  const me = proxyTopology(base.world, base.proxy);
  for (const port of service.ports) {
    if (port.protocol === "UDP") continue;
    // DYNAMIC_DNS: only HTTP ports are forwarded by their requests' host (the others are reported by world.ts).
    if (service.resolution === "DYNAMIC_DNS" && !isHttpProtocol(port.protocol)) continue;
    const variants: (undefined | { name: string; labels: Record<string, string> })[] = [undefined];
    for (const subset of rule?.spec.subsets ?? []) variants.push({ name: subset.name, labels: subset.labels ?? {} });
    for (const subset of variants) {
      const policy = effectivePolicy(rule, port.number, subset?.name);
      const from = rule === undefined ? {} : { rule: `${rule.metadata.namespace}/${rule.metadata.name}` };
      const cluster = outboundCluster(
        { service, port, ...(subset ? { subset } : {}), policy, ...from, ...(capture && { capture }) },
        base.problems,
      );
      const entry: ServiceCluster = { port, cluster, policy };
      if (cluster.type === "EDS") {
        const name = outboundClusterName(port.number, subset?.name, service.hostname);
        const where = `DestinationRule ${rule?.metadata.namespace}/${rule?.metadata.name}`;
        // MeshConfig.localityLbSetting for destinations whose rule sets none (Istio's getLocalityLbSetting). Like
        // Istio, a mesh-wide failover that cannot apply to a destination without outlier detection is not reported.
        const mesh = base.world.meshLocalityLbSetting;
        const plan =
          policy.loadBalancer?.localityLbSetting === undefined && mesh !== undefined
            ? localityLbPlan(
                { ...policy, loadBalancer: { ...policy.loadBalancer, localityLbSetting: mesh } },
                me,
                "MeshConfig",
                new Problems(),
              )
            : localityLbPlan(policy, me, where, base.problems);
        entry.endpoints = clusterLoadAssignment(name, localityEndpoints(service, port, subset?.labels, plan));
        if (plan?.weighted === true) enableLocalityWeighting(cluster);
      }
      out.push(entry);
    }
  }
  return out;
}

/** 127.0.0.0/8, ::1 and localhost: where explicit-mode instances register (their sidecar on the host's loopback). */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  return a.startsWith("127.") || a === "::1" || a === "[::1]" || a === "localhost";
}

/**
 * A capture-mode proxy lives in its own network namespace, whose loopback is its own: instances registered at a
 * loopback address (explicit-mode workloads on the host) cannot be reached from it. They are left out of its
 * endpoints, each reported (a Warning naming the instance and the service).
 */
function withoutLoopback(service: ServiceModel, problems: Problems): ServiceModel {
  const loopback = service.instances.filter((i) => isLoopback(i.address));
  if (loopback.length === 0) return service;
  for (const i of loopback) {
    const ports = Object.values(i.ports)
      .map((p) => p.sidecarPort ?? p.appPort)
      .join(",");
    const who = i.nodeId === undefined ? "" : ` (sidecar ${i.nodeId})`;
    addServiceProblem(
      problems,
      service,
      `instance ${i.address}:${ports}${who} is on the loopback, which a capture-mode proxy in its own network ` +
        "namespace cannot reach; left out of capture-mode proxies' endpoints",
    );
  }
  return { ...service, instances: service.instances.filter((i) => !isLoopback(i.address)) };
}
