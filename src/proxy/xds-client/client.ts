// The sidecar's xDS client: one ADS stream (state of the world) to the first control plane that answers, of those
// listed. CDS and LDS are wildcard subscriptions; EDS follows the EDS clusters' service names and RDS the route
// configuration names of the listeners, re-requested whenever they change. Each response is applied all or nothing
// (Proxy.applyResources), then ACKed (version_info + response_nonce) or NACKed (the last good version, the nonce,
// error_detail {code 3 INVALID_ARGUMENT, message naming resource and field}). When the stream fails the proxy keeps
// serving what it has; the client waits a jittered exponential backoff on the Clock and tries the next server, and
// resubscribes with the versions it holds.
//
// Order: the ADS server sends CDS before EDS and LDS before RDS (Envoy's order); responses are applied one at a time
// in arrival order. A route naming a cluster not yet received answers 503 NC cluster_not_found:<name>, which says so.

import * as grpc from "@grpc/grpc-js";
import type { Clock, Timer } from "../../api/clock.ts";
import type { NodeInfo } from "../../api/xds/types.ts";
import { TYPE_URL, decodeResource } from "../../api/xds/wire/codec.ts";
import type { XdsTarget } from "../config/target.ts";
import {
  adsService,
  type AdsClient,
  type AdsStream,
  type DiscoveryRequest,
  type DiscoveryResponse,
} from "./ads-proto.ts";
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from "./backoff.ts";
import { nodeMessage } from "./node.ts";

/** google.rpc.Code INVALID_ARGUMENT: what a NACK's error_detail carries. */
export const NACK_CODE = 3;

export type XdsClientEvent =
  | { kind: "connecting"; server: string }
  | { kind: "disconnected"; server: string; reason: string; retryInMs: number }
  | { kind: "ack"; typeUrl: string; versionInfo: string }
  | { kind: "nack"; typeUrl: string; versionInfo: string; message: string };

export interface XdsClientOptions {
  /** HOST:PORT of each control plane, tried in turn. */
  servers: readonly string[];
  node: NodeInfo;
  target: XdsTarget;
  clock: Clock;
  random?: () => number;
  backoff?: BackoffOptions;
  log?: (line: string) => void;
}

interface TypeState {
  /** The version of the last response applied ("" before any). */
  version: string;
  /** The nonce of the last response received on this stream. */
  nonce: string;
  /** Requested names; [] for a wildcard type. */
  names: string[];
  /** A request has been sent on the current stream. */
  requested: boolean;
}

const WILDCARD = [TYPE_URL.cluster, TYPE_URL.listener] as const;

export class XdsClient {
  private readonly random: () => number;
  private readonly backoff: BackoffOptions;
  private readonly types = new Map<string, TypeState>();
  private readonly listeners = new Set<(e: XdsClientEvent) => void>();
  private serverIndex = 0;
  private attempt = 0;
  private client: AdsClient | undefined;
  private stream: AdsStream | undefined;
  private retryTimer: Timer | undefined;
  private stopped = false;
  /** Responses are handled one at a time, in arrival order. */
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly options: XdsClientOptions) {
    if (options.servers.length === 0) throw new Error("XdsClient needs at least one server");
    this.random = options.random ?? Math.random;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    for (const t of Object.values(TYPE_URL)) this.types.set(t, { version: "", nonce: "", names: [], requested: false });
  }

  /** Opens the stream (and keeps one open until stop()). */
  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.closeStream();
  }

  onEvent(cb: (e: XdsClientEvent) => void): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }

  /** The version applied last, per type URL (for status and tests). */
  version(typeUrl: string): string {
    return this.types.get(typeUrl)?.version ?? "";
  }

  get currentServer(): string {
    return this.options.servers[this.serverIndex]!;
  }

  private emit(e: XdsClientEvent): void {
    for (const cb of [...this.listeners]) cb(e);
  }

  private log(line: string): void {
    this.options.log?.(`xds: ${line}`);
  }

  private connect(): void {
    if (this.stopped) return;
    const server = this.currentServer;
    this.emit({ kind: "connecting", server });
    const Service = adsService();
    const client = new Service(server, grpc.credentials.createInsecure());
    const stream = client.StreamAggregatedResources();
    this.client = client;
    this.stream = stream;
    let ended = false;
    const onEnd = (reason: string): void => {
      if (ended) return;
      ended = true;
      if (this.stream === stream) this.onStreamLost(server, reason);
    };
    stream.on("data", (res: DiscoveryResponse) => {
      // A stream that delivers is a healthy one: the next failure starts the backoff from the beginning.
      this.attempt = 0;
      this.work = this.work.then(() => this.handle(stream, res));
    });
    stream.on("error", (err: grpc.ServiceError) => onEnd(err.details || err.message));
    stream.on("end", () => onEnd("stream ended"));
    for (const t of this.types.values()) {
      t.requested = false;
      t.nonce = "";
    }
    // Wildcard CDS and LDS first; EDS and RDS again with the names (and versions) held, after a reconnect.
    let first = true;
    for (const typeUrl of WILDCARD) {
      this.send(stream, typeUrl, first);
      first = false;
    }
    this.refreshSubscription(stream, TYPE_URL.clusterLoadAssignment, this.options.target.edsServiceNames());
    this.refreshSubscription(stream, TYPE_URL.routeConfiguration, this.options.target.routeConfigNames());
  }

  private onStreamLost(server: string, reason: string): void {
    this.closeStream();
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.backoff, this.random);
    this.serverIndex = (this.serverIndex + 1) % this.options.servers.length;
    this.log(`stream to ${server} lost (${reason}); next attempt to ${this.currentServer} in ${Math.round(delay)} ms`);
    this.emit({ kind: "disconnected", server, reason, retryInMs: delay });
    this.retryTimer = this.options.clock.setTimer(delay, () => {
      this.retryTimer = undefined;
      this.connect();
    });
  }

  private closeStream(): void {
    const stream = this.stream;
    const client = this.client;
    this.stream = undefined;
    this.client = undefined;
    if (stream) {
      stream.removeAllListeners("data");
      stream.on("error", () => {});
      stream.cancel();
    }
    client?.close();
  }

  /** A request for `typeUrl` with what this stream knows of it (an ACK when it carries the last nonce). */
  private send(stream: AdsStream, typeUrl: string, withNode: boolean, errorMessage?: string): void {
    const t = this.types.get(typeUrl)!;
    const request: DiscoveryRequest = {
      version_info: t.version,
      resource_names: t.names,
      type_url: typeUrl,
      response_nonce: t.nonce,
    };
    if (withNode) request.node = nodeMessage(this.options.node);
    if (errorMessage !== undefined) request.error_detail = { code: NACK_CODE, message: errorMessage };
    t.requested = true;
    stream.write(request);
  }

  /** Requests `names` of a non-wildcard type when they differ from what was asked (or nothing was asked yet). */
  private refreshSubscription(stream: AdsStream, typeUrl: string, names: string[]): void {
    const t = this.types.get(typeUrl)!;
    if (names.length === 0 && !t.requested) return; // nothing to ask for yet
    if (t.requested && sameNames(t.names, names)) return;
    t.names = names;
    this.send(stream, typeUrl, false);
  }

  private async handle(stream: AdsStream, res: DiscoveryResponse): Promise<void> {
    if (this.stream !== stream) return; // a response of a stream since replaced
    const t = this.types.get(res.type_url);
    if (t === undefined) {
      // Not a type this client asked for: NACK it so the server's status shows why.
      this.types.set(res.type_url, { version: "", nonce: res.nonce, names: [], requested: true });
      this.send(stream, res.type_url, false, `resources of type ${res.type_url} are not supported`);
      return;
    }
    t.nonce = res.nonce;
    let error: string | undefined;
    try {
      const resources = (res.resources ?? []).map((any, i) => {
        if (any.type_url !== res.type_url)
          throw new Error(`resources[${i}]: a ${any.type_url} in a response of type ${res.type_url}`);
        return decodeResource(any);
      });
      await this.options.target.applyResources(res.type_url, res.version_info, resources);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (this.stream !== stream) return;
    if (error === undefined) {
      t.version = res.version_info;
      this.send(stream, res.type_url, false);
      this.emit({ kind: "ack", typeUrl: res.type_url, versionInfo: res.version_info });
    } else {
      this.log(`NACK ${res.type_url} version ${res.version_info}: ${error}`);
      this.send(stream, res.type_url, false, error);
      this.emit({ kind: "nack", typeUrl: res.type_url, versionInfo: res.version_info, message: error });
    }
    if (res.type_url === TYPE_URL.cluster)
      this.refreshSubscription(stream, TYPE_URL.clusterLoadAssignment, this.options.target.edsServiceNames());
    if (res.type_url === TYPE_URL.listener)
      this.refreshSubscription(stream, TYPE_URL.routeConfiguration, this.options.target.routeConfigNames());
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}
