// A cluster's endpoints: the service's instances that serve the port (and carry the subset's labels), grouped by
// locality. An instance with a sidecar is reached at its sidecar's inbound port (traffic goes sidecar to sidecar),
// one without at its application port.

import type { Json } from "./envoy.ts";
import { socketAddress } from "./envoy.ts";
import { labelsMatch } from "./labels.ts";
import type { ServiceModel, ServicePortModel } from "./world.ts";
import { instancePort } from "./world.ts";
import type { LocalityLbPlan } from "./locality.ts";
import { parseLocality, withTopologyLabels } from "./locality.ts";
import { applyLocalityPlan, type LocalityGroup } from "./locality-lb.ts";

/**
 * The `endpoints` of a ClusterLoadAssignment (LocalityLbEndpoints[]), deterministic in order. With a
 * localityLbSetting `plan` (locality.ts), the groups are re-weighted or split into priority levels for the proxy.
 */
export function localityEndpoints(
  service: ServiceModel,
  port: ServicePortModel,
  subsetLabels: Record<string, string> | undefined,
  plan?: LocalityLbPlan,
): Json[] {
  const byLocality = new Map<string, LocalityGroup>();
  for (const instance of service.instances) {
    if (subsetLabels !== undefined && !labelsMatch(subsetLabels, instance.labels)) continue;
    const ip = instancePort(instance, port);
    if (ip === undefined) continue;
    const target = instance.hasSidecar && ip.sidecarPort !== undefined ? ip.sidecarPort : ip.appPort;
    const locality = instance.locality ?? "";
    const lbEndpoint: Json = { endpoint: { address: socketAddress(instance.address, target) } };
    if (instance.weight !== 1) lbEndpoint.load_balancing_weight = instance.weight;
    let group = byLocality.get(locality);
    if (group === undefined) {
      group = { locality, entries: [], weight: 0, priority: 0 };
      byLocality.set(locality, group);
    }
    // Labels are read only by failoverPriority; the topology labels are added only then.
    const labels =
      plan?.labelPriorities !== undefined ? withTopologyLabels(instance.labels, locality) : instance.labels;
    group.entries.push({ json: lbEndpoint, labels, weight: instance.weight });
    group.weight += instance.weight;
  }
  const sorted = [...byLocality.keys()].sort().map((locality) => byLocality.get(locality)!);
  const groups = plan === undefined ? sorted : applyLocalityPlan(sorted, plan);
  return groups.map((g) => {
    const group: Json = {};
    if (g.locality !== "") {
      const { region, zone, subZone } = parseLocality(g.locality);
      group.locality = { region, zone, sub_zone: subZone };
    }
    group.lb_endpoints = g.entries.map((e) => e.json);
    if (plan?.weighted === true) group.load_balancing_weight = g.weight;
    if (g.priority > 0) group.priority = g.priority;
    return group;
  });
}

export function clusterLoadAssignment(clusterName: string, endpoints: Json[]): Json {
  return { cluster_name: clusterName, endpoints };
}
