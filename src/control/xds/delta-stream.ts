// One incremental ADS stream (DeltaAggregatedResources), as the xDS protocol describes it:
// - subscriptions per type: LDS and CDS start as wildcard when the first request subscribes to nothing (or to "*");
//   other types hold the names subscribed, minus those unsubscribed;
// - the server remembers, per resource, the version the client has (from initial_resource_versions, then from
//   what it sent) and sends only resources whose version differs, plus removed_resources for names the client has
//   that no longer exist;
// - nonces, ACK and NACK as in SotW. A NACKed resource is not resent until it changes (the remembered version is
//   the one sent, as go-control-plane does). A stale nonce's ACK/NACK is ignored, but its subscription changes are
//   applied: they are deltas, and dropping one would leave client and server disagreeing for good.

import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DeltaResource } from "./ads-proto.ts";
import { XdsProtocolError } from "./errors.ts";
import { emptyType, encodePrepared, type PreparedSnapshot, type PreparedType } from "./prepared.ts";
import { StreamBase } from "./stream-base.ts";
import { WILDCARD_TYPES, type StreamContext } from "./stream-context.ts";

interface DeltaSubscription {
  wildcard: boolean;
  names: Set<string>;
  /** name → version the client has, as far as we know. */
  known: Map<string, string>;
}

export class DeltaStream extends StreamBase {
  private readonly subs = new Map<string, DeltaSubscription>();

  constructor(
    ctx: StreamContext,
    streamId: number,
    private readonly write: (response: DeltaDiscoveryResponse) => void,
  ) {
    super(ctx, streamId, "delta");
  }

  onRequest(req: DeltaDiscoveryRequest): void {
    this.admit(req.node);
    const typeUrl = req.type_url;
    if (!typeUrl) throw new XdsProtocolError("a request on an aggregated stream must carry type_url");
    const s = this.statuses.get(typeUrl);
    this.classify(typeUrl, req.response_nonce, req.error_detail, s?.sentVersion ?? "");

    const subscribe = req.resource_names_subscribe ?? [];
    const unsubscribe = req.resource_names_unsubscribe ?? [];
    let sub = this.subs.get(typeUrl);
    const first = !sub;
    if (!sub) {
      sub = { wildcard: false, names: new Set(), known: new Map() };
      // Legacy wildcard: the first request of a wildcard type naming nothing.
      if (WILDCARD_TYPES.has(typeUrl) && subscribe.length === 0) sub.wildcard = true;
      for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) sub.known.set(name, version);
      this.subs.set(typeUrl, sub);
    }
    for (const name of subscribe) {
      if (name === "*") sub.wildcard = true;
      else sub.names.add(name);
    }
    for (const name of unsubscribe) {
      if (name === "*") sub.wildcard = false;
      else sub.names.delete(name);
    }
    // What the client no longer wants it forgets on its own; forget it too, so a re-subscription resends it.
    for (const name of sub.known.keys()) if (!this.wants(sub, name)) sub.known.delete(name);
    this.typeStatus(typeUrl).subscribed = sub.wildcard ? undefined : [...sub.names];

    // Answer a first request of a wildcard type even when empty: the client waits for it to finish initialising.
    if (subscribe.length > 0 || first) this.send(typeUrl, first && sub.wildcard);
  }

  update(prepared: PreparedSnapshot): void {
    this.prepared = prepared;
    for (const typeUrl of this.subs.keys()) this.send(typeUrl, false);
  }

  private wants(sub: DeltaSubscription, name: string): boolean {
    return sub.wildcard || sub.names.has(name);
  }

  private current(typeUrl: string): PreparedType {
    return this.prepared?.get(typeUrl) ?? emptyType(typeUrl);
  }

  /** Sends what differs from what the client has; nothing when nothing differs, unless `evenIfEmpty`. */
  private send(typeUrl: string, evenIfEmpty: boolean): void {
    const sub = this.subs.get(typeUrl);
    if (!sub) return;
    const type = this.current(typeUrl);
    const resources: DeltaResource[] = [];
    const removed = new Set<string>();
    const sentVersions: [string, string][] = [];
    const consider = (name: string) => {
      const r = type.resources.get(name);
      if (!r) {
        if (sub.known.has(name)) removed.add(name);
        return;
      }
      if (sub.known.get(name) === r.version) return;
      try {
        resources.push({ name, version: r.version, resource: encodePrepared(typeUrl, r) });
        sentVersions.push([name, r.version]);
      } catch (err) {
        this.ctx.log(`xds: ${this.node?.id}: cannot encode ${typeUrl} ${name}: ${(err as Error).message}`);
      }
    };
    if (sub.wildcard) for (const name of type.resources.keys()) consider(name);
    for (const name of sub.names) if (!sub.wildcard || !type.resources.has(name)) consider(name);
    for (const name of sub.known.keys()) if (!type.resources.has(name)) removed.add(name);
    if (resources.length === 0 && removed.size === 0 && !evenIfEmpty) return;

    for (const [name, version] of sentVersions) sub.known.set(name, version);
    for (const name of removed) sub.known.delete(name);
    const nonce = this.ctx.nonce();
    const s = this.typeStatus(typeUrl);
    s.sentVersion = type.version;
    s.nonce = nonce;
    this.write({
      system_version_info: type.version,
      resources,
      type_url: typeUrl,
      removed_resources: [...removed],
      nonce,
      control_plane: { identifier: this.ctx.controlPlaneId },
    });
    this.reportPush(typeUrl, type.version, nonce, resources.length, removed.size);
  }
}
