// Incremental xDS (DeltaAggregatedResources), what Envoy in Istio speaks by default: a response carries only the
// resources that changed and the names removed, so a change to one cluster's endpoints sends that cluster's
// endpoints, not every cluster's. The client keeps, per type, the resources it holds (name → version, resource);
// each response is merged into a copy of them and the whole set is applied to the proxy all or nothing — the proxy
// sees the same full state as with SotW — then ACKed (type_url + response_nonce) or NACKed (error_detail), keeping
// what it held. CDS and LDS subscribe to the wildcard ("*"); EDS and RDS subscribe to the names the proxy's clusters
// and listeners use, by difference as those change. A new stream sends initial_resource_versions with what is held
// (versions are content hashes, so any replica can tell what changed).

import { decodeResource } from "../../api/xds/wire/codec.ts";
import type { AdsClient, DeltaAdsStream, DeltaDiscoveryRequest, DeltaDiscoveryResponse } from "./ads-proto.ts";
import { nodeMessage } from "./node.ts";
import {
  errorMessage,
  NACK_CODE,
  namedSubscriptions,
  SUBSCRIBED_TYPES,
  reportOutcome,
  type AnyAdsStream,
  type ProtocolContext,
  type XdsProtocol,
} from "./protocol.ts";

interface Held {
  version: string;
  resource: Record<string, unknown>;
}

interface DeltaTypeState {
  /** What the proxy holds of this type, as last applied. */
  held: Map<string, Held>;
  /** system_version_info of the last response applied ("" before any). */
  version: string;
  /** Names subscribed on the current stream (EDS, RDS). */
  subscribed: Set<string>;
  /** A request has been sent on the current stream. */
  started: boolean;
}

export class DeltaProtocol implements XdsProtocol {
  readonly name = "delta";
  private readonly types = new Map<string, DeltaTypeState>();

  constructor(private readonly ctx: ProtocolContext) {
    for (const t of new Set([...SUBSCRIBED_TYPES, ...ctx.wildcardTypes]))
      this.types.set(t, { held: new Map(), version: "", subscribed: new Set(), started: false });
  }

  open(client: AdsClient): AnyAdsStream {
    return client.DeltaAggregatedResources() as unknown as AnyAdsStream;
  }

  version(typeUrl: string): string {
    return this.types.get(typeUrl)?.version ?? "";
  }

  attach(any: AnyAdsStream): void {
    const stream = any as unknown as DeltaAdsStream;
    for (const t of this.types.values()) {
      t.started = false;
      t.subscribed = new Set();
    }
    let first = true;
    for (const typeUrl of this.ctx.wildcardTypes) {
      const t = this.types.get(typeUrl)!;
      const request: DeltaDiscoveryRequest = {
        type_url: typeUrl,
        resource_names_subscribe: ["*"],
        initial_resource_versions: versionsOf(t.held),
      };
      if (first) request.node = nodeMessage(this.ctx.node);
      first = false;
      t.started = true;
      stream.write(request);
    }
    for (const [typeUrl, names] of namedSubscriptions(this.ctx.target)) this.resubscribe(stream, typeUrl, names);
  }

  async handle(any: AnyAdsStream, response: unknown, isCurrent: () => boolean): Promise<void> {
    const stream = any as unknown as DeltaAdsStream;
    const res = response as DeltaDiscoveryResponse;
    const t = this.types.get(res.type_url);
    if (t === undefined) {
      // Not a type this client asked for: NACK it so the server's status shows why.
      stream.write({
        type_url: res.type_url,
        response_nonce: res.nonce,
        error_detail: { code: NACK_CODE, message: `resources of type ${res.type_url} are not supported` },
      });
      return;
    }
    let error: string | undefined;
    let next: Map<string, Held> | undefined;
    try {
      next = merge(t.held, res);
      const resources = [...next.values()].map((h) => h.resource);
      await this.ctx.target.applyResources(res.type_url, res.system_version_info, resources);
    } catch (err) {
      error = errorMessage(err);
    }
    if (!isCurrent()) return;
    const reply: DeltaDiscoveryRequest = { type_url: res.type_url, response_nonce: res.nonce };
    if (error === undefined) {
      t.held = next!;
      t.version = res.system_version_info;
    } else reply.error_detail = { code: NACK_CODE, message: error };
    stream.write(reply);
    reportOutcome(this.ctx, res.type_url, res.system_version_info, error);
    for (const [typeUrl, names] of namedSubscriptions(this.ctx.target, res.type_url))
      this.resubscribe(stream, typeUrl, names);
  }

  /**
   * Subscribes to the names newly wanted and unsubscribes from those no longer wanted. What is unsubscribed is
   * dropped from what is held (the server forgets it too), so a later subscription gets it afresh.
   */
  private resubscribe(stream: DeltaAdsStream, typeUrl: string, names: readonly string[]): void {
    const t = this.types.get(typeUrl)!;
    const wanted = new Set(names);
    const subscribe = [...wanted].filter((n) => !t.subscribed.has(n));
    const unsubscribe = [...t.subscribed].filter((n) => !wanted.has(n));
    if (subscribe.length === 0 && unsubscribe.length === 0) return;
    const request: DeltaDiscoveryRequest = { type_url: typeUrl };
    if (subscribe.length > 0) request.resource_names_subscribe = subscribe;
    if (unsubscribe.length > 0) request.resource_names_unsubscribe = unsubscribe;
    if (!t.started) {
      // The first request of this type on this stream: tell the server what is held of what is wanted.
      const initial: Record<string, string> = {};
      for (const name of subscribe) {
        const held = t.held.get(name);
        if (held !== undefined) initial[name] = held.version;
      }
      request.initial_resource_versions = initial;
    }
    for (const name of unsubscribe) t.held.delete(name);
    t.subscribed = wanted;
    t.started = true;
    stream.write(request);
  }
}

/** What is held after `res`: a copy, so a response that fails to apply leaves the held state as it was. */
function merge(held: ReadonlyMap<string, Held>, res: DeltaDiscoveryResponse): Map<string, Held> {
  const next = new Map(held);
  for (const name of res.removed_resources ?? []) next.delete(name);
  (res.resources ?? []).forEach((r, i) => {
    if (r.resource === undefined || r.resource === null) {
      // A name without a body: the server says the resource does not exist.
      next.delete(r.name);
      return;
    }
    if (r.resource.type_url !== res.type_url)
      throw new Error(`resources[${i}] (${r.name}): a ${r.resource.type_url} in a response of type ${res.type_url}`);
    next.set(r.name, { version: r.version, resource: decodeResource(r.resource) });
  });
  return next;
}

function versionsOf(held: ReadonlyMap<string, Held>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, h] of held) out[name] = h.version;
  return out;
}
