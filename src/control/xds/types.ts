// The xDS server's vocabulary: who a proxy is (XdsNode), what it should have (Snapshot, from a SnapshotSource) and
// what it has acknowledged (ProxyStatus). Resources are Envoy v3 JSON, exactly what translate(world, proxy) emits.

/** A proxy as it introduced itself in its first DiscoveryRequest (`node`). Metadata is the Struct as plain JSON. */
export interface XdsNode {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
  /** e.g. "envoy", "trellis", "gRPC Node"; informational. */
  userAgentName: string;
  /** node.locality as "region/zone/subzone", when the proxy sent one. */
  locality?: string;
}

/** Envoy JSON resources of one type, by resource name. */
export type ResourceMap = ReadonlyMap<string, Record<string, unknown>>;

/**
 * Everything one proxy should have: type URL → name → resource. Treated as immutable once returned: the server
 * caches versions and encodings by object identity, so build a new object to change a resource.
 */
export type Snapshot = ReadonlyMap<string, ResourceMap>;

/** Where snapshots come from (translate() over the current world, or a fixed map in tests). */
export interface SnapshotSource {
  snapshotFor(node: XdsNode): Snapshot;
}

export interface NackStatus {
  /** The error_detail.message the proxy sent. */
  error: string;
  /** google.rpc.Code the proxy sent (usually 3, INVALID_ARGUMENT). */
  code: number;
  /** Wall-clock ms of the NACK. */
  at: number;
  /** The version that was rejected. */
  rejectedVersion: string;
}

export interface TypeStatus {
  typeUrl: string;
  /** Version of the last response sent ("" before the first). */
  sentVersion: string;
  /** Version the proxy last ACKed ("" when none yet). */
  ackedVersion: string;
  /** Nonce of the last response sent. */
  nonce: string;
  /** The most recent NACK, kept until a later ACK of a newer version clears it. */
  lastNack?: NackStatus;
  /** Names the proxy subscribed to; undefined means wildcard (LDS, CDS). */
  subscribed?: string[];
}

export interface ProxyStatus {
  /** Unique per stream: a proxy that reconnects gets a new one. */
  streamId: number;
  nodeId: string;
  cluster: string;
  metadata: Record<string, unknown>;
  protocol: "sotw" | "delta";
  /** Wall-clock ms when the stream's first request arrived. */
  connectedSince: number;
  types: TypeStatus[];
}

export interface AckEvent {
  streamId: number;
  nodeId: string;
  typeUrl: string;
  version: string;
  nonce: string;
}

export interface NackEvent extends AckEvent {
  error: string;
}

export interface PushEvent extends AckEvent {
  resources: number;
  removed: number;
}

/** Hooks for tests, the dashboard and the benchmark. Called synchronously; they must not throw. */
export interface XdsHooks {
  onConnect?(status: ProxyStatus): void;
  onDisconnect?(status: ProxyStatus): void;
  onAck?(event: AckEvent): void;
  onNack?(event: NackEvent): void;
  onPush?(event: PushEvent): void;
}
