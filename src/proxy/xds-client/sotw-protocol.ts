// State of the world (StreamAggregatedResources): CDS and LDS are wildcard subscriptions; EDS follows the EDS
// clusters' service names and RDS the route configuration names of the listeners, re-requested whenever they
// change. Each response is the whole set of its type: applied all or nothing, then ACKed (version_info +
// response_nonce) or NACKed (the last good version, the nonce, error_detail naming resource and field).

import { decodeResource } from "../../api/xds/wire/codec.ts";
import type { AdsClient, AdsStream, DiscoveryRequest, DiscoveryResponse } from "./ads-proto.ts";
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

interface TypeState {
  /** The version of the last response applied ("" before any). */
  version: string;
  /** The nonce of the last response received on this stream. */
  nonce: string;
  /** Requested names; [] for a wildcard type. */
  names: string[];
  /** A request has been sent on the current stream. */
  requested: boolean;
}

export class SotwProtocol implements XdsProtocol {
  readonly name = "sotw";
  private readonly types = new Map<string, TypeState>();

  constructor(private readonly ctx: ProtocolContext) {
    for (const t of new Set([...SUBSCRIBED_TYPES, ...ctx.wildcardTypes]))
      this.types.set(t, { version: "", nonce: "", names: [], requested: false });
  }

  open(client: AdsClient): AnyAdsStream {
    return client.StreamAggregatedResources() as unknown as AnyAdsStream;
  }

  version(typeUrl: string): string {
    return this.types.get(typeUrl)?.version ?? "";
  }

  attach(any: AnyAdsStream): void {
    const stream = any as unknown as AdsStream;
    for (const t of this.types.values()) {
      t.requested = false;
      t.nonce = "";
    }
    // Wildcard CDS and LDS first; EDS and RDS again with the names (and versions) held, after a reconnect.
    let first = true;
    for (const typeUrl of this.ctx.wildcardTypes) {
      this.send(stream, typeUrl, first);
      first = false;
    }
    for (const [typeUrl, names] of namedSubscriptions(this.ctx.target))
      this.refreshSubscription(stream, typeUrl, names);
  }

  async handle(any: AnyAdsStream, response: unknown, isCurrent: () => boolean): Promise<void> {
    const stream = any as unknown as AdsStream;
    const res = response as DiscoveryResponse;
    const t = this.types.get(res.type_url);
    if (t === undefined) {
      // Not a type this client asked for: NACK it so the server's status shows why.
      this.types.set(res.type_url, { version: "", nonce: res.nonce, names: [], requested: true });
      this.send(stream, res.type_url, false, `resources of type ${res.type_url} are not supported`);
      return;
    }
    t.nonce = res.nonce;
    let error: string | undefined;
    try {
      const resources = (res.resources ?? []).map((any, i) => {
        if (any.type_url !== res.type_url)
          throw new Error(`resources[${i}]: a ${any.type_url} in a response of type ${res.type_url}`);
        return decodeResource(any);
      });
      await this.ctx.target.applyResources(res.type_url, res.version_info, resources);
    } catch (err) {
      error = errorMessage(err);
    }
    if (!isCurrent()) return;
    if (error === undefined) t.version = res.version_info;
    this.send(stream, res.type_url, false, error);
    reportOutcome(this.ctx, res.type_url, res.version_info, error);
    for (const [typeUrl, names] of namedSubscriptions(this.ctx.target, res.type_url))
      this.refreshSubscription(stream, typeUrl, names);
  }

  /** A request for `typeUrl` with what this stream knows of it (an ACK when it carries the last nonce). */
  private send(stream: AdsStream, typeUrl: string, withNode: boolean, error?: string): void {
    const t = this.types.get(typeUrl)!;
    const request: DiscoveryRequest = {
      version_info: t.version,
      resource_names: t.names,
      type_url: typeUrl,
      response_nonce: t.nonce,
    };
    if (withNode) request.node = nodeMessage(this.ctx.node);
    if (error !== undefined) request.error_detail = { code: NACK_CODE, message: error };
    t.requested = true;
    stream.write(request);
  }

  /** Requests `names` of a non-wildcard type when they differ from what was asked (or nothing was asked yet). */
  private refreshSubscription(stream: AdsStream, typeUrl: string, names: string[]): void {
    const t = this.types.get(typeUrl)!;
    if (names.length === 0 && !t.requested) return; // nothing to ask for yet
    if (t.requested && sameNames(t.names, names)) return;
    t.names = names;
    this.send(stream, typeUrl, false);
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}
