// Envoy resources on the xDS wire: google.protobuf.Any (type URL + bytes) ↔ the JSON form the parsers read.
// Nested Anys (typed_config) use the JSON mapping's "@type" form both ways.

import type protobuf from "protobufjs";
import { TrellisError } from "../../errors.ts";
import { toMessageShape } from "./json-shape.ts";
import { envoyProtos } from "./protos.ts";

export const TYPE_URL = {
  listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  routeConfiguration: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  clusterLoadAssignment: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
} as const;

/** Istio's NDS: the name table of a capture-mode proxy's DNS proxy (protos/istio/networking/nds/v1/nds.proto), one
 * resource named "". Not in TYPE_URL: a proxy subscribes to it only when it runs a DNS proxy. */
export const NAME_TABLE_TYPE_URL = "type.googleapis.com/istio.networking.nds.v1.NameTable";

export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

/** A resource that cannot be encoded or decoded (an unknown type, a field of the wrong type). */
export class WireCodecError extends TrellisError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TRELLIS_XDS_CODEC", message, options);
  }
}

const CONVERSION = { json: true, enums: String, longs: Number, defaults: false, oneofs: false } as const;

function typeOf(typeUrl: string): protobuf.Type {
  const name = typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
  try {
    return envoyProtos().lookupType(name);
  } catch (cause) {
    throw new WireCodecError(`unknown resource type ${typeUrl}`, { cause });
  }
}

/** Encodes a resource given as Envoy JSON (snake_case, "@type" for nested Anys, "1.5s" durations). */
export function encodeResource(typeUrl: string, resource: Record<string, unknown>): AnyMessage {
  const type = typeOf(typeUrl);
  const root = envoyProtos();
  try {
    const shaped = toMessageShape(type, resource, (name) => root.lookupType(name)) as Record<string, unknown>;
    return { type_url: typeUrl, value: type.encode(type.fromObject(shaped)).finish() };
  } catch (cause) {
    throw new WireCodecError(`${typeUrl}: ${(cause as Error).message}`, { cause });
  }
}

/** Decodes a resource into Envoy JSON, ready for the parsers. */
export function decodeResource(any: AnyMessage): Record<string, unknown> {
  const type = typeOf(any.type_url);
  try {
    return type.toObject(type.decode(any.value), CONVERSION);
  } catch (cause) {
    throw new WireCodecError(`${any.type_url}: cannot decode: ${(cause as Error).message}`, { cause });
  }
}
