// Versions are content hashes, so the same resources always get the same version (across restarts and replicas)
// and a recomputed snapshot that did not change produces no push. Hashing is the expensive part of a refresh for a
// big mesh, so each resource object is hashed once (snapshots are immutable: identity implies content).

import { createHash } from "node:crypto";

const byObject = new WeakMap<object, string>();

/** JSON with object keys sorted, so that key order never changes a version. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`).join(",")}}`;
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 16);
}

/** The version of one resource: a hash of its content. */
export function resourceVersion(resource: Record<string, unknown>): string {
  let v = byObject.get(resource);
  if (v === undefined) {
    v = digest(stableJson(resource));
    byObject.set(resource, v);
  }
  return v;
}

/** The version of a set of resources: a hash of (name, version) pairs in name order. */
export function typeVersion(versions: ReadonlyMap<string, string>): string {
  const names = [...versions.keys()].sort();
  return digest(names.map((n) => `${n}\u0000${versions.get(n)}`).join("\u0001"));
}

/** The version of a layered set (a shared base and an overlay), from the two parts' versions. */
export function layeredVersion(baseVersion: string, overlayVersion: string): string {
  return digest(`${baseVersion}\u0002${overlayVersion}`);
}
