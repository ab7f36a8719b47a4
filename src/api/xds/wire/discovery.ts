// The ADS messages (envoy.service.discovery.v3) as @grpc/proto-loader presents them with keepCase: snake_case
// fields, Anys as {type_url, value}, Structs with oneofs. Shared by the control plane's server and the sidecar's
// client, which load the same service definition.

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
  /** Absent: the server says the resource does not exist (a client must treat it as removed). */
  resource?: WireAny | null;
}

export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: DeltaResource[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
  control_plane?: { identifier: string };
}
