// A cluster's endpoints: the service's instances that serve the port (and carry the subset's labels), grouped by
// locality. An instance with a sidecar is reached at its sidecar's inbound port (traffic goes sidecar to sidecar),
// one without at its application port.

import type { Json } from "./envoy.ts";
import { socketAddress } from "./envoy.ts";
import { labelsMatch } from "./labels.ts";
import type { ServiceModel, ServicePortModel } from "./world.ts";
import { instancePort } from "./world.ts";

/** The `endpoints` of a ClusterLoadAssignment (LocalityLbEndpoints[]), deterministic in order. */
export function localityEndpoints(
  service: ServiceModel,
  port: ServicePortModel,
  subsetLabels: Record<string, string> | undefined,
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
  return [...groups.keys()].sort().map((locality) => {
    const group: Json = {};
    if (locality !== "") {
      const [region = "", zone = "", subZone = ""] = locality.split("/");
      group.locality = { region, zone, sub_zone: subZone };
    }
    group.lb_endpoints = groups.get(locality);
    return group;
  });
}

export function clusterLoadAssignment(clusterName: string, endpoints: Json[]): Json {
  return { cluster_name: clusterName, endpoints };
}
