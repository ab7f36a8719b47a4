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

export interface WireAny {
  type_url: string;
  value: Uint8Array;
}

export interface WireStatus {
  code?: number;
  message?: string;
}

/** google.protobuf.Struct / Value as proto-loader decodes them with oneofs: true. */
export interface WireValue {
  kind?: string;
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: WireStruct;
  listValue?: { values?: WireValue[] };
}
export interface WireStruct {
  fields?: Record<string, WireValue>;
}

export interface WireNode {
  id?: string;
  cluster?: string;
  metadata?: WireStruct | null;
  user_agent_name?: string;
  locality?: { region?: string; zone?: string; sub_zone?: string } | null;
}

export interface DiscoveryRequest {
  version_info?: string;
  node?: WireNode | null;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: WireStatus | null;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: WireAny[];
  type_url: string;
  nonce: string;
  control_plane?: { identifier: string };
}

export interface DeltaDiscoveryRequest {
  node?: WireNode | null;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: WireStatus | null;
}

export interface DeltaResource {
  name: string;
  version: string;
  resource: WireAny;
}

export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: DeltaResource[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
  control_plane?: { identifier: string };
}

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
