// A snapshot made ready for the wire: per type its version and, per resource, its version and (lazily) its
// protobuf encoding. Encodings are shared across proxies by content hash: a thousand proxies that receive the same
// cluster cost one encode.

import { encodeResource, type AnyMessage } from "../../api/xds/wire/codec.ts";
import { LayeredMap } from "./layered-map.ts";
import type { ResourceMap, Snapshot } from "./types.ts";
import { layeredVersion, resourceVersion, typeVersion } from "./version.ts";

export interface PreparedResource {
  name: string;
  version: string;
  resource: Record<string, unknown>;
}

export interface PreparedType {
  typeUrl: string;
  version: string;
  resources: ReadonlyMap<string, PreparedResource>;
}

export type PreparedSnapshot = ReadonlyMap<string, PreparedType>;

const EMPTY: PreparedType["resources"] = new Map();

/** Types for which a snapshot has nothing still exist, empty, so that a proxy subscribed to them gets an answer. */
export function emptyType(typeUrl: string): PreparedType {
  return { typeUrl, version: typeVersion(new Map()), resources: EMPTY };
}

/** Prepared types by the map they were made from: proxies sent the same map object share one preparation. */
const preparedByMap = new WeakMap<ResourceMap, Map<string, PreparedType>>();

function prepareType(typeUrl: string, map: ResourceMap, previous: PreparedType | undefined): PreparedType {
  // Same map object as last time: nothing to recompute.
  if (previous && previousSource.get(previous) === map) return previous;
  const shared = preparedByMap.get(map)?.get(typeUrl);
  if (shared !== undefined) return shared;
  if (map instanceof LayeredMap) return prepareLayered(typeUrl, map as LayeredMap<string, Record<string, unknown>>);
  const resources = new Map<string, PreparedResource>();
  const versions = new Map<string, string>();
  for (const [name, resource] of map) {
    const version = resourceVersion(resource);
    resources.set(name, { name, version, resource });
    versions.set(name, version);
  }
  const prepared = { typeUrl, version: typeVersion(versions), resources };
  previousSource.set(prepared, map);
  let byType = preparedByMap.get(map);
  if (byType === undefined) preparedByMap.set(map, (byType = new Map()));
  byType.set(typeUrl, prepared);
  return prepared;
}

const previousSource = new WeakMap<PreparedType, ResourceMap>();

/**
 * A layered map (shared base, the proxy's own overlay) is prepared layered too: the base once for every proxy
 * that shares it, per proxy only the overlay. Its version is a hash of the base's version and the overlay's.
 */
function prepareLayered(typeUrl: string, map: LayeredMap<string, Record<string, unknown>>): PreparedType {
  const base = prepareType(typeUrl, map.base, undefined);
  const overlay = prepareType(typeUrl, map.overlay, undefined);
  const prepared = {
    typeUrl,
    version: layeredVersion(base.version, overlay.version),
    resources: new LayeredMap(base.resources, overlay.resources),
  };
  previousSource.set(prepared, map);
  return prepared;
}

export function prepareSnapshot(snapshot: Snapshot, previous?: PreparedSnapshot): PreparedSnapshot {
  const out = new Map<string, PreparedType>();
  for (const [typeUrl, map] of snapshot) out.set(typeUrl, prepareType(typeUrl, map, previous?.get(typeUrl)));
  return out;
}

const MAX_ENCODED = 100_000;
const encoded = new Map<string, AnyMessage>();
/** The same resource object sent to many proxies is looked up by identity first: no key string per send. */
const encodedByObject = new WeakMap<object, AnyMessage>();

/** The wire form of a resource, encoded once per distinct content (and type). Throws WireCodecError. */
export function encodePrepared(typeUrl: string, r: PreparedResource): AnyMessage {
  let any = encodedByObject.get(r.resource);
  if (any !== undefined && any.type_url === typeUrl) return any;
  const key = `${typeUrl} ${r.version}`;
  any = encoded.get(key);
  if (any === undefined) {
    any = encodeResource(typeUrl, r.resource);
    // A crude bound: old encodings are dropped wholesale; they are re-encoded on demand.
    if (encoded.size >= MAX_ENCODED) encoded.clear();
    encoded.set(key, any);
  }
  encodedByObject.set(r.resource, any);
  return any;
}
