// A service's outbound clusters: one per port and one per subset of its DestinationRule, each with its merged
// traffic policy and, for EDS clusters, its endpoints. Sidecars and proxyless gRPC clients start from the same list.

import type { Json } from "./envoy.ts";
import { outboundCluster } from "./clusters.ts";
import { clusterLoadAssignment, localityEndpoints } from "./endpoints.ts";
import { enableLocalityWeighting, localityLbPlan, proxyTopology } from "./locality.ts";
import { isHttpProtocol, outboundClusterName } from "./names.ts";
import { Problems } from "./problems.ts";
import type { ProxyIdentity } from "./proxy-identity.ts";
import type { EffectivePolicy } from "./traffic-policy.ts";
import { effectivePolicy } from "./traffic-policy.ts";
import type { World } from "./world-index.ts";
import type { ServiceModel, ServicePortModel } from "./world.ts";

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
      const cluster = outboundCluster({ service, port, ...(subset ? { subset } : {}), policy, ...from }, base.problems);
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
