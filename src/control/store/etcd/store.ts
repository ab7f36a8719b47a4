// The etcd store: several control-plane replicas share one etcd cluster. Every write is a transaction that
// compares the key's mod revision with what was read (so uid and creationTimestamp survive concurrent writers,
// and expectedVersion is enforced by etcd itself); resourceVersion is the key's mod revision; applyAll is one
// transaction; watches resume from their own position after a disconnect (resumable-watch.ts).

import { randomUUID } from "node:crypto";
import type { IKeyValue } from "etcd3";
import { Etcd3 } from "etcd3";
import type { Clock } from "../../../api/clock.ts";
import { systemClock } from "../../../api/clock.ts";
import { TrellisError } from "../../../api/errors.ts";
import { ConflictError, InvalidResourceError, StoreClosedError, StoreUnavailableError } from "../errors.ts";
import {
  checkDistinctKeys,
  checkKey,
  checkKind,
  checkNamespace,
  keyOf,
  normalizeIncoming,
  parseVersion,
} from "../resource.ts";
import type {
  ListResult,
  ResourceKey,
  ResourceStore,
  StoredResource,
  Watch,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from "../types.ts";
import { EtcdLayout } from "./layout.ts";
import { ResumableWatch } from "./resumable-watch.ts";

export interface EtcdStoreOptions {
  /** "host:port" of each member; the client fails over between them. */
  hosts: string[];
  /** Key prefix (default /trellis/resources/): tests give each store its own. */
  prefix?: string;
  clock?: Clock;
  /** Deadline of each request (default 5 s): without quorum etcd would otherwise keep a caller waiting. */
  requestTimeoutMs?: number;
  /** etcd's --max-txn-ops (default 128): the most resources one applyAll can hold. */
  maxTxnOps?: number;
}

/** Attempts of a write whose compare failed because another writer got in between, before giving up. */
const MAX_WRITE_ATTEMPTS = 16;

export class EtcdStore implements ResourceStore {
  private readonly client: Etcd3;
  private readonly layout: EtcdLayout;
  private readonly clock: Clock;
  private readonly maxTxnOps: number;
  private readonly watches = new Set<ResumableWatch>();
  private closed = false;

  private constructor(options: EtcdStoreOptions) {
    const timeout = options.requestTimeoutMs ?? 5_000;
    this.client = new Etcd3({
      hosts: options.hosts.map((h) => `http://${h}`),
      dialTimeout: timeout,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
    });
    this.layout = new EtcdLayout(options.prefix);
    this.clock = options.clock ?? systemClock;
    this.maxTxnOps = options.maxTxnOps ?? 128;
  }

  /** Connects and reads once, so a wrong address fails here with a clear error rather than at the first apply. */
  static async open(options: EtcdStoreOptions): Promise<EtcdStore> {
    const store = new EtcdStore(options);
    try {
      await store.revision();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async list(kind?: string, namespace?: string): Promise<StoredResource[]> {
    return (await this.listWithRevision(kind, namespace)).resources;
  }

  async listWithRevision(kind?: string, namespace?: string): Promise<ListResult> {
    this.checkOpen();
    if (kind !== undefined) checkKind(kind);
    if (namespace !== undefined) checkNamespace(namespace);
    const res = await this.call("list", () =>
      this.client.getAll().prefix(this.layout.rangePrefix(kind, namespace)).exec(),
    );
    const resources: StoredResource[] = [];
    for (const kv of res.kvs) {
      const r = this.layout.decode(kv);
      if (r && (namespace === undefined || r.metadata.namespace === namespace)) resources.push(r);
    }
    return { resources, revision: res.header.revision };
  }

  async get(key: ResourceKey): Promise<StoredResource | undefined> {
    this.checkOpen();
    checkKey(key);
    const kv = await this.readKv(key);
    return kv && this.layout.decode(kv);
  }

  async revision(): Promise<string> {
    this.checkOpen();
    const res = await this.call("read the revision", () => this.client.get(this.layout.rangePrefix()).exec());
    return res.header.revision;
  }

  async put(resource: StoredResource, options: WriteOptions = {}): Promise<StoredResource> {
    this.checkOpen();
    const incoming = normalizeIncoming(resource);
    const expected = options.expectedVersion;
    if (expected !== undefined) parseVersion(expected, "expectedVersion");
    const key = keyOf(incoming);
    const etcdKey = this.layout.key(key);
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const currentKv = await this.readKv(key);
      const actual = currentKv?.mod_revision ?? "0";
      if (expected !== undefined && expected !== actual)
        throw new ConflictError(key, expected, currentKv?.mod_revision);
      const stored = this.stamp(incoming, currentKv);
      const res = await this.call("put", () =>
        this.client
          .if(etcdKey, "Mod", "==", actual)
          .then(this.client.put(etcdKey).value(this.layout.encode(stored)))
          .commit(),
      );
      if (res.succeeded) {
        stored.metadata.resourceVersion = res.header.revision;
        return stored;
      }
    }
    throw new StoreUnavailableError(`put ${etcdKey}: other writers kept changing it; gave up`);
  }

  async applyAll(resources: readonly StoredResource[]): Promise<StoredResource[]> {
    this.checkOpen();
    if (!Array.isArray(resources)) throw new InvalidResourceError("applyAll takes an array of resources");
    const incoming = resources.map(normalizeIncoming);
    checkDistinctKeys(incoming);
    if (incoming.length === 0) return [];
    if (incoming.length > this.maxTxnOps)
      throw new InvalidResourceError(
        `${incoming.length} resources in one apply: etcd takes at most ${this.maxTxnOps} in one transaction ` +
          `(its --max-txn-ops); split the apply`,
      );
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const currentKvs = await Promise.all(incoming.map((r) => this.readKv(keyOf(r))));
      const stored = incoming.map((r, i) => this.stamp(r, currentKvs[i]));
      const txn = this.client.if(this.layout.key(keyOf(incoming[0]!)), "Mod", "==", currentKvs[0]?.mod_revision ?? "0");
      for (let i = 1; i < incoming.length; i++)
        txn.and(this.layout.key(keyOf(incoming[i]!)), "Mod", "==", currentKvs[i]?.mod_revision ?? "0");
      txn.then(...stored.map((r) => this.client.put(this.layout.key(keyOf(r))).value(this.layout.encode(r))));
      const res = await this.call("apply", () => txn.commit());
      if (res.succeeded) {
        for (const r of stored) r.metadata.resourceVersion = res.header.revision;
        return stored;
      }
    }
    throw new StoreUnavailableError("apply: other writers kept changing these resources; gave up");
  }

  async delete(key: ResourceKey, options: WriteOptions = {}): Promise<boolean> {
    this.checkOpen();
    checkKey(key);
    const k = { kind: key.kind, namespace: key.namespace, name: key.name };
    const etcdKey = this.layout.key(k);
    const expected = options.expectedVersion;
    if (expected === undefined) {
      const res = await this.call("delete", () => this.client.delete().key(etcdKey).exec());
      return Number(res.deleted) > 0;
    }
    parseVersion(expected, "expectedVersion");
    const res = await this.call("delete", () =>
      this.client.if(etcdKey, "Mod", "==", expected).then(this.client.delete().key(etcdKey)).commit(),
    );
    const deleted = res.succeeded && Number(res.responses[0]?.response_delete_range?.deleted ?? 0) > 0;
    if (deleted) return true;
    // Mod == "0" matches a missing key, but deleting what is absent is a conflict for expectedVersion, as embedded.
    throw new ConflictError(k, expected, (await this.readKv(k))?.mod_revision);
  }

  watch(handler: (event: WatchEvent) => void, options: WatchOptions = {}): Watch {
    if (options.kind !== undefined) checkKind(options.kind);
    const from = options.fromVersion === undefined ? undefined : parseVersion(options.fromVersion, "fromVersion");
    if (this.closed) {
      const onError = options.onError;
      if (onError) setImmediate(() => onError(new StoreClosedError()));
      return { close: () => undefined };
    }
    const watch: ResumableWatch = new ResumableWatch({
      client: this.client,
      layout: this.layout,
      handler,
      kind: options.kind,
      fromRevision: from,
      onError: options.onError,
      onClose: () => this.watches.delete(watch),
    });
    this.watches.add(watch);
    return watch;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) w.close();
    this.client.close();
  }

  private async readKv(key: ResourceKey): Promise<IKeyValue | undefined> {
    const etcdKey = this.layout.key(key);
    const res = await this.call("get", () => this.client.get(etcdKey).exec());
    return res.kvs[0];
  }

  private stamp(incoming: StoredResource, currentKv: IKeyValue | undefined): StoredResource {
    const current = currentKv && this.layout.decode(currentKv);
    const stored = structuredClone(incoming);
    stored.metadata.uid = current?.metadata.uid ?? randomUUID();
    stored.metadata.creationTimestamp =
      current?.metadata.creationTimestamp ?? new Date(this.clock.wallNow()).toISOString();
    return stored;
  }

  /** Runs one etcd request; anything etcd or the network throws becomes a StoreUnavailableError. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof TrellisError) throw error;
      throw new StoreUnavailableError(`etcd ${what}: ${(error as Error).message}`, error);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}
