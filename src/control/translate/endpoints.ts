// A cluster's endpoints: the service's instances that serve the port (and carry the subset's labels), grouped by
// locality. An instance with a sidecar is reached at its sidecar's inbound port (traffic goes sidecar to sidecar),
// one without at its application port.

import type { Json } from "./envoy.ts";
import { socketAddress } from "./envoy.ts";
import { labelsMatch } from "./labels.ts";
import type { ServiceModel, ServicePortModel } from "./world.ts";
import { instancePort } from "./world.ts";
import { compactPriorities, parseLocality } from "./locality.ts";

/**
 * The `endpoints` of a ClusterLoadAssignment (LocalityLbEndpoints[]), deterministic in order. With `failover`
 * (locality.ts), each locality gets the priority of its rank.
 */
export function localityEndpoints(
  service: ServiceModel,
  port: ServicePortModel,
  subsetLabels: Record<string, string> | undefined,
  failover?: (locality: string) => number,
): Json[] {
  const groups = new Map<string, Json[]>();
  for (const instance of service.instances) {
    if (subsetLabels !== undefined && !labelsMatch(subsetLabels, instance.labels)) continue;
    const ip = instancePort(instance, port);
    if (ip === undefined) continue;
    const target = instance.hasSidecar && ip.sidecarPort !== undefined ? ip.sidecarPort : ip.appPort;
    const locality = instance.locality ?? "";
    const lbEndpoint: Json = { endpoint: { address: socketAddress(instance.address, target) } };
    if (instance.weight !== 1) lbEndpoint.load_balancing_weight = instance.weight;
    const list = groups.get(locality) ?? [];
    list.push(lbEndpoint);
    groups.set(locality, list);
  }
  const localities = [...groups.keys()].sort();
  const priorities = failover === undefined ? undefined : compactPriorities(localities.map(failover));
  return localities.map((locality, i) => {
    const group: Json = {};
    if (locality !== "") {
      const { region, zone, subZone } = parseLocality(locality);
      group.locality = { region, zone, sub_zone: subZone };
    }
    group.lb_endpoints = groups.get(locality);
    if (priorities !== undefined && priorities[i]! > 0) group.priority = priorities[i];
    return group;
  });
}

export function clusterLoadAssignment(clusterName: string, endpoints: Json[]): Json {
  return { cluster_name: clusterName, endpoints };
}
