// Snapshots for every connected proxy, built from as little translation as possible. The outbound side (every
// service a proxy reaches: a thousand clusters, their endpoints, the shared route table) is translated once per
// World.outboundKey and shared by all proxies with that key; only the inbound side (the proxy's own workload) is
// per proxy, and it is layered over the shared maps instead of merged into copies. Between generations, a type
// whose content did not change keeps its map object, so the ADS server sees the same object and does no work for
// it: a VirtualService edit re-sends RDS and nothing else.
//
// The problems each translation reports are kept beside its maps, per generation: per outbound key (shared by the
// proxies with that key) and per proxy (its inbound side), so `problemsFor(node)` answers what a proxy's current
// configuration leaves out without translating again.

import { NAME_TABLE_TYPE_URL, TYPE_URL } from "../api/xds/wire/codec.ts";
import type { Json } from "./translate/envoy.ts";
import { proxyIdentityFromNode, translateInbound, translateOutbound, World } from "./translate/index.ts";
import type { Problem } from "./translate/problems.ts";
import { LayeredMap } from "./xds/layered-map.ts";
import type { ResourceMap, Snapshot, XdsNode } from "./xds/types.ts";
import { resourceVersion, typeVersion } from "./xds/version.ts";
import { SDS_PREFIX, SECRET_TYPE_URL, sdsSecret } from "./secrets.ts";
import type { StoredResource } from "./store/types.ts";

/** The outbound side of one key, as the four maps a snapshot is made of. */
interface OutboundMaps {
  listeners: ResourceMap;
  routes: ResourceMap;
  clusters: ResourceMap;
  endpoints: ResourceMap;
  /** Capture-mode proxies only: the NameTable (NDS), one resource named "". Undefined for the others. */
  nameTable: ResourceMap | undefined;
  /** Each map's typeVersion, to tell whether a new translation changed it. */
  versions: { listeners: string; routes: string; clusters: string; endpoints: string; nameTable: string };
  /** What the outbound translation left out or approximated. */
  issues: readonly Problem[];
}

interface ProxyEntry {
  generation: number;
  metadata: string;
  /** The inbound resources as JSON: the same text means the same overlay. */
  inboundText: string;
  snapshot: Snapshot;
  /** The outbound key's problems, then the inbound side's (each once). */
  issues: readonly Problem[];
}

const EMPTY: ResourceMap = new Map();

/** A stored TLS secret by the namespace and name a gateway's credentialName gives (control/secrets.ts). */
export type SecretSource = (namespace: string, name: string) => StoredResource | undefined;

export class SnapshotCache {
  /** `secrets`: where a router's SDS secrets come from (none: routers get no secrets). */
  constructor(private readonly secrets: SecretSource = () => undefined) {}

  private world = new World({});
  private generation = 0;
  private outbound = new Map<string, OutboundMaps>();
  /** Last generation's outbound maps: unchanged types are taken from here, same objects. */
  private previousOutbound = new Map<string, OutboundMaps>();
  private readonly proxies = new Map<string, ProxyEntry>();
  /** One identity per outbound key seen in the last generation: what warm() translates for ahead of the push. */
  private representatives = new Map<string, Parameters<typeof translateOutbound>[1]>();
  private currentRepresentatives = new Map<string, Parameters<typeof translateOutbound>[1]>();

  /** A new world: snapshots are rebuilt on demand, reusing whatever did not change. */
  setWorld(world: World): void {
    // Keys no proxy asked for in the last generation are forgotten; so are proxies that did not ask (gone).
    this.previousOutbound = this.outbound;
    for (const [id, entry] of this.proxies) if (entry.generation < this.generation) this.proxies.delete(id);
    this.outbound = new Map();
    this.representatives = this.currentRepresentatives;
    this.currentRepresentatives = new Map();
    this.world = world;
    this.generation++;
  }

  /**
   * Translates the outbound side for every key proxies had in the last generation, ahead of the push: the control
   * plane calls it while the change is being debounced, time that is otherwise idle, so the push starts with the
   * shared work done. Keys already translated are skipped; it changes nothing a proxy would get.
   */
  warm(): void {
    for (const [key, identity] of this.representatives) this.outboundFor(key, identity);
  }

  snapshotFor(node: XdsNode): Snapshot {
    // The user agent is part of who the node is: it tells a proxyless gRPC client from a sidecar.
    const metadata = JSON.stringify([node.metadata, node.userAgentName, node.locality]);
    const cached = this.proxies.get(node.id);
    if (cached !== undefined && cached.generation === this.generation && cached.metadata === metadata)
      return cached.snapshot;
    const identity = proxyIdentityFromNode(node);
    const outbound = this.outboundFor(this.world.outboundKey(identity), identity);
    const inbound = translateInbound(this.world, identity);
    const inboundText = JSON.stringify([inbound.listeners, inbound.clusters]);
    const previous = cached !== undefined && cached.metadata === metadata ? cached : undefined;
    const composed = this.compose(outbound, inbound.listeners, inbound.clusters, inboundText, previous);
    // A gateway's SDS secrets: those its listeners name (kubernetes://NAME), from its own namespace.
    const snapshot: Snapshot =
      identity.router === true
        ? new Map([...composed, [SECRET_TYPE_URL, this.routerSecrets(outbound.listeners, identity.namespace)]])
        : composed;
    const issues = [...outbound.issues];
    const seen = new Set(issues.map((p) => p.text));
    for (const p of inbound.issues) if (!seen.has(p.text)) issues.push(p);
    this.proxies.set(node.id, { generation: this.generation, metadata, inboundText, snapshot, issues });
    return snapshot;
  }

  /**
   * The problems of the node's configuration in the current generation (translating it if it was not yet asked
   * for): the same translation its snapshot came from.
   */
  problemsFor(node: XdsNode): readonly Problem[] {
    this.snapshotFor(node);
    return this.proxies.get(node.id)?.issues ?? [];
  }

  /**
   * A proxy's problems and cluster names in the current generation, if it has asked for this generation's snapshot
   * (undefined otherwise: the caller translates, knowing the node as it connected).
   */
  current(nodeId: string): { problems: readonly Problem[]; clusters: Iterable<string> } | undefined {
    const entry = this.proxies.get(nodeId);
    if (entry === undefined || entry.generation !== this.generation) return undefined;
    return { problems: entry.issues, clusters: entry.snapshot.get(TYPE_URL.cluster)?.keys() ?? [] };
  }

  private routerSecrets(listeners: ResourceMap, namespace: string): ResourceMap {
    const out = new Map<string, Json>();
    for (const name of sdsNames([...listeners.values()])) {
      if (!name.startsWith(SDS_PREFIX)) continue;
      const credential = name.slice(SDS_PREFIX.length).replace(/-cacert$/, "");
      const stored = this.secrets(namespace, credential);
      let secret = stored === undefined ? undefined : sdsSecret(stored, name);
      if (secret === undefined && name.endsWith("-cacert")) {
        // Istio's other convention: the CA in a secret of its own, NAME-cacert.
        const separate = this.secrets(namespace, `${credential}-cacert`);
        if (separate !== undefined) secret = sdsSecret(separate, name, true);
      }
      if (secret !== undefined) out.set(name, secret);
    }
    return out.size === 0 ? EMPTY : out;
  }

  private outboundFor(key: string, identity: Parameters<typeof translateOutbound>[1]): OutboundMaps {
    let maps = this.outbound.get(key);
    if (maps !== undefined) return maps;
    this.currentRepresentatives.set(key, identity);
    const result = translateOutbound(this.world, identity);
    const fresh = {
      listeners: byName(result.listeners, "name"),
      routes: byName(result.routes, "name"),
      clusters: byName(result.clusters, "name"),
      endpoints: byName(result.endpoints, "cluster_name"),
      nameTable: result.nameTable === undefined ? EMPTY : (new Map([["", result.nameTable]]) as ResourceMap),
    };
    const old = this.previousOutbound.get(key);
    const pick = (type: keyof typeof fresh): [ResourceMap, string] => {
      const version = versionOf(fresh[type]);
      const before = old?.[type];
      return before !== undefined && old!.versions[type] === version ? [before, version] : [fresh[type], version];
    };
    const [listeners, lv] = pick("listeners");
    const [routes, rv] = pick("routes");
    const [clusters, cv] = pick("clusters");
    const [endpoints, ev] = pick("endpoints");
    const [nameTable, nv] = pick("nameTable");
    maps = {
      listeners,
      routes,
      clusters,
      endpoints,
      nameTable: result.nameTable === undefined ? undefined : nameTable,
      versions: { listeners: lv, routes: rv, clusters: cv, endpoints: ev, nameTable: nv },
      issues: result.issues,
    };
    this.outbound.set(key, maps);
    return maps;
  }

  /** The proxy's snapshot; each type's map is last generation's object when neither of its layers changed. */
  private compose(
    outbound: OutboundMaps,
    inboundListeners: Json[],
    inboundClusters: Json[],
    inboundText: string,
    previous: ProxyEntry | undefined,
  ): Snapshot {
    const sameInbound = previous !== undefined && previous.inboundText === inboundText;
    const layer = (typeUrl: string, base: ResourceMap, own: Json[], key: string): ResourceMap => {
      if (own.length === 0) return base;
      const before = previous?.snapshot.get(typeUrl);
      if (sameInbound && before instanceof LayeredMap && before.base === base) return before;
      return new LayeredMap(base, byName(own, key));
    };
    const snapshot = new Map<string, ResourceMap>([
      [TYPE_URL.listener, layer(TYPE_URL.listener, outbound.listeners, inboundListeners, "name")],
      [TYPE_URL.routeConfiguration, outbound.routes],
      [TYPE_URL.cluster, layer(TYPE_URL.cluster, outbound.clusters, inboundClusters, "name")],
      [TYPE_URL.clusterLoadAssignment, outbound.endpoints],
    ]);
    // Capture-mode proxies ask for the NameTable (their DNS proxy); no other proxy's snapshot has the type.
    if (outbound.nameTable !== undefined) snapshot.set(NAME_TABLE_TYPE_URL, outbound.nameTable);
    return snapshot;
  }
}

/** The SDS secret names a listener's TLS contexts refer to. */
function sdsNames(listeners: readonly Json[]): Set<string> {
  const names = new Set<string>();
  const walk = (v: unknown, key: string): void => {
    if (Array.isArray(v)) for (const x of v) walk(x, key);
    else if (typeof v === "object" && v !== null) {
      const o = v as Json;
      if (
        (key === "tls_certificate_sds_secret_configs" || key === "validation_context_sds_secret_config") &&
        typeof o.name === "string"
      )
        names.add(o.name);
      for (const [k, x] of Object.entries(o)) walk(x, k);
    }
  };
  walk(listeners, "");
  return names;
}

function byName(resources: readonly Json[], key: string): ResourceMap {
  if (resources.length === 0) return EMPTY;
  return new Map(resources.map((r) => [String(r[key]), r]));
}

function versionOf(map: ResourceMap): string {
  const versions = new Map<string, string>();
  for (const [name, resource] of map) versions.set(name, resourceVersion(resource));
  return typeVersion(versions);
}
