// What both stores do to a resource on its way in and out: check the parts that form its key, copy it through
// JSON (callers can never mutate what is stored, and anything that is not JSON is refused, not half-kept), and
// order keys the same way everywhere.

import { InvalidResourceError } from "./errors.ts";
import type { ResourceKey, StoredResource } from "./types.ts";

// Kubernetes' DNS-1123 subdomain for names and namespaces; kinds are PascalCase identifiers. None may contain "/",
// which separates the parts of an etcd key.
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const KIND = /^[A-Za-z][A-Za-z0-9]{0,62}$/;

export function checkKey(key: ResourceKey): void {
  if (typeof key !== "object" || key === null) throw new InvalidResourceError("a resource key must be an object");
  checkKind(key.kind);
  checkNamespace(key.namespace);
  if (typeof key.name !== "string" || !NAME.test(key.name))
    throw new InvalidResourceError(
      `metadata.name ${JSON.stringify(key.name)}: expected a lowercase DNS-1123 name (a-z, 0-9, '-', '.')`,
    );
}

export function checkKind(kind: unknown): void {
  if (typeof kind !== "string" || !KIND.test(kind))
    throw new InvalidResourceError(`kind ${JSON.stringify(kind)}: expected an identifier like VirtualService`);
}

export function checkNamespace(namespace: unknown): void {
  if (typeof namespace !== "string" || !NAME.test(namespace))
    throw new InvalidResourceError(
      `metadata.namespace ${JSON.stringify(namespace)}: expected a lowercase DNS-1123 name (a-z, 0-9, '-', '.')`,
    );
}

export function keyOf(resource: StoredResource): ResourceKey {
  return { kind: resource.kind, namespace: resource.metadata.namespace, name: resource.metadata.name };
}

/** "kind/namespace/name": the etcd key's suffix and the embedded store's map key; sorts as etcd does. */
export function keyString(key: ResourceKey): string {
  return `${key.kind}/${key.namespace}/${key.name}`;
}

export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Checks a resource from a caller and returns a JSON copy of it, without the fields the store sets. Throws
 * InvalidResourceError for anything the store could not keep exactly.
 */
export function normalizeIncoming(resource: StoredResource): StoredResource {
  if (typeof resource !== "object" || resource === null || Array.isArray(resource))
    throw new InvalidResourceError("a resource must be an object");
  if (typeof resource.apiVersion !== "string" || resource.apiVersion === "")
    throw new InvalidResourceError("apiVersion: expected a non-empty string");
  if (typeof resource.metadata !== "object" || resource.metadata === null)
    throw new InvalidResourceError("metadata: expected an object with name and namespace");
  checkKey(keyOf(resource));
  let copy: StoredResource;
  try {
    copy = JSON.parse(JSON.stringify(resource)) as StoredResource;
  } catch (error) {
    throw new InvalidResourceError(`${keyString(keyOf(resource))}: not representable as JSON: ${String(error)}`);
  }
  checkStringMap(copy.metadata.labels, "metadata.labels");
  checkStringMap(copy.metadata.annotations, "metadata.annotations");
  delete copy.metadata.resourceVersion;
  delete copy.metadata.uid;
  delete copy.metadata.creationTimestamp;
  return copy;
}

function checkStringMap(map: unknown, path: string): void {
  if (map === undefined) return;
  if (typeof map !== "object" || map === null || Array.isArray(map))
    throw new InvalidResourceError(`${path}: expected a map of strings`);
  for (const [k, v] of Object.entries(map))
    if (typeof v !== "string") throw new InvalidResourceError(`${path}.${k}: expected a string`);
}

/** A deep copy handed to a caller, so nothing outside can change the store's own object. */
export function copyOut(resource: StoredResource): StoredResource {
  return structuredClone(resource);
}

/** Refuses two resources with one key in one applyAll (etcd would refuse the transaction; say so plainly). */
export function checkDistinctKeys(resources: readonly StoredResource[]): void {
  const seen = new Set<string>();
  for (const r of resources) {
    const k = keyString(keyOf(r));
    if (seen.has(k)) throw new InvalidResourceError(`${k} appears twice in one apply`);
    seen.add(k);
  }
}

/** Parses a caller's version string; anything but a non-negative decimal integer is bad input. */
export function parseVersion(version: string, what: string): number {
  if (typeof version !== "string" || !/^(0|[1-9][0-9]{0,15})$/.test(version))
    throw new InvalidResourceError(`${what} ${JSON.stringify(version)}: expected a revision (a decimal integer)`);
  return Number(version);
}
