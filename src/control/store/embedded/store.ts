// The embedded store (the default): every resource in memory, every write appended to a checksummed log and
// fsynced before it is acknowledged (data-dir.ts), or memory only without a data directory. Writes are applied one
// at a time in a queue, each at the next revision; watchers get the events in that order.

import { randomUUID } from "node:crypto";
import type { Clock } from "../../../api/clock.ts";
import { systemClock } from "../../../api/clock.ts";
import { EventDelivery } from "../delivery.ts";
import {
  CompactedError,
  ConflictError,
  InvalidResourceError,
  StoreClosedError,
  StoreUnavailableError,
} from "../errors.ts";
import {
  checkDistinctKeys,
  checkKey,
  checkKind,
  checkNamespace,
  compareKeys,
  copyOut,
  keyOf,
  keyString,
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
import type { LoadedState, LogEntry, LogOp } from "./data-dir.ts";
import { applyEntry, DataDir } from "./data-dir.ts";
import { mkdir } from "node:fs/promises";
import type { DirLock } from "./lock.ts";
import { lockDataDir } from "./lock.ts";

export interface EmbeddedStoreOptions {
  /** Persist here; without it the store lives in memory only. */
  dataDir?: string;
  /** Stamps creationTimestamp. */
  clock?: Clock;
  /** Fold the log into a new snapshot once it grows past this many bytes (default 8 MiB). */
  compactAfterBytes?: number;
  /** Events kept for watches that start from an earlier revision (default 10 000). */
  historyLimit?: number;
}

interface Watcher {
  delivery: EventDelivery;
  kind: string | undefined;
  onError: ((error: Error) => void) | undefined;
}

/** What one write decided, computed against the state as it is when its turn comes. */
interface WritePlan<T> {
  ops: LogOp[];
  events: WatchEvent[];
  result: T;
}

export class EmbeddedStore implements ResourceStore {
  private readonly state: LoadedState;
  private readonly disk: DataDir | undefined;
  private readonly lock: DirLock | undefined;
  private readonly clock: Clock;
  private readonly compactAfterBytes: number;
  private readonly historyLimit: number;
  private history: WatchEvent[] = [];
  /** Every event after this revision is in `history`. */
  private historyStart: number;
  private readonly watchers = new Set<Watcher>();
  private writeQueue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** A failed append may have left bytes we could not remove: refuse further writes rather than risk the log. */
  private broken: Error | undefined;

  private constructor(
    state: LoadedState,
    disk: DataDir | undefined,
    lock: DirLock | undefined,
    options: EmbeddedStoreOptions,
  ) {
    this.state = state;
    this.disk = disk;
    this.lock = lock;
    this.clock = options.clock ?? systemClock;
    this.compactAfterBytes = options.compactAfterBytes ?? 8 * 1024 * 1024;
    this.historyLimit = options.historyLimit ?? 10_000;
    this.historyStart = state.revision;
  }

  static async open(options: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
    if (options.dataDir === undefined)
      return new EmbeddedStore({ revision: 0, resources: new Map() }, undefined, undefined, options);
    // A first start creates its data directory (and its parents), as `trellis up --data-dir` promises.
    await mkdir(options.dataDir, { recursive: true });
    const lock = await lockDataDir(options.dataDir);
    try {
      const { dataDir, state } = await DataDir.open(options.dataDir);
      return new EmbeddedStore(state, dataDir, lock, options);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  async list(kind?: string, namespace?: string): Promise<StoredResource[]> {
    return (await this.listWithRevision(kind, namespace)).resources;
  }

  async listWithRevision(kind?: string, namespace?: string): Promise<ListResult> {
    this.checkOpen();
    if (kind !== undefined) checkKind(kind);
    if (namespace !== undefined) checkNamespace(namespace);
    const keys = [...this.state.resources.keys()].sort(compareKeys);
    const resources: StoredResource[] = [];
    for (const key of keys) {
      const r = this.state.resources.get(key)!;
      if (kind !== undefined && r.kind !== kind) continue;
      if (namespace !== undefined && r.metadata.namespace !== namespace) continue;
      resources.push(copyOut(r));
    }
    return { resources, revision: String(this.state.revision) };
  }

  async get(key: ResourceKey): Promise<StoredResource | undefined> {
    this.checkOpen();
    checkKey(key);
    const r = this.state.resources.get(keyString(key));
    return r && copyOut(r);
  }

  async revision(): Promise<string> {
    this.checkOpen();
    return String(this.state.revision);
  }

  async put(resource: StoredResource, options: WriteOptions = {}): Promise<StoredResource> {
    const incoming = normalizeIncoming(resource);
    const expected = options.expectedVersion;
    if (expected !== undefined) parseVersion(expected, "expectedVersion");
    return this.write((revision) => {
      const current = this.state.resources.get(keyString(keyOf(incoming)));
      const actual = current?.metadata.resourceVersion;
      if (expected !== undefined && (expected === "0" ? current !== undefined : expected !== actual))
        throw new ConflictError(keyOf(incoming), expected, actual);
      const stored = this.stamp(incoming, current, revision);
      return {
        ops: [{ op: "put", resource: stored }],
        events: [{ type: current ? "MODIFIED" : "ADDED", resource: stored, revision: String(revision) }],
        result: stored,
      };
    });
  }

  async applyAll(resources: readonly StoredResource[]): Promise<StoredResource[]> {
    if (!Array.isArray(resources)) throw new InvalidResourceError("applyAll takes an array of resources");
    const incoming = resources.map(normalizeIncoming);
    checkDistinctKeys(incoming);
    return this.write((revision) => {
      const ops: LogOp[] = [];
      const events: WatchEvent[] = [];
      for (const r of incoming) {
        const current = this.state.resources.get(keyString(keyOf(r)));
        const stored = this.stamp(r, current, revision);
        ops.push({ op: "put", resource: stored });
        events.push({ type: current ? "MODIFIED" : "ADDED", resource: stored, revision: String(revision) });
      }
      return { ops, events, result: events.map((e) => e.resource) };
    });
  }

  async delete(key: ResourceKey, options: WriteOptions = {}): Promise<boolean> {
    checkKey(key);
    const expected = options.expectedVersion;
    if (expected !== undefined) parseVersion(expected, "expectedVersion");
    const k = { kind: key.kind, namespace: key.namespace, name: key.name };
    return this.write((revision) => {
      const current = this.state.resources.get(keyString(k));
      const actual = current?.metadata.resourceVersion;
      if (expected !== undefined && (current === undefined || expected !== actual))
        throw new ConflictError(k, expected, actual);
      if (!current) return { ops: [], events: [], result: false };
      const last = structuredClone(current);
      last.metadata.resourceVersion = String(revision);
      return {
        ops: [{ op: "delete", key: k }],
        events: [{ type: "DELETED", resource: last, revision: String(revision) }],
        result: true,
      };
    });
  }

  watch(handler: (event: WatchEvent) => void, options: WatchOptions = {}): Watch {
    if (options.kind !== undefined) checkKind(options.kind);
    const from = options.fromVersion === undefined ? undefined : parseVersion(options.fromVersion, "fromVersion");
    const watcher: Watcher = { delivery: new EventDelivery(handler), kind: options.kind, onError: options.onError };
    const watch: Watch = {
      close: () => {
        watcher.delivery.close();
        this.watchers.delete(watcher);
      },
    };
    if (this.closed) {
      this.fail(watcher, new StoreClosedError());
      return watch;
    }
    if (from !== undefined) {
      if (from < this.historyStart) {
        this.fail(
          watcher,
          new CompactedError(
            `revision ${from} is older than the store's history (it starts after ${this.historyStart})`,
          ),
        );
        return watch;
      }
      watcher.delivery.push(
        this.history.filter((e) => Number(e.revision) > from && matches(watcher, e)).map(copyEvent),
      );
    }
    this.watchers.add(watcher);
    return watch;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writeQueue.catch(() => undefined);
    for (const w of this.watchers) w.delivery.close();
    this.watchers.clear();
    await this.disk?.close();
    await this.lock?.release();
  }

  /** Runs `plan` when every earlier write is done, makes it durable, applies it, then tells the watchers. */
  private write<T>(plan: (revision: number) => WritePlan<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.checkOpen();
      if (this.broken) throw new StoreUnavailableError("the data directory failed a write earlier", this.broken);
      const revision = this.state.revision + 1;
      const decided = plan(revision);
      if (decided.ops.length === 0) return decided.result;
      const entry: LogEntry = { revision, ops: decided.ops };
      if (this.disk) {
        try {
          await this.disk.append(entry);
        } catch (error) {
          this.broken = error as Error;
          throw new StoreUnavailableError(`could not persist the write: ${String(error)}`, error);
        }
      }
      applyEntry(this.state, entry);
      this.remember(decided.events);
      for (const w of this.watchers) w.delivery.push(decided.events.filter((e) => matches(w, e)).map(copyEvent));
      await this.maybeCompact();
      return copyResult(decided.result);
    };
    const result = this.writeQueue.then(run, run);
    this.writeQueue = result.catch(() => undefined);
    return result;
  }

  private stamp(incoming: StoredResource, current: StoredResource | undefined, revision: number): StoredResource {
    const stored = structuredClone(incoming);
    stored.metadata.resourceVersion = String(revision);
    stored.metadata.uid = current?.metadata.uid ?? randomUUID();
    stored.metadata.creationTimestamp =
      current?.metadata.creationTimestamp ?? new Date(this.clock.wallNow()).toISOString();
    return stored;
  }

  private remember(events: WatchEvent[]): void {
    this.history.push(...events);
    if (this.history.length <= this.historyLimit) return;
    // Drop whole revisions from the front, so a replay never starts in the middle of one applyAll.
    let cut = this.history.length - this.historyLimit;
    const cutRevision = this.history[cut - 1]!.revision;
    while (cut < this.history.length && this.history[cut]!.revision === cutRevision) cut++;
    this.history = this.history.slice(cut);
    this.historyStart = Number(cutRevision);
  }

  private async maybeCompact(): Promise<void> {
    if (!this.disk || this.disk.logBytes < this.compactAfterBytes) return;
    try {
      await this.disk.compact(this.state);
    } catch (error) {
      // The old snapshot and log are still whole (compaction only renames complete files into place).
      process.emitWarning(`embedded store compaction failed: ${String(error)}`, "TrellisStore");
    }
  }

  private fail(watcher: Watcher, error: Error): void {
    watcher.delivery.close();
    const onError = watcher.onError;
    if (onError) setImmediate(() => onError(error));
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

function matches(watcher: Watcher, event: WatchEvent): boolean {
  return watcher.kind === undefined || event.resource.kind === watcher.kind;
}

function copyEvent(event: WatchEvent): WatchEvent {
  return { type: event.type, resource: copyOut(event.resource), revision: event.revision };
}

function copyResult<T>(result: T): T {
  return typeof result === "object" && result !== null ? structuredClone(result) : result;
}
