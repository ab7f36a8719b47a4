// The ADS service (envoy.service.discovery.v3.AggregatedDiscoveryService) for @grpc/grpc-js, loaded with
// proto-loader from the protos @grpc/grpc-js-xds ships. Resources stay google.protobuf.Any ({type_url, value}); the
// wire codec (api/xds/wire/codec.ts) turns them into Envoy JSON.

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from "../../api/xds/wire/discovery.ts";
import { protoIncludeDirs } from "../../api/xds/wire/protos.ts";

export type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from "../../api/xds/wire/discovery.ts";

export type AdsStream = grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;

export type DeltaAdsStream = grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

export interface AdsClient extends grpc.Client {
  StreamAggregatedResources(): AdsStream;
  DeltaAggregatedResources(): DeltaAdsStream;
}

export type AdsClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => AdsClient;

let loaded: grpc.GrpcObject | undefined;

/** The loaded package (about 0.3 s the first time). */
export function adsPackage(): grpc.GrpcObject {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync("envoy/service/discovery/v3/ads.proto", {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: false,
      oneofs: true,
      includeDirs: protoIncludeDirs(),
    }),
  );
  return loaded;
}

/** The ADS service's client class and service definition. */
export function adsService(): AdsClientConstructor & { service: grpc.ServiceDefinition } {
  const pkg = adsPackage() as unknown as {
    envoy: {
      service: {
        discovery: { v3: { AggregatedDiscoveryService: AdsClientConstructor & { service: grpc.ServiceDefinition } } };
      };
    };
  };
  return pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
}
