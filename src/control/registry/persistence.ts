// The registry's instances kept in the resource store (kind WorkloadInstance), so that a restarted control plane
// still knows every workload, and several replicas on one etcd share them: each writes what it is told and applies
// what the others wrote.

import type { ResourceStore, StoredResource } from "../store/types.ts";
import type { Instance } from "./types.ts";

export const INSTANCE_KIND = "WorkloadInstance";
const API_VERSION = "trellis.io/v1";

/** Store names are DNS-like; an instance id ("reviews.default/10.0.0.7:9080") is made into one. */
export function instanceResourceName(id: string): string {
  return id
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

export function toStored(instance: Instance): StoredResource {
  return {
    apiVersion: API_VERSION,
    kind: INSTANCE_KIND,
    metadata: { name: instanceResourceName(instance.id), namespace: instance.namespace },
    spec: instance,
  };
}

export function fromStored(stored: StoredResource): Instance | undefined {
  const spec = stored.spec as Partial<Instance> | undefined;
  if (spec === undefined || typeof spec.id !== "string" || !Array.isArray(spec.ports)) return undefined;
  return spec as Instance;
}

export async function loadInstances(store: ResourceStore): Promise<Instance[]> {
  return (await store.list(INSTANCE_KIND)).map(fromStored).filter((i): i is Instance => i !== undefined);
}
