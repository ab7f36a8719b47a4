// What the xDS client's two wire protocols share: the connection manager (client.ts) opens a stream, hands it to
// the protocol, and passes each response to it in arrival order. A protocol keeps what the proxy holds across
// streams (versions, resources) so that a new stream resubscribes from there.

import type * as grpc from "@grpc/grpc-js";
import type { NodeInfo } from "../../api/xds/types.ts";
import { TYPE_URL } from "../../api/xds/wire/codec.ts";
import { SECRET_TYPE_URL } from "../../api/xds/parse/secret.ts";
import type { XdsTarget } from "../config/target.ts";
import type { AdsClient } from "./ads-proto.ts";

/** google.rpc.Code INVALID_ARGUMENT: what a NACK's error_detail carries. */
export const NACK_CODE = 3;

export type XdsProtocolName = "delta" | "sotw";

export type XdsClientEvent =
  | { kind: "connecting"; server: string }
  | { kind: "disconnected"; server: string; reason: string; retryInMs: number }
  | { kind: "ack"; typeUrl: string; versionInfo: string }
  | { kind: "nack"; typeUrl: string; versionInfo: string; message: string };

export interface ProtocolContext {
  node: NodeInfo;
  target: XdsTarget;
  /** The wildcard subscriptions, in the order they are sent: WILDCARD_TYPES, then NDS when the proxy runs DNS. */
  wildcardTypes: readonly string[];
  emit(e: XdsClientEvent): void;
  log(line: string): void;
}

/** A bidirectional ADS stream of either kind, as the connection manager sees it. */
export type AnyAdsStream = grpc.ClientDuplexStream<unknown, unknown>;

export interface XdsProtocol {
  readonly name: XdsProtocolName;
  /** Opens this protocol's ADS stream on `client`. */
  open(client: AdsClient): AnyAdsStream;
  /** A new stream: forget its predecessor's nonces and send the subscriptions (with what is held). */
  attach(stream: AnyAdsStream): void;
  /** One response: applied all or nothing, then ACKed or NACKed; subscriptions that follow from it are sent. */
  handle(stream: AnyAdsStream, response: unknown, isCurrent: () => boolean): Promise<void>;
  /** The version applied last, per type URL ("" before any). */
  version(typeUrl: string): string;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** CDS and LDS are wildcard subscriptions; EDS and RDS follow the names the proxy's clusters and listeners use. */
export const WILDCARD_TYPES = [TYPE_URL.cluster, TYPE_URL.listener] as const;

/** Every type the client asks for: LDS, RDS, CDS, EDS and SDS (Secret, by the names TLS contexts use). */
export const SUBSCRIBED_TYPES: readonly string[] = [...Object.values(TYPE_URL), SECRET_TYPE_URL];

/**
 * The named subscriptions that follow from what the proxy holds: EDS by the EDS clusters' service names, RDS by
 * the listeners' route configuration names, SDS by the secret names of TLS contexts. With `after`, only the one a response of that type may have changed.
 */
export function namedSubscriptions(target: XdsTarget, after?: string): [typeUrl: string, names: string[]][] {
  const out: [string, string[]][] = [];
  if (after === undefined || after === TYPE_URL.cluster)
    out.push([TYPE_URL.clusterLoadAssignment, target.edsServiceNames()]);
  if (after === undefined || after === TYPE_URL.listener)
    out.push([TYPE_URL.routeConfiguration, target.routeConfigNames()]);
  // SDS: the secrets the listeners' and clusters' TLS contexts name with sds_config {ads: {}}.
  if (
    target.secretNames !== undefined &&
    (after === undefined || after === TYPE_URL.listener || after === TYPE_URL.cluster)
  )
    out.push([SECRET_TYPE_URL, target.secretNames()]);
  return out;
}

/** How a response ended, told to the listeners (and a NACK to the log): applied and ACKed, or refused. */
export function reportOutcome(ctx: ProtocolContext, typeUrl: string, versionInfo: string, error?: string): void {
  if (error === undefined) {
    ctx.emit({ kind: "ack", typeUrl, versionInfo });
    return;
  }
  ctx.log(`NACK ${typeUrl} version ${versionInfo}: ${error}`);
  ctx.emit({ kind: "nack", typeUrl, versionInfo, message: error });
}
