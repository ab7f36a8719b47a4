// One store watch on etcd that survives disconnects without losing or repeating an event. etcd3's own watcher
// resumes from the revision in the last response header, which can skip events (a catch-up response carries the
// current revision, not the last event's) and, on the create response, jumps to "now". So this keeps its own
// position — the highest revision whose events were all delivered — and on a disconnect replaces the etcd3
// watcher by a new one from the next revision, after a backoff. Events at or below the position are dropped, so
// a replay after reconnecting never repeats one.

import type { Etcd3, IWatchResponse, Watcher } from "etcd3";
import { EventDelivery } from "../delivery.ts";
import { CompactedError, StoreUnavailableError } from "../errors.ts";
import type { StoredResource, Watch, WatchEvent } from "../types.ts";
import type { EtcdLayout } from "./layout.ts";

export interface ResumableWatchOptions {
  client: Etcd3;
  layout: EtcdLayout;
  handler: (event: WatchEvent) => void;
  kind: string | undefined;
  /** Deliver changes after this revision; undefined: after the revision at which the watch is created. */
  fromRevision: number | undefined;
  onError: ((error: Error) => void) | undefined;
  onClose: () => void;
}

const INITIAL_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2_000;

export class ResumableWatch implements Watch {
  private readonly options: ResumableWatchOptions;
  private readonly delivery: EventDelivery;
  /** Every event at or below this revision has been handed to the delivery queue. */
  private position: number | undefined;
  private current: Watcher | undefined;
  private backoffMs = INITIAL_BACKOFF_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: ResumableWatchOptions) {
    this.options = options;
    this.delivery = new EventDelivery(options.handler);
    this.position = options.fromRevision;
    this.connect();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.delivery.close();
    this.detach();
    this.options.onClose();
  }

  private connect(): void {
    if (this.closed) return;
    const { client, layout, kind } = this.options;
    const builder = client.watch().prefix(layout.rangePrefix(kind)).withPreviousKV();
    if (this.position !== undefined) builder.startRevision(String(this.position + 1));
    const watcher = builder.watcher();
    this.current = watcher;
    watcher.on("connected", (res: IWatchResponse) => {
      this.backoffMs = INITIAL_BACKOFF_MS;
      // Without a start revision etcd watches from the revision after the create response's header.
      if (this.position === undefined) this.position = Number(res.header.revision);
    });
    watcher.on("data", (res: IWatchResponse) => this.onData(res));
    watcher.on("disconnected", () => this.reconnectLater(watcher));
    watcher.on("error", (error: Error) => this.onCancelled(watcher, error));
  }

  private onData(res: IWatchResponse): void {
    if (this.closed) return;
    const events: WatchEvent[] = [];
    let highest = this.position ?? 0;
    for (const ev of res.events) {
      const revision = Number(ev.kv.mod_revision);
      if (this.position !== undefined && revision <= this.position) continue; // seen before a reconnect
      highest = Math.max(highest, revision);
      const event = this.toEvent(ev.type, ev.kv, ev.prev_kv);
      if (event) events.push(event);
    }
    // One revision's events always come in one response, so after it the position can move to its highest one.
    if (res.events.length > 0) this.position = highest;
    this.delivery.push(events);
  }

  private toEvent(
    type: string,
    kv: IWatchResponse["events"][number]["kv"],
    prev: IWatchResponse["events"][number]["prev_kv"],
  ): WatchEvent | undefined {
    const { layout } = this.options;
    const revision = kv.mod_revision;
    if (type === "Put") {
      const resource = layout.decode(kv);
      if (!resource) return undefined;
      return { type: kv.version === "1" ? "ADDED" : "MODIFIED", resource, revision };
    }
    const key = layout.parseKey(kv.key);
    if (!key) return undefined;
    // The previous value is gone if etcd compacted it; a deletion is still a deletion, so say what we know.
    const resource: StoredResource = (prev && layout.decode(prev, revision)) || {
      apiVersion: "",
      kind: key.kind,
      metadata: { name: key.name, namespace: key.namespace, resourceVersion: revision },
      spec: null,
    };
    return { type: "DELETED", resource, revision };
  }

  private reconnectLater(watcher: Watcher): void {
    if (this.closed || watcher !== this.current) return;
    this.detach();
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.retryTimer.unref();
  }

  private onCancelled(watcher: Watcher, error: Error): void {
    if (this.closed || watcher !== this.current) return;
    // etcd 3.4 cancels a watch whose start revision was compacted with an empty reason (only compact_revision set,
    // which etcd3 does not pass on); any other cancel names its reason.
    const compacted = /compact/i.test(error.message) || /canceled: ?$/.test(error.message);
    const onError = this.options.onError;
    this.close();
    onError?.(
      compacted
        ? new CompactedError(`etcd compacted the history this watch needed: ${error.message}`)
        : new StoreUnavailableError(`etcd ended the watch: ${error.message}`, error),
    );
  }

  private detach(): void {
    const watcher = this.current;
    this.current = undefined;
    if (!watcher) return;
    // Keep a listener for late errors: an EventEmitter without one would throw them.
    watcher.removeAllListeners();
    watcher.on("error", () => undefined);
    void watcher.cancel().catch(() => undefined);
  }
}
