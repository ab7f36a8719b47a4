// One state-of-the-world ADS stream (StreamAggregatedResources), as Envoy and go-control-plane behave:
// - the first request of a type gets the current resources; LDS and CDS are wildcard when the request names nothing
//   (Envoy) or "*", else (a proxyless gRPC client) they get only the names requested, like RDS, EDS and any other type;
// - every response carries the type's version and a fresh nonce; a request echoing the last nonce is an ACK, or a
//   NACK with error_detail (recorded; the rejected version is not sent again — only a newer one will be);
// - a request with an older nonce is stale and ignored;
// - a refresh sends a type only when what this proxy would receive of it changed.

import type { DiscoveryRequest, WireAny } from "./ads-proto.ts";
import { XdsProtocolError } from "./errors.ts";
import {
  emptyType,
  encodePrepared,
  type PreparedResource,
  type PreparedSnapshot,
  type PreparedType,
} from "./prepared.ts";
import { StreamBase } from "./stream-base.ts";
import { WILDCARD_TYPES, type StreamContext } from "./stream-context.ts";
import { typeVersion } from "./version.ts";

interface Subscription {
  /** undefined: wildcard. */
  names: Set<string> | undefined;
  /** A hash of the (name, version) pairs last sent, to tell whether a refresh changes anything for this proxy. */
  sentKey: string | undefined;
  /**
   * The prepared type the key was last computed from: a refresh that leaves a type's prepared object unchanged (the
   * same resources) needs no work for this proxy — with a thousand clusters and endpoints per proxy, that work was
   * most of a refresh's cost.
   */
  evaluated: PreparedType | undefined;
}

export class SotwStream extends StreamBase {
  private readonly subs = new Map<string, Subscription>();

  constructor(
    ctx: StreamContext,
    streamId: number,
    /** Writes a serialized response of `typeUrl` (a newer one of the same type may replace it while it waits). */
    private readonly write: (response: Buffer, typeUrl: string) => void,
  ) {
    super(ctx, streamId, "sotw");
  }

  onRequest(req: DiscoveryRequest): void {
    this.admit(req.node);
    const typeUrl = req.type_url;
    if (!typeUrl) throw new XdsProtocolError("a request on an aggregated stream must carry type_url");
    const kind = this.classify(typeUrl, req.response_nonce, req.error_detail, req.version_info ?? "");
    if (kind === "stale") return;

    const sub = this.subs.get(typeUrl);
    const initial = kind === "initial" || !sub;
    const requested = requestedNames(typeUrl, req.resource_names ?? [], initial || sub.names === undefined);
    if (initial) {
      this.subs.set(typeUrl, { names: requested, sentKey: undefined, evaluated: undefined });
      this.typeStatus(typeUrl).subscribed = requested ? namesArray(requested) : undefined;
      if (requested && requested.size === 0) return; // nothing asked for yet
      this.send(typeUrl);
      return;
    }
    // An ACK or NACK may also change the names (Envoy asks for new clusters' endpoints this way).
    if (!sameSubscription(requested, sub.names)) {
      const added = requested === undefined || [...requested].some((n) => !sub.names?.has(n));
      sub.names = requested;
      this.typeStatus(typeUrl).subscribed = requested ? namesArray(requested) : undefined;
      if (added) this.send(typeUrl);
    }
  }

  update(prepared: PreparedSnapshot): void {
    this.prepared = prepared;
    for (const [typeUrl, sub] of this.subs) {
      if (sub.names && sub.names.size === 0) continue;
      const type = this.current(typeUrl);
      if (type === sub.evaluated) continue;
      sub.evaluated = type;
      const { key } = this.selection(typeUrl, sub);
      if (key !== sub.sentKey) this.send(typeUrl);
    }
  }

  private current(typeUrl: string): PreparedType {
    return this.prepared?.get(typeUrl) ?? emptyType(typeUrl);
  }

  /**
   * What this proxy gets of a type: everything (wildcard, or a subscription that names every resource there is) is
   * keyed by the type's version, computed once for all proxies; only a partial selection is hashed per proxy.
   * `chosen` is built only when a response is sent — a refresh asks only for the key, for thousands of proxies.
   */
  private selection(typeUrl: string, sub: Subscription) {
    const type = this.current(typeUrl);
    const names = sub.names;
    let all = names === undefined;
    if (!all) {
      let present = 0;
      for (const name of names!) if (type.resources.has(name)) present++;
      all = present === type.resources.size;
    }
    let list: PreparedResource[] | undefined;
    const chosen = (): PreparedResource[] =>
      (list ??= all ? [...type.resources.values()] : [...type.resources.values()].filter((r) => names!.has(r.name)));
    const key = all ? type.version : typeVersion(new Map(chosen().map((r) => [r.name, r.version])));
    return { type, chosen, key, all };
  }

  private send(typeUrl: string): void {
    const sub = this.subs.get(typeUrl);
    if (!sub) return;
    const { type, chosen, key, all } = this.selection(typeUrl, sub);
    // The same selection of the same resources (under the same type version) is the same response for every proxy:
    // built and serialized once.
    const { bytes, nonce } = this.ctx.sharedResponse(typeUrl, `${type.version} ${key}`, (sharedNonce) => {
      const resources: WireAny[] = [];
      for (const r of chosen()) {
        try {
          resources.push(encodePrepared(typeUrl, r));
        } catch (err) {
          // A resource our own translation produced but protobuf cannot hold: leave it out, say which.
          this.ctx.log(`xds: ${this.node?.id}: cannot encode ${typeUrl} ${r.name}: ${(err as Error).message}`);
        }
      }
      return {
        version_info: type.version,
        resources,
        type_url: typeUrl,
        nonce: sharedNonce,
        control_plane: { identifier: this.ctx.controlPlaneId },
      };
    });
    const count = all ? type.resources.size : chosen().length;
    sub.sentKey = key;
    sub.evaluated = type;
    const s = this.typeStatus(typeUrl);
    s.sentVersion = type.version;
    s.nonce = nonce;
    this.write(bytes, typeUrl);
    this.reportPush(typeUrl, type.version, nonce, count, 0);
  }
}

/**
 * undefined (wildcard) for LDS and CDS when the client names nothing (Envoy) or "*"; otherwise the names asked for.
 * A gRPC client asks LDS for the target it dials and CDS for the clusters its routes name: it gets exactly those.
 * An empty list keeps a wildcard subscription wildcard, but unsubscribes everything from a named one.
 */
function requestedNames(typeUrl: string, names: readonly string[], wasWildcard: boolean): Set<string> | undefined {
  if (WILDCARD_TYPES.has(typeUrl) && (names.includes("*") || (names.length === 0 && wasWildcard))) return undefined;
  return internNames(names);
}

/** The status's list of names: one array per interned Set, shared like the Set (never modified). */
const arrays = new WeakMap<Set<string>, string[]>();

function namesArray(set: Set<string>): string[] {
  let array = arrays.get(set);
  if (array === undefined) {
    array = [...set];
    arrays.set(set, array);
  }
  return array;
}

/**
 * Proxies of one mesh ask for the same lists of names (every sidecar's EDS subscription names the same thousand
 * clusters): one Set per distinct list is kept and shared, instead of one per proxy. Sets are never modified.
 */
const internedNames = new Map<string, Set<string>>();

function internNames(names: readonly string[]): Set<string> {
  if (names.length < 8) return new Set(names);
  const key = names.join("\u0000");
  let set = internedNames.get(key);
  if (set === undefined) {
    set = new Set(names);
    // Bounded: a long-lived server forgets old lists wholesale; they are rebuilt on demand.
    if (internedNames.size >= 1000) internedNames.clear();
    internedNames.set(key, set);
  }
  return set;
}

function sameSubscription(a: Set<string> | undefined, b: Set<string> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
