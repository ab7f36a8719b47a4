// The ResourceStore contract: what every store (embedded, etcd) promises, checked by one shared test suite
// (contract.ts). The store keeps Istio resources as data and never interprets `spec`; validation happens before a
// resource reaches it (src/api/resources/).

export interface ResourceMetadata {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Set by the store: the revision at which this resource was last written (a decimal integer). */
  resourceVersion?: string;
  /** Set by the store on creation and kept across updates. */
  uid?: string;
  /** Set by the store on creation (ISO 8601) and kept across updates. */
  creationTimestamp?: string;
}

export interface StoredResource {
  apiVersion: string;
  kind: string;
  metadata: ResourceMetadata;
  spec: unknown;
}

export interface ResourceKey {
  kind: string;
  namespace: string;
  name: string;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface WatchEvent {
  type: WatchEventType;
  /** For DELETED: the resource as it was, with resourceVersion set to the deletion's revision. */
  resource: StoredResource;
  /** The store revision of the change; events arrive in revision order (several may share one: applyAll). */
  revision: string;
}

export interface Watch {
  close(): void;
}

export interface WatchOptions {
  /** Only this kind. */
  kind?: string;
  /**
   * Deliver every change after this revision (exclusive), then live changes: `list` at revision R followed by
   * `watch({fromVersion: R})` sees every change exactly once. Without it, only changes after the call.
   */
  fromVersion?: string;
  /**
   * The watch cannot go on (its history was compacted: CompactedError; or the store closed). The watch is closed
   * when this is called; list again and start a new watch from the list's revision.
   */
  onError?: (error: Error) => void;
}

export interface WriteOptions {
  /** Write only if the stored resource is at this version ("0": only if it does not exist); else ConflictError. */
  expectedVersion?: string;
}

export interface ListResult {
  resources: StoredResource[];
  /** The store revision the list was read at: pass it as `watch({fromVersion})`. */
  revision: string;
}

export interface ResourceStore {
  /** Every resource (of a kind, in a namespace), ordered by kind, namespace, name. */
  list(kind?: string, namespace?: string): Promise<StoredResource[]>;
  /** As list, plus the revision it was read at, in one consistent read. */
  listWithRevision(kind?: string, namespace?: string): Promise<ListResult>;
  get(key: ResourceKey): Promise<StoredResource | undefined>;
  /** Creates or replaces; returns the resource as stored (resourceVersion, uid, creationTimestamp set). */
  put(resource: StoredResource, options?: WriteOptions): Promise<StoredResource>;
  /**
   * Stores several resources in one atomic write at one revision: all or nothing (`trellis apply -f` of a
   * multi-document file never half-applies). Two resources with one key are refused.
   */
  applyAll(resources: readonly StoredResource[]): Promise<StoredResource[]>;
  /** true if it existed. With expectedVersion, a missing resource or another version is a ConflictError. */
  delete(key: ResourceKey, options?: WriteOptions): Promise<boolean>;
  watch(handler: (event: WatchEvent) => void, options?: WatchOptions): Watch;
  /** The store's current revision (a decimal integer that orders every write). */
  revision(): Promise<string>;
  /** Ends every watch and releases files or connections. */
  close(): Promise<void>;
}
