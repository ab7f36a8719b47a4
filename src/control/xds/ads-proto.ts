// The ADS service definition, loaded with @grpc/proto-loader from the Envoy protos @grpc/grpc-js-xds ships, and
// the shapes of its messages as proto-loader presents them (keepCase: snake_case fields; Anys as {type_url, value}).

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoIncludeDirs } from "../../api/xds/wire/protos.ts";

export const ADS_PROTO = "envoy/service/discovery/v3/ads.proto";
export const ADS_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService";

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: protoIncludeDirs(),
};

export type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DeltaResource,
  DiscoveryRequest,
  DiscoveryResponse,
  WireAny,
  WireNode,
  WireStatus,
  WireStruct,
  WireValue,
} from "../../api/xds/wire/discovery.ts";

type AdsPackage = {
  envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: grpc.ServiceClientConstructor } } } };
};

let loaded: grpc.ServiceClientConstructor | undefined;

/** A client constructor for ADS (its `.service` is the definition the server adds); loaded once, about 0.3 s. */
export function adsClientConstructor(): grpc.ServiceClientConstructor {
  if (loaded) return loaded;
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(ADS_PROTO, LOADER_OPTIONS)) as unknown as AdsPackage;
  loaded = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
  return loaded;
}

export function adsServiceDefinition(): grpc.ServiceDefinition {
  return adsClientConstructor().service;
}

/** Serializes a state-of-the-world response (for the shared responses many streams receive as the same bytes). */
export function serializeSotwResponse(response: object): Buffer {
  return adsServiceDefinition().StreamAggregatedResources!.responseSerialize(response);
}

/**
 * The ADS service definition with a state-of-the-world response serializer that passes bytes through: a stream may
 * write a response serialized once for all the streams that get it.
 */
export function withPreserializedResponses(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const sotw = definition.StreamAggregatedResources!;
  const serialize = sotw.responseSerialize;
  return {
    ...definition,
    StreamAggregatedResources: {
      ...sotw,
      responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : serialize(value)),
    },
  };
}
