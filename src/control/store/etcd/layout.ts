// Where resources live in etcd: `/trellis/resources/<kind>/<namespace>/<name>`, the value the resource as JSON
// without resourceVersion (that is the key's mod revision, which etcd keeps for us).

import type { IKeyValue } from "etcd3";
import type { ResourceKey, StoredResource } from "../types.ts";

export const DEFAULT_PREFIX = "/trellis/resources/";

export class EtcdLayout {
  readonly prefix: string;
  constructor(prefix = DEFAULT_PREFIX) {
    this.prefix = prefix.endsWith("/") ? prefix : `${prefix}/`;
  }

  key(key: ResourceKey): string {
    return `${this.prefix}${key.kind}/${key.namespace}/${key.name}`;
  }

  /** The range to read or watch: everything, one kind, or one kind in one namespace. */
  rangePrefix(kind?: string, namespace?: string): string {
    if (kind === undefined) return this.prefix;
    if (namespace === undefined) return `${this.prefix}${kind}/`;
    return `${this.prefix}${kind}/${namespace}/`;
  }

  parseKey(raw: Buffer | string): ResourceKey | undefined {
    const text = raw.toString();
    if (!text.startsWith(this.prefix)) return undefined;
    const parts = text.slice(this.prefix.length).split("/");
    if (parts.length !== 3) return undefined;
    return { kind: parts[0]!, namespace: parts[1]!, name: parts[2]! };
  }

  /**
   * The resource a key-value holds, with resourceVersion = its mod revision. Anything another writer left that is
   * not a resource of ours is skipped with a warning: one bad value must not take down every list and watch.
   */
  decode(kv: IKeyValue, revision: string = kv.mod_revision): StoredResource | undefined {
    const key = this.parseKey(kv.key);
    let value: StoredResource | undefined;
    try {
      value = JSON.parse(kv.value.toString("utf8")) as StoredResource;
    } catch {
      value = undefined;
    }
    if (
      !key ||
      !value ||
      typeof value !== "object" ||
      typeof value.metadata !== "object" ||
      value.metadata === null ||
      value.kind !== key.kind ||
      value.metadata.name !== key.name ||
      value.metadata.namespace !== key.namespace
    ) {
      process.emitWarning(`etcd key ${kv.key.toString()} does not hold a Trellis resource; ignored`, "TrellisStore");
      return undefined;
    }
    value.metadata.resourceVersion = revision;
    return value;
  }

  encode(resource: StoredResource): string {
    const copy = structuredClone(resource);
    delete copy.metadata.resourceVersion;
    return JSON.stringify(copy);
  }
}
